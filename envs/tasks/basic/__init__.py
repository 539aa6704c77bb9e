"""Code suite `basic`: procedural function-writing tasks, the default training suite.

Families (registered in `family.FAMILIES` by `easy`, `medium` and `hard`) are graded by
difficulty 1-3; most are easy or medium (add two numbers, reverse a string, count vowels,
fizzbuzz variants, ...) so a 135M instruct model solves some but not most. Each task shows one
example call; its hidden tests (`sandboxes.CallTests`) call the function on several inputs.

Deterministic given the seed. A problem's split depends on its text only, so the splits never
share a problem (they do share families: the test split measures new instances).
"""

from __future__ import annotations

import copy
import random
from collections.abc import Sequence

from envs.tasks.basic import easy, hard, medium  # noqa: F401  (register the families)
from envs.tasks.basic.family import FAMILIES, Spec
from envs.tasks.task import Task, split_of, stable_hash

DEFAULT_N = {"train": 1000, "val": 100, "test": 300}
from envs.rules import DEFAULT_STOP as STOP  # reference thoughts end with the default stop pattern


def _run_reference(spec: Spec) -> list[tuple[tuple, object]]:
    """(args, expected) for each hidden input, computed with the reference solution."""
    namespace: dict = {}
    exec(compile(spec.solution, f"<basic:{spec.entry_point}>", "exec"), namespace)
    func = namespace[spec.entry_point]
    return [(tuple(args), func(*copy.deepcopy(args))) for args in spec.inputs]


def _problem(spec: Spec, example: tuple[tuple, object]) -> str:
    args, expected = example
    call = f"{spec.entry_point}({', '.join(repr(a) for a in args)})"
    return (f"Write a Python function `{spec.entry_point}({spec.params})` that {spec.description}.\n"
            f"Example: {call} == {expected!r}")


def make_task(family_name: str, spec: Spec, difficulty: int, split: str,
              cases: list[tuple[tuple, object]], problem: str) -> Task:
    """The Task of one drawn instance (reference = plan thought + code thought)."""
    from sandboxes import CallTests

    task_id = f"basic/{family_name}-{stable_hash(problem + repr(cases))}"
    reference = (spec.plan + STOP, f"\n```python\n{spec.solution}```{STOP}")
    return Task(task_id=task_id, suite="basic", kind="code", problem=problem, reference=reference,
                tests=CallTests(entry_point=spec.entry_point, cases=tuple(cases)),
                difficulty=difficulty, split=split)


def load(split: str = "train", seed: int = 0, n: int | None = None,
         difficulties: Sequence[int] = (1, 2, 3), families: Sequence[str] | None = None) -> list[Task]:
    """`n` tasks of `split` (default `DEFAULT_N[split]`), split evenly over the families (in turn).

    Args:
        difficulties: keep families of these difficulties.
        families: keep only these family names (default: all).
    """
    n = DEFAULT_N[split] if n is None else n
    if families is not None:
        unknown = sorted(set(families) - set(FAMILIES))
        if unknown:
            raise ValueError(f"unknown basic families {unknown}; known: {sorted(FAMILIES)}")
    chosen = [f for f in FAMILIES.values()
              if f.difficulty in difficulties and (families is None or f.name in families)]
    if not chosen:
        raise ValueError(f"no basic family has difficulty in {list(difficulties)} (and is in {families})")
    per_family = [_draw_family(fam, split, seed, n // len(chosen) + (i < n % len(chosen)))
                  for i, fam in enumerate(chosen)]
    return interleave(per_family)


def _draw_family(fam, split: str, seed: int, quota: int) -> list[Task]:
    """`quota` distinct tasks of family `fam` that fall into `split`."""
    tasks: dict[str, Task] = {}
    if quota == 0:
        return []
    for j in range(200 * quota + 200):
        spec = fam.make(random.Random(f"basic/{seed}/{fam.name}/{j}"))
        cases = _run_reference(spec)
        problem = _problem(spec, cases[0])
        if split_of(problem) == split:
            task = make_task(fam.name, spec, fam.difficulty, split, cases, problem)
            tasks.setdefault(task.task_id, task)
        if len(tasks) == quota:
            return list(tasks.values())
    raise RuntimeError(f"basic family {fam.name!r}: could not draw {quota} distinct {split} tasks")


def interleave(groups: list[list[Task]]) -> list[Task]:
    """Round-robin merge, so any prefix of the result mixes the groups evenly."""
    out = []
    for i in range(max((len(g) for g in groups), default=0)):
        out += [g[i] for g in groups if i < len(g)]
    return out
