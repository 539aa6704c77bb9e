"""The `arith` math suite: determinism, disjoint splits, references score 1.0 through math-verify."""

import pytest

from envs.rules import ThoughtRules
from envs.transition import status
from envs.tasks import load_suite
from envs.verify import Verifier


def test_deterministic_by_seed_and_different_across_seeds():
    a = load_suite("arith", "train", seed=0, n=50)
    b = load_suite("arith", "train", seed=0, n=50)
    c = load_suite("arith", "train", seed=1, n=50)
    assert a == b
    assert [t.task_id for t in a] != [t.task_id for t in c]


def test_splits_are_disjoint_for_any_seed():
    problems = {split: {t.problem for seed in (0, 1) for t in load_suite("arith", split, seed=seed, n=200)}
                for split in ("train", "val", "test")}
    assert not problems["train"] & problems["val"]
    assert not problems["train"] & problems["test"]
    assert not problems["val"] & problems["test"]


def test_graded_by_steps():
    tasks = load_suite("arith", "test", n=60, difficulties=(1, 3, 5))
    assert {t.difficulty for t in tasks} == {1, 3, 5}
    for t in tasks:
        assert len(t.reference) == t.difficulty == len(t.step_values)
        assert t.step_values[-1] == t.answer


def test_reference_thought_format():
    rules = ThoughtRules()
    for t in load_suite("arith", "val", n=30):
        assert all(th.endswith(rules.stop) for th in t.reference)
        assert rules.split("".join(t.reference)) == t.reference
        assert status(rules, "math", t.reference) == "terminated"
        assert status(rules, "math", t.reference[:-1]) == "continue"


@pytest.mark.parametrize("split", ["train", "val", "test"])
def test_references_score_one(split):
    tasks = load_suite("arith", split, n=100)
    verifier = Verifier()
    outcomes = verifier.score_many([(t, t.reference) for t in tasks])
    assert all(o.reward == 1.0 and o.correct for o in outcomes)


def test_unknown_split_lists_known():
    with pytest.raises(ValueError, match="train.*val.*test"):
        load_suite("arith", "dev")


def test_unknown_suite_lists_known():
    with pytest.raises(ValueError, match="arith"):
        load_suite("no_such_suite")
