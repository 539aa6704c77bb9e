"""The run directory's files, written safely (row schemas: `metrics`, `evaluation.eval_rows`).

config.yaml (resolved config), metrics.jsonl / samples.jsonl / eval.jsonl / eval_samples.jsonl
(one JSON object per line, flushed per row), run_status.json (replaced atomically), checkpoints/
and tb/ paths.
run_status.json names its writer (`owner`: pid, host, process start time), so a run killed
without a chance to write its state (kill -9, OOM, power loss) reads as "dead", not "running"
forever: `effective_state` tells a live run from a dead one.
On resume, `truncate_after(step)` drops every JSONL row of a step after the checkpoint (and a
half-written last line), so a re-run step is never duplicated and no checkpointed step is lost.
"""

from __future__ import annotations

import json
import math
import os
import socket
from pathlib import Path
from typing import Any

JSONL_FILES = ("metrics.jsonl", "samples.jsonl", "eval.jsonl", "eval_samples.jsonl")
STATES = ("running", "finished", "interrupted", "failed")


def _process_start(pid: int) -> int | None:
    """Start time of process `pid` in clock ticks since boot (/proc/PID/stat field 22), or None
    when it does not exist or /proc is not there; tells a live owner from a reused pid."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat.rpartition(")")[2].split()[19])


def current_owner() -> dict:
    """This process as a run's owner: {"pid", "host", "pid_start"}."""
    return {"pid": os.getpid(), "host": socket.gethostname(), "pid_start": _process_start(os.getpid())}


def owner_alive(owner: dict | None) -> bool | None:
    """True when the owner process still runs, False when it is gone, None when this machine
    cannot tell (another host, or no owner recorded)."""
    if not isinstance(owner, dict) or owner.get("host") != socket.gethostname():
        return None
    pid = owner.get("pid")
    if not isinstance(pid, int):
        return None
    start = _process_start(pid)
    if start is None:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return owner.get("pid_start") is None  # exists, but /proc could not say it is the same one
    return owner.get("pid_start") in (None, start)


def effective_state(status: dict | None) -> str:
    """run_status.json's state, except "dead" for a "running" run whose owner process is gone
    (killed without writing its state); "unknown" without a status."""
    if not isinstance(status, dict) or not isinstance(status.get("state"), str):
        return "unknown"
    if status["state"] == "running" and owner_alive(status.get("owner")) is False:
        return "dead"
    return status["state"]


def _json_safe(value: Any) -> Any:
    """NaN/inf (not valid JSON) become None; containers are walked."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    return value


def atomic_write_text(path: Path, text: str) -> None:
    """Write `text` to `path` through a temporary sibling and a rename (never half-written)."""
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


class RunDir:
    """Paths and writers of one run directory (created unless `create=False`, for reading)."""

    def __init__(self, path: str | Path, create: bool = True) -> None:
        self.path = Path(path)
        if create:
            self.path.mkdir(parents=True, exist_ok=True)
        self.checkpoints = self.path / "checkpoints"
        self.tb = self.path / "tb"

    def file(self, name: str) -> Path:
        return self.path / name

    def write_config(self, yaml_text: str) -> None:
        atomic_write_text(self.file("config.yaml"), yaml_text)

    def append(self, name: str, row: dict) -> None:
        """Append one JSON row to `name` (a JSONL file of this directory)."""
        if name not in JSONL_FILES:
            raise ValueError(f"unknown run file {name!r}; known: {list(JSONL_FILES)}")
        with open(self.file(name), "a", encoding="utf-8") as f:
            f.write(json.dumps(_json_safe(row), ensure_ascii=False) + "\n")
            f.flush()

    def read(self, name: str) -> list[dict]:
        """The complete rows of a JSONL file (a half-written last line is ignored)."""
        path = self.file(name)
        if not path.exists():
            return []
        rows = []
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:
                continue
        return rows

    def truncate_after(self, step: int) -> dict[str, int]:
        """Keep only rows with row["step"] <= step in every JSONL file; returns rows dropped."""
        dropped = {}
        for name in JSONL_FILES:
            path = self.file(name)
            if not path.exists():
                continue
            lines = path.read_text(encoding="utf-8").splitlines()
            keep = []
            for line in lines:
                try:
                    row = json.loads(line)
                except json.JSONDecodeError:
                    continue
                if int(row.get("step", 0)) <= step:
                    keep.append(line)
            dropped[name] = len(lines) - len(keep)
            atomic_write_text(path, "".join(line + "\n" for line in keep))
        return dropped

    def set_status(self, state: str, last_step: int, total_steps: int, **extra: Any) -> None:
        """run_status.json: {"state", "last_step", "total_steps", "owner", ...extra}; owner is
        this process (`current_owner`)."""
        if state not in STATES:
            raise ValueError(f"unknown run state {state!r}; known: {list(STATES)}")
        status = {"state": state, "last_step": last_step, "total_steps": total_steps,
                  "owner": current_owner(), **extra}
        atomic_write_text(self.file("run_status.json"), json.dumps(_json_safe(status), indent=1) + "\n")

    def status(self) -> dict | None:
        path = self.file("run_status.json")
        return json.loads(path.read_text(encoding="utf-8")) if path.exists() else None
