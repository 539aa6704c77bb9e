"""vLLM generation on its asynchronous engine (`AsyncLLM`): rollouts at engine speed.

`backend.vllm.engine=async` builds this backend instead of the blocking one (`vllm.VLLMBackend`,
whose export, engine arguments, stop rule, log-probabilities and LoRA handling it shares):
- Every row of a call is its own coroutine (`codereset.generation.agent_loop`). A continuous
  rollout (`generate_streaming` with an `EpisodeEnd`) asks for one thought at a time, stopping at
  the thought marker, token ids in and out, and continues from its stored ids as soon as the
  caller's transition says the episode goes on: the engine's continuous batching and prefix cache
  see every live row at once, where the blocking backend's rounds wait for their slowest row.
  Any other call sends one request per row, all at once; `on_done` fires as each row ends.
- Seeded calls (`Sampling.seed`) seed every request by (seed, prefix, sample, thought), so a
  paired call draws the same tokens whatever order the engine serves the rows in.
- `generate_streaming(..., abort=)` cancels the rows the predicate names while they run (surplus
  seed-search draws); they come back as `agent_loop.Aborted` and are counted in `stats`
  ("aborted_rows", "aborted_tokens"). `supports_abort` says a backend takes the argument.
- Weight sync is the blocking backend's: the weights file is rewritten and every worker reloads
  it in place (`vllm_worker.py`), then the prefix cache is reset; `stats["last_sync_s"]` is the
  latest sync's seconds. With `sleep=true` (CUDA only; untested on a GPU, no GPU with vLLM could
  be had), `offload()` puts the engine to sleep (level 1: weights offloaded to host memory, KV
  cache dropped) before the policy update, and `sync_weights` wakes the weights, reloads them,
  then wakes the KV cache, so trainer and engine share one GPU; a generate call while asleep
  (the update was skipped, so no sync came) wakes everything with the weights it had.
- The event loop runs in a daemon thread (`agent_loop.LoopThread`); the interface stays
  synchronous. `on_done` and `EpisodeEnd.over` are called on that thread, one at a time.
- Calls may come from several threads at once (`concurrent_calls`): their rows share the one
  engine and event loop (sampling.batching=graph runs every prompt's chain as its own task,
  `codereset.rollouts.graph`); the counters are updated under a lock.

Stats as the blocking backend's, plus "rows" (continuations asked for), "max_in_flight" (most
requests in the engine at once in the latest call), "peak_in_flight" (most requests in the engine
at once over all calls, concurrent ones together, since the engine started or the caller last set
it to 0), "aborted_rows", "aborted_tokens", "last_sync_s", "sleeps".
"""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
from typing import Any, Callable, Sequence

from codereset.generation.agent_loop import Aborted, LoopStats, LoopThread, Served, ThoughtRequest, run_rows
from codereset.generation.base import Completion, EpisodeEnd, Sampling
from codereset.generation.vllm import VLLMBackend, _on_cpu, new_stats

SLEEP_LEVEL = 1  # vLLM sleep level 1: weights to host memory, KV cache discarded


