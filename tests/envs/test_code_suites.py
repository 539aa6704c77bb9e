"""Code suites validate themselves: every reference scores 1.0 through the real sandbox; wrong
programs score below 1.0; procedural suites are deterministic, graded and split cleanly."""

import collections

import pytest

from envs.rules import ThoughtRules
from envs.transition import status
from envs.tasks import load_suite
from envs.tasks.basic.family import FAMILIES
from envs.tasks.stdio import STDIO_FAMILIES

S = "</thought>"
RULES = ThoughtRules()


def test_basic_has_30_graded_families_mostly_easy_to_medium():
    assert len(FAMILIES) >= 30
    by_level = collections.Counter(f.difficulty for f in FAMILIES.values())
    assert set(by_level) == {1, 2, 3}
    assert by_level[1] + by_level[2] > 2 * by_level[3]


@pytest.mark.parametrize("suite", ["basic", "stdio"])
def test_procedural_code_suites_deterministic_and_disjoint(suite):
    a = load_suite(suite, "train", seed=0, n=60)
    assert a == load_suite(suite, "train", seed=0, n=60)
    assert [t.task_id for t in a] != [t.task_id for t in load_suite(suite, "train", seed=1, n=60)]
    problems = {split: {t.problem for t in load_suite(suite, split, n=100)} for split in ("train", "val", "test")}
    assert not problems["train"] & problems["val"] and not problems["train"] & problems["test"]
    assert not problems["val"] & problems["test"]


def test_basic_difficulty_and_family_filters():
    easy = load_suite("basic", "train", n=40, difficulties=(1,))
    assert {t.difficulty for t in easy} == {1}
    fizz = load_suite("basic", "val", n=5, families=("fizzbuzz",))
    assert all(t.task_id.startswith("basic/fizzbuzz-") for t in fizz)
    with pytest.raises(ValueError, match="unknown basic families"):
        load_suite("basic", "train", families=("nope",))


@pytest.mark.parametrize("suite,split,n", [("basic", "train", 235), ("basic", "val", None), ("basic", "test", None),
                                           ("stdio", "train", 140), ("stdio", "val", None), ("stdio", "test", None)])
def test_procedural_references_score_one(suite, split, n, verifier):
    tasks = load_suite(suite, split, n=n)
    names = {t.task_id.split("/")[1].rsplit("-", 1)[0] for t in tasks}
    assert names == set(FAMILIES if suite == "basic" else STDIO_FAMILIES)  # every family is exercised
    for t in tasks:
        assert RULES.split("".join(t.reference)) == t.reference
        assert status(RULES, "code", t.reference) == "terminated"
    outcomes = verifier.score_many([(t, t.reference) for t in tasks])
    failed = [(t.task_id, o.status) for t, o in zip(tasks, outcomes) if o.reward != 1.0]
    assert failed == []


@pytest.mark.parametrize("suite", ["basic", "stdio"])
def test_procedural_wrong_programs_score_below_one(suite, verifier):
    tasks = load_suite(suite, "val", n=40)
    if suite == "basic":
        wrong = [f"```python\ndef {t.tests.entry_point}(*args):\n    return None\n```{S}" for t in tasks]
    else:
        wrong = [f"```python\nprint('nothing')\n```{S}" for _ in tasks]
    outcomes = verifier.score_many([(t, [w]) for t, w in zip(tasks, wrong)])
    assert all(o.reward < 1.0 and not o.correct for o in outcomes)


def test_humaneval_suite_fields():
    tasks = load_suite("humaneval", "test")
    assert len(tasks) == 164 and tasks[0].task_id == "HumanEval/0"
    assert all(len(t.reference) == 1 and RULES.is_final(t.reference[0], "code") for t in tasks)
    with pytest.raises(ValueError, match="splits: \\['test'\\]"):
        load_suite("humaneval", "train")


@pytest.mark.parametrize("suite", ["humaneval_plus", "mbpp_plus"])
def test_evalplus_suites(suite, verifier):
    try:
        import evalplus  # noqa: F401
    except ImportError:
        with pytest.raises(ImportError, match="pip install"):
            load_suite(suite, "test")
        pytest.skip("evalplus is not installed (optional extra); checked its install hint instead")
    tasks = load_suite(suite, "test", n=10, max_cases=20)
    assert all(o.correct for o in verifier.score_many([(t, t.reference) for t in tasks]))
