"""Known answers for the pieces without a sandbox: codec, comparison, specs, assert splitting."""

from __future__ import annotations

import math
from collections import Counter, OrderedDict, namedtuple

import pytest

from sandboxes import AssertTests, CallTests, Limits, StdioTests, Verdict, spec_from_dict
from sandboxes.asserts import call_key, prepare
from sandboxes.compare import STDIO_COMPARERS, short, values_equal
from sandboxes.runner.codec import (MAX_CONTAINERS, CodecError, Opaque, TooComplex, decode,
                                    encode, loads)
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


def test_codec_decodes_deep_nesting_without_recursion_and_parsing_bounds_it():
    """Decoding costs what the data costs, not Python frames (issue 24: a 400-deep expected
    answer crashed the judge); what a candidate sends is bounded by JSON parsing."""
    deep = []
    for _ in range(100_000):
        deep = [deep]
    back, depth = decode(deep), 0
    while back:
        back, depth = back[0], depth + 1
    assert depth == 100_000
    with pytest.raises(CodecError):
        loads(b"[" * 100_000 + b"]" * 100_000)


@pytest.mark.parametrize("expected, actual, strict, same", [
    (1, True, True, False), (True, True, True, True), (1, 1.0, True, False),
    (1.0, 1, True, True), (0.3, 0.1 + 0.2, True, True), (0.3, 0.31, True, False),
    ((1, 2), [1, 2], True, False), ((1, 2), [1, 2], False, True),
    ({"a": [1.0]}, {"a": [1.0000000001]}, True, True), ({"a": 1}, {"a": 1, "b": 2}, True, False),
    (float("nan"), float("nan"), True, True), ({1, 2}, {2, 1}, True, True),
    ("1", 1, True, False), (None, 0, True, False), ([1], Opaque("x", ""), True, False),
    ({1, 2}, {True, 2.0}, True, False), (frozenset({1}), frozenset({True}), True, False),
    ({1: "a"}, {True: "a"}, True, False), ({1: "a", 2: [1.0]}, {2: [1], 1: "a"}, True, True),
    ({(1, 1)}, {(1, True)}, True, False), ({frozenset({1})}, {frozenset({True})}, True, False),
    ({1.0, 2.5}, {1, 2.5}, True, True), ({1}, {1.0}, True, False),
    ({float("nan")}, {float("nan")}, True, True), (0.5, complex(0.5, 0), True, False),
    (1 + 0j, 1, True, True), (1 + 2j, 1 + 2j, True, True), (0.5, 10**400, True, False),
    (1 + 0j, 10**400, True, False), (10**4000, 10**4000, True, True),
])
def test_values_equal(expected, actual, strict, same):
    assert values_equal(expected, actual, strict_sequences=strict) is same


def test_decoding_bounds():
    colliding = [1 + k * (2**61 - 1) for k in range(200)]
    for tag in ("s", "f"):
        with pytest.raises(TooComplex, match="share a hash"):
            decode({tag: [encode(x) for x in colliding]})
    with pytest.raises(TooComplex, match="share a hash"):
        decode({"d": [[encode(x), 0] for x in colliding]})
    assert decode(encode(set(range(10_000)))) == set(range(10_000))
    assert decode(encode({-1, -2, 2**61 - 2})) == {-1, -2, 2**61 - 2}  # a few collisions
    with pytest.raises(TooComplex, match="lists, tuples"):
        loads(b"[" + b"[]," * MAX_CONTAINERS + b"[]]")
    assert len(loads(b"[" + b"1," * 2_000_000 + b"1]")) == 2_000_001
    with pytest.raises(CodecError, match="unknown tag 'n'"):  # the judge never accepts refs
        decode({"n": ["type", "int"]})


