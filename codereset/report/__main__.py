"""Command line: `python -m codereset.report SWEEP_OR_RUN_DIRS... --out DIR`.

Reads every run directory at or below the given paths (recursively; Hydra multirun sweeps
included) and writes DIR/report.md, DIR/report.html (self-contained), DIR/summary.json and
DIR/figures/*.png. Exit status 2 with a message for bad arguments (missing paths, no runs,
unknown baseline) and for a group whose seeds repeat (naming the runs; `--dedupe-seeds` keeps
one run per seed instead).
"""

from __future__ import annotations

import argparse
import sys

from codereset.report.build import DEFAULT_SMOOTH, ReportConfig, build_report
from codereset.report.speedup import SpeedupRule


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    defaults = ReportConfig()
    parser = argparse.ArgumentParser(
        prog="python -m codereset.report",
        description="Compare agents across seeds from run directories (no training).")
    parser.add_argument("paths", nargs="+", metavar="SWEEP_OR_RUN_DIR",
                        help="run directories, or directories above them (sweeps)")
    parser.add_argument("--out", required=True, help="folder for report.md/.html and figures")
    parser.add_argument("--baseline", default=defaults.baseline,
                        help="group whose gain sets the speed-up target "
                             "(default: grpo when present, else the first group)")
    parser.add_argument("--group-by", default=defaults.group_by,
                        help=f"dotted config key that forms the groups (default: "
                             f"{defaults.group_by})")
    parser.add_argument("--smooth", type=int, default=defaults.smooth,
                        help=f"trailing-mean window in steps for per-step rates (default: "
                             f"{DEFAULT_SMOOTH}, capped at a quarter of the shortest run; 1 = raw)")
    parser.add_argument("--target-fraction", type=float, default=defaults.speedup.fraction,
                        help="speed-up target: this share of the baseline's gain from its start "
                             f"(default: {defaults.speedup.fraction})")
    parser.add_argument("--title", default=defaults.title, help="report title")
    parser.add_argument("--dedupe-seeds", action="store_true",
                        help="keep one run per seed in each group (the one with the most steps) "
                             "instead of refusing a group whose seeds repeat")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        cfg = ReportConfig(baseline=args.baseline, group_by=args.group_by, smooth=args.smooth,
                           title=args.title, speedup=SpeedupRule(fraction=args.target_fraction),
                           dedupe_seeds=args.dedupe_seeds)
        result = build_report(args.paths, args.out, cfg)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    runs = result.summary["runs"]
    partial = sum(1 for r in runs if r["partial"])
    print(f"read {len(runs)} run(s) ({partial} partial) in {len(result.summary['groups'])} "
          f"group(s); wrote {result.markdown}, {result.html}, {len(result.figures)} figure(s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
