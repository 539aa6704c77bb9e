"""Where a benchmark writes, and its smoke mode's flag (issue 27, items 5 and 6).

- `--out` is where results go. Left out, a script writes under `runs/benchmarks/<name>/` (ignored
  by git), or into a fresh temporary folder with `--smoke`. The committed result folders under
  `benchmarks/results/` are written only when `--out` names one explicitly (to remake a committed
  result on purpose), never by a default and never by a smoke run.
- `--smoke`: tiny sizes (or the tiny model), seconds to a minute, to show the script still runs;
  its figures mean nothing. tests/benchmarks/test_smoke.py runs every script this way.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
RUNS = ROOT / "runs" / "benchmarks"
SMOKE_HELP = "tiny sizes, seconds: checks that the script runs (its figures mean nothing); output to a temp folder"


def add_arguments(ap: argparse.ArgumentParser, name: str, out: bool = True) -> None:
    """`--smoke`, and `--out` (default None: `resolve`'s rule) when the script writes files."""
    ap.add_argument("--smoke", action="store_true", help=SMOKE_HELP)
    if out:
        ap.add_argument("--out", type=Path, default=None,
                        help=f"output folder (default: runs/benchmarks/{name}, a temp folder with --smoke); "
                             "a committed folder under benchmarks/results/ is written only when named here")


def in_results(path: Path) -> bool:
    """Whether `path` (relative: to the working directory or to the repository root) lies in
    benchmarks/results/."""
    path = Path(path)
    candidates = [path] if path.is_absolute() else [Path.cwd() / path, ROOT / path]
    return any(c.resolve().is_relative_to(RESULTS.resolve()) for c in candidates)


def resolve(out: Path | None, name: str, smoke: bool = False) -> Path:
    """The output folder: `out` when given (refused in smoke mode if it is a committed result
    folder), else a temp folder (smoke) or runs/benchmarks/<name>."""
    if out is None:
        return Path(tempfile.mkdtemp(prefix=f"bench-{name}-smoke-")) if smoke else RUNS / name
    if smoke and in_results(out):
        raise SystemExit(f"--smoke does not write into the committed results ({out}); leave --out out "
                         "or name another folder")
    return Path(out)
