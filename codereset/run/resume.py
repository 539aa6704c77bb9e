"""May this run start in its run directory? New runs, resumes, and what a resume may change.

Checked before anything is written or loaded (by `codereset.run.preflight` before Hydra creates its
output directory, and again by `Trainer.setup` for runs built in Python):
- a new run (trainer.resume=false) refuses a directory that already holds a run;
- a resume refuses a directory whose owner process still runs (run_status.json's `owner`);
- a resume refuses a config that differs from the run's config.yaml in anything that changes
  the method: every key except `RESUME_MAY_CHANGE` (run control: more or fewer steps, how often
  to checkpoint, validate and log, threads, progress bar, the generation engine). The error names
  each differing key with both values; `RESUME_MAY_CHANGE` is the documented list of what may;
- a resume refuses trainer.steps below the steps already done (run_status.json stays true).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from codereset.run.rundir import RunDir, effective_state

# Keys (or key prefixes ending in ".") a resume may change: they decide how long the run goes and
# what it records, not what it learns. Everything else is the method and must stay.
RESUME_MAY_CHANGE = (
    "trainer.resume", "trainer.output_dir", "trainer.steps", "trainer.progress",
    "trainer.checkpoint_every", "trainer.keep_checkpoints", "trainer.max_nonfinite_steps",
    "trainer.micro_batch_size", "validation.", "logging.", "torch_threads", "backend.",
)


class RunDirError(ValueError):
    """The run directory cannot be used with this config; the message says what to do."""


def flatten(tree: Any, prefix: str = "") -> dict[str, Any]:
    """{"a": {"b": 1}} -> {"a.b": 1} (lists are values)."""
    if not isinstance(tree, dict) or not tree and prefix:
        return {prefix.rstrip("."): tree}
    out: dict[str, Any] = {}
    for key, value in tree.items():
        out.update(flatten(value, f"{prefix}{key}."))
    return out


def may_change(key: str) -> bool:
    return any(key == k or (k.endswith(".") and key.startswith(k)) for k in RESUME_MAY_CHANGE)


def config_changes(old_yaml: str, new_yaml: str) -> tuple[list[str], list[str]]:
    """(method changes, run-control changes) between two resolved config texts, each as
    "key: old -> new" lines."""
    old, new = flatten(yaml.safe_load(old_yaml) or {}), flatten(yaml.safe_load(new_yaml) or {})
    method, control = [], []
    for key in sorted(set(old) | set(new)):
        if old.get(key, "<absent>") != new.get(key, "<absent>"):
            line = f"{key}: {old.get(key, '<absent>')!r} -> {new.get(key, '<absent>')!r}"
            (control if may_change(key) else method).append(line)
    return method, control


def holds_run(path: Path) -> bool:
    """True when `path` has metrics rows or a checkpoint (a run started there)."""
    from codereset.run.checkpoint import latest_checkpoint

    run = RunDir(path, create=False)
    return bool(run.read("metrics.jsonl")) or latest_checkpoint(run.checkpoints) is not None


def steps_done(path: Path) -> int:
    """The step a resume restarts from: the latest checkpoint's (0 without one)."""
    from codereset.run.checkpoint import latest_checkpoint

    found = latest_checkpoint(Path(path) / "checkpoints")
    return int(found.name.rpartition("_")[2]) if found is not None else 0


def check_run_dir(path: str | Path, config_yaml: str, resume: bool, steps: int) -> list[str]:
    """Raise RunDirError when the run in `path` may not start with this resolved config (see the
    module docstring); returns the run-control changes a resume makes (for a log line)."""
    path = Path(path)
    if not path.exists():
        return []
    if not resume:
        if holds_run(path):
            raise RunDirError(f"{path} already holds a run; continue it with trainer.resume=true "
                              "or pick a new trainer.output_dir")
        return []
    run = RunDir(path, create=False)
    status = run.status()
    if effective_state(status) == "running" and status.get("owner"):
        owner = status["owner"]
        raise RunDirError(f"{path} is being trained by process {owner.get('pid')} on "
                          f"{owner.get('host')} (run_status.json says running and it is alive); "
                          "wait for it to end or stop it before resuming")
    saved = run.file("config.yaml")
    control: list[str] = []
    if saved.exists():
        method, control = config_changes(saved.read_text(encoding="utf-8"), config_yaml)
        if method:
            raise RunDirError(f"trainer.resume=true with a config that changes the method of the run "
                              f"in {path}: {'; '.join(method)}. Resume with the run's own settings "
                              f"(its config.yaml), or start a new run in another trainer.output_dir; a "
                              f"resume may change only {', '.join(RESUME_MAY_CHANGE)}")
    done = steps_done(path)
    if steps < done:
        raise RunDirError(f"trainer.steps={steps} but the run in {path} has done {done} steps; "
                          f"resume with trainer.steps >= {done} (it is finished at {done})")
    return control
