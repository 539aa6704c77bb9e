"""What a person watching a run sees, and what TensorBoard shows.

- `startup_summary(trainer)`: the block logged once before step 1: model and parameter count,
  device and dtype, backend, suite and split sizes, sandbox chosen and what it lacks, agent (its
  arm), steps, run directory.
- `log_above_bar()`: while the progress bar runs, console log lines go through `tqdm.write`
  (tqdm's `logging_redirect_tqdm`), so each sits on its own line above the bar instead of being
  glued onto it; the log file is untouched.
- `tb_tag(key)`: the TensorBoard tag of a metrics.jsonl key, grouped `train/`, `time/`, `eval/`,
  `reset/`; `config_text(yaml)`: the resolved config as a TensorBoard text entry.
"""

from __future__ import annotations

import contextlib
import logging
from typing import Any, Iterator

#: metrics keys (or key prefixes) of each TensorBoard group; anything else is train/.
TB_GROUPS = (
    ("time/", ("time_",)),
    ("eval/", ("val_",)),
    ("reset/", ("reset_", "seeds_", "seed_", "fallback_", "localization_", "localized_", "oracle_", "mc_",
                "h_", "first_error", "empty_prefix", "tokens_seed_search", "tokens_localization", "correction_rate",
                "suffix_pass_at")),
)


def tb_tag(key: str) -> str:
    """"time_generate_s" -> "time/time_generate_s", "val_pass_rate" -> "eval/val_pass_rate",
    "reset_groups" -> "reset/reset_groups", "loss" -> "train/loss"."""
    for group, prefixes in TB_GROUPS:
        if key.startswith(prefixes):
            return group + key
    return "train/" + key


def config_text(config_yaml: str) -> str:
    """The resolved config as TensorBoard markdown (indented: shown as preformatted text)."""
    return "\n".join("    " + line for line in config_yaml.splitlines())


@contextlib.contextmanager
def log_above_bar() -> Iterator[None]:
    """Console log lines above the progress bar (tqdm's logging redirect) while inside."""
    from tqdm.contrib.logging import logging_redirect_tqdm

    with logging_redirect_tqdm(loggers=[logging.getLogger()]):
        yield


def _sandbox_line(trainer: Any) -> str:
    """The sandbox scoring code answers (started here, as the first code answer would), or why
    there is none."""
    if all(t.kind != "code" for t in trainer.train_tasks):
        return "none (math suite: answers are compared in-process)"
    try:
        sandbox = trainer.verifier.sandbox
    except Exception as err:  # noqa: BLE001 - the summary must not stop the run; scoring will say
        return f"{trainer.cfg.sandbox.kind}: not started ({type(err).__name__}: {err})"
    line = ""
    with contextlib.suppress(Exception):
        line = sandbox.backend.isolation().line()
    lacks = line.partition(" -- lacks: ")[2]
    return f"{getattr(sandbox, 'name', trainer.cfg.sandbox.kind)} (sandbox={trainer.cfg.sandbox.kind})" + (
        f"; lacks: {lacks}" if lacks else "")


def startup_summary(trainer: Any) -> list[str]:
    """The start-up block's lines (see the module docstring)."""
    from codereset.agents.arms import arm_of_config

    cfg, model = trainer.cfg, trainer.model
    params = list(model.parameters())
    total = sum(p.numel() for p in params)
    trainable = sum(p.numel() for p in params if p.requires_grad)
    first = params[0] if params else None
    try:
        import yaml

        arm = arm_of_config(yaml.safe_load(trainer.config_yaml))
    except Exception:  # noqa: BLE001 - an agent without an arm label: its name
        arm = cfg.agent.name
    val = f"{len(trainer.val_tasks)} {cfg.env.val_split}" if trainer.val_tasks else "no validation"
    return [
        f"model    {cfg.model.name}: {total / 1e6:.1f}M parameters ({trainable / 1e6:.1f}M trained)",
        f"device   {first.device if first is not None else '?'}, dtype "
        f"{str(first.dtype).removeprefix('torch.') if first is not None else '?'}; backend {cfg.backend.name}",
        f"tasks    {cfg.env.tasks} ({cfg.env.id}): {len(trainer.train_tasks)} {cfg.env.train_split}, {val}",
        f"sandbox  {_sandbox_line(trainer)}",
        f"agent    {arm}; {cfg.trainer.steps} steps of {cfg.trainer.prompts_per_step} prompts"
        + (f", from step {trainer.last_done}" if trainer.last_done else ""),
        f"run dir  {trainer.run.path}",
    ]