class AsyncVLLMBackend(VLLMBackend):
    """Generation on a colocated `AsyncLLM`, one coroutine per row; see the module docstring."""

    supports_abort = True
    concurrent_calls = True

    # -- engine ---------------------------------------------------------------------------------
    def _launch(self, kwargs: dict[str, Any]) -> None:
        from vllm.engine.arg_utils import AsyncEngineArgs
        from vllm.v1.engine.async_llm import AsyncLLM

        if self.cfg.sleep:
            if _on_cpu():
                raise ValueError("backend.vllm.sleep=true needs CUDA: vLLM's sleep mode does not run on the CPU")
            kwargs = {**kwargs, "enable_sleep_mode": True}
        self._attach(AsyncLLM.from_engine_args(AsyncEngineArgs(**kwargs)))

    def _attach(self, engine: Any) -> None:
        """Run `engine` from a fresh event-loop thread; the async engine's own counters."""
        self.loop = LoopThread("codereset-vllm-async")
        self.engine = self.llm = engine  # self.llm: VLLMBackend's "engine is up" marker
        self._asleep = False
        self._request_ids = itertools.count()
        self._stats_lock = threading.Lock()
        self._live = 0  # requests in the engine now, every call together (touched on the loop thread only)
        self.stats.update(rows=0, max_in_flight=0, peak_in_flight=0, aborted_rows=0, aborted_tokens=0,
                          last_sync_s=0.0, sleeps=0)

    @classmethod
    def on_engine(cls, engine: Any, tokenizer: Any, cfg: Any, eos_ids: Sequence[int],
                  sampling_params: Callable[..., Any]) -> "AsyncVLLMBackend":
        """A backend around an already running engine (tests: a fake `AsyncLLM`), with
        `sampling_params(sampling, stop, seed)` building its request parameters; no model export,
        so `sync_weights` must be given the sync directory's model via `sync_dir`."""
        self = cls.__new__(cls)
        self.cfg, self.tokenizer, self._eos = cfg, tokenizer, list(eos_ids)
        self.use_adapter, self._lora_request, self._lora_id = False, None, 0
        self.last_requests = []
        self.stats = new_stats()
        self._remove_dir = None
        self.sampling_params = sampling_params
        self._attach(engine)
        return self

    def _remove_adapter(self, lora_id: int) -> None:
        self._engine_call("remove_lora", lora_id)

    def _engine_call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        """The engine's coroutine method, awaited on the backend's event loop."""
        return self.loop.run(getattr(self.engine, method)(*args, **kwargs))

    def sampling_params(self, sampling: Sampling, stop: Sequence[str], seed: int | None) -> Any:
        """The blocking backend's parameters, asking the engine for the final output only."""
        from vllm.sampling_params import RequestOutputKind

        params = super().sampling_params(sampling, stop, seed)
        params.output_kind = RequestOutputKind.FINAL_ONLY
        return params

    # -- the agent loop's engine ----------------------------------------------------------------
    async def complete(self, request: ThoughtRequest) -> Served:
        """Serve one request on the engine (final output only) and cut it by the shared stop rule."""
        params = self.sampling_params(request.sampling, request.stop, request.seed)
        final = None
        self._live += 1
        self.stats["peak_in_flight"] = max(self.stats["peak_in_flight"], self._live)
        try:
            async for out in self.engine.generate(_tokens_prompt(request.prompt_ids), params,
                                                  f"{request.request_id}-{next(self._request_ids)}",
                                                  lora_request=self._lora_request):
                final = out
        finally:
            self._live -= 1
        if final is None:
            raise RuntimeError(f"vLLM returned nothing for request {request.request_id}")
        return Served(self._completion(final, request.stop), len(final.prompt_token_ids),
                      int(final.num_cached_tokens or 0))

    def decode(self, ids: list[int]) -> str:
        return self.tokenizer.decode(ids)

    # -- the interface --------------------------------------------------------------------------
    def generate_streaming(self, prefixes: Sequence[Sequence[int]] | Sequence[str], n: int | Sequence[int],
                           sampling: Sampling, stop: Sequence[str] = (), on_done: Any = None,
                           max_new: Sequence[int] | None = None, episode_end: EpisodeEnd | None = None,
                           abort: Callable[[int, int], bool] | None = None) -> list[list[Completion | Aborted]]:
        """Every row its own coroutine (module docstring); with `episode_end` and no stop strings,
        one thought per request until the episode is over. Rows `abort` names come back `Aborted`."""
        started = time.perf_counter()
        ids, counts, budgets = self._row_plan(prefixes, n, sampling, max_new)
        if self._asleep:  # offloaded and no sync since (a skipped update): wake with the old weights
            self._engine_call("wake_up", tags=None)
            self._asleep = False
        watch = episode_end if not stop else None
        loop_stats = LoopStats()
        groups = self.loop.run(run_rows(self, ids, counts, budgets, sampling, stop, watch, on_done, abort,
                                        loop_stats))
        self._count_loop(loop_stats, time.perf_counter() - started)
        return groups

    def sync_weights(self, model: Any) -> None:
        """Push `model`'s current weights into the running engine (waking it first when it sleeps)
        and reset its prefix cache; `stats["last_sync_s"]` is this sync's seconds."""
        started = time.perf_counter()
        if self._asleep:
            self._engine_call("wake_up", tags=["weights"])
        self._push_weights(model)
        if self._asleep:
            self._engine_call("wake_up", tags=["kv_cache"])
            self._asleep = False
        self._reset_prefix_cache()
        elapsed = time.perf_counter() - started
        self.stats["weight_syncs"] += 1
        self.stats["sync_time_s"] += elapsed
        self.stats["last_sync_s"] = elapsed

    def offload(self) -> None:
        """With `sleep`: put the engine to sleep until the next `sync_weights` (module docstring)."""
        if not self.cfg.sleep or self._asleep:
            return
        self._engine_call("sleep", level=SLEEP_LEVEL)
        self._asleep = True
        self.stats["sleeps"] += 1

    def continuation_logprobs(self, prefix: Sequence[int], continuation: Sequence[int]) -> list[float]:
        """log pi(continuation[t] | prefix + continuation[:t]), scored by the engine."""
        prefix, continuation = [int(t) for t in prefix], [int(t) for t in continuation]
        if not prefix or not continuation:
            raise ValueError("continuation_logprobs needs a non-empty prefix and continuation")
        params = self._vllm.SamplingParams(max_tokens=1, temperature=0.0, prompt_logprobs=0)

        async def score() -> Any:
            final = None
            async for out in self.engine.generate(_tokens_prompt(prefix + continuation), params,
                                                  f"score-{next(self._request_ids)}", lora_request=self._lora_request):
                final = out
            return final

        out = self.loop.run(score())
        return [float(d[t].logprob) for d, t in zip(out.prompt_logprobs[len(prefix):], continuation)]

    def close(self) -> None:
        """Shut the engine and its event loop down; remove the sync directory when ours."""
        engine, self.llm = getattr(self, "engine", None), None
        self.engine = None
        loop = getattr(self, "loop", None)
        handler = getattr(engine, "output_handler", None)
        if loop is not None and isinstance(handler, asyncio.Future):  # first, or it logs the core's exit as a crash
            loop.run(_cancelled(handler))
        if engine is not None and hasattr(engine, "shutdown"):
            engine.shutdown()
        if loop is not None:
            if loop.loop.is_running():  # let the engine's own tasks (its output queue) finish cancelling,
                loop.run(_drain())    # or the loop's close logs "Task was destroyed but it is pending"
            loop.close()
        if getattr(self, "_remove_dir", None) is not None:
            self._remove_dir()

    # -- bookkeeping ----------------------------------------------------------------------------
    def _count_loop(self, ls: LoopStats, elapsed: float) -> None:
        with self._stats_lock:
            self._count_locked(ls, elapsed)

    def _count_locked(self, ls: LoopStats, elapsed: float) -> None:
        s = self.stats
        s["calls"] += 1
        s["rows"] += ls.rows
        s["requests"] += ls.requests
        s["prefix_tokens"] += ls.prompt_tokens
        s["prefix_tokens_cached"] += ls.cached_tokens
        s["generated_tokens"] += ls.generated_tokens
        s["aborted_rows"] += ls.aborted_rows
        s["aborted_tokens"] += ls.aborted_tokens
        s["max_in_flight"] = ls.max_in_flight
        s["time_s"] += elapsed
        s["last_prefix_cache_hit"] = ls.cached_tokens / ls.prompt_tokens if ls.prompt_tokens else 0.0
        s["prefix_cache_hit"] = s["prefix_tokens_cached"] / s["prefix_tokens"] if s["prefix_tokens"] else 0.0
        self.last_requests = list(ls.served)


async def _drain(timeout_s: float = 5.0) -> None:
    """Cancel every other task on this loop and wait (at most `timeout_s`) until they have ended."""
    await asyncio.sleep(0)  # callbacks scheduled from other threads (the engine's shutdown) run first
    pending = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    for task in pending:
        task.cancel()
    if pending:
        await asyncio.wait(pending, timeout=timeout_s)


async def _cancelled(task: asyncio.Future) -> None:
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


def _tokens_prompt(ids: list[int]) -> dict:
    """A `vllm.inputs.TokensPrompt` (a TypedDict: a plain dict at run time, so no import)."""
    return {"prompt_token_ids": list(ids)}
