"""What the sweep benchmarks (tiny_lm_comparison.py, agent_comparison.py) share: the printout
they keep (`Tee`), the run files they copy into a result folder (`KEPT_FILES`), JSONL reading and
the machine record of run_info.json."""

from __future__ import annotations

import json
import os
import platform
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# samples.jsonl (~1 MB per run) stays in the sweep folder; without it a rebuilt report lacks only
# the correction-rate-by-deviation panel (its numbers are in the committed summary.json).
KEPT_FILES = ("metrics.jsonl", "eval.jsonl", "config.yaml", "run_status.json")


class Tee:
    """Print to stdout and remember the lines (written to OUT/output.txt at the end)."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def __call__(self, text: str = "") -> None:
        print(text, flush=True)
        self.lines.append(text)


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()] if path.is_file() else []


def machine() -> dict:
    """CPU, cores, platform, Python, torch and the checkout's commit."""
    import torch

    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    return {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(),
            "platform": platform.platform(), "python": platform.python_version(),
            "torch": torch.__version__, "commit": commit.stdout.strip()}
