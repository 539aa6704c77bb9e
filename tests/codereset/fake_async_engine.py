"""A fake `vllm.AsyncLLM` for the agent loop's logic tests: no vLLM, milliseconds per request.

The toy model writes thoughts over the byte tokenizer. Its next thought is a pure function of the
text before it and a salt (0 for greedy decoding, the request's seed when sampling), so writing
thought by thought and writing in one go give the same tokens, and a continuation depends on the
prefix alone. After `THOUGHTS` thoughts it writes a final answer ("```python\\nANSWER = 'RIGHT'...",
RIGHT or WRONG by a hash) and then EOS. Requests sleep `delay(request)` seconds before they
answer, so tests can make rows finish in any order; every request is recorded (prompt ids,
parameters, whether it was cancelled; `verdict(record)` may force the final answer), and the engine tracks a toy prefix cache (the longest
whole-block prefix of a prompt seen before) and its most concurrent requests.
"""

from __future__ import annotations

import asyncio
import hashlib
import random
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any, Callable

from scripted_policy import STOP

THOUGHTS = 3
ASSISTANT = "<|im_start|>assistant\n"
BLOCK = 4


def toy_thought(before: str, salt: int, verdict: str | None = None) -> str:
    """The toy model's next piece of text given everything before it (`verdict` forces the final
    answer's RIGHT/WRONG)."""
    generated = before.rpartition(ASSISTANT)[2]
    n = generated.count(STOP)
    h = hashlib.blake2b(f"{before}|{salt}".encode(), digest_size=4).hexdigest()
    if n >= THOUGHTS:
        verdict = verdict or ("RIGHT" if int(h, 16) % 2 else "WRONG")
        return f"```python\nANSWER = '{verdict}'\n```" + STOP
    return f"step {n + 1} {h}" + STOP


def toy_continuation(tok: Any, prompt_ids: list[int], salt: int, max_tokens: int,
                     verdict: str | None = None) -> tuple[list[int], bool]:
    """(ids, ended_by_eos): the toy model's continuation of `prompt_ids`, at most `max_tokens`
    (EOS, when written within them, is the last id)."""
    out: list[int] = []
    while len(out) < max_tokens:
        text = tok.decode(prompt_ids + out)
        if text.rpartition(ASSISTANT)[2].count("```python") and text.endswith(STOP):
            return out + [tok.eos_token_id], True
        out += tok(toy_thought(text, salt, verdict), add_special_tokens=False)["input_ids"]
    return out[:max_tokens], False


def params_factory(sampling: Any, stop: Any, seed: Any) -> SimpleNamespace:
    """What the backend's `sampling_params` builds, without vLLM."""
    return SimpleNamespace(max_tokens=sampling.max_new_tokens, stop=list(stop), seed=seed,
                           temperature=sampling.temperature)


@dataclass
class Record:
    request_id: str
    prompt_ids: list[int]
    params: Any
    cancelled: bool = False
    cached: int = 0


@dataclass
class FakeAsyncLLM:
    tok: Any
    delay: Callable[[Record], float] = lambda record: 0.0
    verdict: Callable[[Record], str | None] = lambda record: None
    records: list[Record] = field(default_factory=list)
    calls: list[tuple] = field(default_factory=list)  # (method, args) of the non-generate methods
    in_flight: int = 0
    max_in_flight: int = 0
    seen: list[list[int]] = field(default_factory=list)
    rng: random.Random = field(default_factory=lambda: random.Random(0))

    async def generate(self, prompt: dict, params: Any, request_id: str, lora_request: Any = None):
        ids = list(prompt["prompt_token_ids"])
        record = Record(request_id, ids, params, cached=self._cached(ids))
        self.records.append(record)
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            await asyncio.sleep(self.delay(record))
        except asyncio.CancelledError:
            record.cancelled = True
            raise
        finally:
            self.in_flight -= 1
        self.seen.append(ids)
        salt = 0 if params.temperature == 0 else (params.seed if params.seed is not None else self.rng.randrange(2**31))
        out, eos = toy_continuation(self.tok, ids, salt, params.max_tokens, self.verdict(record))
        finish = "length"
        for stop in params.stop:  # vLLM: cut after the first stop string, kept in the output
            text = ""
            for k in range(len(out)):
                text = self.tok.decode(out[: k + 1])
                if stop in text:
                    out, finish, eos = out[: k + 1], "stop", False
                    break
        if eos:
            finish = "stop"  # vLLM reports a stop token id as "stop" and returns it
        yield _output(ids, out, finish, record.cached)

    def _cached(self, ids: list[int]) -> int:
        best = max((_common(ids, s) for s in self.seen), default=0)
        return min(best, len(ids) - 1) // BLOCK * BLOCK

    async def sleep(self, level: int = 1) -> None:
        self.calls.append(("sleep", level))

    async def wake_up(self, tags: list[str] | None = None) -> bool:
        self.calls.append(("wake_up", tuple(tags or ())))
        return True

    async def collective_rpc(self, method: str, args: tuple = ()) -> list:
        self.calls.append(("collective_rpc", method))
        return [1]

    async def reset_prefix_cache(self) -> bool:
        self.calls.append(("reset_prefix_cache",))
        self.seen.clear()
        return True

    def shutdown(self) -> None:
        self.calls.append(("shutdown",))


def _common(a: list[int], b: list[int]) -> int:
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    return n


def _output(prompt: list[int], ids: list[int], finish: str, cached: int) -> SimpleNamespace:
    logprobs = [{t: SimpleNamespace(logprob=-0.5)} for t in ids]
    gen = SimpleNamespace(token_ids=ids, finish_reason=finish, logprobs=logprobs)
    return SimpleNamespace(outputs=[gen], prompt_token_ids=prompt, num_cached_tokens=cached)
