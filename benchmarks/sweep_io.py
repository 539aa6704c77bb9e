"""What the sweep benchmarks (tiny_lm_comparison.py, agent_comparison.py, and check_pairing.py /
paired_finals.py that read their folders) share: the printout they keep (`Tee`), the run files
they copy into a result folder (`KEPT_FILES`), JSONL reading, the `<agent>_s<seed>` run folders
(`agent_runs`), a run's last greedy pass@1 (`last_pass_at_1`) and the machine record of
run_info.json. Run as a script it prints that machine record (`--smoke`: the same)."""

from __future__ import annotations

import json
import os
import platform
import re
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


def agent_runs(folders: list[Path], needs: str | None = None) -> dict[tuple[str, int], Path]:
    """(agent, seed) -> run folder, for the `<agent>_s<seed>` folders directly under `folders`
    (those holding the file `needs`, when given); a later folder's run replaces an earlier one's."""
    out: dict[tuple[str, int], Path] = {}
    for folder in folders:
        for d in sorted(folder.iterdir()):
            m = re.fullmatch(r"(.+)_s(\d+)", d.name)
            if m and d.is_dir() and (needs is None or (d / needs).is_file()):
                out[(m.group(1), int(m.group(2)))] = d
    return out


def last_pass_at_1(eval_file: Path) -> float | None:
    """The last greedy pass@1 (k = 1 row) of an eval.jsonl, None when it has none."""
    rows = [r for r in read_jsonl(eval_file) if str(r.get("k")) == "1"]
    return float(rows[-1]["pass_at_k"]) if rows else None


SIMD_FLAGS = ("avx512f", "avx512_bf16", "avx2", "fma")  # what torch's CPU kernels dispatch on


def cpu_model(cpuinfo: str | None = None) -> dict:
    """The CPU's model name and the SIMD flags torch's kernels choose between. A seeded run repeats
    bitwise on one machine, but float results may differ on another CPU (a warm-start remade on a
    fresh machine came out as another checkpoint), so a sweep records which CPU it ran on."""
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text()
        except OSError:
            cpuinfo = ""
    fields: dict[str, str] = {}
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        fields.setdefault(key.strip(), value.strip())
    flags = set(fields.get("flags", "").split())
    return {"model": fields.get("model name") or platform.processor() or platform.machine(),
            "simd": [f for f in SIMD_FLAGS if f in flags]}


def machine() -> dict:
    """CPU (model and SIMD flags), cores, platform, Python, torch and the checkout's commit."""
    import torch

    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    return {"cpu": platform.processor() or platform.machine(), "cpu_model": cpu_model(), "cores": os.cpu_count(),
            "platform": platform.platform(), "python": platform.python_version(),
            "torch": torch.__version__, "commit": commit.stdout.strip()}


if __name__ == "__main__":  # `python benchmarks/sweep_io.py [--smoke]`: the machine record a sweep writes
    import argparse
    import sys

    sys.path.insert(0, str(ROOT / "benchmarks"))  # outdir
    import outdir

    ap = argparse.ArgumentParser(description="print the machine record of run_info.json (a module, not a benchmark)")
    outdir.add_arguments(ap, "sweep_io", out=False)
    ap.parse_args()
    print(json.dumps(machine()))
