"""The `Task` record: one problem with its reference solution and how to check an answer.

Every suite (procedural or loaded from files) produces `Task`s; the env, the verifier and the
trainer read nothing else about a problem.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from typing import Any, Callable

from envs.rules import ANSWER_EXTRACTORS

# Split buckets of `split_of` (out of 10): 8 train, 1 val, 1 test.
SPLITS = ("train", "val", "test")


def stable_hash(text: str, n_hex: int = 10) -> str:
    """A short hex digest of `text`, the same in every process (unlike `hash`)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:n_hex]


def split_of(problem: str) -> str:
    """The split a procedural problem belongs to, from its text alone.

    Because it depends on the text only, a problem is in the same split for every seed, so the
    train/val/test splits of a procedural suite never share a problem.
    """
    bucket = int(stable_hash(problem, 8), 16) % 10
    return "train" if bucket < 8 else ("val" if bucket == 8 else "test")


@dataclass(frozen=True)
class Task:
    """One problem of a task suite.

    Attributes:
        task_id: unique within its suite, stable across runs (procedural ids hash the problem).
        suite: name of the suite that produced it (as registered in `envs.tasks.SUITES`).
        kind: "code" or "math"; selects answer extraction and verification.
        problem: the problem text shown to the model.
        reference: reference thoughts (each ends with `envs.rules.DEFAULT_STOP`, ``</thought>``; the last
            holds the final answer) that score 1.0 through the real verifier. Empty only for
            loaded data that ships no solution (LiveCodeBench).
        tests: code only: a `sandboxes` test spec (`CallTests`, `AssertTests`, `StdioTests`).
        answer: math only: the ground-truth final answer (compared by `math-verify`).
        step_values: math suites with step-level truth: the true value after each reference
            thought (``step_values[i]`` belongs to ``reference[i]``); None when unknown.
        difficulty: 1 (easiest) and up; its scale is the suite's (steps for `arith`).
        split: "train", "val" or "test" (loaded files: whatever split was asked for).
        code_prefix: code only: source run before the model's program (e.g. HumanEval's
            prompt, for its imports and helper functions); the model's definitions win.
    """

    task_id: str
    suite: str
    kind: str
    problem: str
    reference: tuple[str, ...]
    tests: Any = None
    answer: str | None = None
    step_values: tuple[str, ...] | None = None
    difficulty: int = 1
    split: str = "train"
    code_prefix: str = ""

    def __post_init__(self) -> None:
        where = f"Task {self.task_id!r} of suite {self.suite!r}"
        if self.kind not in ANSWER_EXTRACTORS:
            raise ValueError(f"{where}: unknown kind {self.kind!r}; known: {sorted(ANSWER_EXTRACTORS)}")
        if not isinstance(self.reference, tuple) or not all(isinstance(t, str) for t in self.reference):
            raise ValueError(f"{where}: reference must be a tuple of thought strings")
        if self.kind == "code" and self.tests is None:
            raise ValueError(f"{where}: a code task needs `tests` (a sandboxes test spec)")
        if self.kind == "math" and self.answer is None:
            raise ValueError(f"{where}: a math task needs `answer`")
        if self.step_values is not None and len(self.step_values) != len(self.reference):
            raise ValueError(
                f"{where}: step_values has {len(self.step_values)} entries but reference has "
                f"{len(self.reference)} thoughts; give one value per reference thought"
            )


def draw_procedural(suite: str, split: str, seed: int, n: int,
                    make: Callable[[random.Random, int], tuple[str, str, tuple[str, ...], tuple[str, ...], int]]) -> list[Task]:
    """`n` distinct tasks of `split` from a procedural math suite with step truth: attempt k draws
    with ``random.Random(f"{suite}/{seed}/{k}")``; `make(rng, k)` returns (id stem, problem,
    reference thoughts, step values, difficulty); problems of other splits are skipped, repeats
    kept once. Deterministic given the seed."""
    tasks: dict[str, Task] = {}
    attempt = 0
    while len(tasks) < n:
        if attempt > 200 * n + 1000:
            raise RuntimeError(f"{suite}: could not generate {n} distinct {split} problems")
        stem, problem, reference, values, difficulty = make(random.Random(f"{suite}/{seed}/{attempt}"), attempt)
        attempt += 1
        if split_of(problem) != split:
            continue
        task_id = f"{suite}/{stem}-{stable_hash(problem)}"
        tasks.setdefault(task_id, Task(task_id=task_id, suite=suite, kind="math", problem=problem,
                                       reference=reference, answer=values[-1], step_values=values,
                                       difficulty=difficulty, split=split))
    return list(tasks.values())
