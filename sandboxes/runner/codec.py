"""Plain-data codec: the only form in which values cross the sandbox boundary.

A value is encoded into JSON-safe data with explicit tags, so that the trusted side rebuilds plain
Python objects (None, bool, int, float, complex, str, bytes, list, tuple, dict, set, frozenset,
range) and never an object whose behaviour the candidate controls. Every JSON object in an encoding
is a one-key tag:

    {"t": [...]} tuple        {"d": [[k, v], ...]} dict   {"s": [...]} set   {"f": [...]} frozenset
    {"b": "<base64>"} bytes   {"x": "nan"|"inf"|"-inf"} float   {"i": "<hex>"} big int
    {"c": [re, im]} complex   {"r": [start, stop, step]} range
    {"g": [...]} an iterator the candidate returned (materialized)
    {"o": ["<type name>", "<repr excerpt>"]} anything else (an opaque value)

``encode(value, strict=True)`` (the trusted side encoding call arguments) refuses anything that is
not plain data. ``strict=False`` (the candidate side encoding results) converts subclasses and
numeric look-alikes to their plain base values and turns everything else into an opaque value.
``decode`` rebuilds values; ``Opaque`` values equal nothing but themselves.
"""

from __future__ import annotations

import base64
import json
import math
import numbers
from collections.abc import Iterator, KeysView

BIG_INT = 2**62
MAX_ITEMS = 10_000_000  # iterator materialization cap (the wall-time limit bounds it anyway)


class CodecError(ValueError):
    """The data is not plain data, or an encoding is malformed."""


class Opaque:
    """A value the candidate returned that is not plain data; equal to nothing but itself."""

    __slots__ = ("type_name", "text")

    def __init__(self, type_name: str, text: str):
        self.type_name = type_name
        self.text = text

    def __eq__(self, other):
        return self is other

    def __ne__(self, other):
        return self is not other

    __hash__ = object.__hash__

    def __repr__(self):
        return f"<opaque {self.type_name}: {self.text}>"


def _float(x: float):
    if math.isfinite(x):
        return x
    return {"x": "nan" if math.isnan(x) else ("inf" if x > 0 else "-inf")}


def _int(x: int):
    return x if -BIG_INT < x < BIG_INT else {"i": hex(x)}


def encode(value, strict: bool = True):
    """JSON-safe tagged form of ``value`` (see the module docstring)."""
    t = type(value)
    if value is None or t is bool or t is str:
        return value
    if t is int:
        return _int(value)
    if t is float:
        return _float(value)
    if t is list:
        return [encode(v, strict) for v in value]
    if t is tuple:
        return {"t": [encode(v, strict) for v in value]}
    if t is dict:
        return {"d": [[encode(k, strict), encode(v, strict)] for k, v in value.items()]}
    if t is set:
        return {"s": [encode(v, strict) for v in value]}
    if t is frozenset:
        return {"f": [encode(v, strict) for v in value]}
    if t is bytes:
        return {"b": base64.b64encode(value).decode("ascii")}
    if t is complex:
        return {"c": [_float(value.real), _float(value.imag)]}
    if t is range:
        return {"r": [_int(value.start), _int(value.stop), _int(value.step)]}
    if strict:
        raise CodecError(f"{t.__name__} is not plain data (allowed: None, bool, int, float, "
                         "complex, str, bytes, list, tuple, dict, set, frozenset, range)")
    return _encode_loose(value)


def _encode_loose(value):
    """Candidate side: map look-alikes onto plain data, else an opaque value."""
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, numbers.Integral):
        return _int(int(value))
    if isinstance(value, numbers.Real):
        return _float(float(value))
    if isinstance(value, str):
        return str.__str__(value)
    if isinstance(value, bytes):
        return encode(bytes(value), False)
    if isinstance(value, tuple):
        return {"t": [encode(v, False) for v in tuple.__iter__(value)]}
    if isinstance(value, list):
        return [encode(v, False) for v in list.__iter__(value)]
    if isinstance(value, dict):
        return {"d": [[encode(k, False), encode(v, False)] for k, v in dict.items(value)]}
    if isinstance(value, (set, frozenset)):
        tag = "f" if isinstance(value, frozenset) else "s"
        return {tag: [encode(v, False) for v in value]}
    if isinstance(value, KeysView):
        return {"s": [encode(v, False) for v in value]}
    if isinstance(value, Iterator) or type(value).__name__ in ("dict_values", "dict_items"):
        items = []
        for item in value:
            if len(items) >= MAX_ITEMS:
                break
            items.append(encode(item, False))
        return {"g": items}
    try:
        text = repr(value)[:200]
    except BaseException:  # noqa: BLE001 - the candidate's __repr__ may do anything
        text = "?"
    return {"o": [type(value).__name__[:100], text]}


def _dec_float(x):
    if type(x) in (int, float):
        return float(x)
    if type(x) is dict and set(x) == {"x"} and x["x"] in ("nan", "inf", "-inf"):
        return float(x["x"])
    raise CodecError(f"bad float encoding {x!r:.80}")


def _dec_int(x):
    if type(x) is int:
        return x
    if type(x) is dict and set(x) == {"i"} and type(x["i"]) is str:
        return int(x["i"], 16)
    raise CodecError(f"bad int encoding {x!r:.80}")


def _list(x):
    if type(x) is not list:
        raise CodecError(f"expected a JSON array, got {type(x).__name__}")
    return [_decode(v) for v in x]


def decode(data):
    """Rebuild the plain value of an encoding; raises CodecError on anything malformed."""
    try:
        return _decode(data)
    except RecursionError:
        raise CodecError("value nested too deeply") from None


def _decode(data):
    t = type(data)
    if data is None or t in (bool, int, float, str):
        return data
    if t is list:
        return _list(data)
    if t is not dict or len(data) != 1:
        raise CodecError(f"malformed encoding {data!r:.80}")
    (tag, body), = data.items()
    try:
        if tag == "t":
            return tuple(_list(body))
        if tag == "d":
            out = {}
            for pair in _list(body):
                if type(pair) is not list or len(pair) != 2:
                    raise CodecError("dict entries must be [key, value] pairs")
                out[pair[0]] = pair[1]
            return out
        if tag == "s":
            return set(_list(body))
        if tag == "f":
            return frozenset(_list(body))
        if tag == "b":
            return base64.b64decode(body, validate=True)
        if tag in ("x", "i"):
            return _dec_float(data) if tag == "x" else _dec_int(data)
        if tag == "c":
            re_, im = body
            return complex(_dec_float(re_), _dec_float(im))
        if tag == "r":
            start, stop, step = (_dec_int(v) for v in body)
            return range(start, stop, step)
        if tag == "g":
            return iter(_list(body))
        if tag == "o":
            name, text = body
            return Opaque(str(name)[:100], str(text)[:200])
    except CodecError:
        raise
    except (TypeError, ValueError) as e:  # unhashable keys, bad base64, wrong arity, ...
        raise CodecError(f"malformed {tag!r} encoding: {e}") from None
    raise CodecError(f"unknown tag {tag!r}")


def dumps(obj) -> bytes:
    """Serialize an already-encoded (JSON-safe) object."""
    return json.dumps(obj, separators=(",", ":")).encode("ascii")


def loads(data: bytes):
    """Parse JSON bytes; raises CodecError on malformed or too deeply nested input."""
    try:
        return json.loads(data)
    except (ValueError, RecursionError, UnicodeDecodeError) as e:
        raise CodecError(f"bad JSON: {str(e)[:100]}") from None
