"""Plain-data codec: the only form in which values cross the sandbox boundary.

A value is encoded into JSON-safe data with explicit tags, so that the trusted side rebuilds plain
Python objects (None, bool, int, float, complex, str, bytes, list, tuple, dict, set, frozenset,
range) and never an object whose behaviour the candidate controls. Every JSON object in an encoding
is a one-key tag:

    {"t": [...]} tuple        {"d": [[k, v], ...]} dict   {"s": [...]} set   {"f": [...]} frozenset
    {"b": "<base64>"} bytes   {"x": "nan"|"inf"|"-inf"} float   {"i": "<hex>"} big int
    {"c": [re, im]} complex   {"r": [start, stop, step]} range
    {"u": "<base64 of UTF-32-LE>"} a str holding surrogate code points (JSON's escapes would
        merge a pair of lone surrogates into one character: 3 code points would become 2)
    {"g": [...]} an iterator the candidate returned (materialized)
    {"v": [...]} a dict.values() (``DictValues``: len() and iteration work; equal to nothing
        else, as in Python); a dict.items() is a set ("s") when its values are hashable
    {"m": "<str>"} a decimal.Decimal (compared as Python does: exactly with an int, within the
        tolerance with a float)
    {"o": ["<type name>", "<repr excerpt>"(, handle)]} anything else (an opaque value)
    {"n": ["type", "<name>"]} a built-in type, {"n": ["handle", k]} the candidate's object
        behind an opaque value (trusted side to candidate only: arguments)

``encode(value, strict=True)`` (the trusted side encoding call arguments) refuses anything that is
not plain data. ``strict=False`` (the candidate side encoding results) converts subclasses and
numeric look-alikes to their plain base values and turns everything else into an opaque value.
``decode`` rebuilds values; ``Opaque`` values equal nothing but themselves. In the candidate
process ``OPAQUE_HANDLES`` is a list that keeps the object behind each opaque value, whose index
(the handle) travels with it: the tests can pass such a value back as an argument (MBPP builds
``Pair(5, 24)`` objects of the program's own class and passes them to the function), and the
object itself never leaves the candidate process.

The trusted side decodes what the candidate sends under bounds, so a forged reply costs the judge
no more than an honest one: ``loads`` refuses a frame with more than ``MAX_CONTAINERS`` JSON
arrays and objects (memory), ``decode`` works without recursion (its cost follows the data's size;
JSON parsing bounds the nesting at ~1000 arrays and objects) and refuses a set,
frozenset or dict whose elements share a hash more than ``MAX_SAME_HASH`` times (a hash-collision
set costs the candidate milliseconds to send and a hash table quadratic time to build). The "n"
tag is decoded only with a ``resolve`` function (the candidate side); the trusted side never
accepts it.
"""

from __future__ import annotations

import base64
import json
import math
import numbers
import re
import sys
from collections import Counter
from collections.abc import Callable, ItemsView, Iterator, KeysView, ValuesView

BIG_INT = 2**62
MAX_ITEMS = 10_000_000  # iterator materialization cap (the wall-time limit bounds it anyway)
MAX_CONTAINERS = 500_000
"""JSON arrays and objects in one frame from the candidate: each costs the judge up to ~130 bytes
to parse and rebuild, so a frame costs at most ~64 MiB however it is nested (measured)."""
MAX_SAME_HASH = 64
"""Elements of one set/frozenset/dict that may share a hash (plain data from a real program has
at most a handful: -1 and -2, or ints 2**61 - 1 apart)."""
BUILTIN_TYPES = {t.__name__: t for t in (int, float, complex, str, bytes, bool, list, tuple, dict,
                                         set, frozenset, range, type(None))}
OPAQUE_HANDLES: list | None = None
"""Candidate process only: the objects behind the opaque values it sent (see the docstring)."""


class CodecError(ValueError):
    """The data is not plain data, or an encoding is malformed."""


class TooComplex(CodecError):
    """A well-formed value the trusted side refuses to rebuild: too many containers or too many
    hash collisions. A limit the candidate hit (status "output_limit"), not a malformed reply."""


class Opaque:
    """A value the candidate returned that is not plain data; equal to nothing but itself."""

    __slots__ = ("type_name", "text", "handle")

    def __init__(self, type_name: str, text: str, handle: int | None = None):
        self.type_name = type_name
        self.text = text
        self.handle = handle

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


