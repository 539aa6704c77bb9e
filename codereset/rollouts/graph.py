"""The step as a graph of per-prompt tasks (sampling.batching=graph; issue 28 item 2).

With batching "step" a step's buffer is built in phases, each one backend call for all prompts
(first draws, seed search, localization, reset groups, Monte-Carlo diagnostics), and a phase
starts when the slowest prompt of the one before has ended. With "graph" every prompt's chain of
those phases is its own task and all chains start at once, on a backend that serves concurrent
calls (the async vLLM engine: `concurrent_calls`): a prompt is localized as soon as its own seed
search has ended and its reset group is drawn as soon as its h* is known, while other prompts still
search; the engine's continuous batching sees the live rows of every prompt together. The chain is
`BufferBuilder`'s own code run on one prompt (the same search, abort rule, seeds, groups, fallback
and metrics), so nothing about what a buffer holds changes, only when its parts are drawn.

Two things would depend on the scheduling if drawn as in step mode; here they are keyed by the
prompt instead:
- the paired first draws (`BufferBuilder.build(seed=...)`): prompt i's come from a call of its own
  seeded with `prompt_seed(step seed, i)`. Every agent under graph makes these calls (GRPO and the
  agents that arrange their own groups too, through `BufferBuilder._first_draws`), so paired runs
  start from identical first draws;
- the agent's random stream (RRPO's uniform h*, SRPO's fallback): prompt i's seeds are chosen under
  a stream of their own, `random.Random(f"{base}:{i}")` (`AgentContext.stream`), where `base` is
  drawn once per step from the agent's running stream, so a resumed run draws the same.
Draws therefore differ from step mode's: compare paired runs within one mode.

Scoring: rollouts are scored as they end, as in step mode, by one scorer shared by every prompt's
calls (`OverlappedScorer.wait_for`: a call waits for its own rollouts only); Monte-Carlo values
score on their own threads, so the verifier is shared through `SerialVerifier`.

Phase times (`codereset.run.timing.PhaseTimes`) are the wall seconds during which some prompt was
in the phase; phases overlap, so their sum can exceed the build's wall time (`time_build_s`).
"""

from __future__ import annotations

import hashlib
import random
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Sequence, TypeVar

T = TypeVar("T")


def prompt_seed(seed: int | None, index: int) -> int | None:
    """The seed of prompt `index`'s first-draw call under a step seeded with `seed` (None stays
    None): a hash of the two, below 2**31."""
    if seed is None:
        return None
    digest = hashlib.blake2b(f"prompt:{int(seed)}:{index}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") & 0x7FFF_FFFF


def per_prompt(tasks: Sequence[Any], work: Callable[[int, Any], T]) -> list[T]:
    """`work(i, task)` for every task, each in its own thread, all at once; results in task order
    (once every task has ended, the exception of the first failed task in task order is re-raised)."""
    if len(tasks) <= 1:
        return [work(i, t) for i, t in enumerate(tasks)]
    with ThreadPoolExecutor(max_workers=len(tasks), thread_name_prefix="codereset-prompt") as pool:
        futures = [pool.submit(work, i, t) for i, t in enumerate(tasks)]
    return [f.result() for f in futures]


def build_graph(builder: Any, tasks: Sequence[Any], seed: int | None, times: Any) -> list[Any]:
    """The step's `PromptBuffer`s for a reset agent, every prompt's chain its own task (module
    docstring). `builder` is the step's `BufferBuilder`."""
    base = builder.agent.ctx.rng.getrandbits(63)

    def chain(i: int, task: Any) -> Any:
        p = builder.first_buffer(task, prompt_seed(seed, i), times)
        builder._search([p], times)
        builder.pick_seeds(p)
        with builder.agent.ctx.stream(random.Random(f"{base}:{i}")):
            builder._reset_groups([p], times)
        return p

    return per_prompt(tasks, chain)
