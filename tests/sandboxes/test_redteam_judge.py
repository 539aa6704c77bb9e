"""Judge-side red team (issue 17): every attack of ``redteam_corpus.JUDGE_ATTACKS`` on every
backend, plus the verdict details per class (status, message, an encodable verdict) and the judge
still judging honest and wrong code right afterwards."""

from __future__ import annotations

import json

import pytest

from sandboxes import AssertTests, CallTests
import redteam_corpus as corpus
from test_attacks import still_fine

BY_NAME = {name: (code, tests, must_pass) for name, code, tests, must_pass in corpus.JUDGE_ATTACKS}


def _encodable(verdict) -> None:
    """The verdict survives the trip every caller makes: UTF-8 JSON."""
    json.dumps(verdict.to_dict(), ensure_ascii=False).encode("utf-8")


@pytest.mark.parametrize("name", sorted(BY_NAME))
def test_judge_attack(sandbox, name):
    code, tests, must_pass = BY_NAME[name]
    v = sandbox.run(code, tests)
    assert v.passed is must_pass, v
    assert v.status != "sandbox_error", v
    _encodable(v)


def test_corpus_has_several_attacks_per_class():
    classes = {}
    for name, _code, _tests, must_pass in corpus.JUDGE_ATTACKS:
        if not must_pass:
            classes.setdefault(name.split("/")[0], []).append(name)
    assert set(classes) == {"split", "stopiteration", "types", "tests-fail", "crash", "decode",
                            "objects", "forged"}
    assert all(len(v) >= 3 for v in classes.values()), classes


# -- 1. case splitting -------------------------------------------------------------------
def test_split_fraction_counts_the_helper_calls(sandbox):
    v = sandbox.run(corpus.ADD_ZERO, corpus.HELPER)
    assert v.status == "wrong_answer" and v.fraction == 0.0, v
    v = sandbox.run(corpus.ADD_FIRST_ONLY, corpus.ALIAS)
    assert [r.status for r in v.results] == ["ok", "wrong_answer"], v
    assert v.fraction == 0.5


def test_split_keeps_one_case_per_assert(sandbox):
    tests = corpus._asserts("assert candidate(1, 2) == 3\nassert candidate(2, 2) == 4\n"
                            "assert candidate(20, 22) == 42")
    v = sandbox.run("def add(a, b):\n    return 4 if a == 2 else a + b + (a == 20)\n", tests)
    assert [r.status for r in v.results] == ["ok", "ok", "wrong_answer"], v
    assert abs(v.fraction - 2 / 3) < 1e-9


# -- 3. StopIteration -------------------------------------------------------------------------
def test_stopiteration_is_the_candidates_error(sandbox):
    v = sandbox.run(corpus.STOP_CODE, corpus.STOP_ALL_MAP)
    assert v.status == "runtime_error" and "StopIteration" in v.results[0].message, v


def test_candidate_valueerror_still_caught_by_tests(sandbox):
    tests = AssertTests("def check(candidate):\n    try:\n        candidate(-1, 0)\n"
                        "    except ValueError:\n        pass\n    else:\n"
                        "        assert False, 'no ValueError'\n", "add")
    code = "def add(a, b):\n    if a < 0:\n        raise ValueError('negative')\n    return a + b\n"
    assert sandbox.run(code, tests).passed
    # a hash-collision answer is refused, and is not a ValueError the tests could expect
    refused = "def add(a, b):\n    return S()\n" + corpus.COLLIDE_SET.replace("def f():\n    "
                                                                             "return S()\n", "")
    v = sandbox.run(refused, tests)
    assert not v.passed and v.status == "output_limit", v


# -- 5. trusted test code failing ----------------------------------------------------------
def test_error_after_last_case_is_reported(sandbox):
    v = sandbox.run(corpus.ADD_GOOD, corpus.AFTER_LAST_RAISE)
    assert v.results[-1].status == "wrong_answer", v
    assert "ZeroDivisionError" in v.results[-1].message
    v = sandbox.run(corpus.ADD_GOOD, corpus.MODULE_LOOP)
    assert v.status == "timeout", v


# -- 7. judge crashes --------------------------------------------------------------------
def test_big_int_answer_is_a_wrong_answer_with_its_size(sandbox):
    v = sandbox.run("def f():\n    return 10**5000\n", corpus.BIG)
    assert v.status == "wrong_answer" and "5001 digits" in v.results[0].message, v
    v = sandbox.run("def f():\n    return 10**5000 + 1\n", corpus.BIG_EXPECTED)
    assert v.status == "wrong_answer" and "5001 digits" in v.results[0].message, v
    still_fine(sandbox)


def test_float_overflow_is_a_wrong_answer(sandbox):
    v = sandbox.run("def f():\n    return 10**400\n", corpus.HALF)
    assert v.status == "wrong_answer", v


@pytest.mark.parametrize("name", ["crash/forged-exc-list", "crash/forged-value-tag", "crash/forged-not-object",
                                  "crash/forged-loaded-list", "crash/forged-stdio-exit"])
def test_forged_frames_are_runtime_errors(sandbox, name):
    code, tests, _ = BY_NAME[name]
    v = sandbox.run(code, tests)
    assert v.status == "runtime_error", v
    assert "malformed" in " ".join(r.message for r in v.results), v
    still_fine(sandbox)


def test_surrogate_message_is_escaped(sandbox):
    code, tests, _ = BY_NAME["crash/surrogate-in-exception"]
    v = sandbox.run(code, tests)
    assert v.status == "runtime_error" and "\\udc80" in v.results[0].message, v
    _encodable(v)


# -- 8. decoding bounds ------------------------------------------------------------------
@pytest.mark.parametrize("name", ["decode/hash-collision-set", "decode/hash-collision-frame",
                                  "decode/hash-collision-dict-keys", "decode/two-million-lists"])
def test_oversized_decodings_are_refused(sandbox, name):
    code, tests, _ = BY_NAME[name]
    v = sandbox.run(code, tests)
    assert v.status == "output_limit", v
    assert "refused" in v.results[0].message, v
    still_fine(sandbox)


def test_large_honest_set_still_passes(sandbox):
    tests = CallTests("f", [((30000,), set(range(30000)))])
    assert sandbox.run("def f(n):\n    return set(range(n))\n", tests).passed
