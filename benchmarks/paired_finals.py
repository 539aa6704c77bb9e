"""Paired final differences against a baseline, from committed result folders' run files.

    python benchmarks/paired_finals.py benchmarks/results/agent_comparison_arith/runs \
        benchmarks/results/agent_comparison_arith_baselines/runs
    python benchmarks/paired_finals.py ... --file heldout_eval.jsonl      # the held-out checks

For every agent and seed with a baseline run of the same seed (`<agent>_s<seed>/` folders), the
last greedy pass@1 (k = 1 row) of `--file` minus the baseline's; per agent the mean difference
with the report's percentile bootstrap over seeds (`codereset.report.speedup.bootstrap_mean`,
fixed seed: the same numbers on every rebuild). The report's paired table lists the per-seed
differences at the final evaluation; this gives their mean and interval, which answers "does the
agent END higher than GRPO" where the speed-up ("does it get there sooner") has no answer.
It writes no files. `--smoke` reads the two committed folders of the first command above (only
reads them), in a second.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))  # sweep_io, outdir
import outdir  # noqa: E402
from sweep_io import agent_runs, last_pass_at_1  # noqa: E402

from codereset.report.build import AGENT_ORDER  # noqa: E402
from codereset.report.speedup import SpeedupRule, bootstrap_mean  # noqa: E402

SMOKE_FOLDERS = [outdir.RESULTS / "agent_comparison_arith/runs", outdir.RESULTS / "agent_comparison_arith_baselines/runs"]


def finals(folders: list[Path], file: str) -> dict[str, dict[int, float]]:
    """agent -> seed -> last pass@1 of `file`."""
    out: dict[str, dict[int, float]] = {}
    for (agent, seed), d in agent_runs(folders, needs=file).items():
        if (v := last_pass_at_1(d / file)) is not None:
            out.setdefault(agent, {})[seed] = v
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("folders", nargs="*", type=Path, help="folders of <agent>_s<seed>/ run files")
    p.add_argument("--file", default="eval.jsonl", help="eval.jsonl (validation) or heldout_eval.jsonl")
    p.add_argument("--baseline", default="grpo")
    outdir.add_arguments(p, "paired_finals", out=False)
    args = p.parse_args(argv)
    if args.smoke and not args.folders:
        args.folders = SMOKE_FOLDERS
    if not args.folders:
        p.error("give at least one folder of run files (or --smoke)")
    values = finals(args.folders, args.file)
    base = values.get(args.baseline)
    if not base:
        raise SystemExit(f"no {args.baseline} run with a k=1 row in {args.file} under {args.folders}")
    print(f"{args.file}: last greedy pass@1, minus {args.baseline}'s of the same seed "
          f"(mean [95% bootstrap CI over seeds])")
    order = sorted(values, key=lambda a: (AGENT_ORDER.index(a) if a in AGENT_ORDER else len(AGENT_ORDER), a))
    for agent in order:
        seeds = sorted(s for s in values[agent] if s in base)
        mean = np.mean([values[agent][s] for s in seeds]) if seeds else float("nan")
        line = f"  {agent:<14} {mean:.3f} (n={len(seeds)})"
        if agent != args.baseline and seeds:
            diffs = np.array([values[agent][s] - base[s] for s in seeds])
            iv = bootstrap_mean(diffs, SpeedupRule())
            ci = f" [{iv.ci95[0]:+.3f}, {iv.ci95[1]:+.3f}]" if iv.ci95 else f" ({iv.reason})"
            line += f"  minus {args.baseline} {iv.value:+.3f}{ci}  per seed " + " ".join(f"{d:+.3f}" for d in diffs)
        print(line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
