"""Test doubles for the trainer's known-answer tests: a scripted generation backend, a verifier
that needs no sandbox, and small code tasks.

The scripted policy writes every rollout as three thoughts:
  1. "step one</thought>"                       (always)
  2. "step two RIGHT</thought>" or "... WRONG"  (the verdict: popped from the task's plan)
  3. "```python\\nANSWER = 'RIGHT'\\n```</thought>"   (final; repeats the verdict of thought 2)
so a rollout's correctness is decided when its second thought is generated, in draw order, and a
reset at h*=2 (keeping thought 1) redraws the verdict while h*=3 inherits the seed's.
"""

from __future__ import annotations

import random
from collections import defaultdict, deque
from typing import Any, Sequence

from codereset.generation.base import Completion, GenerationBackend, as_token_ids, stop_cut
from envs.rules import ThoughtRules
from envs.tasks.task import Task
from envs.verify import Outcome

STOP = ThoughtRules().stop
ASSISTANT = "<|im_start|>assistant\n"
USER = "<|im_start|>user\n"


def byte_tokenizer():
    from codereset.models.bytes_tokenizer import byte_tokenizer as make

    return make()


def make_task(i: int, kind: str = "code") -> Task:
    return Task(task_id=f"t{i}", suite="fake", kind=kind, problem=f"Problem number {i}: solve it.",
                reference=("```python\nANSWER = 'RIGHT'\n```" + STOP,), tests=("fake-tests",),
                answer=None if kind == "code" else "1")


def split_prefix(text: str) -> tuple[str, list[str]]:
    """(problem, thoughts so far) from a decoded prefix (ChatML prompt + generated thoughts)."""
    prompt, _, generated = text.rpartition(ASSISTANT)
    problem = prompt.rpartition(USER)[2].split("<|im_end|>")[0]
    thoughts = [t + STOP for t in generated.split(STOP)[:-1]]
    return problem, thoughts


class PlannedPolicy:
    """The scripted policy above. plan: problem text -> verdicts ("R"/"W") in draw order; when a
    task's plan runs out, `default` is used."""

    def __init__(self, plan: dict[str, Sequence[str]] | None = None, default: str = "W") -> None:
        self.plan = defaultdict(deque, {k: deque(v) for k, v in (plan or {}).items()})
        self.default = default
        self.popped: dict[str, list[str]] = defaultdict(list)

    def __call__(self, text: str, j: int) -> str:
        problem, thoughts = split_prefix(text)
        if len(thoughts) == 0:
            return "step one" + STOP
        if len(thoughts) == 1:
            verdict = self.plan[problem].popleft() if self.plan[problem] else self.default
            self.popped[problem].append(verdict)
            return f"step two {'RIGHT' if verdict == 'R' else 'WRONG'}" + STOP
        verdict = "RIGHT" if "RIGHT" in thoughts[1] else "WRONG"
        return f"```python\nANSWER = '{verdict}'\n```" + STOP


class ScriptedBackend(GenerationBackend):
    """A GenerationBackend whose text comes from `policy(decoded_prefix, sample_index)`.

    The policy returns the next piece of text (usually one thought ending with the stop
    pattern), a (text, finish_reason) pair ("eos" or "length": the continuation ends there), or
    a Completion (returned as is). With stop strings, a continuation ends at the token completing
    the first one ("stop"); without (continuous generation) pieces are concatenated until
    `max_new_tokens` ("length") or an explicit finish. Every call is recorded in `calls`.
    """

    def __init__(self, tokenizer: Any, policy: Any) -> None:
        self.tokenizer = tokenizer
        self.policy = policy
        self.calls: list[dict] = []
        self.synced = 0
        self.stats = {"calls": 0}

    def generate(self, prefixes, n, sampling, stop=()):
        ids = as_token_ids(self.tokenizer, prefixes)
        self.calls.append({"prefixes": ids, "n": n, "sampling": sampling, "stop": tuple(stop)})
        self.stats["calls"] += 1
        return [[self._continue(p, j, sampling.max_new_tokens, tuple(stop)) for j in range(n)] for p in ids]

    def _continue(self, prefix: list[int], j: int, budget: int, stop: tuple) -> Completion:
        generated: list[int] = []
        while True:
            spec = self.policy(self.tokenizer.decode(prefix + generated), j)
            if isinstance(spec, Completion):
                return spec
            text, finish = spec if isinstance(spec, tuple) else (spec, None)
            generated += self.tokenizer(text, add_special_tokens=False)["input_ids"]
            if finish is None and stop:
                kept, reason = stop_cut(self.tokenizer, generated, stop, ())
                if reason == "stop" and len(kept) <= budget:
                    return self._done(kept, "stop")
            if len(generated) >= budget:
                return self._done(generated[:budget], "length")
            if finish is not None:
                return self._done(generated, finish)
            if stop:  # a piece without the stop string: the model keeps writing to its budget
                return self._done(generated, "length")

    def _done(self, ids: list[int], finish: str) -> Completion:
        return Completion(list(ids), self.tokenizer.decode(ids), finish)

    def sync_weights(self, model: Any) -> None:
        self.synced += 1


class MarkerVerifier:
    """Correct iff the final answer holds RIGHT (no sandbox); reward 1.0/0.0."""

    def __init__(self, rules: ThoughtRules = ThoughtRules()) -> None:
        self.rules = rules
        self.scored = 0

    def score_many(self, items):
        out = []
        for task, thoughts in items:
            self.scored += 1
            answer = self.rules.extract_answer("".join(thoughts), task.kind)
            ok = answer is not None and "RIGHT" in answer
            out.append(Outcome(1.0 if ok else 0.0, ok, "ok" if ok else "wrong_answer", {}))
        return out

    def close(self) -> None:
        pass


class FixedAgentRng(random.Random):
    """A Random whose randint always returns `value` (clipped to the range)."""

    def __init__(self, value: int) -> None:
        super().__init__(0)
        self.value = value

    def randint(self, a: int, b: int) -> int:
        return max(a, min(b, self.value))
