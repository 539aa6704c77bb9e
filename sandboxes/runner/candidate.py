"""The candidate process: loads the untrusted program and answers the trusted side's requests.

Runs in a child that the runner server forked and limited (see ``server.py``). Requests arrive on
the channel socket; only plain data (``codec``) goes back. Nothing here decides pass or fail: the
trusted side compares, so whatever this process is made to send can at most be a wrong answer.
A load's ``setup`` (trusted code of the tests, e.g. MBPP's ``test_setup_code``) runs in the
program's namespace after the program. Values that are not plain data (the setup's ``root =
Node(1)``, a ``Pair`` the tests built by calling the program) go back as opaque values with a
handle; the tests pass them back by handle ("n" values, see ``codec``), resolved here.

    {"op": "load", "code", "names"(, "setup")}
                                     -> {"loaded": {name: kind}, "values": {name: encoded}}
                                        | {"syntax_error": info} | {"exc": info}
    {"op": "calls", "name", "calls": [[args, kwargs], ...]}
                                     -> one {"value": encoded(, "mutated": {position: encoded})}
                                        | {"exc": info} | {"too_big": n} each (``mutated``: the
                                        list, dict and set arguments the call changed in place)
    {"op": "main", "code"}           -> runs the program as __main__ on the process's stdin/stdout:
                                        {"syntax_error": info} | {"exit": status} | {"exc": info}

A program run as __main__ ends as under ``python3 main.py``: non-daemon threads are joined,
atexit handlers run, and every open file is flushed before the reply (``_shutdown``), so output
written by a thread, an atexit handler or an unclosed ``open(1, "w")`` is complete.
"""

from __future__ import annotations

import atexit
import builtins
import gc
import io
import os
import socket
import sys
import traceback
import types

from . import codec, wire

FILENAME = "<candidate>"


def describe(exc: BaseException) -> dict:
    """Plain-data summary of an exception raised by candidate code."""
    t = type(exc)
    try:
        msg = str(exc)[:300]
    except BaseException:  # noqa: BLE001 - a hostile __str__
        msg = "?"
    line = None
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == FILENAME:
            line = tb.tb_lineno
        tb = tb.tb_next
    errno = getattr(exc, "errno", None)
    return {"type": str(t.__name__)[:100], "builtin": t.__module__ == "builtins",
            "msg": msg, "line": line, "errno": errno if type(errno) is int else None}


def _syntax(exc: BaseException) -> dict:
    return {"type": type(exc).__name__, "msg": str(getattr(exc, "msg", exc))[:300],
            "line": getattr(exc, "lineno", None)}


def _compile(source: str):
    try:
        return compile(source, FILENAME, "exec"), None
    except (SyntaxError, ValueError, OverflowError) as e:
        return None, {"syntax_error": _syntax(e)}
    except BaseException as e:  # noqa: BLE001 - MemoryError, RecursionError in the compiler
        return None, {"exc": describe(e)}


def _new_module(name: str) -> types.ModuleType:
    module = types.ModuleType(name)
    module.__builtins__ = builtins
    sys.modules[name] = module
    return module


