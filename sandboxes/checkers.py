"""The judge's three test drivers (call, assert, stdio), one registry, one signature:

    checker(link, code, spec, limits) -> (case results, stdout bytes, stderr bytes)

Expected answers and test code stay in this (trusted) process. The candidate process receives the
program, call arguments or stdin, and returns plain data; every comparison happens here. Replies
are checked (``replies``) before use: a malformed one is the candidate's "runtime_error".
"""

from __future__ import annotations

import builtins
import contextlib
import json
import signal
import types
from typing import Callable

from . import replies
from .asserts import CASE_HOOK, call_key, prepare
from .compare import STDIO_COMPARERS, short, values_equal
from .link import RunnerLink
from .replies import Malformed
from .runner import codec
from .session import Session, Stop, describe_exception, exception_status
from .specs import AssertTests, CallTests, Limits, StdioTests
from .verdict import CaseResult

NO_KWARGS = {"d": []}


class CandidateError(Exception):
    """The candidate raised an exception that is not a plain built-in one (or one the judge
    does not re-raise), or sent a malformed value."""


class ValueRefused(CandidateError):
    """The candidate's value is well formed but over a decoding bound (``codec.TooComplex``);
    not a ValueError, so tests that expect the candidate to raise one do not take it for that."""


# Exceptions that steer the judge's own control flow: StopIteration raised in a map() or a
# generator the tests iterate would end it early and turn a failing all(...) into a pass.
_NOT_RERAISED = (StopIteration, StopAsyncIteration)


def _raise_candidate(info: dict):
    """Re-create the candidate's exception in the judge as a fresh built-in (marked) exception,
    so test code can catch ValueError etc.; never an object from the candidate, and never one
    that ends an iteration (those become CandidateError)."""
    cls = getattr(builtins, info["type"], None)
    exc = None
    if (info["builtin"] and isinstance(cls, type) and issubclass(cls, Exception)
            and not issubclass(cls, _NOT_RERAISED)):
        try:
            exc = cls(info.get("msg", ""))
        except Exception:  # noqa: BLE001 - constructors with required arguments
            exc = None
    if exc is None:
        exc = CandidateError(describe_exception(info))
    exc.__cr_candidate__ = info
    raise exc


def send_load(session: Session, code: str, names: list[str], setup: str = "") -> None:
    msg = {"op": "load", "code": code, "names": names}
    if setup:
        msg["setup"] = setup
    session.send(msg)


def _syntax_failure(raw) -> CaseResult:
    info = replies.syntax_info(raw)
    return CaseResult("syntax_error", f"{info['msg']} (line {info['line']})")


class Load:
    """Reads the reply to ``send_load``: what the program defines, or why it failed to load."""

    def __init__(self, session: Session, names: list[str]):
        reply = session.reply()
        self.failure: CaseResult | None = None
        self.loaded: dict = {}
        self.values: dict = {}
        try:
            if not isinstance(reply, _Stopped) and "syntax_error" in reply:
                self.failure = _syntax_failure(reply["syntax_error"])
            elif "exc" in reply:
                info = replies.exc_info(reply["exc"])
                self.failure = CaseResult(exception_status(info),
                                          "while loading: " + describe_exception(info))
            else:
                self.loaded = replies.name_map(reply, "loaded")
                self.values = replies.name_map(reply, "values")
        except Malformed as e:
            self.failure = CaseResult("runtime_error", f"malformed reply to the load: {e}")
        if self.failure is None and names and self.loaded.get(names[0]) != "callable":
            self.failure = CaseResult("runtime_error", f"the program defines no function "
                                                       f"{names[0]!r}")


def apply_mutations(args: tuple, reply: dict) -> None:
    """Change the tests' own list, dict and set arguments in place as the candidate's call
    changed its copies (``mutated`` in the reply), so a test of an in-place function sees what
    it would see in one process. Only objects the tests passed to the call change, and only to
    plain data of the same type."""
    mutated = reply.get("mutated")
    if mutated is None:
        return
    if type(mutated) is not dict:
        raise CandidateError("malformed 'mutated' field")
    for key, encoded in mutated.items():
        i = int(key) if type(key) is str and key.isdigit() else -1
        if not 0 <= i < len(args):
            raise CandidateError("malformed 'mutated' field")
        target, new = args[i], codec.decode(encoded)
        if type(target) is not type(new):
            raise CandidateError("a mutated argument changed its type")
        if type(target) is list:
            target[:] = new
        elif type(target) in (dict, set):
            target.clear()
            target.update(new)


