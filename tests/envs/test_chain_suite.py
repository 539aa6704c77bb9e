"""The `chain` suite: the hard step sits where `critical_depth` puts it, and the exact oracle
finds a slip there; references score 1.0; splits are disjoint; bad knobs fail clearly."""

import pytest

from envs.oracle import first_error
from envs.rules import ThoughtRules
from envs.tasks import load_suite
from envs.tasks.chain import CRITICAL_FACTORS, EASY_OPERANDS, critical_depth_of
from envs.transition import status
from envs.verify import Verifier


def _operator(thought: str) -> str:
    return "*" if " * " in thought else "+"


@pytest.mark.parametrize("depth", [1, 3, 6])
def test_hard_step_at_the_knob(depth):
    tasks = load_suite("chain", "train", n=40, critical_depth=depth)
    for t in tasks:
        ops = [_operator(th) for th in t.reference]
        assert ops.count("*") == 1 and ops.index("*") == depth - 1
        assert critical_depth_of(t) == depth
        assert 6 <= len(t.reference) <= 8


def test_depth_distribution_cycles_and_default_covers_every_depth():
    mixed = load_suite("chain", "train", n=60, critical_depth=[2, 5])
    assert {critical_depth_of(t) for t in mixed} == {2, 5}
    default = load_suite("chain", "train", n=200)
    assert {critical_depth_of(t) for t in default} == set(range(1, 9))


def test_operands_of_easy_and_hard_events():
    for t in load_suite("chain", "val", n=30, critical_depth=4):
        for i, th in enumerate(t.reference):
            operand = int(th.split(" = ")[0].split()[-1])
            assert operand in (CRITICAL_FACTORS if i == 3 else EASY_OPERANDS)


def test_oracle_finds_a_slip_at_the_hard_step_and_none_in_the_reference():
    t = load_suite("chain", "val", n=5, critical_depth=5)[0]
    assert first_error(t, t.reference) is None
    wrong_value = int(t.step_values[4]) + 7
    thoughts = list(t.reference)
    head = thoughts[4].rsplit(" = ", 1)[0]
    thoughts[4] = f"{head} = {wrong_value}.</thought>"
    assert first_error(t, thoughts) == 4  # 0-based: thought 5


def test_references_score_one_and_terminate():
    rules = ThoughtRules(max_thoughts=10)
    tasks = load_suite("chain", "val", n=40, critical_depth=4)
    outcomes = Verifier().score_many([(t, t.reference) for t in tasks])
    assert all(o.reward == 1.0 and o.correct for o in outcomes)
    for t in tasks:
        assert status(rules, "math", t.reference) == "terminated"
        assert status(rules, "math", t.reference[:-1]) == "continue"


def test_splits_disjoint_and_deterministic():
    a = load_suite("chain", "train", seed=0, n=30, critical_depth=4)
    assert a == load_suite("chain", "train", seed=0, n=30, critical_depth=4)
    val = {t.problem for t in load_suite("chain", "val", n=50, critical_depth=4)}
    assert not val & {t.problem for t in load_suite("chain", "train", n=300, critical_depth=4)}


@pytest.mark.parametrize("bad", [0, 7, [3, 9]])
def test_depth_outside_the_chain_is_refused(bad):
    with pytest.raises(ValueError, match="critical_depth"):
        load_suite("chain", "train", n=5, critical_depth=bad, lengths=(6, 7))
