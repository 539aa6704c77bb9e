"""Math rewards through math-verify: equivalent forms pass, wrong or missing answers do not."""

import pytest

from envs.tasks import Task
from envs.verify import Outcome, Verifier, math_equal

S = "</thought>"


def _task(answer):
    return Task(task_id="t", suite="test", kind="math", problem="?", reference=(rf"\boxed{{{answer}}}{S}",),
                answer=answer)


@pytest.mark.parametrize("gold,pred", [("42", "42"), ("42", "42.0"), ("42", r"\frac{84}{2}"),
                                       ("1000", "1,000"), ("0.5", r"\frac{1}{2}"), ("42", r"\$42")])
def test_equivalent(gold, pred):
    assert math_equal(gold, pred)


@pytest.mark.parametrize("gold,pred", [("42", "41"), ("-7", "7"), ("42", "forty-two")])
def test_not_equivalent(gold, pred):
    assert not math_equal(gold, pred)


def test_score_rollouts():
    task = _task("21")
    v = Verifier()
    ok = v.score(task, [f"27 - 6 = 21.{S}", rf"The answer is \boxed{{21}}.{S}"])
    assert ok == Outcome(1.0, True, "ok", {"answer_found": True, "predicted": "21", "expected": "21"})
    wrong = v.score(task, [rf"\boxed{{20}}{S}"])
    assert (wrong.reward, wrong.correct, wrong.status) == (0.0, False, "wrong_answer")
    none = v.score(task, [f"thinking{S}"])
    assert (none.reward, none.status, none.info["answer_found"]) == (0.0, "no_answer", False)
    # The last boxed answer wins.
    assert v.score(task, [rf"\boxed{{21}}{S}", rf"\boxed{{22}}{S}"]).reward == 0.0


def test_math_tasks_never_start_a_sandbox():
    v = Verifier(sandbox="no-such-backend")
    assert v.score(_task("3"), [rf"\boxed{{3}}{S}"]).correct
    v.close()
