"""Test specifications and limits: frozen, JSON-serializable plain data.

A task suite stores one of these per task (``to_dict()`` / ``spec_from_dict()`` round-trip them,
tuples and sets included, through the plain-data codec). Validation happens at construction, so a
malformed spec fails where it is written, not in the middle of a training run.
"""

from __future__ import annotations

import ast
import functools
import json
import math
from dataclasses import asdict, dataclass
from typing import Any, ClassVar

from .runner import codec

MiB = 1 << 20


@dataclass(frozen=True)
class Limits:
    """Limits for each candidate process (one per run for call/assert tests, one per case for
    stdio tests). Every limit has its own verdict status."""

    wall_time_s: float = 5.0
    """Wall-clock seconds, enforced from outside by killing the whole sandbox -> "timeout"."""
    cpu_time_s: float | None = None
    """CPU seconds (RLIMIT_CPU, whole seconds, rounded up) -> "cpu_limit". None: wall_time_s + 1,
    so a single spinning process meets the wall limit first and reads "timeout" (with both limits
    equal the verdict of a busy loop depended on which one the kernel hit first)."""
    memory_mb: int = 1024
    """Address space the candidate may add to the forked interpreter -> "memory_limit"."""
    max_processes: int = 16
    """Processes and threads the candidate may run at once -> "process_limit"."""
    max_file_bytes: int = 16 * MiB
    """Largest file the candidate may write (into its private temp dir) -> "file_limit"."""
    max_output_bytes: int = 1 * MiB
    """stdout plus stderr bytes -> "output_limit"."""
    max_result_bytes: int = 16 * MiB
    """Size of one encoded return value -> "output_limit"."""
    max_open_files: int = 64
    """Open file descriptors (RLIMIT_NOFILE) -> "runtime_error" when exceeded (EMFILE)."""

    def __post_init__(self):
        for name, value in asdict(self).items():
            if value is None:
                continue
            if type(value) not in (int, float) or not (0 < value < math.inf):
                raise ValueError(f"Limits.{name} must be a finite number > 0, got {value!r}")
        if self.max_open_files < 8:
            raise ValueError("Limits.max_open_files must be >= 8 (the interpreter needs a few)")

    @property
    def cpu_s(self) -> float:
        return self.wall_time_s + 1.0 if self.cpu_time_s is None else self.cpu_time_s

    def for_runner(self) -> dict:
        """The part the runner server applies inside the sandbox."""
        return {"cpu_s": self.cpu_s, "memory_bytes": self.memory_mb * MiB,
                "max_processes": self.max_processes, "max_file_bytes": self.max_file_bytes,
                "max_open_files": self.max_open_files, "max_result_bytes": self.max_result_bytes}

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> Limits:
        return cls(**data)


