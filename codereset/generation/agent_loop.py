"""The asynchronous per-trajectory rollout loop, independent of any engine.

Owns how a batch of continuations is produced when every row is its own coroutine:
- `trajectory` advances ONE row: with an `EpisodeEnd` it asks the engine for one thought at a time
  (a request that stops at the thought marker or after the per-thought budget), appends the
  returned token ids to the row's stored ids, asks `EpisodeEnd.over` (the caller's Thought-MDP
  transition, `envs.transition` through `codereset.rollouts.rollout.Roller`) whether the episode
  has ended, and otherwise sends the next request continued from those stored ids: never
  re-tokenized text. Without an `EpisodeEnd` a row is one request (stop strings, EOS or budget).
- `run_rows` starts every row of a call at once, so the engine's continuous batching and prefix
  cache see all live rows together and no row waits for another; a row's `on_done` fires as soon
  as it ends. Rows can be aborted (`abort(prefix, sample)` turning true: a surplus seed-search
  draw); an aborted row's in-flight request is cancelled, it is never reported to `on_done`, and
  its result is an `Aborted` carrying the tokens it had generated (counted, not trained).
- `request_seed`: with `Sampling.seed` set, every request's seed is a function of (seed, prefix,
  sample, thought) only, so the same rows draw the same tokens whatever order the engine serves
  them in (pairing survives asynchronous scheduling).
- `LoopThread`: one asyncio event loop in a daemon thread, so the synchronous backend interface
  (`GenerationBackend.generate_streaming`) can drive coroutines.

The engine is anything with `async complete(ThoughtRequest) -> Served` and `decode` (vLLM's `AsyncLLM` through
`codereset.generation.vllm_async`; a fake in the tests). The semantics match the synchronous vLLM
backend's rounds (`VLLMBackend._episodes`): the same requests, only never waiting for a round.
"""

from __future__ import annotations

import asyncio
import hashlib
import threading
from dataclasses import dataclass, field, replace
from typing import Any, Awaitable, Callable, Coroutine, Protocol, Sequence

from codereset.generation.base import Completion, EpisodeEnd, Sampling

ABORT_POLL_S = 0.02  # how often live rows are checked against the abort predicate


@dataclass(frozen=True)
class ThoughtRequest:
    """One engine request: continue `prompt_ids` by at most `sampling.max_new_tokens` tokens,
    ending at a `stop` string or EOS; `seed` (None: the engine's running stream) fixes its draw.
    `row` = (prefix index, sample index) and `thought` (0-based request number of that row) name it."""

    prompt_ids: list[int]
    sampling: Sampling
    stop: tuple[str, ...]
    seed: int | None
    row: tuple[int, int]
    thought: int

    @property
    def request_id(self) -> str:
        return f"row{self.row[0]}-{self.row[1]}-t{self.thought}"


@dataclass
class Served:
    """What the engine returned for one request: the continuation cut by the shared stop rule
    (`base.stop_cut`), and how many of its prompt tokens the prefix cache served."""

    completion: Completion
    prompt_tokens: int
    cached_tokens: int


class Engine(Protocol):
    """What the loop needs of an engine: serve one request, and decode ids to text."""

    async def complete(self, request: ThoughtRequest) -> Served: ...

    def decode(self, ids: list[int]) -> str: ...


@dataclass
class Aborted:
    """A row cancelled before it ended: the tokens it had generated (prefix excluded)."""

    token_ids: list[int]


@dataclass
class LoopStats:
    """Counters of one `run_rows` call."""

    rows: int = 0
    requests: int = 0
    prompt_tokens: int = 0
    cached_tokens: int = 0
    generated_tokens: int = 0
    aborted_rows: int = 0
    aborted_tokens: int = 0
    max_in_flight: int = 0
    served: list[tuple[int, int]] = field(default_factory=list)  # (prompt tokens, cached) per request
    _in_flight: int = 0

    def enter(self) -> None:
        self._in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self._in_flight)

    def leave(self) -> None:
        self._in_flight -= 1


def request_seed(seed: int | None, p: int, j: int, t: int) -> int | None:
    """The seed of thought `t` of row (p, j) under a call seeded with `seed` (None stays None):
    a hash of the four, below 2**31 (engines take it as a torch generator seed)."""
    if seed is None:
        return None
    digest = hashlib.blake2b(f"{int(seed)}:{p}:{j}:{t}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") & 0x7FFF_FFFF