class Candidate:
    """State of one candidate process: its module and the channel back to the trusted side."""

    def __init__(self, sock: socket.socket, max_result_bytes: int):
        self.sock = sock
        self.max_result_bytes = max_result_bytes
        self.pid = os.getpid()
        self.module: types.ModuleType | None = None

    def reply(self, obj) -> None:
        if os.getpid() != self.pid:  # a child the candidate forked came back into this loop
            os._exit(0)
        try:
            sys.stdout.flush()
        except BaseException:  # noqa: BLE001
            pass
        try:
            data = wire.pack(obj)
        except (ValueError, RecursionError) as e:
            data = wire.pack({"exc": describe(e)})
        if len(data) > self.max_result_bytes:
            data = wire.pack({"too_big": len(data)})
        self.sock.sendall(data)

    def load(self, msg: dict) -> dict:
        code, error = _compile(msg["code"])
        if error:
            return error
        self.module = _new_module("__candidate__")
        try:
            exec(code, self.module.__dict__)
            if msg.get("setup"):
                exec(compile(msg["setup"], "<setup>", "exec"), self.module.__dict__)
        except BaseException as e:  # noqa: BLE001 - SystemExit included: it is a failure here
            return {"exc": describe(e)}
        loaded, values = {}, {}
        for name in msg.get("names", ()):
            value = self.module.__dict__.get(name, _MISSING)
            if value is _MISSING:
                continue
            if callable(value):
                loaded[name] = "callable"
                continue
            try:
                values[name] = codec.encode(value, strict=True)
                loaded[name] = "value"
            except (codec.CodecError, RecursionError):
                loaded[name] = "other"
                try:  # opaque, with its handle
                    values[name] = codec.encode(value, strict=False)
                except BaseException:  # noqa: BLE001 - a hostile __iter__ or __repr__
                    pass
        return {"loaded": loaded, "values": values}

    @staticmethod
    def resolve(ref: list):
        """An "n" value: a built-in type, or the object behind an opaque value sent earlier."""
        kind, key = ref
        if kind == "type":
            return codec.BUILTIN_TYPES[key]
        return codec.OPAQUE_HANDLES[key]

    def call(self, name: str, args, kwargs) -> dict:
        fn = self.module.__dict__.get(name) if self.module is not None else None
        if not callable(fn):
            return {"exc": {"type": "NameError", "builtin": True, "line": None, "errno": None,
                            "msg": f"the program defines no function {name!r}"}}
        try:
            positional = codec.decode(args, self.resolve)
            value = fn(*positional, **codec.decode(kwargs, self.resolve))
        except BaseException as e:  # noqa: BLE001
            return {"exc": describe(e)}
        try:
            reply = {"value": codec.encode(value, strict=False)}
            mutated = _mutated(args, positional)
            if mutated:
                reply["mutated"] = mutated
            return reply
        except BaseException as e:  # noqa: BLE001 - a hostile __iter__, or nesting too deep
            return {"exc": describe(e)}

    def main(self, msg: dict) -> dict:
        code, error = _compile(msg["code"])
        if error:
            return error
        module = _new_module("__main__")
        status, result = 0, None
        try:
            exec(code, module.__dict__)
        except SystemExit as e:
            if e.code is None or type(e.code) is bool or type(e.code) is int:
                status = int(e.code or 0)
            else:
                print(e.code, file=sys.stderr)
                status = 1
        except BaseException as e:  # noqa: BLE001
            traceback.print_exc()
            result = {"exc": describe(e)}
        shutdown_status = _shutdown()
        if result is None and status == 0 and shutdown_status:
            status = shutdown_status
        return result or {"exit": status}


_MISSING = object()


def _mutated(encoded_args, args) -> dict:
    """{position: new encoding} of the list, dict and set arguments the call changed in place
    (the tests' own objects are updated to match: ``checkers.apply_mutations``)."""
    raw = encoded_args.get("t") if type(encoded_args) is dict else None
    if type(raw) is not list or type(args) is not tuple:
        return {}
    changed = {}
    for i, (before, arg) in enumerate(zip(raw, args)):
        if type(arg) in (list, dict, set):
            after = codec.encode(arg, strict=False)
            if after != before:
                changed[str(i)] = after
    return changed


def _shutdown() -> int:
    """What the interpreter does when a program ends: join its non-daemon threads, run its
    atexit handlers, flush its open files (sys.stdout first). Returns an exit status a
    ``SystemExit`` raised there asks for (0 if none)."""
    status = 0
    try:
        import threading
        threading._shutdown()  # joins non-daemon threads, as Py_FinalizeEx does
    except BaseException:  # noqa: BLE001
        pass
    try:
        atexit._run_exitfuncs()
    except SystemExit as e:
        status = e.code if type(e.code) is int else (1 if e.code else 0)
    except BaseException:  # noqa: BLE001 - printed by atexit itself
        pass
    streams = [sys.stdout, sys.stderr]
    try:
        streams += [o for o in gc.get_objects() if isinstance(o, io.IOBase)]
    except BaseException:  # noqa: BLE001
        pass
    for stream in streams:
        try:
            if not stream.closed and stream.writable():
                stream.flush()
        except BaseException:  # noqa: BLE001
            pass
    return status


def serve(chan_fd: int, max_result_bytes: int) -> None:
    """Answer requests until the trusted side closes the channel; never returns."""
    sock = socket.socket(fileno=chan_fd)
    cand = Candidate(sock, max_result_bytes)
    codec.OPAQUE_HANDLES = []
    while True:
        try:
            msg = wire.recv(sock)
        except OSError:
            os._exit(0)
        op = msg.get("op")
        if op == "load":
            cand.reply(cand.load(msg))
        elif op == "calls":
            for args, kwargs in msg["calls"]:
                cand.reply(cand.call(msg["name"], args, kwargs))
        elif op == "main":
            cand.reply(cand.main(msg))
            os._exit(0)
        else:
            os._exit(3)