def _utf8(where: str, text: str) -> None:
    """Test text must be encodable (it is sent as UTF-8): a lone surrogate is refused here."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as e:
        raise ValueError(f"{where} holds {text[e.start]!r} at position {e.start}, a lone "
                         "surrogate that UTF-8 cannot encode; fix the text (e.g. decode the "
                         "source bytes with errors='replace')") from None


def _identifier(kind: str, name: str, value: str) -> None:
    if not (isinstance(value, str) and value.isidentifier()):
        raise ValueError(f"{kind}.{name} must be a Python identifier, got {value!r}")


class _Spec:
    """Shared JSON round trip and hashing (cases may hold unhashable expected values)."""

    kind: ClassVar[str]

    def to_dict(self) -> dict:
        data = {"kind": self.kind}
        for name, value in self.__dict__.items():
            data[name] = self._encode_field(name, value)
        return data

    def _encode_field(self, name: str, value):
        return value

    def __hash__(self):
        return hash(json.dumps(self.to_dict(), sort_keys=True))


@dataclass(frozen=True, eq=True)
class CallTests(_Spec):
    """Call ``entry_point(*args)`` for each case and compare with the expected value, type-aware.

    ``cases``: ``[(args_tuple, expected), ...]``; args and expected values must be plain data.
    Only the arguments enter the sandbox; the comparison happens in the trusted judge.
    """

    entry_point: str
    cases: tuple = ()
    rel_tol: float = 1e-6
    """Relative tolerance for floats (math.isclose)."""
    abs_tol: float = 1e-9
    """Absolute tolerance for floats."""
    strict_sequences: bool = True
    """True: a tuple never equals a list. False: they compare element-wise."""
    kind: ClassVar[str] = "call"

    def __post_init__(self):
        _identifier("CallTests", "entry_point", self.entry_point)
        cases = []
        for i, case in enumerate(self.cases):
            if not (isinstance(case, (tuple, list)) and len(case) == 2
                    and isinstance(case[0], (tuple, list))):
                raise ValueError(f"CallTests.cases[{i}] must be (args_tuple, expected), "
                                 f"got {case!r:.100}")
            args, expected = tuple(case[0]), case[1]
            try:
                codec.encode(args), codec.encode(expected)
            except codec.CodecError as e:
                raise ValueError(f"CallTests.cases[{i}]: {e}") from None
            cases.append((args, expected))
        if not cases:
            raise ValueError("CallTests needs at least one case")
        object.__setattr__(self, "cases", tuple(cases))

    def _encode_field(self, name, value):
        if name == "cases":
            return [[codec.encode(a), codec.encode(e)] for a, e in value]
        return value

    @classmethod
    def from_dict(cls, data: dict) -> CallTests:
        data = dict(data)
        data["cases"] = [(codec.decode(a), codec.decode(e)) for a, e in data["cases"]]
        return cls(**data)


@functools.lru_cache(maxsize=4096)
def _assert_problem(test_code: str, check_name: str, helpers: str, setup: str) -> str | None:
    """What is wrong with these assert tests, or None (cached: suites repeat their tests)."""
    for name, source in (("test_code", test_code), ("helpers", helpers), ("setup", setup)):
        try:
            _utf8(f"AssertTests.{name}", source)
            ast.parse(source)
        except ValueError as e:
            return str(e)
        except SyntaxError as e:
            return f"AssertTests.{name} is not valid Python: {e}"
    if not any(isinstance(n, ast.FunctionDef) and n.name == check_name and n.args.args
               for n in ast.parse(test_code).body):
        return (f"AssertTests.test_code defines no top-level function "
                f"{check_name}(candidate, ...)")
    return None


@dataclass(frozen=True, eq=True)
class AssertTests(_Spec):
    """HumanEval-style tests: ``test_code`` defines ``check(candidate)`` full of asserts.

    The test code runs in the trusted judge process; ``candidate`` (and any other name the tests
    use but do not define, such as a helper the prompt gave) is a proxy that calls into the
    sandbox and gets plain data back.
    """

    test_code: str
    entry_point: str
    check_name: str = "check"
    """The function in test_code that takes the candidate."""
    helpers: str = ""
    """Trusted code run in the judge before test_code (e.g. helper functions from the prompt);
    names it defines are used instead of the candidate's."""
    split_asserts: bool = True
    """True: check() is split into cases, one per top-level statement that asserts on the
    candidate (see ``sandboxes.asserts``; fraction = share passed). False: the whole check() is
    one case."""
    setup: str = ""
    """Code of the tests run in the candidate's process after the program (MBPP's
    ``test_setup_code``, which builds ``root = Node(1)`` from the program's own class). The names
    it binds are imported into the tests like the program's; objects that are not plain data
    reach the tests as opaque values that can only be passed back to the candidate."""
    kind: ClassVar[str] = "assert"

    def __post_init__(self):
        _identifier("AssertTests", "entry_point", self.entry_point)
        _identifier("AssertTests", "check_name", self.check_name)
        for name in ("test_code", "helpers", "setup"):
            if not isinstance(getattr(self, name), str):
                raise ValueError(f"AssertTests.{name} must be a str")
        problem = _assert_problem(self.test_code, self.check_name, self.helpers, self.setup)
        if problem:
            raise ValueError(problem)

    @classmethod
    def from_dict(cls, data: dict) -> AssertTests:
        return cls(**data)


@dataclass(frozen=True, eq=True)
class StdioTests(_Spec):
    """Run the program once per case with ``stdin`` and compare its stdout with the expected
    text (comparison ``compare``: see ``sandboxes.compare.STDIO_COMPARERS``)."""

    cases: tuple = ()
    compare: str = "lines"
    """"exact", "lines" (trailing spaces and blank lines ignored) or "tokens"."""
    float_tol: float | None = None
    """With compare="tokens": numeric tokens equal within this absolute/relative tolerance."""
    kind: ClassVar[str] = "stdio"

    def __post_init__(self):
        from .compare import STDIO_COMPARERS
        if self.compare not in STDIO_COMPARERS:
            raise ValueError(f"StdioTests.compare={self.compare!r} is unknown; "
                             f"known: {sorted(STDIO_COMPARERS)}")
        cases = []
        for i, case in enumerate(self.cases):
            if not (isinstance(case, (tuple, list)) and len(case) == 2
                    and all(isinstance(c, str) for c in case)):
                raise ValueError(f"StdioTests.cases[{i}] must be (stdin_text, expected_stdout)")
            _utf8(f"StdioTests.cases[{i}] stdin", case[0])
            _utf8(f"StdioTests.cases[{i}] expected stdout", case[1])
            cases.append(tuple(case))
        if not cases:
            raise ValueError("StdioTests needs at least one case")
        object.__setattr__(self, "cases", tuple(cases))

    def _encode_field(self, name, value):
        return [list(c) for c in value] if name == "cases" else value

    @classmethod
    def from_dict(cls, data: dict) -> StdioTests:
        return cls(**data)


SPECS: dict[str, type] = {cls.kind: cls for cls in (CallTests, AssertTests, StdioTests)}
for _cls in SPECS.values():  # dataclass(eq, frozen) would hash the fields; cases may be lists
    _cls.__hash__ = _Spec.__hash__
TestSpec = Any  # CallTests | AssertTests | StdioTests


def spec_from_dict(data: dict):
    """Rebuild a test spec from ``spec.to_dict()``."""
    kind = data.get("kind")
    if kind not in SPECS:
        raise ValueError(f"unknown test spec kind {kind!r}; known: {sorted(SPECS)}")
    return SPECS[kind].from_dict({k: v for k, v in data.items() if k != "kind"})


def check_spec(tests) -> None:
    if not isinstance(tests, tuple(SPECS.values())):
        raise TypeError(f"tests must be one of {[c.__name__ for c in SPECS.values()]}, "
                        f"got {type(tests).__name__}")

