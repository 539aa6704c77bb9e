"""Loaders for public code datasets: MBPP, LiveCodeBench, APPS, CodeContests.

Each takes ``path=`` (a .jsonl / .json file in the dataset's own format) or ``hub=`` (a hub
dataset name, needs `datasets` and network), plus ``n=`` (first n problems), and returns
`Task`s whose reference is the dataset's solution as one thought ending in a code block
(LiveCodeBench ships no solutions: empty reference).

Formats (fields read):
  * MBPP: ``task_id``, ``text`` (or ``prompt``), ``code``, ``test_list`` (assert lines),
    optional ``test_setup_code`` / ``test_imports``. Tests: the asserts inside
    ``check(candidate)`` with the function's name bound to the candidate, run in the trusted
    judge like any assert test; ``test_imports`` run there too. ``test_setup_code`` is the
    tests' ``setup``: it runs after the program in the candidate's process (it may build
    ``Node`` objects of the program's own class) and in the judge, which keeps its own value of
    each name that is plain data; objects cross only as handles (see ``AssertTests.setup``).
  * LiveCodeBench: ``question_id``, ``question_content``, ``starter_code``,
    ``public_test_cases`` / ``private_test_cases`` (JSON text of ``{input, output, testtype}``;
    private ones may be base64+zlib compressed), ``metadata`` (JSON with ``func_name``),
    ``difficulty``. ``testtype`` "functional" -> CallTests (one JSON value per input line);
    "stdin" -> StdioTests. For functional problems the task's `code_prefix` holds common imports
    (``from typing import *``, ...) and, for LeetCode-style ``class Solution`` starter code, a
    module-level wrapper that calls the method.
  * APPS: ``problem_id``, ``question``, ``solutions`` (JSON list), ``input_output`` (JSON with
    ``inputs``/``outputs``), ``difficulty``. Standard input/output problems only; call-based
    rows (``fn_name``) are skipped with a warning.
  * APPS and CodeContests outputs are compared token by token (whitespace-insensitive), as
    their own judges do.
  * CodeContests: ``name``, ``description``, ``public_tests`` / ``private_tests`` (and with
    ``include_generated=True`` ``generated_tests``) as ``{input: [...], output: [...]}``,
    ``solutions`` (``{language: [...], solution: [...]}``, Python 3 = 3), ``difficulty``.
"""

from __future__ import annotations

import ast
import base64
import io
import json
import pickle
import warnings
import zlib
from textwrap import indent
from typing import Any

from envs.tasks.loaders.records import DataFormatError, Record, take_records
from envs.tasks.task import Task

from envs.rules import DEFAULT_STOP as STOP  # reference thoughts end with the default stop pattern
STDIN_NOTE = "Read the input from standard input and write the answer to standard output."
# Run before the model's program on LiveCodeBench functional problems: LeetCode-style starter code
# uses typing names (List, Optional) and common modules without importing them.
LEETCODE_IMPORTS = ("from typing import *\nfrom collections import *\nfrom itertools import *\n"
                    "from functools import *\nfrom heapq import *\nfrom bisect import *\nimport math\n")


def code_reference(solution: str | None) -> tuple[str, ...]:
    """A solution as one thought ending in a ```python block (empty tuple for no solution)."""
    if not solution:
        return ()
    return (f"```python\n{solution.rstrip()}\n```{STOP}",)


# -- MBPP --------------------------------------------------------------------------------
def _called_names(record: Record, asserts: list[str]) -> list[str]:
    names = []
    for line in asserts:
        try:
            tree = ast.parse(line)
        except SyntaxError as err:
            raise record.error("test_list", f"assert {line!r} is not valid Python ({err.msg})") from None
        names += [node.func.id for node in ast.walk(tree)
                  if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)]
    return names


def _mbpp_entry_point(record: Record, code: str, asserts: list[str]) -> str:
    called = _called_names(record, asserts)
    try:
        defined = {node.name for node in ast.parse(code).body if isinstance(node, ast.FunctionDef)}
    except SyntaxError as err:
        raise record.error("code", f"reference solution is not valid Python ({err.msg})") from None
    for name in called:
        if name in defined:
            return name
    raise record.error("test_list", "no assert calls a function that the reference code defines")