_SURROGATE = re.compile("[\ud800-\udfff]")


def _str(x: str):
    if x.isascii() or _SURROGATE.search(x) is None:
        return x
    return {"u": base64.b64encode(x.encode("utf-32-le", "surrogatepass")).decode("ascii")}


def encode(value, strict: bool = True):
    """JSON-safe tagged form of ``value`` (see the module docstring)."""
    t = type(value)
    if value is None or t is bool:
        return value
    if t is str:
        return _str(value)
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


def encode_argument(value):
    """Strict encoding of a call argument that may also hold built-in types and opaque values
    the candidate sent (crossing back by handle); the plain ``encode`` is tried first."""
    try:
        return encode(value, True)
    except CodecError:
        return _encode_refs(value)


def _encode_refs(value):
    t = type(value)
    if t in (list, tuple, set, frozenset):
        items = [_encode_refs(v) for v in value]
        return items if t is list else {{tuple: "t", set: "s", frozenset: "f"}[t]: items}
    if t is dict:
        return {"d": [[_encode_refs(k), _encode_refs(v)] for k, v in value.items()]}
    if t is type and BUILTIN_TYPES.get(value.__name__) is value:
        return {"n": ["type", value.__name__]}
    if t is Opaque and value.handle is not None:
        return {"n": ["handle", value.handle]}
    return encode(value, True)


def _encode_loose(value):
    """Candidate side: map look-alikes onto plain data, else an opaque value."""
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, numbers.Integral):
        return _int(int(value))
    if isinstance(value, numbers.Real):
        return _float(float(value))
    if isinstance(value, str):
        return _str(str.__str__(value))
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
    if isinstance(value, ItemsView):  # set-like when its values are hashable, as in Python
        items = list(value)
        try:
            hash(tuple(items))
        except TypeError:
            return {"v": [encode(v, False) for v in items]}
        return {"s": [encode(v, False) for v in items]}
    if isinstance(value, ValuesView):
        return {"v": [encode(v, False) for v in value]}
    decimal = sys.modules.get("decimal")
    if decimal is not None and isinstance(value, decimal.Decimal):
        return {"m": decimal.Decimal.__str__(value)}
    if isinstance(value, Iterator):
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
    if OPAQUE_HANDLES is None:
        return {"o": [type(value).__name__[:100], text]}
    OPAQUE_HANDLES.append(value)
    return {"o": [type(value).__name__[:100], text, len(OPAQUE_HANDLES) - 1]}


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


def _few_collisions(items) -> None:
    """Refuse elements that share a hash often (see MAX_SAME_HASH); O(n), before hashing them
    into a table. Raises TypeError for unhashable elements (a malformed encoding)."""
    if len(items) > MAX_SAME_HASH:
        worst = max(Counter(map(hash, items)).values())
        if worst > MAX_SAME_HASH:
            raise TooComplex(f"{worst} elements of one set or dict share a hash (a "
                             f"hash-collision attack; at most {MAX_SAME_HASH} may)")


def decode(data, resolve: Callable[[list], object] | None = None):
    """Rebuild the plain value of an encoding; raises CodecError on anything malformed.
    ``resolve`` rebuilds "n" values (only the candidate side passes one). Iterative: its cost
    is bounded by the data's size, not by Python's recursion limit (JSON parsing bounds the
    nesting, at ~1000 JSON arrays and objects)."""
    top = [None]
    stack: list[list] = []  # frames [items, results, next index, finish, target, index]
    _visit(data, top, 0, stack, resolve)
    while stack:
        frame = stack[-1]
        items, results, k = frame[0], frame[1], frame[2]
        if k < len(items):
            frame[2] = k + 1
            _visit(items[k], results, k, stack, resolve)
            continue
        stack.pop()
        finish, tag = frame[3], frame[6]
        try:
            frame[4][frame[5]] = finish(results)
        except CodecError:
            raise
        except (TypeError, ValueError) as e:  # unhashable keys, wrong arity, ...
            raise CodecError(f"malformed {tag!r} encoding: {e}") from None
    return top[0]


