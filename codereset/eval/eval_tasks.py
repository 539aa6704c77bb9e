"""Evaluate a policy on tasks: n samples per task, pass@k with the unbiased estimator.

Used by the trainer's periodic validation (greedy pass@1 on the val split) and by
`python -m codereset.evaluate`. Rows have the eval.jsonl schema (`eval_rows`).
"""

from __future__ import annotations

from typing import Any, Sequence

from codereset.eval.passk import pass_at_k
from codereset.rollouts.rollout import Roller
from codereset.rollouts.scoring import OverlappedScorer
from codereset.run.schema import EVAL, EVAL_SAMPLE


def evaluate_tasks(roller: Roller, verifier: Any, tasks: Sequence[Any], n: int,
                   ks: Sequence[int]) -> dict:
    """Sample `n` rollouts per task with `roller`, score them, and compute pass@k for each k.

    Returns {"k": [...], "pass_at_k": {k: value}, "n_tasks", "n_samples", "per_task": [...],
    "tokens_generated", "samples": [...]}; per_task rows hold task_id, n, correct count and mean
    reward; samples are the scored rollouts (`Rollout.to_json`: thoughts, finish, verdict).
    """
    bad = [k for k in ks if not 1 <= k <= n]
    if bad:
        raise ValueError(f"pass@k needs 1 <= k <= n_samples={n}; got k={bad}")
    if not tasks:
        raise ValueError("no tasks to evaluate (empty split or max_tasks=0)")
    # one batched generation for every task (and sample); each rollout is scored as it ends
    with OverlappedScorer(roller, verifier) as scorer:
        groups = roller.run([roller.fresh(t, "eval") for t in tasks], n, on_done=scorer.submit)
        scorer.wait()
    per_task = []
    for task, group in zip(tasks, groups):
        correct = sum(r.correct for r in group)
        per_task.append({"task_id": task.task_id, "n": n, "correct": correct,
                         "reward_mean": sum(r.reward for r in group) / n,
                         "pass_at_k": {str(k): pass_at_k(n, correct, k) for k in ks}})
    return {
        "k": list(ks),
        "pass_at_k": {str(k): sum(t["pass_at_k"][str(k)] for t in per_task) / len(per_task) for k in ks},
        "n_tasks": len(tasks),
        "n_samples": n,
        "per_task": per_task,
        "tokens_generated": sum(r.generated_tokens for g in groups for r in g),
        "samples": [r.to_json() for g in groups for r in g],
    }


def eval_rows(step: int, suite: str, split: str, result: dict) -> list[dict]:
    """eval.jsonl rows (one per k) from an `evaluate_tasks` result."""
    return [EVAL.check({
        "step": step, "suite": suite, "split": split, "k": k,
        "pass_at_k": result["pass_at_k"][str(k)], "n_tasks": result["n_tasks"],
        "n_samples": result["n_samples"],
        "per_task": [{"task_id": t["task_id"], "correct": t["correct"], "n": t["n"],
                      "pass_at_k": t["pass_at_k"][str(k)]} for t in result["per_task"]]})
        for k in result["k"]]


def eval_sample_rows(step: int, split: str, result: dict) -> list[dict]:
    """eval_samples.jsonl rows (one per scored rollout) from an `evaluate_tasks` result."""
    return [EVAL_SAMPLE.check({"step": step, "split": split, **sample}, {"scored"})
            for sample in result["samples"]]
