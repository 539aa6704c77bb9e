"""Type-aware comparison of plain data, and the stdout comparers of StdioTests.

``values_equal`` never calls a method of the values it compares beyond those of the built-in
plain types: both sides are plain data rebuilt by the trusted judge (see ``runner.codec``).
Elements of sets and frozensets and the keys of dicts are compared as strictly as top-level
values (``{True, 2.0}`` is not ``{1, 2}``): each is mapped to a typed key first. ``short`` renders
any value in bounded time and never fails (an int of 5,000 digits has no ``repr``).
"""

from __future__ import annotations

import math
import re
from decimal import Decimal
from typing import Callable

from .runner.codec import Opaque


def _floats_close(a: float, b: float, rel_tol: float, abs_tol: float) -> bool:
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return math.isclose(a, b, rel_tol=rel_tol, abs_tol=abs_tol)


def _as_float(x) -> float | None:
    """``float(x)`` for an int or float; None for an int too large for a float."""
    try:
        return float(x)
    except OverflowError:
        return None


def _typed_key(x, floats: bool = False):
    """A hashable key of a set element or dict key under which equal keys mean equal values of
    the same type (``True``, ``1`` and ``1.0`` all differ). With ``floats``, an int stands for the
    float of its value, as a float expected value accepts an int."""
    t = type(x)
    if t is int and floats:
        f = _as_float(x)
        return ("float", f) if f is not None and f == x else ("int", x)
    if t is float:
        return ("float", "nan") if math.isnan(x) else ("float", x)
    if t is tuple:
        return ("tuple", tuple(_typed_key(v, floats) for v in x))
    if t is frozenset:
        return ("frozenset", frozenset(_typed_key(v, floats) for v in x))
    if t is complex:
        return ("complex", _typed_key(x.real), _typed_key(x.imag))
    return (t.__name__, x)  # None, bool, int, str, bytes, range, Opaque (equal only to itself)


def _has_float(keys) -> bool:
    return any(type(k) is tuple and k and k[0] == "float" for k in keys)


def _keys_match(expected, actual) -> tuple[dict, dict] | None:
    """{typed key: original} of both sides, or None if the key sets differ."""
    ke = {_typed_key(x): x for x in expected}
    floats = _has_float(ke)
    ka = {_typed_key(x, floats): x for x in actual}
    if len(ke) != len(expected) or len(ka) != len(actual) or ke.keys() != ka.keys():
        return None
    return ke, ka


def values_equal(expected, actual, rel_tol: float = 1e-6, abs_tol: float = 1e-9,
                 strict_sequences: bool = True) -> bool:
    """Equality where types matter: bool is not int, int is not str, a tuple is not a list (unless
    ``strict_sequences`` is False), a complex is not a float; a float expected value accepts an
    int or float within tolerance (a complex expected value also a complex); containers compare
    element-wise with the same rules, set elements and dict keys by typed keys (exactly, no
    tolerance). Iterative: nesting costs no Python frames."""
    pending = [(expected, actual)]
    while pending:
        children = _shallow_equal(*pending.pop(), rel_tol, abs_tol, strict_sequences)
        if children is False:
            return False
        if children is not True:
            pending.extend(children)
    return True


def _shallow_equal(expected, actual, rel_tol, abs_tol, strict_sequences):
    """False, True, or the pairs of elements still to compare (``values_equal``'s one level)."""
    te, ta = type(expected), type(actual)
    if ta is Opaque or te is Opaque:
        return False
    if te is float or te is complex:
        if ta is Decimal and te is float:
            return _floats_close(expected, float(actual), rel_tol, abs_tol)
        if ta not in (int, float) and not (ta is complex and te is complex):
            return False
        a = actual if ta is complex else _as_float(actual)
        if a is None:
            return False
        if te is complex:
            a = complex(a)
            return (_floats_close(expected.real, a.real, rel_tol, abs_tol)
                    and _floats_close(expected.imag, a.imag, rel_tol, abs_tol))
        return _floats_close(expected, a, rel_tol, abs_tol)
    if ta is Decimal and te in (int, Decimal):  # as Python compares them: exactly
        return expected == actual
    seq = (list, tuple)
    if te in seq and ta in seq:
        if strict_sequences and te is not ta:
            return False
        return len(expected) == len(actual) and list(zip(expected, actual))
    if te is not ta:
        return False
    if te is dict:
        if len(expected) != len(actual):
            return False
        matched = _keys_match(expected, actual)
        return matched is not None and [(expected[ke], actual[matched[1][k]])
                                        for k, ke in matched[0].items()]
    if te in (set, frozenset):
        return len(expected) == len(actual) and _keys_match(expected, actual) is not None
    return expected == actual  # None, bool, int, str, bytes, range


