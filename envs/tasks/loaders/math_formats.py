"""Loaders for math datasets: GSM8K (``#### answer``) and MATH (``\\boxed{}`` in the solution).

Both take ``path=`` (.jsonl / .json in the dataset's format) or ``hub=`` (needs `datasets` and
network) and ``n=``. The reference turns the dataset's worked solution into thoughts: GSM8K one
thought per solution line (calculator annotations ``<<...>>`` removed) with the answer boxed in
the last; MATH the whole solution as one thought (it already holds ``\\boxed{}``).
"""

from __future__ import annotations

import re
from typing import Any

from envs.rules import ThoughtRules
from envs.tasks.loaders.records import take_records
from envs.tasks.task import Task

from envs.rules import DEFAULT_STOP as STOP  # reference thoughts end with the default stop pattern
_CALC = re.compile(r"<<[^>]*>>")


def gsm8k_reference(solution: str, answer: str) -> tuple[str, ...]:
    """Thoughts of a GSM8K worked solution (the text before ``####``)."""
    lines = [_CALC.sub("", line).strip() for line in solution.splitlines() if line.strip()]
    lines.append(f"The answer is \\boxed{{{answer}}}.")
    return tuple(("\n" if i else "") + line + STOP for i, line in enumerate(lines))


def load_gsm8k(split: str = "test", seed: int = 0, **kw: Any) -> list[Task]:
    """GSM8K: fields ``question`` and ``answer`` (worked solution, then ``#### <number>``)."""
    tasks = []
    for r in take_records(kw, split):
        full = r.get("answer", str)
        if "####" not in full:
            raise r.error("answer", "has no '#### <final answer>' line")
        solution, _, answer = full.rpartition("####")
        answer = answer.strip().replace(",", "")
        if not answer:
            raise r.error("answer", "the text after '####' is empty")
        task_id = r.data.get("id", r.line)
        tasks.append(Task(task_id=f"gsm8k/{task_id}", suite="gsm8k", kind="math",
                          problem=r.get("question", str).strip(), reference=gsm8k_reference(solution, answer),
                          answer=answer, split=split))
    return tasks


def load_math(split: str = "test", seed: int = 0, **kw: Any) -> list[Task]:
    """MATH: fields ``problem``, ``solution`` (with ``\\boxed{}``), optional ``level`` ("Level 3"),
    ``type`` and ``unique_id``; an explicit ``answer`` field wins over the boxed one."""
    rules = ThoughtRules()
    tasks = []
    for r in take_records(kw, split):
        solution = r.get("solution", str)
        answer = r.get("answer", str, None) or rules.extract_answer(solution, "math")
        if answer is None:
            raise r.error("solution", "has no \\boxed{...} final answer (and there is no 'answer' field)")
        level = re.search(r"\d+", r.get("level", str, "") or "")
        task_id = r.data.get("unique_id", r.line)
        if rules.is_final(solution, "math"):
            reference = (solution.strip() + STOP,)
        else:
            reference = (f"{solution.strip()} The answer is \\boxed{{{answer}}}.{STOP}",)
        tasks.append(Task(task_id=f"math/{task_id}", suite="math", kind="math", problem=r.get("problem", str).strip(),
                          reference=reference, answer=answer, difficulty=int(level.group()) if level else 1,
                          split=split))
    return tasks
