"""The judge's three test drivers (call, assert, stdio), one registry, one signature:

    checker(link, code, spec, limits) -> (case results, stdout bytes, stderr bytes)

Expected answers and test code stay in this (trusted) process. The candidate process receives the
program, call arguments or stdin, and returns plain data; every comparison happens here.
"""

from __future__ import annotations

import builtins
import contextlib
import json
import signal
from typing import Callable

from .asserts import CASE_HOOK, call_key, prepare
from .compare import STDIO_COMPARERS, short, values_equal
from .link import RunnerLink
from .runner import codec
from .session import Session, Stop, describe_exception, exception_status
from .specs import AssertTests, CallTests, Limits, StdioTests
from .verdict import CaseResult

NO_KWARGS = {"d": []}


class CandidateError(Exception):
    """The candidate raised an exception that is not a plain built-in one."""


def _raise_candidate(info: dict):
    """Re-create the candidate's exception in the judge as a fresh built-in (marked) exception,
    so test code can catch ValueError etc.; never an object from the candidate."""
    cls = getattr(builtins, str(info.get("type")), None)
    exc = None
    if (info.get("builtin") and isinstance(cls, type) and issubclass(cls, Exception)):
        try:
            exc = cls(info.get("msg", ""))
        except Exception:  # noqa: BLE001 - constructors with required arguments
            exc = None
    if exc is None:
        exc = CandidateError(describe_exception(info))
    exc.__cr_candidate__ = info
    raise exc


def send_load(session: Session, code: str, names: list[str]) -> None:
    session.send({"op": "load", "code": code, "names": names})


class Load:
    """Reads the reply to ``send_load``: what the program defines, or why it failed to load."""

    def __init__(self, session: Session, names: list[str]):
        reply = session.reply()
        self.failure: CaseResult | None = None
        self.loaded: dict = reply.get("loaded", {})
        self.values: dict = reply.get("values", {})
        if "syntax_error" in reply:
            info = reply["syntax_error"]
            self.failure = CaseResult("syntax_error",
                                      f"{info.get('msg')} (line {info.get('line')})")
        elif "exc" in reply:
            info = reply["exc"]
            self.failure = CaseResult(exception_status(info),
                                      "while loading: " + describe_exception(info))
        elif names and self.loaded.get(names[0]) != "callable":
            self.failure = CaseResult("runtime_error", f"the program defines no function "
                                                       f"{names[0]!r}")


def _value(reply: dict):
    if "exc" in reply:
        _raise_candidate(reply["exc"])
    try:
        return codec.decode(reply["value"])
    except (KeyError, codec.CodecError) as e:
        raise CandidateError(f"malformed return value: {e}") from None


class CallStream:
    """Candidate calls over one session. The literal calls found in the tests (``prefetch``) are
    sent right after the program; a call the tests then make is answered from that stream when
    it matches the next prefetched call (replies arrive in order), else sent on its own."""

    def __init__(self, session: Session, entry: str, prefetch: tuple[str, ...]):
        self.session, self.entry = session, entry
        self.pending, self.cursor = list(prefetch), 0
        if self.pending:
            session.send({"op": "calls", "name": entry,
                          "calls": [json.loads(k) for k in self.pending]})

    def call(self, name: str, args: tuple, kwargs: dict):
        try:
            encoded = [codec.encode(tuple(args)), codec.encode(dict(kwargs))]
        except codec.CodecError as e:
            raise TypeError(f"argument for the candidate is not plain data: {e}") from None
        key = call_key(*encoded)
        while self.cursor < len(self.pending):  # replies to prefetched calls come first
            k = self.pending[self.cursor]
            self.cursor += 1
            reply = self.session.reply()
            if name == self.entry and k == key:
                return _value(reply)
        self.session.send({"op": "calls", "name": name, "calls": [encoded]})
        return _value(self.session.reply())


