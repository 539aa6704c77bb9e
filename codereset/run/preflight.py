"""Configuration errors caught before anything slow runs or anything is written.

`python -m codereset.train` and `python -m codereset.evaluate` call `preflight(argv, ...)` before
Hydra starts: it composes the same config Hydra will (conf/ + the command line's overrides),
runs the checks, and on a problem prints ONE line (`error: ...` saying what to change) and exits
with status 2. Hydra has then created no output directory and touched no run directory, and no
model has loaded. Command lines with Hydra flags (-m sweeps, --cfg, --help, --info, ...) go to
Hydra unchecked; the same checks run again inside each job (`check_train_config`).

Checks (each raises `ConfigError`):
- keys the schema does not have (`+trainer.stepz=3` is added silently by Hydra otherwise);
- no agent / unknown agent; an agent that cannot work on the suite (CARO without an oracle);
- a model name that is neither a named model, a local path, nor a Hugging Face id in the local
  cache or on a reachable hub (one look-up with a short timeout, no retries);
- logging.wandb=true without the wandb package;
- the run directory: a new run over an existing one, a resume that changes the method or asks
  for fewer steps than done, a resume of a run that is still alive (`codereset.run.resume`);
  for a `-m` sweep, the same for each job whose folder exists (`check_sweep_config`).
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path
from typing import Callable

from omegaconf import DictConfig, OmegaConf

HUB_TIMEOUT_S = 10.0
OFFLINE_VARS = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")


class ConfigError(ValueError):
    """A configuration that cannot run; the message says how to fix it."""


def check_keys(cfg: DictConfig) -> None:
    from codereset.config import check_keys as schema_check

    try:
        schema_check(cfg)
    except ValueError as err:
        raise ConfigError(f"{err}; check the spelling (a `+` prefix does not make a new key valid)") from None


def check_agent(cfg: DictConfig) -> None:
    """Fail with the list of agents when none (or an unknown one) was chosen."""
    from codereset.agents import AGENTS

    if OmegaConf.is_missing(cfg.agent, "name"):
        raise ConfigError(f"no agent chosen: add +agent=NAME, one of {sorted(AGENTS)} "
                          "(e.g. python -m codereset.train +agent=srpo)")
    if cfg.agent.name not in AGENTS:
        raise ConfigError(f"unknown agent {cfg.agent.name!r}; known agents: {sorted(AGENTS)}")


def warm_start_prompt(model_name: str) -> dict | None:
    """The localization prompt a warm-start checkpoint was taught (`sft_summary.json`), None for
    other models. Checkpoints older than the record taught variant/worked_example of their
    config and no answer prefix."""
    import json
    from pathlib import Path

    from codereset.models.load import model_dir

    folder = model_dir(model_name)
    path = (folder or Path(model_name)) / "sft_summary.json"
    if not path.is_file():
        return None
    summary = json.loads(path.read_text())
    if "localize_prompt" in summary:
        return dict(summary["localize_prompt"])
    cfg = summary.get("config", {})
    return {"variant": cfg.get("localize_variant", "L2"), "worked_example": cfg.get("localize_worked_example", False),
            "answer_prefix": ""}


def check_localize_prompt(cfg: DictConfig) -> None:
    """A policy-localizing run (the "self" localizer) whose prompt settings were tuned for another
    model than the one it trains (`agent.localize.made_for`, set by a model preset) is refused:
    a prompt tuned for SmolLM2 must not reach another model by inheritance."""
    from codereset.agents.arms import DEFAULT_LOCALIZER

    localizer = cfg.agent.get("localizer") or DEFAULT_LOCALIZER.get(cfg.agent.name)
    if localizer != "self":
        return
    taught = warm_start_prompt(cfg.model.name)
    if taught is not None:
        wrong = {k: (cfg.agent.localize.get(k), v) for k, v in taught.items() if cfg.agent.localize.get(k) != v}
        if wrong:
            raise ConfigError(
                f"model {cfg.model.name!r} was warm-started to localize with " + ", ".join(
                    f"agent.localize.{k}={v!r}" for k, (_, v) in wrong.items()) + " (its sft_summary.json), but this "
                "run asks with " + ", ".join(f"{k}={have!r}" for k, (have, _) in wrong.items())
                + ": use its model preset (model=sft_tiny) or set those keys")
        return
    made_for = cfg.agent.localize.get("made_for")
    if made_for is None or made_for == cfg.model.name:
        return
    raise ConfigError(
        f"agent.localize settings (answer_prefix {cfg.agent.localize.answer_prefix!r}, max_new_tokens "
        f"{cfg.agent.localize.max_new_tokens}) were tuned for model {made_for!r}, but model.name is "
        f"{cfg.model.name!r}: choose that model's own preset (model=...), or state the prompt for this "
        "model, e.g. agent.localize.made_for=null agent.localize.answer_prefix=''")


def _offline() -> bool:
    return any(os.environ.get(v, "").strip().lower() in ("1", "true", "yes", "on") for v in OFFLINE_VARS)


def check_model_name(name: str) -> None:
    """A named model, an existing local path, or a Hugging Face id that is cached or on the hub."""
    from codereset.models.load import NAMED_MODELS

    if name in NAMED_MODELS or Path(name).expanduser().exists():
        return
    fix = (f"give one of the named models {sorted(NAMED_MODELS)}, an existing checkpoint directory "
           "or .gguf file, or a Hugging Face model id")
    if name.startswith((".", "/", "~")) or name.endswith(".gguf") or name.count("/") > 1:
        raise ConfigError(f"model.name={name!r}: no such file or directory; {fix}")
    from huggingface_hub import try_to_load_from_cache

    try:
        cached = try_to_load_from_cache(name, "config.json")
    except ValueError:  # not a valid repo id
        raise ConfigError(f"model.name={name!r} is not a named model, a local path or a valid "
                          f"Hugging Face id; {fix}") from None
    if isinstance(cached, str):
        return
    if _offline():
        raise ConfigError(f"model.name={name!r} is not a named model, not a local path, and not in "
                          f"the Hugging Face cache (offline: {'/'.join(OFFLINE_VARS)} is set); {fix}, "
                          "or download it first while online")
    from huggingface_hub import HfApi
    from huggingface_hub.utils import HfHubHTTPError

    try:
        HfApi().model_info(name, timeout=HUB_TIMEOUT_S)
    except HfHubHTTPError as err:
        status = getattr(getattr(err, "response", None), "status_code", None)
        raise ConfigError(f"model.name={name!r} was not found on the Hugging Face hub "
                          f"(HTTP {status}); {fix}") from None
    except Exception as err:  # no network, DNS, timeout: one line, no retries
        raise ConfigError(f"model.name={name!r} is not a local path and the Hugging Face hub cannot "
                          f"be reached to look it up ({type(err).__name__}); {fix}, or go online "
                          "(set HF_HUB_OFFLINE=1 to work from the cache only)") from None


def check_wandb(cfg: DictConfig) -> None:
    if cfg.logging.wandb and importlib.util.find_spec("wandb") is None:
        raise ConfigError("logging.wandb=true needs the wandb package: pip install wandb "
                          "(and wandb login), or drop logging.wandb=true")


def check_agent_tasks(cfg: DictConfig) -> None:
    """The training and validation tasks load (a data error names file and line), and the agent's
    own check of the training tasks passes (e.g. CARO needs a step-level oracle).
    Skipped for hub datasets (loading them is slow; the trainer checks them after loading)."""
    import random

    from codereset.agents import AgentContext, make_agent
    from codereset.run.builders import load_tasks, make_rules

    if "hub" in cfg.env.suite_options:
        return
    env = OmegaConf.to_object(cfg.env)
    v = cfg.validation
    try:
        tasks = load_tasks(env, env.train_split)
        if v.every > 0 or v.at_end or v.at_start:  # the trainer loads the validation split too
            load_tasks(env, env.val_split, v.max_tasks)
    except (ValueError, TypeError, FileNotFoundError) as err:
        raise ConfigError(str(err)) from None
    try:
        agent = make_agent(cfg.agent.name, OmegaConf.to_object(cfg.agent),
                           AgentContext(None, make_rules(env), random.Random(0)))
    except ValueError as err:  # a bad agent option
        raise ConfigError(str(err)) from None
    except Exception:  # an agent that needs its backend to be built: the trainer checks it later
        return
    try:
        agent.check_tasks(tasks)
    except ValueError as err:
        raise ConfigError(str(err)) from None


def check_run_dir(cfg: DictConfig) -> None:
    from codereset.run.resume import RunDirError, check_run_dir as resume_check

    t = cfg.trainer
    if not t.output_dir:
        return
    try:
        resume_check(t.output_dir, OmegaConf.to_yaml(cfg, resolve=True), t.resume, t.steps)
    except RunDirError as err:
        raise ConfigError(str(err)) from None


def check_train_config(cfg: DictConfig) -> None:
    """Every check of a training config, cheapest first (the run directory last)."""
    check_keys(cfg)
    check_agent(cfg)
    check_wandb(cfg)
    check_model_name(cfg.model.name)
    check_agent_tasks(cfg)
    check_localize_prompt(cfg)
    check_run_dir(cfg)


def check_sweep_config(argv: list[str]) -> None:
    """A `-m` sweep: each job whose folder exists is checked as a run there
    (`codereset.run.resume_cli.check_sweep`); one line and exit 2 on a refusal."""
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    from codereset.config import conf_dir
    from codereset.run.resume_cli import check_sweep

    try:
        check_sweep(argv, conf_dir(), check_run_dir)
    except ValueError as err:
        _fail(str(err))
    except (HydraException, OmegaConfBaseException):
        return  # Hydra reports a bad sweep itself


def check_evaluate_config(cfg: DictConfig, argv: list[str] | None = None) -> None:
    """The evaluation checks; with `argv` (the command line, in the preflight) the run behind
    eval.checkpoint first gives its model and prompt settings (`codereset.eval.from_run`)."""
    from codereset.eval.evaluate import check_eval_options
    from codereset.eval.from_run import apply_run_config

    check_keys(cfg)
    try:
        if argv is not None:
            apply_run_config(cfg, argv)
        check_eval_options(cfg.eval)
    except ValueError as err:
        raise ConfigError(str(err)) from None
    check_model_name(cfg.model.name)


def compose(argv: list[str], config_name: str) -> DictConfig | None:
    """The config Hydra will compose for `argv`, or None when argv holds Hydra flags (-m, --cfg,
    --help, ...), which Hydra handles itself."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir

    from codereset.config import conf_dir

    if any(a.startswith("-") for a in argv):
        return None
    with initialize_config_dir(config_dir=conf_dir(), version_base="1.3"):
        return hydra_compose(config_name=config_name, overrides=list(argv))


