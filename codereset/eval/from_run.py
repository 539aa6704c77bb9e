"""Evaluating a run: the settings its checkpoint was trained with come from the run's saved config.

`python -m codereset.evaluate eval.checkpoint=RUN` (a run directory, its checkpoints/ folder or a
checkpoints/step_* folder) finds the run's config.yaml (or .hydra/config.yaml) and takes from it
what the weights only make sense with: the model (`MODEL_KEYS`: name, tokenizer, the random-init
shape, LoRA) and the prompt (`PROMPT_KEYS`: few-shot turn, stop pattern, thought budgets). The
suite, split and everything eval.* stay the command line's (evaluating a `basic` run on
humaneval is the point). A key the command line sets itself (`model=...`, `model.name=...`,
`env.stop=...`) to another value than the run's is refused in one line; a checkpoint folder
without a run config keeps the composed model settings.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

MODEL_KEYS = ("model.name", "model.tokenizer", "model.random_init", "model.lora", "model.trust_remote_code")
PROMPT_KEYS = ("env.fewshot", "env.stop", "env.max_thoughts", "env.max_thought_tokens")


def run_of_checkpoint(checkpoint: str | Path) -> Path | None:
    """The run directory holding `checkpoint` (the folder itself, or one or two levels up for
    checkpoints/ and checkpoints/step_*), None when no saved config is found."""
    from codereset.run.resume_cli import saved_config_file

    path = Path(checkpoint).expanduser()
    for candidate in (path, path.parent, path.parent.parent):
        if saved_config_file(candidate) is not None:
            return candidate
    return None


def _get(tree: Any, dotted: str) -> Any:
    for part in dotted.split("."):
        if not isinstance(tree, dict) or part not in tree:
            return None
        tree = tree[part]
    return tree


def _explicit(key: str, overrides: list[str]) -> bool:
    """Whether the command line sets `key`: `key=`, a parent (`model.random_init=`) or a child
    (`model.random_init.hidden_size=`); for model keys the group (`model=tiny`) too, but not
    `env=humaneval` for the prompt keys (a suite preset, not a prompt setting)."""
    for override in overrides:
        name = override.partition("=")[0].lstrip("+~")
        if name == key or ("." in name and key.startswith(name + ".")) or name.startswith(key + "."):
            return True
        if name == "model" and key.startswith("model."):
            return True
    return False


def apply_run_config(cfg: DictConfig, overrides: list[str]) -> Path | None:
    """Set `cfg`'s model and prompt keys to those of the run behind cfg.eval.checkpoint (in place);
    ValueError, naming both values, where `overrides` (the command line) set one otherwise.
    Returns the run directory (None without a checkpoint or a run config)."""
    from codereset.run.resume_cli import saved_config

    if not cfg.eval.checkpoint:
        return None
    checkpoint = Path(cfg.eval.checkpoint).expanduser()
    if not checkpoint.exists():
        raise ValueError(f"eval.checkpoint={cfg.eval.checkpoint}: no such folder (give a run directory, "
                         "its checkpoints/ folder or a checkpoints/step_* folder)")
    run = run_of_checkpoint(checkpoint)
    if run is None:
        return None
    saved = saved_config(run)
    conflicts = []
    for key in (*MODEL_KEYS, *PROMPT_KEYS):
        value = _get(saved, key)
        if value is None and key not in ("model.tokenizer",):
            continue  # an older run without this key: keep the composed value
        have = OmegaConf.select(cfg, key)
        have = OmegaConf.to_container(have) if OmegaConf.is_config(have) else have
        if _explicit(key, overrides):
            if have != value:
                conflicts.append(f"{key}={have!r} (the run has {value!r})")
            continue
        OmegaConf.update(cfg, key, value, merge=isinstance(value, dict))
    if conflicts:
        raise ValueError(f"eval.checkpoint={cfg.eval.checkpoint} was trained in {run} with other settings "
                         f"than this command line gives: {'; '.join(conflicts)}. Drop those overrides: "
                         "the run's model and prompt settings are used")
    return run