class CandidateFunction:
    """Stands for a function of the candidate's program in the judge: calling it sends the
    arguments (plain data) into the sandbox and returns the plain-data result."""

    __slots__ = ("_stream", "_name")

    def __init__(self, stream: CallStream, name: str):
        self._stream = stream
        self._name = name

    def __call__(self, *args, **kwargs):
        return self._stream.call(self._name, args, kwargs)

    def __repr__(self):
        return f"<candidate function {self._name}>"


def _stopped(session: Session, stop: Stop, n: int, name: Callable[[int], str]) -> list:
    status, message = session.resolve(stop)
    return [CaseResult(status, message, name(i)) for i in range(n)]


def check_call(link: RunnerLink, code: str, spec: CallTests, limits: Limits):
    n = len(spec.cases)
    label = lambda i: f"case {i}"  # noqa: E731
    results: list[CaseResult] = []
    with Session(link, "call", limits) as s:
        try:
            send_load(s, code, [spec.entry_point])
            s.send({"op": "calls", "name": spec.entry_point,
                    "calls": [[codec.encode(args), NO_KWARGS] for args, _ in spec.cases]})
            load = Load(s, [spec.entry_point])
            if load.failure:
                f = load.failure
                results = [CaseResult(f.status, f.message, label(i)) for i in range(n)]
            for i, (_args, expected) in enumerate(spec.cases[len(results):]):
                results.append(_call_result(s.reply(), expected, spec, label(i)))
        except Stop as stop:
            results += _stopped(s, stop, n - len(results), lambda j: label(len(results) + j))
        s.finish()
    return results, s.stdout, s.stderr


def _call_result(reply: dict, expected, spec: CallTests, name: str) -> CaseResult:
    if "exc" in reply:
        info = reply["exc"]
        return CaseResult(exception_status(info), describe_exception(info), name)
    try:
        actual = codec.decode(reply.get("value"))
    except codec.CodecError as e:
        return CaseResult("runtime_error", f"malformed result: {e}", name)
    if values_equal(expected, actual, spec.rel_tol, spec.abs_tol, spec.strict_sequences):
        return CaseResult("ok", "", name)
    return CaseResult("wrong_answer", f"expected {short(expected)}, got {short(actual)}", name)


@contextlib.contextmanager
def _alarm(seconds: float):
    """Stop trusted test code that loops without calling the candidate (waits on the candidate
    have their own deadline). Only around test code: never while the control channel is used."""
    def ring(signum, frame):
        raise Stop("timeout", f"the tests ran past the wall-clock limit of {seconds - 1.0}s")

    previous = signal.signal(signal.SIGALRM, ring)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


class _Done(Exception):
    """Internal: the program failed to load; every case already has its result."""


class _Cases:
    """The ``with __cr_case__(k):`` hook: records each assert statement's outcome."""

    def __init__(self, names: tuple[str, ...]):
        self.names = names
        self.results: dict[int, CaseResult] = {}
        self.current = 0

    def __call__(self, k: int) -> _Cases:
        self.current = k
        return self

    def __enter__(self):
        return None

    def __exit__(self, et, exc, tb) -> bool:
        name = self.names[self.current]
        if exc is None:
            self.results[self.current] = CaseResult("ok", "", name)
            return False
        if not isinstance(exc, Exception):  # Stop and other BaseExceptions end the check
            return False
        self.results[self.current] = _test_failure(exc, name)
        return True


def _test_failure(exc: BaseException, name: str) -> CaseResult:
    info = getattr(exc, "__cr_candidate__", None)
    if info is not None:
        return CaseResult(exception_status(info), describe_exception(info), name)
    if isinstance(exc, AssertionError):
        detail = f": {exc}" if str(exc) else ""
        return CaseResult("wrong_answer", f"assertion failed{detail}"[:300], name)
    return CaseResult("wrong_answer", f"tests raised {type(exc).__name__}: {exc}"[:300], name)


