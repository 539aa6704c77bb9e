"""first_error on the arith suite: known answers for planted errors."""

import pytest

from envs.oracle import first_error, has_oracle
from envs.tasks import Task, load_suite

S = "</thought>"


def _task():
    # Lily has 15 pens; +12 -> 27; -6 -> 21.
    return Task(task_id="t", suite="test", kind="math",
                problem="Lily has 15 pens. She buys 12 more. She gives away 6. How many now?",
                reference=(f"15 + 12 = 27.{S}", rf"27 - 6 = 21. \boxed{{21}}{S}"),
                answer="21", step_values=("27", "21"))


def test_references_have_no_error():
    for t in load_suite("arith", "train", n=100):
        assert has_oracle(t)
        assert first_error(t, t.reference) is None


def test_planted_errors():
    t = _task()
    assert first_error(t, [f"She has 15 pens.{S}", f"15 + 12 = 28.{S}", rf"\boxed{{22}}{S}"]) == 1
    # Arithmetic right, but 26 is not a quantity of the problem (15 + 11).
    assert first_error(t, [f"15 + 11 = 26.{S}"]) == 0
    # Arithmetic wrong, although 21 is a true value.
    assert first_error(t, [f"15 + 12 = 21.{S}"]) == 0
    # Steps right, final box wrong.
    assert first_error(t, [f"15 + 12 = 27.{S}", f"27 - 6 = 21.{S}", rf"\boxed{{20}}{S}"]) == 2
    # Equivalent answer forms are not errors; '×' and 'x' count as multiplication.
    assert first_error(t, [f"15 + 12 = 27.{S}", rf"\boxed{{21.0}}{S}"]) is None
    assert first_error(t, [f"3 × 9 = 27, 3 x 9 = 27.{S}"]) is None
    # Chained equations: each link is checked on its own.
    assert first_error(t, [f"15 + 12 = 27 - 6 = 21.{S}"]) is None
    assert first_error(t, [f"15 + 12 = 27 - 6 = 20.{S}"]) == 0
    # No claims at all: nothing is wrong.
    assert first_error(t, [f"Let me think.{S}"]) is None


def test_arith_reference_with_one_wrong_step():
    t = load_suite("arith", "test", n=20, difficulties=(4,))[0]
    thoughts = list(t.reference)
    value = t.step_values[1]
    thoughts[1] = thoughts[1].replace(f"= {value}", f"= {int(value) + 1}")
    assert first_error(t, thoughts) == 1


def test_task_without_oracle_raises():
    t = Task(task_id="x", suite="test", kind="math", problem="?", reference=(rf"\boxed{{1}}{S}",), answer="1")
    assert not has_oracle(t)
    with pytest.raises(ValueError, match="step-level truth"):
        first_error(t, [])