_BIG_DIGITS = 1000  # ints above this many digits are shown by their size


def _render(value, out: list[str], room: list[int], depth: int) -> None:
    """Append pieces of ``value``'s repr to ``out`` until ``room[0]`` characters are used."""
    if room[0] <= 0:
        return
    t = type(value)
    if t is int and value.bit_length() > _BIG_DIGITS * 3.32:
        text = f"<int of {int(value.bit_length() * 0.30103) + 1} digits>"
    elif t in (list, tuple, set, frozenset, dict) and value and depth >= 20:
        text = "..."
    elif t in (list, tuple, set, frozenset, dict) and value:
        opening, closing = {list: "[]", tuple: "()", set: "{}", frozenset: "{}", dict: "{}"}[t]
        out.append("frozenset(" + opening if t is frozenset else opening)
        room[0] -= len(out[-1])
        items = value.items() if t is dict else value
        for i, item in enumerate(items):
            if room[0] <= 0:
                return
            if i:
                out.append(", ")
                room[0] -= 2
            if t is dict:
                _render(item[0], out, room, depth + 1)
                out.append(": ")
                room[0] -= 2
                item = item[1]
            _render(item, out, room, depth + 1)
        out.append(("," if t is tuple and len(value) == 1 else "") + closing
                   + (")" if t is frozenset else ""))
        room[0] -= len(out[-1])
        return
    else:
        try:
            text = repr(value) if t is not str or len(value) <= 4 * _BIG_DIGITS else (
                repr(value[:4 * _BIG_DIGITS]))
        except Exception:  # noqa: BLE001 - a repr that fails must not fail the judge
            text = f"<{t.__name__}>"
    out.append(text[:room[0] + 1])
    room[0] -= len(text)


def short(value, limit: int = 120) -> str:
    """repr of ``value`` cut to ``limit`` characters, in time bounded by ``limit`` (not by the
    value's size), for any plain value."""
    out: list[str] = []
    room = [limit + 1]
    _render(value, out, room, 0)
    text = "".join(out)
    return text if len(text) <= limit else text[:limit] + "..."


def _lines(text: str) -> list[str]:
    lines = [line.rstrip() for line in text.replace("\r\n", "\n").split("\n")]
    while lines and not lines[-1]:
        lines.pop()
    return lines


_INT_TOKEN = re.compile(r"[+-]?[0-9]+")
_DECIMAL_TOKEN = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?")


def _token_equal(e: str, a: str, tol: float | None) -> bool:
    """Tokens equal as text or, with ``tol``, as decimal numbers within it; never an integer
    expected token (``1000000999999`` is not ``1000000000000``): that needs the same integer,
    and never Python's other float spellings (``nan``, ``inf``, ``1_000``)."""
    if e == a:
        return True
    if tol is None:
        return False
    if _INT_TOKEN.fullmatch(e):
        return _INT_TOKEN.fullmatch(a) is not None and int(e) == int(a)
    if not (_DECIMAL_TOKEN.fullmatch(e) and _DECIMAL_TOKEN.fullmatch(a)):
        return False
    try:
        fe, fa = float(e), float(a)
    except (ValueError, OverflowError):
        return False
    return _floats_close(fe, fa, tol, tol)


def _exact(expected: str, actual: str, tol) -> bool:
    return expected == actual


def _by_lines(expected: str, actual: str, tol) -> bool:
    return _lines(expected) == _lines(actual)


def _by_tokens(expected: str, actual: str, tol) -> bool:
    e, a = expected.split(), actual.split()
    return len(e) == len(a) and all(_token_equal(x, y, tol) for x, y in zip(e, a))


STDIO_COMPARERS: dict[str, Callable[[str, str, float | None], bool]] = {
    "exact": _exact,
    "lines": _by_lines,
    "tokens": _by_tokens,
}
