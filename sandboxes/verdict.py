"""Verdicts: what a run produced, per case and overall.

A verdict passes only when every case has a complete, well-formed result that the trusted judge
found correct. Exit status 0, a missing result or printed text are never a pass. Every text in a
verdict is valid UTF-8 text: lone surrogates (from a candidate's exception message, say) are
written as backslash escapes, so a verdict can always be encoded and stored.
"""

from __future__ import annotations

from dataclasses import dataclass

STATUSES = (
    "ok",             # the case passed
    "wrong_answer",   # a result came back and was wrong (or the test code rejected it)
    "runtime_error",  # the candidate raised, exited or crashed before answering
    "syntax_error",   # the program does not compile
    "timeout",        # wall-clock limit (the sandbox was killed from outside)
    "cpu_limit",      # CPU-time limit
    "memory_limit",   # memory limit
    "process_limit",  # process/thread limit (fork failed)
    "file_limit",     # file-size limit (write failed with EFBIG)
    "output_limit",   # stdout/stderr bytes, or a return value too large
    "sandbox_error",  # the sandbox itself failed twice; says nothing about the candidate
)
EXCERPT_BYTES = 2048


def encodable(text: str) -> str:
    """``text`` with lone surrogates replaced by backslash escapes (unchanged if it has none)."""
    if text.isascii():
        return text
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def excerpt(data: bytes | str, limit: int = EXCERPT_BYTES) -> str:
    text = data.decode("utf-8", "replace") if isinstance(data, bytes) else encodable(data)
    return text if len(text) <= limit else text[:limit] + f"... [{len(text) - limit} more]"


@dataclass(frozen=True)
class CaseResult:
    """Outcome of one test case."""

    status: str
    message: str = ""
    """Short diagnosis (may quote the expected value: verdicts stay on the trusted side)."""
    name: str = ""
    """Which case: "case 3", "check line 12", ..."""

    def __post_init__(self):
        if self.status not in STATUSES:
            raise ValueError(f"unknown status {self.status!r}; known: {STATUSES}")
        for name in ("message", "name"):
            text = getattr(self, name)
            if not text.isascii():
                object.__setattr__(self, name, encodable(text))


@dataclass(frozen=True)
class Verdict:
    """Result of one run: ``passed`` iff every case is ok; ``status`` is the first failing case's
    status (or "ok"); ``fraction`` is the share of cases that passed."""

    status: str
    passed: bool
    fraction: float
    results: tuple[CaseResult, ...]
    stdout: str = ""
    """Excerpt of the candidate's stdout (stdio tests: of the first failing case)."""
    stderr: str = ""
    backend: str = ""
    attempts: int = 1
    """How many times the run was started (2 when a sandbox worker died and it was retried)."""
    seconds: float = 0.0

    @classmethod
    def from_results(cls, results, stdout="", stderr="", backend="", seconds=0.0) -> Verdict:
        results = tuple(results)
        failed = [r for r in results if r.status != "ok"]
        n_ok = len(results) - len(failed)
        return cls(status=failed[0].status if failed else ("ok" if results else "runtime_error"),
                   passed=bool(results) and not failed,
                   fraction=n_ok / len(results) if results else 0.0, results=results,
                   stdout=excerpt(stdout), stderr=excerpt(stderr), backend=backend,
                   seconds=seconds)

    @classmethod
    def sandbox_error(cls, message: str, backend: str, attempts: int) -> Verdict:
        return cls(status="sandbox_error", passed=False, fraction=0.0,
                   results=(CaseResult("sandbox_error", message[:500], "sandbox"),),
                   backend=backend, attempts=attempts)

    def to_dict(self) -> dict:
        data = dict(self.__dict__)  # flat fields; dataclasses.asdict would deep-copy everything
        data["results"] = [dict(r.__dict__) for r in self.results]
        return data

    @classmethod
    def from_dict(cls, data: dict) -> Verdict:
        data = dict(data)
        data["results"] = tuple(CaseResult(**r) for r in data["results"])
        return cls(**data)