def test_opaque_handles_cross_back_as_arguments():
    from sandboxes.runner import codec

    class Pair:
        pass

    codec.OPAQUE_HANDLES = []  # as in the candidate process
    try:
        sent = codec.encode([Pair(), Pair()], strict=False)
        kept = codec.OPAQUE_HANDLES
    finally:
        codec.OPAQUE_HANDLES = None
    assert [item["o"][2] for item in sent] == [0, 1] and all(type(p) is Pair for p in kept)
    received = decode(sent)  # the judge: opaque values that remember their handle
    assert [r.handle for r in received] == [0, 1] and received[0] != received[1]
    arg = codec.encode_argument((received[1], int, [1]))
    assert arg == {"t": [{"n": ["handle", 1]}, {"n": ["type", "int"]}, [1]]}
    resolved = decode(arg, lambda ref: kept[ref[1]] if ref[0] == "handle" else ref)
    assert resolved[0] is kept[1] and resolved[1] == ["type", "int"]
    with pytest.raises(CodecError, match="not plain data"):
        codec.encode_argument(Pair())
    with pytest.raises(CodecError, match="handle must be one int"):
        decode({"o": ["Pair", "x", "0"]})


def test_short_is_bounded_and_total():
    assert short(10**5000) == "<int of 5001 digits>"
    assert short([1, {2: (3,)}, frozenset({4}), set()]) == "[1, {2: (3,)}, frozenset({4}), set()]"
    assert len(short(list(range(10**6)))) == 123 and len(short("x" * 10**7)) == 123
    deep = [1]
    for _ in range(10_000):
        deep = [deep]
    assert short(deep).startswith("[[[[") and len(short(deep)) <= 123


def test_verdict_texts_are_encodable():
    r = CaseResult("runtime_error", "ValueError: \udc80 x", "case \ud800")
    assert r.message == "ValueError: \\udc80 x" and r.name == "case \\ud800"
    assert CaseResult("ok", "é").message == "é"
    v = Verdict.from_results([r], stdout="a\udc80")
    v.to_dict()["stdout"].encode("utf-8")


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
    with pytest.raises(ValueError, match="wall_time_s must be a finite number > 0"):
        Limits(wall_time_s=0)
    for bad in (float("inf"), float("nan"), "5"):
        with pytest.raises(ValueError, match="wall_time_s must be a finite number > 0"):
            Limits(wall_time_s=bad)
    with pytest.raises(ValueError, match="lone surrogate"):
        AssertTests("def check(c):\n    assert c('\udc80') == 1\n", "f")
    with pytest.raises(ValueError, match="AssertTests.helpers holds"):
        AssertTests("def check(c):\n    pass\n", "f", helpers="x = '\ud800'\n")
    with pytest.raises(ValueError, match=r"cases\[1\] stdin holds"):
        StdioTests([("1\n", "1\n"), ("\udc80", "")])


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


def _case_bodies(test: str) -> list[list[int]]:
    """Line numbers of the statements each case of check() runs."""
    import ast
    prep_tree = ast.parse(test)
    from sandboxes.asserts import _split
    check = prep_tree.body[0]
    _split(check, {"candidate"})
    return [[s.lineno for s in block.body] for block in check.body]


def test_assert_splitting_is_sound():
    helper = ("def check(candidate):\n"
              "    def t(a, want):\n        assert candidate(a) == want\n"
              "    t(1, 2)\n    t(2, 3)\n")
    assert prepare(helper, "check", "", True).case_names == ()  # one case: check() itself
    alias = ("def check(candidate):\n"
             "    x = 1\n    assert candidate(1) == 2\n    f = candidate\n"
             "    assert f(2) == 3\n    r = candidate(3)\n    assert r == 4\n    1 / 0\n")
    assert prepare(alias, "check", "", True).case_names == (
        "check line 3", "check line 5", "check line 7")
    # every statement of check() sits in a case; the trailing 1 / 0 joins the last one
    assert _case_bodies(alias) == [[2, 3], [4, 5], [6, 7, 8]]


def test_verdict_summary():
    v = Verdict.from_results([CaseResult("ok"), CaseResult("timeout"), CaseResult("ok"),
                              CaseResult("wrong_answer")])
    assert (v.status, v.passed, v.fraction) == ("timeout", False, 0.5)
    assert Verdict.from_dict(v.to_dict()) == v
    with pytest.raises(ValueError, match="unknown status"):
        CaseResult("pass")