async def trajectory(engine: Engine, ids: list[int], row: tuple[int, int], budget: int, sampling: Sampling,
                     stop: Sequence[str], watch: EpisodeEnd | None, stats: LoopStats,
                     progress: list[int] | None = None) -> Completion:
    """Produce row `row`'s continuation of `ids` (see the module docstring). `progress`, when
    given, is extended with the row's generated ids as they arrive (what an abort has spent)."""
    got: list[int] = [] if progress is None else progress
    lps: list[float] | None = []
    thought = 0
    while True:
        room = budget - len(got)
        part = replace(sampling, max_new_tokens=room if watch is None else min(watch.every, room))
        request = ThoughtRequest(list(ids) + got, part, tuple(stop) if watch is None else (watch.marker,),
                                 request_seed(sampling.seed, row[0], row[1], thought), row, thought)
        stats.enter()
        try:
            served = await engine.complete(request)
        finally:
            stats.leave()
        piece = served.completion
        stats.requests += 1
        stats.prompt_tokens += served.prompt_tokens
        stats.cached_tokens += served.cached_tokens
        stats.generated_tokens += len(piece.token_ids)
        stats.served.append((served.prompt_tokens, served.cached_tokens))
        thought += 1
        if watch is None:
            got.extend(piece.token_ids)
            return piece
        got.extend(piece.token_ids)
        lps = None if lps is None or piece.logprobs is None else lps + list(piece.logprobs)
        if piece.finish_reason == "eos":
            return _joined(engine, got, "eos", lps, piece.eos_logprob)
        if len(got) >= budget or watch.over(row[0], list(got)):
            return _joined(engine, got, "length", lps, None)


def _joined(engine: Any, ids: list[int], reason: str, lps: list[float] | None, eos_lp: float | None) -> Completion:
    return Completion(list(ids), engine.decode(ids), reason, lps, eos_lp)


async def run_rows(engine: Engine, ids: Sequence[list[int]], counts: Sequence[int], budgets: Sequence[int],
                   sampling: Sampling, stop: Sequence[str], watch: EpisodeEnd | None,
                   on_done: Callable[[int, int, Completion], None] | None,
                   abort: Callable[[int, int], bool] | None = None,
                   stats: LoopStats | None = None) -> list[list[Completion | Aborted]]:
    """Every row of a call as its own task; [len(ids)][counts[p]] results (an `Aborted` for a row
    cancelled by `abort`). Greedy decoding runs one row per prefix and reports it `counts[p]`
    times (independent copies), as the synchronous backends do."""
    stats = stats if stats is not None else LoopStats()
    greedy = sampling.greedy
    rows = [(p, j) for p in range(len(ids)) for j in range(1 if greedy and counts[p] else counts[p])]
    stats.rows += len(rows)
    results: dict[tuple[int, int], Completion | Aborted] = {}
    spent: dict[tuple[int, int], list[int]] = {row: [] for row in rows}

    async def one(row: tuple[int, int]) -> None:
        p, j = row
        done = await trajectory(engine, ids[p], row, budgets[p], sampling, stop, watch, stats, spent[row])
        results[row] = done
        for k in range(counts[p]) if greedy else [j]:
            copy = done if k == j else done.copy()
            results[(p, k)] = copy
            if on_done is not None:
                on_done(p, k, copy)

    tasks = {row: asyncio.ensure_future(one(row)) for row in rows}
    watcher = asyncio.ensure_future(_watch_aborts(tasks, abort)) if abort is not None and tasks else None
    try:
        outcome = await asyncio.gather(*tasks.values(), return_exceptions=True)
    finally:
        if watcher is not None:
            watcher.cancel()
    for row, value in zip(tasks, outcome):
        if isinstance(value, asyncio.CancelledError):
            results[row] = Aborted(list(spent[row]))
            stats.aborted_rows += 1
            stats.aborted_tokens += len(spent[row])
        elif isinstance(value, BaseException):
            for task in tasks.values():
                task.cancel()
            raise value
    return [[results[(p, j)] for j in range(counts[p])] for p in range(len(ids))]


async def _watch_aborts(tasks: dict[tuple[int, int], asyncio.Future], abort: Callable[[int, int], bool]) -> None:
    """Cancel each live row as soon as `abort(prefix, sample)` is true (polled: the predicate is
    usually fed by scoring in other threads)."""
    while True:
        for row, task in tasks.items():
            if not task.done() and abort(*row):
                task.cancel()
        if all(task.done() for task in tasks.values()):
            return
        await asyncio.sleep(ABORT_POLL_S)


class LoopThread:
    """An asyncio event loop running in its own daemon thread; `run(coro)` blocks until done."""

    def __init__(self, name: str = "codereset-agent-loop") -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name=name, daemon=True)
        self._thread.start()

    def run(self, coro: Coroutine[Any, Any, Any] | Awaitable[Any]) -> Any:
        if not self._thread.is_alive():
            raise RuntimeError("the agent loop's event loop is closed")
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result()

    def close(self) -> None:
        if self._thread.is_alive():
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(timeout=10)
        if not self.loop.is_running():
            self.loop.close()