def assert_check_code(imports: str, asserts: list[str], entry_point: str) -> str:
    """HumanEval-style test code: ``check(candidate)`` running `asserts` with `entry_point` bound."""
    body = "\n".join(indent(a, "    ") for a in asserts)
    return f"{imports}\n\ndef check(candidate):\n    {entry_point} = candidate\n{body}\n"


def load_mbpp(split: str = "test", seed: int = 0, **kw: Any) -> list[Task]:
    """MBPP problems (original or sanitized format)."""
    from sandboxes import AssertTests

    tasks = []
    for r in take_records(kw, split):
        text = r.get("text", str, None) or r.get("prompt", str)
        code = r.get("code", str)
        asserts = r.get("test_list", list)
        if not asserts or not all(isinstance(a, str) for a in asserts):
            raise r.error("test_list", "expected a non-empty list of assert strings")
        imports = "\n".join(r.get("test_imports", list, [])).strip()
        setup = r.get("test_setup_code", str, "").strip()
        entry = _mbpp_entry_point(r, code, asserts)
        problem = f"{text.strip()}\nYour code should pass this test:\n{asserts[0]}"
        tasks.append(Task(task_id=f"mbpp/{r.get('task_id', (int, str))}", suite="mbpp", kind="code",
                          problem=problem, reference=code_reference(code),
                          tests=AssertTests(test_code=assert_check_code(imports, asserts, entry), entry_point=entry,
                                            setup=setup),
                          split=split))
    return tasks


# -- LiveCodeBench -----------------------------------------------------------------------
class _StrOnlyUnpickler(pickle.Unpickler):
    """Unpickles plain data only: LiveCodeBench's compressed tests are a pickled JSON string."""

    def find_class(self, module: str, name: str) -> Any:
        raise pickle.UnpicklingError(f"refusing to load {module}.{name} from test data")


def _lcb_tests(record: Record, field: str) -> list[dict]:
    raw = record.get(field, (str, list), [])
    if isinstance(raw, str) and raw.strip() and not raw.lstrip().startswith("["):
        try:
            raw = _StrOnlyUnpickler(io.BytesIO(zlib.decompress(base64.b64decode(raw)))).load()
        except Exception as err:  # noqa: BLE001 - any decoding failure means a malformed field
            raise record.error(field, f"neither JSON nor base64+zlib compressed tests ({err})") from None
    if isinstance(raw, str):
        try:
            raw = json.loads(raw) if raw.strip() else []
        except json.JSONDecodeError as err:
            raise record.error(field, f"holds text that is not valid JSON ({err})") from None
    tests = raw or []
    if not isinstance(tests, list):
        raise record.error(field, f"expected a list of tests, got {type(tests).__name__}")
    for t in tests:
        if not isinstance(t, dict) or not {"input", "output"} <= set(t):
            raise record.error(field, "each test must be an object with 'input' and 'output'")
    return tests


def _functional_case(record: Record, field: str, test: dict) -> tuple[tuple, Any]:
    try:
        args = tuple(json.loads(line) for line in test["input"].split("\n") if line.strip())
        return args, json.loads(test["output"])
    except json.JSONDecodeError as err:
        raise record.error(field, f"functional test input/output is not JSON, one value per line ({err})") from None


def load_livecodebench(split: str = "test", seed: int = 0, **kw: Any) -> list[Task]:
    """LiveCodeBench code-generation problems (functional and stdin/stdout)."""
    from sandboxes import CallTests, StdioTests

    tasks = []
    for r in take_records(kw, split):
        qid = r.get("question_id", (str, int))
        starter = r.get("starter_code", str, "")
        tests = [(f, t) for f in ("public_test_cases", "private_test_cases") for t in _lcb_tests(r, f)]
        if not tests:
            raise r.error("public_test_cases", "problem has no tests")
        functional = tests[0][1].get("testtype", "stdin") == "functional"
        prefix = ""
        problem = r.get("question_content", str).strip()
        if functional:
            fn = (r.get_json("metadata", {}) or {}).get("func_name")
            if not fn:
                raise r.error("metadata", "functional problem without 'func_name'")
            spec = CallTests(entry_point=fn, cases=tuple(_functional_case(r, f, t) for f, t in tests))
            prefix = LEETCODE_IMPORTS
            if "class Solution" in starter:
                prefix += f"\ndef {fn}(*args):\n    return Solution().{fn}(*args)\n"
            problem += f"\n\nUse this starter code:\n```python\n{starter.rstrip()}\n```"
        else:
            spec = StdioTests(cases=tuple((t["input"], t["output"]) for _, t in tests))
            problem += f"\n\n{STDIN_NOTE}"
        level = {"easy": 1, "medium": 2, "hard": 3}.get(str(r.get("difficulty", str, "")).lower(), 1)
        tasks.append(Task(task_id=f"livecodebench/{qid}", suite="livecodebench", kind="code", problem=problem,
                          reference=(), tests=spec, difficulty=level, split=split, code_prefix=prefix))
    return tasks


