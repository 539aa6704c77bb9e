"""Math suite `pairsum`: add two single-digit numbers, in one thought (the positive control's task).

Every problem asks for ``a + b`` with a, b in 0..9, in one of four phrasings, so the suite holds
400 problems; `split_of` puts about 80% in train and 10% each in val and test, and since the split
hashes the text, a validation problem is a prompt the trainer never sees. The reference is one
thought, ``"a + b = s. The answer is \\boxed{s}.</thought>"`` (`step_values` = (s,), so the
step-level oracle applies too).

Why so small a task: `benchmarks/learning_control.py` needs a setting where GRPO through the real
trainer must raise *held-out* greedy pass@1 within minutes on a 2-core CPU. What a policy can learn
that fast and that transfers to unseen prompts is a policy-wide preference, so the control's
warm-start is taught a biased mixture on this suite: mostly `decoy_thought` (``a - b``, wrong
whenever b > 0), sometimes the reference. The arithmetic is easy for a tiny model; which operation
it picks is what RL has to change. `decoy_thought` is the biased teacher's solution for that
warm-start; it is not used by the env or the verifier.
"""

from __future__ import annotations

import random

from envs.rules import ThoughtRules
from envs.tasks.task import Task, split_of, stable_hash

TEMPLATES = (
    "Add {a} and {b}.",
    "What is {a} plus {b}?",
    "Compute the sum of {a} and {b}.",
    "Find {a} + {b}.",
)
DIGITS = range(10)


def solution_thought(a: int, b: int, op: str, stop: str = ThoughtRules().stop) -> str:
    """One thought computing ``a op b`` (op "+" or "-") and boxing the result."""
    value = {"+": a + b, "-": a - b}[op]
    return f"{a} {op} {b} = {value}. The answer is \\boxed{{{value}}}.{stop}"


def operands(task: Task) -> tuple[int, int]:
    """(a, b) of a pairsum task (from its id, which records them)."""
    _, a, b = task.task_id.rsplit("/", 1)[1].split("-")[:3]
    return int(a), int(b)


def decoy_thought(task: Task, stop: str = ThoughtRules().stop) -> str:
    """The biased teacher's (wrong unless b = 0) solution: ``a - b``."""
    a, b = operands(task)
    return solution_thought(a, b, "-", stop)


def load(split: str = "train", seed: int = 0, n: int | None = None) -> list[Task]:
    """The tasks of `split` (at most `n`), in an order shuffled by `seed`."""
    tasks = []
    for k, template in enumerate(TEMPLATES):
        for a in DIGITS:
            for b in DIGITS:
                problem = template.format(a=a, b=b)
                if split_of(problem) != split:
                    continue
                s = a + b
                tasks.append(Task(
                    task_id=f"pairsum/{k}-{a}-{b}-{stable_hash(problem, 6)}", suite="pairsum",
                    kind="math", problem=problem, reference=(solution_thought(a, b, "+"),),
                    answer=str(s), step_values=(str(s),), difficulty=1, split=split))
    random.Random(f"pairsum/{seed}").shuffle(tasks)
    return tasks if n is None else tasks[:n]
