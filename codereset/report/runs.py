"""Finding and loading run directories, robust to partial and killed runs.

A run directory (keys declared in `codereset.run.schema`) holds `config.yaml`, `metrics.jsonl`,
`eval.jsonl`, `run_status.json` and more. This module owns:

- `find_run_dirs(paths)`: every run directory at or below the given paths (a directory is a run
  directory when it holds `metrics.jsonl`, `config.yaml` or Hydra's `.hydra/config.yaml`, so a
  sweep job that failed before its first row is still listed); sweeps are searched recursively.
- `load_run(path) -> Run`: the parsed files, never raising on damaged content: a truncated last
  line, a missing file or an unreadable config is recorded in `Run.problems` and the run is then
  *partial*.

Nothing here aggregates or renders; it only reads.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from codereset.run.schema import EVAL, METRICS

#: Per-step keys every `metrics.jsonl` row must hold, read from the one schema the trainer
#: writes by (`codereset.run.schema.METRICS`); validation, oracle and agent keys are conditional.
REQUIRED_METRIC_KEYS = METRICS.names(required=True)

#: Per-step keys written only when the task suite has an oracle (procedural math).
ORACLE_METRIC_KEYS = METRICS.of("oracle")

#: Keys of one `eval.jsonl` row.
EVAL_KEYS = EVAL.names()

_RUN_MARKERS = ("metrics.jsonl", "config.yaml", ".hydra/config.yaml")
_SKIP_DIRS = {".hydra", "checkpoints", "tb", "__pycache__", ".git"}


@dataclass
class Run:
    """One run directory as read from disk.

    Fields:
        path: the run directory.
        config: the resolved config (`config.yaml`, else Hydra's `.hydra/config.yaml`); {} if none.
        metrics: `metrics.jsonl` rows, one per step, sorted by step (a step logged twice keeps
            its last row).
        evals: `eval.jsonl` rows in file order.
        status: `run_status.json`, or None when absent/unreadable.
        problems: why the run counts as partial, in words (empty for a complete run).
        notes: things worth saying that do not make the run partial.
    """

    path: Path
    config: dict = field(default_factory=dict)
    metrics: list[dict] = field(default_factory=list)
    evals: list[dict] = field(default_factory=list)
    status: dict | None = None
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def partial(self) -> bool:
        """True when anything expected of a finished run is missing or damaged."""
        return bool(self.problems)

    def get(self, dotted: str, default: Any = None) -> Any:
        """Config value at a dotted path (`"agent.name"`), or `default` when absent."""
        node: Any = self.config
        for part in dotted.split("."):
            if not isinstance(node, dict) or part not in node:
                return default
            node = node[part]
        return node

    def label(self, group_by: str) -> str:
        """The group this run belongs to: its arm (`group_by` "arm": agent, localizer and split,
        `codereset.agents.arms.arm_label`), else the config value at `group_by`, as text."""
        if group_by == "arm":
            from codereset.agents.arms import arm_of_config

            value = arm_of_config(self.config)
        else:
            value = self.get(group_by)
        return "unknown" if value is None else str(value)

    @property
    def seed(self) -> Any:
        return self.get("seed")

    @property
    def last_step(self) -> int:
        """Highest step logged in `metrics.jsonl` (0 when none)."""
        return int(self.metrics[-1]["step"]) if self.metrics else 0

    @property
    def total_steps(self) -> int | None:
        """Planned steps: `run_status.json`'s `total_steps`, else `trainer.steps`, else None."""
        if self.status and isinstance(self.status.get("total_steps"), int):
            return self.status["total_steps"]
        steps = self.get("trainer.steps")
        return steps if isinstance(steps, int) else None

    @property
    def state(self) -> str:
        """`run_status.json`'s state ("dead" for a "running" run whose owner process is gone:
        `codereset.run.rundir.effective_state`), or "unknown" when the file is missing."""
        if self.status and isinstance(self.status.get("state"), str):
            from codereset.run.rundir import effective_state

            return effective_state(self.status)
        return "unknown"

    def missing_metric_keys(self) -> list[str]:
        """Contract keys that appear in no row of `metrics.jsonl`."""
        seen = set().union(*(row.keys() for row in self.metrics)) if self.metrics else set()
        return [k for k in REQUIRED_METRIC_KEYS if k not in seen]


def is_number(value: Any) -> bool:
    """A finite int/float (bools excluded): usable in an average."""
    return (isinstance(value, (int, float)) and not isinstance(value, bool)
            and math.isfinite(value))


def read_jsonl(path: Path) -> tuple[list[dict], list[str]]:
    """Rows of a JSON-lines file and the problems met (bad lines are skipped, not fatal)."""
    raw = path.read_bytes()
    text = raw.decode("utf-8", errors="replace")
    lines = text.split("\n")
    ends_cleanly = text.endswith("\n")
    rows: list[dict] = []
    problems: list[str] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        is_last = number == len(lines) or (number == len(lines) - 1 and ends_cleanly)
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            if is_last and not ends_cleanly:
                problems.append(f"{path.name}: last line truncated (killed while writing?)")
            else:
                problems.append(f"{path.name}: line {number} is not valid JSON, skipped")
            continue
        if not isinstance(row, dict):
            problems.append(f"{path.name}: line {number} is not a JSON object, skipped")
            continue
        rows.append(row)
    return rows, problems


def _load_config(path: Path, run: Run) -> None:
    for candidate in (path / "config.yaml", path / ".hydra" / "config.yaml"):
        if not candidate.is_file():
            continue
        try:
            loaded = yaml.safe_load(candidate.read_text())
        except yaml.YAMLError as err:
            run.problems.append(f"{candidate.relative_to(path)} unreadable: {err}".splitlines()[0])
            continue
        if isinstance(loaded, dict):
            run.config = loaded
            if candidate.name == "config.yaml" and candidate.parent != path:
                run.notes.append("config read from .hydra/config.yaml (no config.yaml)")
            return
    run.problems.append("no config.yaml (agent and seed unknown)")


def _load_metrics(path: Path, run: Run) -> None:
    file = path / "metrics.jsonl"
    if not file.is_file():
        run.problems.append("no metrics.jsonl")
        return
    rows, problems = read_jsonl(file)
    run.problems.extend(problems)
    by_step: dict[int, dict] = {}
    for row in rows:
        step = row.get("step")
        if not is_number(step) or int(step) != step:
            run.problems.append("metrics.jsonl: a row without an integer `step`, skipped")
            continue
        if int(step) in by_step:
            run.notes.append(f"metrics.jsonl: step {int(step)} logged twice; kept the last row")
        by_step[int(step)] = row
    run.metrics = [by_step[s] for s in sorted(by_step)]


def _load_evals(path: Path, run: Run) -> None:
    file = path / "eval.jsonl"
    if not file.is_file():
        run.problems.append("no eval.jsonl (final evaluation missing)")
        return
    rows, problems = read_jsonl(file)
    run.problems.extend(problems)
    for row in rows:
        missing = [k for k in ("k", "pass_at_k") if not is_number(row.get(k))]
        missing += [] if isinstance(row.get("suite"), str) else ["suite"]
        if missing:
            run.problems.append(f"eval.jsonl: a row lacks a valid {', '.join(missing)}, "
                                "skipped")
            continue
        run.evals.append(row)


def _load_status(path: Path, run: Run) -> None:
    file = path / "run_status.json"
    if not file.is_file():
        run.problems.append("no run_status.json (killed before it was written?)")
        return
    try:
        status = json.loads(file.read_text())
    except json.JSONDecodeError:
        run.problems.append("run_status.json is not valid JSON")
        return
    if not isinstance(status, dict):
        run.problems.append("run_status.json is not a JSON object")
        return
    run.status = status
    if run.state != "finished":
        run.problems.append(f"run state is '{run.state}'")
    total = run.total_steps
    if total is not None and run.last_step < total:
        run.problems.append(f"metrics stop at step {run.last_step} of {total}")


def load_run(path: str | Path) -> Run:
    """Read one run directory; damage is recorded in `problems`, never raised."""
    path = Path(path)
    run = Run(path=path)
    _load_config(path, run)
    _load_metrics(path, run)
    _load_evals(path, run)
    _load_status(path, run)
    return run


def find_run_dirs(paths: list[str | Path]) -> list[Path]:
    """Run directories at or below each path, sorted, without duplicates.

    Raises ValueError naming the path when one does not exist or holds no run directory.
    """
    found: dict[Path, None] = {}
    for given in paths:
        root = Path(given)
        if not root.exists():
            raise ValueError(f"{root}: no such file or directory; pass a run directory or a "
                             "sweep directory that contains run directories")
        if not root.is_dir():
            raise ValueError(f"{root}: not a directory; pass a run directory (it holds "
                             "metrics.jsonl / config.yaml) or a sweep directory above them")
        before = len(found)
        for run_dir in _walk(root):
            found[run_dir.resolve()] = None
        if len(found) == before and not any(_walk(root)):
            raise ValueError(f"{root}: no run directory found at or below it (looked for "
                             f"directories holding {' or '.join(_RUN_MARKERS)})")
    return sorted(found)


def _walk(root: Path):
    if any((root / marker).is_file() for marker in _RUN_MARKERS):
        yield root
        return  # a run directory's own subfolders (checkpoints/, tb/) hold no runs
    for child in sorted(root.iterdir()):
        if child.is_dir() and child.name not in _SKIP_DIRS:
            yield from _walk(child)


def load_runs(paths: list[str | Path]) -> list[Run]:
    """`load_run` for every run directory found at or below `paths`."""
    return [load_run(p) for p in find_run_dirs(paths)]
