"""Rewards: score a task's thoughts. Math by `math-verify` equivalence, code through `sandboxes`.

`Verifier.score` is the single reward function of the project: the env and the trainer both
call it. Math answers are compared in this process (`math-verify` parses LaTeX into SymPy);
code answers run in a sandbox (created lazily on the first code task, so math-only use never
starts one), batched through `Sandbox.run_many` in `score_many`.

Reward: math 1.0 / 0.0; code per `code_reward` (`CODE_REWARDS`): "fraction" (default) is the
fraction of test cases passed, "all_or_nothing" is 1.0 when every case passes and 0.0 otherwise;
0.0 when the text has no final answer (status ``"no_answer"``). `Outcome.correct` is True only
when everything passed, whichever reward is chosen.

`Outcome.info` is for people: math gives the predicted and expected answers; code gives case
counts and the first failing case with the sandbox's message (expected/got, the error and its
line) and the tail of the candidate's stderr. It holds expected values, so the contract is: it
never enters an observation or a prompt (the env returns it in the step's `info["outcome"]`
only; the trainer's rollouts keep only reward, correctness and status); an agent that wants to
show it to a model must say so by a documented option of its own.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from math_verify import parse as mv_parse
from math_verify import verify as mv_verify

from envs.rules import ThoughtRules
from envs.tasks.task import Task

MATH_TIMEOUT_S = 5  # per parse/compare; math-verify's alarm works in the main thread only

# How a code verdict (fraction of cases passed, all passed) becomes the reward.
CODE_REWARDS: dict[str, Any] = {
    "fraction": lambda fraction, passed: float(fraction),
    "all_or_nothing": lambda fraction, passed: 1.0 if passed else 0.0,
}


@dataclass(frozen=True)
class Outcome:
    """The verdict on one rollout.

    Attributes:
        reward: math 0/1; code per the Verifier's code_reward (fraction of test cases
            passed, or all-or-nothing); 0.0 without an answer.
        correct: True when the answer is right (all test cases passed).
        status: "ok" when correct, else "no_answer", "wrong_answer" or a sandbox status
            ("runtime_error", "syntax_error", "timeout", "memory_limit", ...).
        info: JSON-safe summary (answer found, cases passed, sandbox status, ...).
    """

    reward: float
    correct: bool
    status: str
    info: dict[str, Any] = field(default_factory=dict)


def _timeout() -> int | None:
    return MATH_TIMEOUT_S if threading.current_thread() is threading.main_thread() else None


def _as_latex(answer: str) -> str:
    return f"$\\boxed{{{answer}}}$"


def math_equal(gold: str, predicted: str) -> bool:
    """True when `predicted` is mathematically equivalent to `gold` (math-verify)."""
    timeout = _timeout()
    gold_parsed = mv_parse(_as_latex(gold), parsing_timeout=timeout)
    pred_parsed = mv_parse(_as_latex(predicted), parsing_timeout=timeout)
    if not gold_parsed or not pred_parsed:
        return False
    return bool(mv_verify(gold_parsed, pred_parsed, timeout_seconds=timeout))


MESSAGE_CHARS = 500  # of the first failure's message and of the candidate's stderr tail


def _tail(text: str, chars: int = MESSAGE_CHARS) -> str:
    return text if len(text) <= chars else "..." + text[-chars:]


def _verdict_summary(verdict: Any) -> dict[str, Any]:
    """JSON-safe, deterministic summary of a sandbox verdict (no timings). The first failing
    case carries the sandbox's message for a person debugging rewards: "expected 3, got -1",
    "ZeroDivisionError: division by zero (line 2)", and the tail of the candidate's stderr (a
    traceback's last lines) when it wrote any. These hold expected values: they are for people
    and for agents that read `Outcome.info` on purpose, never for an observation or a prompt
    (nothing in envs/ or codereset/ puts them there; the module docstring's contract)."""
    results = list(verdict.results)
    failed = [r for r in results if r.status != "ok"]
    summary = {"answer_found": True, "sandbox_status": str(verdict.status), "fraction": float(verdict.fraction),
               "n_cases": len(results), "n_passed": len(results) - len(failed)}
    if failed:
        first = {"case": failed[0].name, "status": failed[0].status,
                 "message": _tail(str(getattr(failed[0], "message", "") or ""))}
        stderr = str(getattr(verdict, "stderr", "") or "").strip()
        if stderr:
            first["stderr_tail"] = _tail(stderr)
        summary["first_failure"] = first
    return summary


class Verifier:
    """Scores rollouts. Use as a context manager or call `close()` to release the sandbox.

    Args:
        sandbox: "auto" / "local" / "bwrap" / "docker" (a backend name for
            `sandboxes.make_sandbox`, started on the first code task and closed by `close`),
            or a started `Sandbox` instance (shared; `close` leaves it open).
        rules: the Thought-MDP rules (answer extraction).
        code_reward: "fraction" or "all_or_nothing" (`CODE_REWARDS`).
        workers, limits: passed to `sandboxes.make_sandbox` when the Verifier starts its own
            sandbox (parallel runs; per-run `Limits`); None keeps its defaults.
    """

    def __init__(self, sandbox: Any = "auto", rules: ThoughtRules = ThoughtRules(),
                 code_reward: str = "fraction", workers: int | None = None, limits: Any = None) -> None:
        if code_reward not in CODE_REWARDS:
            raise ValueError(f"unknown code_reward {code_reward!r}; known: {sorted(CODE_REWARDS)}")
        self.rules = rules
        self.code_reward = code_reward
        self._reward = CODE_REWARDS[code_reward]
        self._workers, self._limits = workers, limits
        self._sandbox_arg = sandbox
        self._sandbox = None if isinstance(sandbox, str) else sandbox
        self._owns_sandbox = isinstance(sandbox, str)

    # -- sandbox lifecycle -------------------------------------------------------------
    @property
    def sandbox(self) -> Any:
        """The sandbox, started on first use when the Verifier was given a backend name."""
        if self._sandbox is None:
            from sandboxes import make_sandbox

            self._sandbox = make_sandbox(self._sandbox_arg, workers=self._workers, limits=self._limits)
        return self._sandbox

    def close(self) -> None:
        """Stop the sandbox this Verifier started (a shared one is left running)."""
        if self._owns_sandbox and self._sandbox is not None:
            self._sandbox.close()
            self._sandbox = None

    def __enter__(self) -> Verifier:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- scoring -----------------------------------------------------------------------
    def score(self, task: Task, thoughts: Sequence[str]) -> Outcome:
        """Score one rollout (its thoughts, in order) of `task`."""
        return self.score_many([(task, thoughts)])[0]

    def score_many(self, items: Sequence[tuple[Task, Sequence[str]]]) -> list[Outcome]:
        """Score many rollouts; code answers run in one parallel `run_many` batch."""
        outcomes: list[Outcome | None] = [None] * len(items)
        code_jobs: list[tuple[int, str, Any]] = []
        for i, (task, thoughts) in enumerate(items):
            answer = self.rules.extract_answer(self.rules.join(thoughts), task.kind)
            if answer is None:
                outcomes[i] = Outcome(0.0, False, "no_answer", {"answer_found": False})
            elif task.kind == "math":
                outcomes[i] = self._score_math(task, answer)
            else:
                program = f"{task.code_prefix}\n{answer}" if task.code_prefix else answer
                code_jobs.append((i, program, task.tests))
        if code_jobs:
            verdicts = self.sandbox.run_many([(program, tests) for _, program, tests in code_jobs])
            for (i, _, _), verdict in zip(code_jobs, verdicts, strict=True):
                outcomes[i] = Outcome(
                    reward=self._reward(verdict.fraction, bool(verdict.passed)),
                    correct=bool(verdict.passed),
                    status="ok" if verdict.passed else str(verdict.status),
                    info=_verdict_summary(verdict))
        return outcomes  # type: ignore[return-value]

    def _score_math(self, task: Task, answer: str) -> Outcome:
        correct = math_equal(task.answer, answer)
        info = {"answer_found": True, "predicted": answer, "expected": task.answer}
        return Outcome(1.0 if correct else 0.0, correct, "ok" if correct else "wrong_answer", info)
