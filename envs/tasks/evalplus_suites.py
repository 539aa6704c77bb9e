"""Code suites `humaneval_plus` and `mbpp_plus`: EvalPlus's stronger hidden tests, through its loaders.

Needs the optional `evalplus` package (``pip install -e '.[evalplus]'`` or ``pip install evalplus``).
EvalPlus downloads its data files on first use, or reads them from the paths in the
``HUMANEVAL_OVERRIDE_PATH`` / ``MBPP_OVERRIDE_PATH`` environment variables (offline machines).

Tests are `CallTests` over EvalPlus's base + plus inputs (float tolerance: the problem's
``atol``); the expected outputs are those of its canonical solution, computed here (EvalPlus
ground truth is trusted code). One split, "test".
"""

from __future__ import annotations

import copy
from collections.abc import Callable

from envs.tasks.humaneval import STOP, problem_text
from envs.tasks.task import Task

INSTALL_HINT = ("the {suite} suite needs the optional 'evalplus' package and its data files: install it with "
                "pip install -e '.[evalplus]' (or pip install evalplus); on a machine without network, point "
                "HUMANEVAL_OVERRIDE_PATH / MBPP_OVERRIDE_PATH at downloaded EvalPlus .jsonl files")


def _problems(suite: str) -> dict:
    try:
        from evalplus import data as evalplus_data
    except ImportError as err:
        raise ImportError(INSTALL_HINT.format(suite=suite)) from err
    getter: Callable[[], dict] = {"humaneval_plus": evalplus_data.get_human_eval_plus,
                                  "mbpp_plus": evalplus_data.get_mbpp_plus}[suite]
    try:
        return getter()
    except Exception as err:  # network or file errors from evalplus's own loader
        raise RuntimeError(f"evalplus could not load its {suite} data ({err}); "
                           + INSTALL_HINT.format(suite=suite)) from err


def _expected(problem: dict, inputs: list) -> list:
    namespace: dict = {}
    exec(compile(problem["prompt"] + problem["canonical_solution"], problem["task_id"], "exec"), namespace)
    func = namespace[problem["entry_point"]]
    return [func(*copy.deepcopy(args)) for args in inputs]


def _load(suite: str, split: str, n: int | None, max_cases: int | None) -> list[Task]:
    from sandboxes import CallTests

    tasks = []
    for problem in list(_problems(suite).values())[:n]:
        inputs = [list(args) for args in problem["base_input"] + problem.get("plus_input", [])][:max_cases]
        cases = tuple((tuple(args), out) for args, out in zip(inputs, _expected(problem, inputs), strict=True))
        code = problem["prompt"] + problem["canonical_solution"]
        tasks.append(Task(task_id=problem["task_id"], suite=suite, kind="code",
                          problem=problem_text(problem["prompt"], problem["entry_point"]),
                          reference=(f"```python\n{code}```{STOP}",),
                          tests=CallTests(entry_point=problem["entry_point"], cases=cases,
                                          abs_tol=float(problem.get("atol") or 0.0) or 1e-9),
                          split=split, code_prefix=problem["prompt"]))
    return tasks


def load_humaneval_plus(split: str = "test", seed: int = 0, n: int | None = None,
                        max_cases: int | None = None) -> list[Task]:
    """HumanEval+ (164 problems); `max_cases` caps the hidden tests per problem."""
    return _load("humaneval_plus", split, n, max_cases)


def load_mbpp_plus(split: str = "test", seed: int = 0, n: int | None = None,
                   max_cases: int | None = None) -> list[Task]:
    """MBPP+ (378 problems); `max_cases` caps the hidden tests per problem."""
    return _load("mbpp_plus", split, n, max_cases)
