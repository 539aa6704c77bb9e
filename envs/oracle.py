"""Step-level oracle: the first wrong thought of a rollout, for tasks that know each step's truth.

Used by the trainer's oracle-reset agent (CARO) and by localization diagnostics. A task has an
oracle when it carries `step_values` (the procedural `arith` suite does).

A thought is wrong when it makes a false claim:
  * an equation ``lhs = n`` whose left side is plain arithmetic that does not evaluate to n;
  * a result ``= n`` that is not a true quantity of the problem (a number stated in the
    problem or one of the true intermediate values `step_values`);
  * a boxed final answer that is not equivalent to the task's answer.
Thoughts without claims are never wrong, so a rollout that never commits to a false value has
no first error (None). This judges the reference decomposition: a correct intermediate value
that the reference solution never computes (an unusual order of operations) counts as false.
"""

from __future__ import annotations

import ast
import operator
import re
from collections.abc import Sequence
from fractions import Fraction

from envs.rules import ThoughtRules
from envs.tasks.task import Task
from envs.verify import math_equal

_NUMBER = r"-?\d[\d,]*(?:\.\d+)?"
# "lhs = n": lhs is the run of arithmetic characters right before "="; n is only looked at (not
# consumed), so in a chain "12 + 5 = 17 - 3 = 14" the second lhs is "17 - 3".
_EQUATION = re.compile(rf"([\d\s.,+\-*/×÷x()]*)=\s*\$?(?=({_NUMBER}))")
_ANY_NUMBER = re.compile(_NUMBER)
_BINOPS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
           ast.Div: operator.truediv}


def has_oracle(task: Task) -> bool:
    """True when `first_error` can judge rollouts of this task."""
    return task.step_values is not None


def _number(text: str) -> Fraction | None:
    try:
        return Fraction(text.replace(",", ""))
    except (ValueError, ZeroDivisionError):
        return None


def _evaluate(expr: str) -> Fraction | None:
    """Exact value of a plain arithmetic expression (numbers, + - * / and parentheses)."""
    expr = expr.replace("×", "*").replace("÷", "/").replace("x", "*").replace(",", "").strip()
    if not expr or not any(ch.isdigit() for ch in expr):
        return None
    try:
        tree = ast.parse(expr, mode="eval").body
    except SyntaxError:
        return None

    def walk(node: ast.AST) -> Fraction:
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)):
            return Fraction(str(node.value))
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            return -walk(node.operand)
        if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
            return _BINOPS[type(node.op)](walk(node.left), walk(node.right))
        raise ValueError("not plain arithmetic")

    try:
        return walk(tree)
    except (ValueError, ZeroDivisionError):
        return None


def _thought_is_wrong(thought: str, task: Task, true_values: set[Fraction], rules: ThoughtRules) -> bool:
    for match in _EQUATION.finditer(thought):
        claimed = _number(match.group(2))
        if claimed is None:
            continue
        lhs = _evaluate(match.group(1))
        if lhs is not None and lhs != claimed:
            return True
        if claimed not in true_values:
            return True
    boxed = rules.extract_answer(thought, "math")
    return boxed is not None and not math_equal(task.answer, boxed)


def first_error(task: Task, thoughts: Sequence[str], rules: ThoughtRules = ThoughtRules()) -> int | None:
    """0-based index of the first wrong thought (keep ``thoughts[:i]`` as a clean prefix), or
    None when no thought is wrong. Raises ValueError for a task without step-level truth."""
    if not has_oracle(task):
        raise ValueError(
            f"task {task.task_id!r} (suite {task.suite!r}) has no step-level truth; "
            "first_error needs a task with step_values (e.g. the 'arith' suite)"
        )
    true_values = {v for v in (_number(s) for s in task.step_values) if v is not None}
    true_values |= {v for v in (_number(s) for s in _ANY_NUMBER.findall(task.problem)) if v is not None}
    for i, thought in enumerate(thoughts):
        if _thought_is_wrong(thought, task, true_values, rules):
            return i
    return None
