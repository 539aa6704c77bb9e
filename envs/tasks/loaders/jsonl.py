"""Our own task format: one JSON object per line (JSONL), for code and math tasks alike.

Fields (see the README section "Bring your own tasks"):
  task_id      str, required, unique in the file
  kind         "code" or "math", required
  problem      str, required: the text shown to the model
  answer       str or number, required for math
  tests        object, required for code; "type" selects the spec:
                 {"type": "call",   "entry_point": "f", "cases": [[[arg1, arg2], expected], ...]}
                 {"type": "assert", "entry_point": "f", "code": "def check(candidate):\\n    assert ..."}
                 {"type": "stdio",  "cases": [["stdin text", "expected stdout"], ...]}
  reference    list of thoughts (each ending with the stop pattern), optional
  solution     str, optional (used when there is no reference): code is wrapped in a ```python
               block as one thought; math becomes one thought, its answer boxed if not already
  step_values  list of str, optional: true value after each reference thought (enables the oracle)
  difficulty   int, optional (default 1)
  split        str, optional: a row with a split is loaded only for that split. Give every row a
               split or none: a file without splits puts every row in every split (training and
               validation then share their tasks), and a file mixing both is refused.
  code_prefix  str, optional: code run before the model's program
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from envs.rules import ThoughtRules
from envs.tasks.loaders.code_formats import code_reference
from envs.tasks.loaders.records import DataFormatError, Record, take_records
from envs.tasks.task import Task

from envs.rules import DEFAULT_STOP as STOP  # reference thoughts end with the default stop pattern


def _call(r: Record, spec: dict) -> Any:
    from sandboxes import CallTests

    cases = spec.get("cases")
    if not isinstance(cases, list) or not cases or not all(
            isinstance(c, list) and len(c) == 2 and isinstance(c[0], list) for c in cases):
        raise r.error("tests.cases", 'expected a non-empty list of [[args...], expected] pairs')
    return CallTests(entry_point=_entry(r, spec), cases=tuple((tuple(a), e) for a, e in cases))


def _assert(r: Record, spec: dict) -> Any:
    from sandboxes import AssertTests

    if not isinstance(spec.get("code"), str) or "def check" not in spec["code"]:
        raise r.error("tests.code", "expected test code defining check(candidate)")
    return AssertTests(test_code=spec["code"], entry_point=_entry(r, spec))


def _stdio(r: Record, spec: dict) -> Any:
    from sandboxes import StdioTests

    cases = spec.get("cases")
    if not isinstance(cases, list) or not cases or not all(
            isinstance(c, list) and len(c) == 2 and all(isinstance(x, str) for x in c) for c in cases):
        raise r.error("tests.cases", 'expected a non-empty list of ["stdin", "stdout"] string pairs')
    return StdioTests(cases=tuple((i, o) for i, o in cases))


def _entry(r: Record, spec: dict) -> str:
    if not isinstance(spec.get("entry_point"), str) or not spec["entry_point"].isidentifier():
        raise r.error("tests.entry_point", "expected the name of the function to test")
    return spec["entry_point"]


TEST_TYPES: dict[str, Callable[[Record, dict], Any]] = {"call": _call, "assert": _assert, "stdio": _stdio}


def _reference(r: Record, kind: str, answer: str | None, rules: ThoughtRules) -> tuple[str, ...]:
    reference = r.get("reference", list, None)
    if reference is not None:
        if not all(isinstance(t, str) for t in reference):
            raise r.error("reference", "expected a list of thought strings")
        return tuple(reference)
    solution = r.get("solution", str, None)
    if solution is None:
        return ()
    if kind == "code":
        return code_reference(solution)
    if rules.is_final(solution, "math"):
        return (solution.strip() + STOP,)
    return (f"{solution.strip()} The answer is \\boxed{{{answer}}}.{STOP}",)


def _check_splits(records: list[Record]) -> None:
    """Refuse a file where some rows name a split and others do not: the rows without one would
    land in every split, validation included."""
    labelled = [r for r in records if r.get("split", str, None) is not None]
    if labelled and len(labelled) < len(records):
        bare = next(r for r in records if r.get("split", str, None) is None)
        raise bare.error("split", f"missing, but other rows have one (line {labelled[0].line}: "
                                  f"{labelled[0].data['split']!r}); a row without a split is in every "
                                  "split, so give every row a split (e.g. train/val/test) or none")


def load_jsonl(split: str = "train", seed: int = 0, suite_name: str = "jsonl", **kw: Any) -> list[Task]:
    """Tasks of a file in our JSONL format (``path=``) or a hub dataset with the same fields.

    `suite_name` is the suite name given to the tasks (states record it).
    """
    rules = ThoughtRules()
    tasks, seen = [], {}
    records = take_records(kw, split)
    _check_splits(records)
    for r in records:
        row_split = r.get("split", str, None)
        if row_split is not None and row_split != split:
            continue
        task_id = r.get("task_id", str)
        if task_id in seen:
            raise r.error("task_id", f"{task_id!r} repeats the task of line {seen[task_id]}")
        seen[task_id] = r.line
        kind = r.get("kind", str)
        if kind not in ("code", "math"):
            raise r.error("kind", f"expected 'code' or 'math', got {kind!r}")
        answer = tests = None
        if kind == "math":
            answer = str(r.get("answer", (str, int, float)))
        else:
            spec = r.get("tests", dict)
            if spec.get("type") not in TEST_TYPES:
                raise r.error("tests.type", f"expected one of {sorted(TEST_TYPES)}, got {spec.get('type')!r}")
            tests = TEST_TYPES[spec["type"]](r, spec)
        step_values = r.get("step_values", list, None)
        reference = _reference(r, kind, answer, rules)
        if step_values is not None and len(step_values) != len(reference):
            raise r.error("step_values", f"has {len(step_values)} values for {len(reference)} reference thoughts")
        tasks.append(Task(task_id=task_id, suite=suite_name, kind=kind, problem=r.get("problem", str),
                          reference=reference, tests=tests, answer=answer,
                          step_values=tuple(str(v) for v in step_values) if step_values is not None else None,
                          difficulty=r.get("difficulty", int, 1), split=split,
                          code_prefix=r.get("code_prefix", str, "")))
    if records and not tasks:
        splits = sorted({r.data["split"] for r in records if isinstance(r.data.get("split"), str)})
        raise DataFormatError(f"{records[0].source}: none of its {len(records)} rows has split {split!r} "
                              f"(its splits: {splits}); add rows with \"split\": \"{split}\", or point the "
                              f"run at a split the file has")
    return tasks
