"""MBPP problems whose tests pass objects (issue 17, "also found"): the setup builds ``Node``
trees from the program's own class (367), the asserts build ``Pair`` objects (601) or pass a type
(533). Fixture rows in MBPP's format (the full MBPP file is not on this machine); each reference
scores 1.0 through the loader and the verifier, and wrong programs stay below 1."""

from pathlib import Path

import pytest

from envs.tasks import load_suite

FIXTURE = Path(__file__).parent / "fixtures" / "mbpp_objects.jsonl"
S = "</thought>"


@pytest.fixture(scope="module")
def tasks():
    return {t.task_id: t for t in load_suite("mbpp", "test", path=FIXTURE)}


def test_setup_goes_to_the_tests_setup(tasks):
    tree = tasks["mbpp/367"].tests
    assert tree.setup.startswith("root = Node(1)") and "Node(" not in tree.test_code
    assert tasks["mbpp/601"].tests.setup == ""


def test_references_with_objects_score_one(tasks, verifier):
    outcomes = verifier.score_many([(t, t.reference) for t in tasks.values()])
    assert {t: (o.reward, o.correct) for t, o in zip(tasks, outcomes)} == {
        t: (1.0, True) for t in tasks}


WRONG = {
    "mbpp/367": "class Node:\n    def __init__(self, data):\n        self.data = data\n"
                "        self.left = self.right = None\n"
                "def is_tree_balanced(root):\n    return root.right is not None\n",
    "mbpp/601": "class Pair:\n    def __init__(self, a, b):\n        self.a, self.b = a, b\n"
                "def max_chain_length(arr, n):\n    return n\n",
    "mbpp/533": "def remove_datatype(test_tuple, data_type):\n"
                "    return [e for e in test_tuple if type(e) is not int]\n",
}


def test_wrong_programs_with_objects_score_below_one(tasks, verifier):
    outcomes = verifier.score_many([(tasks[t], [f"```python\n{code}```{S}"])
                                    for t, code in WRONG.items()])
    assert [(t, o.reward) for t, o in zip(WRONG, outcomes) if o.reward >= 1.0] == []
    assert all(0.0 < o.reward < 1.0 for o in outcomes), outcomes
