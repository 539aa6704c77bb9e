"""Type-aware comparison of plain data, and the stdout comparers of StdioTests.

``values_equal`` never calls a method of the values it compares beyond those of the built-in
plain types: both sides are plain data rebuilt by the trusted judge (see ``runner.codec``).
"""

from __future__ import annotations

import math
from typing import Callable

from .runner.codec import Opaque


def _floats_close(a: float, b: float, rel_tol: float, abs_tol: float) -> bool:
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return math.isclose(a, b, rel_tol=rel_tol, abs_tol=abs_tol)


def values_equal(expected, actual, rel_tol: float = 1e-6, abs_tol: float = 1e-9,
                 strict_sequences: bool = True) -> bool:
    """Equality where types matter: bool is not int, int is not str, a tuple is not a list (unless
    ``strict_sequences`` is False); a float expected value accepts an int or float within
    tolerance; containers compare element-wise with the same rules."""
    te, ta = type(expected), type(actual)
    if ta is Opaque or te is Opaque:
        return False
    if te is float or (te is complex):
        if ta not in (int, float, complex) or ta is bool:
            return False
        if te is complex or ta is complex:
            a, b = complex(expected), complex(actual)
            return (_floats_close(a.real, b.real, rel_tol, abs_tol)
                    and _floats_close(a.imag, b.imag, rel_tol, abs_tol))
        return _floats_close(expected, float(actual), rel_tol, abs_tol)
    seq = (list, tuple)
    if te in seq and ta in seq:
        if strict_sequences and te is not ta:
            return False
        return len(expected) == len(actual) and all(
            values_equal(e, a, rel_tol, abs_tol, strict_sequences)
            for e, a in zip(expected, actual))
    if te is not ta:
        return False
    if te is dict:
        return expected.keys() == actual.keys() and all(
            values_equal(v, actual[k], rel_tol, abs_tol, strict_sequences)
            for k, v in expected.items())
    return expected == actual  # None, bool, int, str, bytes, set, frozenset, range


def short(value, limit: int = 120) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "..."


def _lines(text: str) -> list[str]:
    lines = [line.rstrip() for line in text.replace("\r\n", "\n").split("\n")]
    while lines and not lines[-1]:
        lines.pop()
    return lines


def _token_equal(e: str, a: str, tol: float | None) -> bool:
    if e == a:
        return True
    if tol is None:
        return False
    try:
        fe, fa = float(e), float(a)
    except ValueError:
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