# -- APPS and CodeContests (standard input/output) --------------------------------------
def _text(value: Any) -> str:
    return "\n".join(str(v) for v in value) + "\n" if isinstance(value, list) else str(value)


def load_apps(split: str = "test", seed: int = 0, **kw: Any) -> list[Task]:
    """APPS standard input/output problems (call-based ones are skipped with a warning)."""
    from sandboxes import StdioTests

    tasks, skipped = [], 0
    for r in take_records(kw, split):
        io_spec = r.get_json("input_output")
        if not isinstance(io_spec, dict) or "inputs" not in io_spec or "outputs" not in io_spec:
            raise r.error("input_output", "expected JSON with 'inputs' and 'outputs' lists")
        if io_spec.get("fn_name"):
            skipped += 1
            continue
        if len(io_spec["inputs"]) != len(io_spec["outputs"]) or not io_spec["inputs"]:
            raise r.error("input_output", "'inputs' and 'outputs' must be non-empty and of equal length")
        solutions = r.get_json("solutions", []) or []
        level = {"introductory": 1, "interview": 2, "competition": 3}.get(r.get("difficulty", str, ""), 1)
        cases = tuple((_text(i), _text(o)) for i, o in zip(io_spec["inputs"], io_spec["outputs"], strict=True))
        tasks.append(Task(task_id=f"apps/{r.get('problem_id', (int, str))}", suite="apps", kind="code",
                          problem=f"{r.get('question', str).strip()}\n\n{STDIN_NOTE}",
                          reference=code_reference(solutions[0] if solutions else None),
                          tests=StdioTests(cases=cases, compare="tokens"), difficulty=level, split=split))
    if skipped:
        warnings.warn(f"apps loader skipped {skipped} call-based problems (only stdin/stdout ones are supported)",
                      stacklevel=2)
    return tasks


def _io_lists(r: Record, field: str) -> list[tuple[str, str]]:
    value = r.get(field, dict, {"input": [], "output": []})
    inputs, outputs = value.get("input", []), value.get("output", [])
    if not isinstance(inputs, list) or not isinstance(outputs, list) or len(inputs) != len(outputs):
        raise r.error(field, "expected {'input': [...], 'output': [...]} lists of equal length")
    return list(zip(inputs, outputs, strict=True))


def load_code_contests(split: str = "test", seed: int = 0, include_generated: bool = False,
                       **kw: Any) -> list[Task]:
    """CodeContests problems; reference = the first Python 3 solution."""
    from sandboxes import StdioTests

    fields = ["public_tests", "private_tests"] + (["generated_tests"] if include_generated else [])
    tasks = []
    for r in take_records(kw, split):
        cases = tuple(case for f in fields for case in _io_lists(r, f))
        if not cases:
            raise DataFormatError(f"{r.source}, line {r.line}, fields {fields}: problem has no tests")
        sols = r.get("solutions", dict, {"language": [], "solution": []})
        python3 = [s for lang, s in zip(sols.get("language", []), sols.get("solution", []), strict=False) if lang == 3]
        tasks.append(Task(task_id=f"code_contests/{r.get('name', str)}", suite="code_contests", kind="code",
                          problem=f"{r.get('description', str).strip()}\n\n{STDIN_NOTE}",
                          reference=code_reference(python3[0] if python3 else None),
                          tests=StdioTests(cases=cases, compare="tokens"), difficulty=int(r.get("difficulty", int, 1) or 1),
                          split=split))
    return tasks
