"""Shapes of the candidate process's replies, checked where the judge reads them.

The candidate can write any frame to its channel (``runner.candidate`` writes well-formed ones,
but the program may write its own), so every field the judge uses is checked and normalized
here before anything else touches it: a reply that does not fit is the candidate's failure
(``Malformed``), never an exception inside the judge.
"""

from __future__ import annotations


class Malformed(Exception):
    """A reply frame that no honest candidate process sends."""


def _text(value, limit: int) -> str:
    return value[:limit] if type(value) is str else "?"


def _small_int(value) -> int | None:
    return value if type(value) is int and -1 << 31 <= value < 1 << 31 else None


def exc_info(raw) -> dict:
    """An ``{"exc": info}`` reply's info with the types the judge relies on: ``type`` and
    ``msg`` str, ``builtin`` bool, ``line`` and ``errno`` small int or None."""
    if type(raw) is not dict:
        raise Malformed(f"exception info is a {type(raw).__name__}, not an object")
    return {"type": _text(raw.get("type"), 100), "builtin": raw.get("builtin") is True,
            "msg": _text(raw.get("msg", ""), 300), "line": _small_int(raw.get("line")),
            "errno": _small_int(raw.get("errno"))}


def syntax_info(raw) -> dict:
    if type(raw) is not dict:
        raise Malformed(f"syntax error info is a {type(raw).__name__}, not an object")
    return {"msg": _text(raw.get("msg"), 300), "line": _small_int(raw.get("line"))}


def name_map(reply: dict, field: str) -> dict:
    """A ``{name: ...}`` field of a load reply (absent: empty)."""
    value = reply.get(field, {})
    if type(value) is not dict:
        raise Malformed(f"{field!r} is a {type(value).__name__}, not an object")
    return value


def exit_status(reply: dict) -> int:
    value = reply.get("exit")
    if type(value) is not int:
        raise Malformed(f"exit status is a {type(value).__name__}, not an int")
    return value
