"""Known answers for the pieces without a sandbox: codec, comparison, specs, assert splitting."""

from __future__ import annotations

import math
from collections import Counter, OrderedDict, namedtuple

import pytest

from sandboxes import AssertTests, CallTests, Limits, StdioTests, Verdict, spec_from_dict
from sandboxes.asserts import call_key, prepare
from sandboxes.compare import STDIO_COMPARERS, values_equal
from sandboxes.runner.codec import CodecError, Opaque, decode, encode
from sandboxes.verdict import CaseResult

PLAIN = [None, True, 0, -5, 2**100, -(2**70), 1.5, -0.0, float("inf"), "é\x00\ud800", b"\x00\xff",
         [1, [2, (3,)]], (1, "a"), {"k": [1], 2: None, (1, 2): {3}}, {1, 2}, frozenset({3}),
         3 + 4j, range(1, 10, 2), ()]


@pytest.mark.parametrize("value", PLAIN, ids=repr)
def test_codec_round_trip(value):
    back = decode(encode(value))
    assert type(back) is type(value) and back == value


def test_codec_nan_and_refusals():
    assert math.isnan(decode(encode(float("nan"))))
    with pytest.raises(CodecError, match="not plain data"):
        encode(object())
    with pytest.raises(CodecError):
        encode([lambda: 0])


def test_loose_encoding_of_candidate_values():
    Point = namedtuple("Point", "x y")

    class Evil(int):
        def __eq__(self, other):
            return True

    assert decode(encode(Point(1, 2), strict=False)) == (1, 2)
    assert decode(encode(Counter("aab"), strict=False)) == {"a": 2, "b": 1}
    assert decode(encode(OrderedDict(a=1), strict=False)) == {"a": 1}
    assert type(decode(encode(Evil(3), strict=False))) is int
    assert list(decode(encode(iter([1, 2]), strict=False))) == [1, 2]
    opaque = decode(encode(object(), strict=False))
    assert isinstance(opaque, Opaque) and opaque != opaque.__class__("object", "") and \
        not (opaque == 1)


@pytest.mark.parametrize("bad", [{"zz": 1}, {"t": 1}, {"d": [[1]]}, {"d": [[[1], 2]]},
                                 {"x": "big"}, {"b": "!!"}, {"a": 1, "b": 2}])
def test_codec_rejects_malformed(bad):
    with pytest.raises(CodecError):
        decode(bad)


def test_codec_rejects_deep_nesting():
    deep = []
    for _ in range(100_000):
        deep = [deep]
    with pytest.raises(CodecError):
        decode(deep)


@pytest.mark.parametrize("expected, actual, strict, same", [
    (1, True, True, False), (True, True, True, True), (1, 1.0, True, False),
    (1.0, 1, True, True), (0.3, 0.1 + 0.2, True, True), (0.3, 0.31, True, False),
    ((1, 2), [1, 2], True, False), ((1, 2), [1, 2], False, True),
    ({"a": [1.0]}, {"a": [1.0000000001]}, True, True), ({"a": 1}, {"a": 1, "b": 2}, True, False),
    (float("nan"), float("nan"), True, True), ({1, 2}, {2, 1}, True, True),
    ("1", 1, True, False), (None, 0, True, False), ([1], Opaque("x", ""), True, False),
])
def test_values_equal(expected, actual, strict, same):
    assert values_equal(expected, actual, strict_sequences=strict) is same


def test_stdio_comparers():
    lines, tokens = STDIO_COMPARERS["lines"], STDIO_COMPARERS["tokens"]
    assert lines("1\n2\n", "1  \n2\n\n", None) and not lines("1\n2\n", "1 2\n", None)
    assert tokens("1\n2\n", "1 2", None) and not STDIO_COMPARERS["exact"]("1\n", "1", None)
    assert tokens("0.5", "0.50001", 1e-3) and not tokens("0.5", "0.6", 1e-3)


def test_specs_validate_and_round_trip():
    call = CallTests("f", [((1, [2]), (3, {4})), [[5], None]])
    assert call.cases == (((1, [2]), (3, {4})), ((5,), None))
    again = spec_from_dict(call.to_dict())
    assert again == call and hash(again) == hash(call)
    asserts = AssertTests("def check(c):\n    assert c(1) == 2\n", "f")
    stdio = StdioTests([("1\n", "2\n")], compare="tokens", float_tol=1e-6)
    for spec in (asserts, stdio):
        assert spec_from_dict(spec.to_dict()) == spec
    with pytest.raises(ValueError, match="identifier"):
        CallTests("not a name", [((), 1)])
    with pytest.raises(ValueError, match="not plain data"):
        CallTests("f", [((object(),), 1)])
    with pytest.raises(ValueError, match="at least one case"):
        CallTests("f", [])
    with pytest.raises(ValueError, match="defines no top-level function check"):
        AssertTests("def test(c):\n    pass\n", "f")
    with pytest.raises(ValueError, match="not valid Python"):
        AssertTests("def check(c):\n  assert (\n", "f")
    with pytest.raises(ValueError, match="known: .*exact"):
        StdioTests([("", "")], compare="fuzzy")
    with pytest.raises(ValueError, match="unknown test spec kind"):
        spec_from_dict({"kind": "unit"})
    with pytest.raises(ValueError, match="wall_time_s must be > 0"):
        Limits(wall_time_s=0)


def test_assert_preparation():
    test = ("import math\nMETADATA = {}\n\ndef check(candidate):\n"
            "    assert True, 'constant: not a case'\n"
            "    x = candidate(0)\n"
            "    assert candidate(1, k=2) == 3\n"
            "    for i in range(3):\n        assert candidate(i) >= 0\n"
            "    assert math.fabs(poly([1], candidate(5))) < 1e-6\n")
    prep = prepare(test, "check", "", True)
    assert prep.case_names == ("check line 7", "check line 8", "check line 10")
    assert prep.imports == ("poly",)
    assert prep.prefetch == (call_key(encode((0,)), encode({})),
                             call_key(encode((1,)), encode({"k": 2})),
                             call_key(encode((5,)), encode({})))
    assert prepare(test, "check", "def poly(xs, x):\n    return 0\n", False).imports == ()
    assert prepare(test, "check", "", False).case_names == ()


def test_verdict_summary():
    v = Verdict.from_results([CaseResult("ok"), CaseResult("timeout"), CaseResult("ok"),
                              CaseResult("wrong_answer")])
    assert (v.status, v.passed, v.fraction) == ("timeout", False, 0.5)
    assert Verdict.from_dict(v.to_dict()) == v
    with pytest.raises(ValueError, match="unknown status"):
        CaseResult("pass")