def check_assert(link: RunnerLink, code: str, spec: AssertTests, limits: Limits):
    prep = prepare(spec.test_code, spec.check_name, spec.helpers, spec.split_asserts)
    names = prep.case_names or (spec.check_name,)
    cases = _Cases(names)
    with Session(link, "call", limits) as s:
        try:
            send_load(s, code, [spec.entry_point, *prep.imports])
            stream = CallStream(s, spec.entry_point, prep.prefetch)
            load = Load(s, [spec.entry_point, *prep.imports])
            if load.failure:
                f = load.failure
                cases.results = {i: CaseResult(f.status, f.message, n) for i, n in enumerate(names)}
                raise _Done
            env = {"__name__": "__tests__", "__builtins__": builtins}
            if prep.helpers is not None:
                exec(prep.helpers, env)
            for name in prep.imports:
                if name in env:
                    continue
                if load.loaded.get(name) == "callable":
                    env[name] = CandidateFunction(stream, name)
                elif name in load.values:
                    env[name] = codec.decode(load.values[name])
            env[CASE_HOOK] = cases
            exec(prep.module, env)
            check = env[spec.check_name]
            with _alarm(limits.wall_time_s + 1.0):
                if prep.case_names:
                    check(CandidateFunction(stream, spec.entry_point))
                else:
                    with cases(0):
                        check(CandidateFunction(stream, spec.entry_point))
        except _Done:
            pass
        except Stop as stop:
            status, message = s.resolve(stop)
            for i, n in enumerate(names):
                cases.results.setdefault(i, CaseResult(status, message, n))
        except Exception as exc:  # noqa: BLE001 - a statement outside any case failed
            failure = _test_failure(exc, "")
            for i, n in enumerate(names):
                cases.results.setdefault(i, CaseResult(failure.status, failure.message, n))
        s.finish()
    results = [cases.results.get(i, CaseResult("runtime_error", "not reached", n))
               for i, n in enumerate(names)]
    return results, s.stdout, s.stderr


def _stdio_case(link: RunnerLink, code: str, stdin: str, limits: Limits) -> tuple[dict, Session]:
    """Run the program once on ``stdin``; returns its final reply (or ``{"stop": (status,
    message)}``) and the finished session (for its output)."""
    with Session(link, "stdio", limits, stdin.encode("utf-8")) as s:
        try:
            s.send({"op": "main", "code": code})
            reply = s.reply()
        except Stop as stop:
            reply = {"stop": s.resolve(stop)}
        s.finish()
    return reply, s


def check_stdio(link: RunnerLink, code: str, spec: StdioTests, limits: Limits):
    same = STDIO_COMPARERS[spec.compare]
    results: list[CaseResult] = []
    shown: Session | None = None  # the first failing case's output goes into the verdict
    for i, (stdin, expected) in enumerate(spec.cases):
        name = f"case {i}"
        reply, s = _stdio_case(link, code, stdin, limits)
        out = s.stdout.decode("utf-8", "replace")
        if "syntax_error" in reply:
            info = reply["syntax_error"]
            msg = f"{info.get('msg')} (line {info.get('line')})"
            results += [CaseResult("syntax_error", msg, f"case {j}")
                        for j in range(i, len(spec.cases))]
            shown = shown or s
            break
        if "stop" in reply:
            result = CaseResult(*reply["stop"], name)
        elif "exc" in reply:
            info = reply["exc"]
            result = CaseResult(exception_status(info), describe_exception(info), name)
        elif reply.get("exit", 1) != 0:
            result = CaseResult("runtime_error", f"exit status {reply.get('exit')}", name)
        elif same(expected, out, spec.float_tol):
            result = CaseResult("ok", "", name)
        else:
            result = CaseResult("wrong_answer", f"expected {short(expected)}, got {short(out)}",
                                name)
        results.append(result)
        if result.status != "ok" and shown is None:
            shown = s
    shown = shown or s
    return results, shown.stdout, shown.stderr


CHECKERS: dict[str, Callable] = {
    CallTests.kind: check_call,
    AssertTests.kind: check_assert,
    StdioTests.kind: check_stdio,
}