def _dict(pairs):
    for pair in pairs:
        if type(pair) is not list or len(pair) != 2:
            raise CodecError("dict entries must be [key, value] pairs")
    _few_collisions([k for k, _ in pairs])
    return dict(pairs)


def _set(items):
    _few_collisions(items)
    return set(items)


def _frozenset(items):
    _few_collisions(items)
    return frozenset(items)


class DictValues:
    """A ``dict.values()`` the candidate returned: sized and iterable, and, as in Python, equal
    to nothing but itself."""

    __slots__ = ("items",)

    def __init__(self, items):
        self.items = tuple(items)

    def __len__(self):
        return len(self.items)

    def __iter__(self):
        return iter(self.items)

    def __reversed__(self):
        return reversed(self.items)

    def __contains__(self, x):
        return x in self.items

    def __eq__(self, other):
        return self is other

    __hash__ = object.__hash__

    def __repr__(self):
        return f"dict_values({list(self.items)!r})"


_CONTAINERS = {"t": tuple, "d": _dict, "s": _set, "f": _frozenset, "g": iter, "v": DictValues}


def _visit(data, target: list, index: int, stack: list, resolve) -> None:
    """Decode a leaf into ``target[index]`` now, or push the frame of a container."""
    t = type(data)
    if data is None or t in (bool, int, float, str):
        target[index] = data
        return
    if t is list:
        stack.append([data, [None] * len(data), 0, _identity, target, index, "list"])
        return
    if t is not dict or len(data) != 1:
        raise CodecError(f"malformed encoding {data!r:.80}")
    (tag, body), = data.items()
    finish = _CONTAINERS.get(tag)
    if finish is None and tag == "n" and resolve is not None:
        finish = resolve
    if finish is not None:
        if type(body) is not list:
            raise CodecError(f"expected a JSON array, got {type(body).__name__}")
        stack.append([body, [None] * len(body), 0, finish, target, index, tag])
        return
    try:
        target[index] = _leaf(tag, body, data)
    except CodecError:
        raise
    except (TypeError, ValueError) as e:  # bad base64, wrong arity, ...
        raise CodecError(f"malformed {tag!r} encoding: {e}") from None


def _identity(x):
    return x


def _leaf(tag: str, body, data):
    if tag == "b":
        return base64.b64decode(body, validate=True)
    if tag == "u":
        return base64.b64decode(body, validate=True).decode("utf-32-le", "surrogatepass")
    if tag == "m":
        import decimal
        if type(body) is not str or len(body) > 10_000:
            raise CodecError("a Decimal is a string of at most 10,000 characters")
        try:
            return decimal.Decimal(body)
        except decimal.InvalidOperation:
            raise CodecError(f"bad Decimal {body[:40]!r}") from None
    if tag in ("x", "i"):
        return _dec_float(data) if tag == "x" else _dec_int(data)
    if tag == "c":
        re_, im = body
        return complex(_dec_float(re_), _dec_float(im))
    if tag == "r":
        start, stop, step = (_dec_int(v) for v in body)
        return range(start, stop, step)
    if tag == "o":
        name, text, *handle = body
        if handle and (len(handle) > 1 or type(handle[0]) is not int or handle[0] < 0):
            raise CodecError("an opaque value's handle must be one int >= 0")
        return Opaque(name[:100] if type(name) is str else "?",
                      text[:200] if type(text) is str else "?", *handle)
    raise CodecError(f"unknown tag {tag!r}")


def dumps(obj) -> bytes:
    """Serialize an already-encoded (JSON-safe) object."""
    return json.dumps(obj, separators=(",", ":")).encode("ascii")


def loads(data: bytes):
    """Parse JSON bytes; raises CodecError on malformed or too deeply nested input, TooComplex on
    more than MAX_CONTAINERS arrays and objects (counted before parsing; brackets inside strings
    count too, which only makes the bound stricter)."""
    if len(data) > MAX_CONTAINERS and data.count(b"[") + data.count(b"{") > MAX_CONTAINERS:
        raise TooComplex(f"more than {MAX_CONTAINERS} lists, tuples, dicts or sets in one value")
    try:
        return json.loads(data)
    except (ValueError, RecursionError, UnicodeDecodeError) as e:
        raise CodecError(f"bad JSON: {str(e)[:100]}") from None