def _value(reply: dict, args: tuple = ()):
    try:
        if "exc" in reply:
            _raise_candidate(replies.exc_info(reply["exc"]))
        apply_mutations(args, reply)
        return codec.decode(reply["value"])
    except codec.TooComplex as e:
        raise ValueRefused(str(e)) from None
    except (KeyError, codec.CodecError, Malformed) as e:
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
            encoded = [codec.encode_argument(tuple(args)), codec.encode_argument(dict(kwargs))]
        except codec.CodecError as e:
            raise TypeError(f"argument for the candidate is not plain data: {e}") from None
        key = call_key(*encoded)
        while self.cursor < len(self.pending):  # replies to prefetched calls come first
            k = self.pending[self.cursor]
            self.cursor += 1
            reply = self.session.reply()
            if name == self.entry and k == key:
                return _value(reply, args)
        self.session.send({"op": "calls", "name": name, "calls": [encoded]})
        return _value(self.session.reply(), args)


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
    return [s.charge(r) for r in results], s.stdout, s.stderr


def _call_result(reply: dict, expected, spec: CallTests, name: str) -> CaseResult:
    try:
        if "exc" in reply:
            info = replies.exc_info(reply["exc"])
            return CaseResult(exception_status(info), describe_exception(info), name)
        actual = codec.decode(reply.get("value"))
    except codec.TooComplex as e:
        return CaseResult("output_limit", f"result refused: {e}", name)
    except (codec.CodecError, Malformed) as e:
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


def _exc_text(exc: BaseException) -> str:
    try:
        return str(exc)[:300]
    except Exception:  # noqa: BLE001 - e.g. an AssertionError message holding a huge int
        return "(message not shown)"


def _test_failure(exc: BaseException, name: str) -> CaseResult:
    info = getattr(exc, "__cr_candidate__", None)
    if info is not None:
        return CaseResult(exception_status(info), describe_exception(info), name)
    if isinstance(exc, ValueRefused):
        return CaseResult("output_limit", f"result refused: {exc}"[:300], name)
    text = _exc_text(exc)
    if isinstance(exc, AssertionError):
        detail = f": {text}" if text else ""
        return CaseResult("wrong_answer", f"assertion failed{detail}"[:300], name)
    return CaseResult("wrong_answer", f"tests raised {type(exc).__name__}: {text}"[:300], name)


def _test_env(prep, load: Load, stream: CallStream) -> dict:
    """The namespace the test code runs in: trusted helpers first, then the setup's names, then
    the names the tests import from the program: proxies for its functions, plain values, opaque
    values with a handle for other objects."""
    env = {"__name__": "__tests__", "__builtins__": builtins}
    if prep.helpers is not None:
        exec(prep.helpers, env)
    for name in prep.imports:
        if name not in env:
            _import(env, name, load, stream, plain=True)
    if prep.setup:
        trusted = _run_setup(prep.setup)
        for name in prep.setup_names:
            if name in trusted:
                env[name] = trusted[name]
            else:  # never a plain value from the candidate: it could be an expected answer
                _import(env, name, load, stream, plain=False)
    return env


def _import(env: dict, name: str, load: Load, stream: CallStream, plain: bool) -> None:
    kind = load.loaded.get(name)
    if kind == "callable":
        env[name] = CandidateFunction(stream, name)
    elif name in load.values and (plain or kind == "other"):
        env[name] = codec.decode(load.values[name])


def _run_setup(statements) -> dict:
    """The setup's names whose value the judge computes itself and trusts: plain data, modules
    and functions, from each statement that runs here (one that needs the program, such as
    ``root = Node(1)``, fails here and its names come from the candidate's run of the setup)."""
    scope = {"__name__": "__setup__", "__builtins__": builtins}
    for code in statements:
        try:
            exec(code, scope)
        except Exception:  # noqa: BLE001 - its names stay the candidate's (opaque or callable)
            pass
    trusted = {}
    for name, value in scope.items():
        if isinstance(value, (types.ModuleType, types.FunctionType)):
            trusted[name] = value
        else:
            try:
                codec.encode(value)
                trusted[name] = value
            except (codec.CodecError, RecursionError):
                continue
    return trusted