def preflight(argv: list[str], config_name: str, check: Callable[[DictConfig], None]) -> None:
    """Compose argv's config and `check` it; print one line and exit 2 on any problem."""
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    try:
        cfg = compose(argv, config_name)
        if cfg is not None:
            check(cfg)
    except ConfigError as err:
        _fail(str(err))
    except (HydraException, OmegaConfBaseException) as err:
        cause = str(err.__cause__).splitlines()[0] if err.__cause__ is not None else ""
        _fail(_unknown_override(str(err), config_name)
              or " ".join(str(err).split()) + (f" ({cause})" if cause and cause not in str(err) else ""))


def _unknown_override(message: str, config_name: str) -> str | None:
    """Hydra's "Could not override 'a.b' ... use +a.b=..." for a key the schema lacks, rewritten
    as the schema check's line (the `+` Hydra suggests would not make the key valid)."""
    import dataclasses
    import re
    import typing

    from codereset.config import EvaluateConfig, TrainConfig

    found = re.search(r"Could not override '([\w.]+)'\.\s+To append to your config use \+", message)
    if not found:
        return None
    key = found.group(1)
    cls: typing.Any = TrainConfig if config_name == "train" else EvaluateConfig
    for part in key.split(".")[:-1]:
        hints = typing.get_type_hints(cls)
        if part not in hints or not dataclasses.is_dataclass(hints[part]):
            return None
        cls = hints[part]
    valid = sorted(f.name for f in dataclasses.fields(cls))
    return f"unknown config key {key!r} (valid keys here: {', '.join(valid)}); check the spelling"


def _fail(message: str) -> None:
    print(f"error: {message}", file=sys.stderr)
    sys.exit(2)
