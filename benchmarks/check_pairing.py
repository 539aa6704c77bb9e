"""Check on a sweep's own logs that paired runs drew the same first draws (issue 14, item 1).

    python benchmarks/check_pairing.py runs/agent_comparison/arith runs/agent_comparison/arith_baselines

Reads `<sweep>/<agent>_s<seed>/samples.jsonl` (kept in the sweep folders, not in the committed
result folders: too large) and compares, for every seed and prompt of step 1, each agent's first
draws with the baseline's (default GRPO, whose first 4 rollouts of a prompt are the paired ones):
- most agents: the first 4 rollouts of the prompt's first trained group (RRPO/SRPO/CARO's base
  group, Critique-GRPO's originals, SCoRe's first attempts, VinePPO's rollouts) are token-identical
  (same thought texts) to the baseline's first 4;
- SPO-tree: its 2 first-level segments are prefixes of the baseline's first 2 episodes (the tree
  stops them at the segment length), and its 2 untrained probe draws equal the baseline's next 2.
Prints one line per agent and seed (prompts matching / prompts), then `check_pairing: ok` or
`check_pairing: MISMATCH ...`; exit status 1 on a mismatch. It writes no files.
`--smoke`: checks a two-run synthetic sweep (GRPO and SRPO, seed 0, paired) written to a temp
folder, in a second.
"""

from __future__ import annotations

import argparse
import atexit
import json
import shutil
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # sweep_io, outdir
import outdir  # noqa: E402
from sweep_io import agent_runs, read_jsonl  # noqa: E402

PAIRED = 4  # first draws per prompt that come from the seeded paired call (trainer.paired)


def _texts(rollouts: list[dict]) -> list[str]:
    return ["".join(r["thoughts"]) for r in rollouts]


def _first_group(rows: list[dict]) -> list[dict]:
    return next(r["rollouts"] for r in rows if r["group"] != "seed_search")


def _same_first_draws(rows: list[dict], base: list[dict]) -> bool:
    return _texts(_first_group(rows)[:PAIRED]) == _texts(base[:PAIRED])


def _spo_tree(rows: list[dict], base: list[dict]) -> bool:
    first = next(r["rollouts"] for r in rows if r["group"] == "tree")
    probe = next((r["rollouts"] for r in rows if r["group"] == "seed_search"), [])
    half = PAIRED // 2
    return (len(first) == half and all(b.startswith(f) for f, b in zip(_texts(first), _texts(base[:half])))
            and _texts(probe) == _texts(base[half:PAIRED]))


#: agent -> rule for "its step-1 first draws of a prompt match the baseline's"
RULES: dict[str, Callable[[list[dict], list[dict]], bool]] = {"spo_tree": _spo_tree}


def step_one(run_dir: Path) -> dict[str, list[dict]]:
    """task id -> the samples.jsonl rows of step 1, in order."""
    out: dict[str, list[dict]] = {}
    for row in read_jsonl(run_dir / "samples.jsonl"):
        if row.get("step") == 1:
            out.setdefault(row["task_id"], []).append(row)
    return out


def smoke_sweep(root: Path) -> Path:
    """A paired two-run sweep under `root`: GRPO's step-1 base group and SRPO's (after its seed
    search) share their first 4 draws."""
    draws = [{"thoughts": [f"a{i} ", f"b{i}"], "correct": False} for i in range(8)]
    runs = {"grpo_s0": [("base", draws)],
            "srpo_s0": [("seed_search", draws[4:5]), ("base", draws[:4]), ("reset", draws[5:])]}
    for run, groups in runs.items():
        (root / run).mkdir(parents=True)
        rows = [{"step": 1, "task_id": "t0", "group": g, "rollouts": r} for g, r in groups]
        (root / run / "samples.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    return root


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("sweeps", nargs="*", type=Path, help="sweep folders holding <agent>_s<seed>/ run dirs")
    p.add_argument("--baseline", default="grpo")
    outdir.add_arguments(p, "check_pairing", out=False)
    args = p.parse_args(argv)
    if args.smoke:  # the synthetic sweep alone, removed at exit
        tmp = Path(tempfile.mkdtemp(prefix="bench-check_pairing-smoke-"))
        atexit.register(shutil.rmtree, tmp, True)
        args.sweeps = [smoke_sweep(tmp)]
    if not args.sweeps:
        p.error("give at least one sweep folder (or --smoke)")
    runs = agent_runs(args.sweeps, needs="samples.jsonl")
    bad = []
    for (agent, seed), d in sorted(runs.items()):
        if agent == args.baseline:
            continue
        if (args.baseline, seed) not in runs:
            print(f"{agent} seed {seed}: no {args.baseline} run with seed {seed}: not checked")
            continue
        base = {t: _first_group(rows) for t, rows in step_one(runs[(args.baseline, seed)]).items()}
        mine = step_one(d)
        rule = RULES.get(agent, _same_first_draws)
        same = sum(rule(mine[t], base[t]) for t in base if t in mine)
        print(f"{agent} seed {seed}: {same}/{len(base)} prompts' first draws match {args.baseline}'s")
        if same != len(base):
            bad.append(f"{agent}_s{seed}")
    print("check_pairing: ok" if not bad else f"check_pairing: MISMATCH {' '.join(bad)}")
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
