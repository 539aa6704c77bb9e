"""Counts, in the diagnosis files, the rollouts that copy the prompt's worked example.

The code prompt's worked example (envs/prompts.py) has the thought "I start a total at 0 and add
n * n for each n in the list."; a rollout copies it when one of its own (trained, i.e. after the
reset prefix) thoughts contains that sentence's tail. Prints greedy val results per file and, per
training run, the copies among trained rollouts by step.

    python benchmarks/results/ref_basic_smollm2/diagnosis/count_copies.py
"""

from __future__ import annotations

import json
from pathlib import Path

HERE = Path(__file__).resolve().parent
EXAMPLE = "add n * n for each n in the list"


def rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def copies(rollout: dict) -> bool:
    return any(EXAMPLE in t for t in rollout["thoughts"][rollout.get("prefix_len", 0):])


def main() -> None:
    print("greedy val (8 tasks): correct, copies of the example thought")
    for path in sorted(HERE.glob("*_eval_samples.jsonl")):
        val = rows(path)
        print(f"  {path.name:48s} {sum(r['correct'] for r in val)}/{len(val)} correct, "
              f"{sum(map(copies, val))} copy")
    runs = {p.name: p / "samples.jsonl" for p in sorted((HERE.parent / "runs").iterdir())}
    runs["srpo_s0 mean_center (diagnosis)"] = HERE / "srpo_s0_mean_center" / "samples.jsonl"
    print("trained rollouts that copy, by step")
    for name, path in runs.items():
        by_step: dict[int, list[int]] = {}
        for group in rows(path):
            if group["group"] == "seed_search":  # drawn to find a seed, not trained
                continue
            seen = by_step.setdefault(group["step"], [0, 0])
            seen[0] += sum(map(copies, group["rollouts"]))
            seen[1] += len(group["rollouts"])
        print(f"  {name:32s} " + "  ".join(f"step {s}: {c}/{n}" for s, (c, n) in sorted(by_step.items())))


if __name__ == "__main__":
    main()
