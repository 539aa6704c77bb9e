"""Per-group localization records from a run's `samples.jsonl`, for the oracle diagnostics that
per-step averages cannot give (correction rate *by* deviation h* - h_oracle).

Reads only rows of reset groups (keys of `codereset.run.schema.SAMPLE_GROUP`) that carry the
oracle's verdict: `{"group": "reset",
"reset_index": h*, "h_oracle": int | null, "rollouts": [{"correct": bool, ...}] or "rewards"}`
(or the Monte-Carlo oracle's, "mc_h_oracle", from `agent.values.diagnose`).
Runs without such rows give no records (the report then says the panel has no data). Damaged
lines are skipped, as everywhere in the report.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from codereset.report.runs import is_number
from codereset.run.schema import ROLLOUT, SAMPLE_GROUP

for _key in ("step", "group", "reset_index", "h_oracle", "mc_h_oracle", "rewards", "rollouts"):
    SAMPLE_GROUP.doc(_key)  # raises at import when the schema no longer declares a key read here
ROLLOUT.doc("correct")


@dataclass(frozen=True)
class ResetRecord:
    """One reset group judged by the oracle.

    step: training step. h: reset index h* (1-based). h_oracle: the oracle's first erroneous
    thought (1-based), None when it found none. corrected: at least one suffix was correct.
    """

    step: int
    h: int
    h_oracle: int | None
    corrected: bool

    @property
    def deviation(self) -> int | None:
        return None if self.h_oracle is None else self.h - self.h_oracle


def _corrected(row: dict) -> bool | None:
    rollouts = row.get("rollouts")
    if isinstance(rollouts, list) and rollouts and all(
            isinstance(r, dict) and isinstance(r.get("correct"), bool) for r in rollouts):
        return any(r["correct"] for r in rollouts)
    rewards = row.get("rewards")
    if isinstance(rewards, list) and rewards and all(is_number(r) for r in rewards):
        return any(r >= 1.0 for r in rewards)  # correct = full reward (all tests pass / 0-1 math)
    return None


def reset_records(run_dir: Path, key: str = "h_oracle") -> list[ResetRecord]:
    """Reset groups of one run judged by the oracle whose verdict is `key` ("h_oracle" exact,
    "mc_h_oracle" Monte-Carlo); empty when samples.jsonl lacks them."""
    path = Path(run_dir) / "samples.jsonl"
    if not path.is_file():
        return []
    out = []
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            if f'"{key}"' not in line:  # cheap skip of the many rows that cannot qualify
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                continue
            if not isinstance(row, dict) or row.get("group") != "reset":
                continue
            if key not in row:
                continue
            h, h_oracle, corrected = row.get("reset_index"), row.get(key), _corrected(row)
            if not is_number(h) or not is_number(row.get("step")) or corrected is None:
                continue
            if h_oracle is not None and not is_number(h_oracle):
                continue
            out.append(ResetRecord(int(row["step"]), int(h),
                                   None if h_oracle is None else int(h_oracle), corrected))
    return out


def correction_by_deviation(records: list[ResetRecord]) -> dict[int, dict]:
    """deviation -> {"groups": n, "corrected": c, "rate": c/n}, over records with a deviation."""
    total, fixed = Counter(), Counter()
    for r in records:
        if r.deviation is not None:
            total[r.deviation] += 1
            fixed[r.deviation] += r.corrected
    return {d: {"groups": total[d], "corrected": fixed[d], "rate": fixed[d] / total[d]}
            for d in sorted(total)}