def check_assert(link: RunnerLink, code: str, spec: AssertTests, limits: Limits):
    prep = prepare(spec.test_code, spec.check_name, spec.helpers, spec.split_asserts, spec.setup)
    names = prep.case_names or (spec.check_name,)
    cases = _Cases(names)
    with Session(link, "call", limits) as s:
        try:
            wanted = [spec.entry_point, *prep.imports, *prep.setup_names]
            send_load(s, code, wanted, spec.setup)
            stream = CallStream(s, spec.entry_point, prep.prefetch)
            load = Load(s, wanted)
            if load.failure:
                f = load.failure
                cases.results = {i: CaseResult(f.status, f.message, n) for i, n in enumerate(names)}
                raise _Done
            # All trusted test code, module level included, runs under the run's wall limit.
            with _alarm(limits.wall_time_s + 1.0):
                env = _test_env(prep, load, stream)
                env[CASE_HOOK] = cases
                exec(prep.module, env)
                check = env[spec.check_name]
                if prep.case_names:  # every statement of check() runs inside some case
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
        except Exception as exc:  # noqa: BLE001 - the helpers or the module level failed
            failure = _test_failure(exc, "")
            for i, n in enumerate(names):
                cases.results.setdefault(i, CaseResult(failure.status, failure.message, n))
        s.finish()
    results = [s.charge(cases.results.get(i, CaseResult("runtime_error", "not reached", n)))
               for i, n in enumerate(names)]
    return results, s.stdout, s.stderr


class _Stopped:
    """The judge's own note that a stdio run ended without a final reply (never a reply of the
    candidate's: a frame it forged cannot say how the run ended)."""

    def __init__(self, status: str, message: str):
        self.status, self.message = status, message


def _stdio_case(link: RunnerLink, code: str, stdin: str, limits: Limits):
    """Run the program once on ``stdin``; returns its final reply (or a ``_Stopped``) and the
    finished session (for its output)."""
    with Session(link, "stdio", limits, stdin.encode("utf-8")) as s:
        try:
            s.send({"op": "main", "code": code})
            reply = s.reply()
        except Stop as stop:
            reply = _exited(s, stop)
        s.finish()
    return reply, s


def _exited(s: Session, stop: Stop):
    """A stdio program that ended without the final reply: one that exited with status 0
    (``os._exit(0)`` after printing its answer) ended normally, as under ``python3``, and its
    output is judged (complete: the sandbox is emptied before the rest is read); else why."""
    if stop.status is None:
        report = s.finish(need_report=True)
        if (report is not None and report.get("exit") == 0 and report.get("signal") is None
                and s.fault() is None):
            return {"exit": 0}
    return _Stopped(*s.resolve(stop))


def _stdio_result(reply, expected: str, out: str, same, tol, name: str) -> CaseResult:
    if isinstance(reply, _Stopped):
        return CaseResult(reply.status, reply.message, name)
    if "exc" in reply:
        info = replies.exc_info(reply["exc"])
        return CaseResult(exception_status(info), describe_exception(info), name)
    status = replies.exit_status(reply)
    if status != 0:
        return CaseResult("runtime_error", f"exit status {status}", name)
    if same(expected, out, tol):
        return CaseResult("ok", "", name)
    return CaseResult("wrong_answer", f"expected {short(expected)}, got {short(out)}", name)


def check_stdio(link: RunnerLink, code: str, spec: StdioTests, limits: Limits):
    same = STDIO_COMPARERS[spec.compare]
    results: list[CaseResult] = []
    shown: Session | None = None  # the first failing case's output goes into the verdict
    for i, (stdin, expected) in enumerate(spec.cases):
        name = f"case {i}"
        reply, s = _stdio_case(link, code, stdin, limits)
        out = s.stdout.decode("utf-8", "replace")
        try:
            if not isinstance(reply, _Stopped) and "syntax_error" in reply:
                failure = _syntax_failure(reply["syntax_error"])
                results += [CaseResult("syntax_error", failure.message, f"case {j}")
                            for j in range(i, len(spec.cases))]
                shown = shown or s
                break
            result = s.charge(_stdio_result(reply, expected, out, same, spec.float_tol, name))
        except Malformed as e:
            result = CaseResult("runtime_error", f"malformed reply: {e}", name)
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
