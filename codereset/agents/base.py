"""The agent interface: an agent only decides where to reset a failed rollout (the seed).

Everything else — rollouts, seed search, verification, advantages, loss — is shared code
(`codereset.rollouts.buffer`, `codereset.rollouts.rollout`, `codereset.learn.update`). An agent
gets the seeds of a step (failed rollouts, one or more per prompt) and returns one `ResetChoice`
per seed: the 1-based reset index h* (method.md): the reset state keeps the seed's thoughts
1..h*-1 and the shared-prefix group regenerates from thought h* on.

Reset agents (`ResetAgent`: RRPO, SRPO, CARO, entropy) differ only in their localizer, the rule
that picks h* (`codereset.agents.localizers`); `agent.localizer` swaps it.

Agents whose groups are not "base + reset" (Critique-GRPO, SCoRe, SPO-tree, VinePPO) override
`build_groups` and arrange each prompt's groups themselves, generating through the builder.
"""

from __future__ import annotations

import random
import threading
from abc import ABC, abstractmethod
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, ClassVar, Iterator, Sequence

from envs.rules import ThoughtRules


@dataclass(frozen=True)
class ResetChoice:
    """Where to reset one seed.

    h: reset index in 1..n (n = the seed's thoughts); h=1 means the empty prefix.
    localization_failed: the agent's localizer gave no usable answer and a fallback chose h.
    localization_tokens: tokens the agent generated to choose h (SRPO's localization answers).
    localization_budget_out: the localizer's answer ran out of its token budget.
    localized: the agent asked a localizer (SRPO, a seed of more than one thought); the
        localization rates in the metrics are over such choices.
    info: JSON-safe details for samples.jsonl (e.g. the localizer's raw answer).
    """

    h: int
    localization_failed: bool = False
    localization_tokens: int = 0
    localization_budget_out: bool = False
    localized: bool = False
    info: dict = field(default_factory=dict)


@dataclass
class AgentContext:
    """What an agent may use to choose resets.

    backend: the generation backend (SRPO prompts the policy itself through it).
    rules: the Thought-MDP rules.
    rng: the agent's own running random stream (seeded from the run seed).

    What a localizer draws from is `current_rng()`: the running stream, or inside
    `with ctx.stream(r):` the stream `r`, in this thread only. The buffer's graph mode
    (sampling.batching=graph, `codereset.rollouts.graph`) chooses each prompt's resets under a stream
    of that prompt's own, so h* does not depend on which prompt's seeds the engine finished first.
    """

    backend: Any
    rules: ThoughtRules
    rng: random.Random
    _local: threading.local = field(default_factory=threading.local, init=False, repr=False, compare=False)

    def current_rng(self) -> random.Random:
        """The stream this thread draws from: the one `stream` set, else the running `rng`."""
        return getattr(self._local, "rng", None) or self.rng

    @contextmanager
    def stream(self, rng: random.Random) -> Iterator[random.Random]:
        """Draw from `rng` instead of the running stream, in this thread, within the block."""
        before = getattr(self._local, "rng", None)
        self._local.rng = rng
        try:
            yield rng
        finally:
            self._local.rng = before


class Agent(ABC):
    """Base class. `uses_resets` False means no seed search and no shared-prefix groups (GRPO)."""

    name: ClassVar[str]
    uses_resets: ClassVar[bool] = True

    def __init__(self, cfg: Any, ctx: AgentContext) -> None:
        self.cfg = cfg
        self.ctx = ctx
        self.roller: Any = None
        self.verifier: Any = None
        if getattr(cfg, "localizer", None) is not None and not self.uses_resets:
            raise ValueError(f"agent {self.name} does not reset: agent.localizer={cfg.localizer} has no h* "
                             "to choose; use a reset agent (rrpo, srpo, caro, entropy) or drop the option")

    def attach(self, roller: Any, verifier: Any) -> None:
        """The roller and verifier the step's buffer generates and scores with (given by
        `BufferBuilder`; agents that generate rollouts of their own, e.g. MC values, use them)."""
        self.roller = roller
        self.verifier = verifier

    def build_groups(self, builder: Any, tasks: Sequence[Any], times: Any, seed: int | None = None) -> list | None:
        """The step's `PromptBuffer`s when this agent arranges its own groups, else None (the
        default: the shared base/seed-search/reset buffer of `codereset.rollouts.buffer`). `seed` is the
        step's pairing seed (`BufferBuilder.build`, trainer.paired; None when unpaired): an agent
        draws its fresh first rollouts with `builder.first_draws(tasks, kind, n, seed, times)` so
        that they are the same draws every other agent of the comparison starts from."""
        return None

    def check_tasks(self, tasks: Sequence[Any]) -> None:
        """Raise ValueError when the agent cannot work on these tasks (every agent works on any
        task unless it overrides this)."""

    @abstractmethod
    def choose_resets(self, seeds: Sequence[Any]) -> list[ResetChoice]:
        """One ResetChoice per seed (a failed, scored `Rollout`), in order."""


class ResetAgent(Agent):
    """An agent that resets each seed where its localizer says: `agent.localizer`, else its own
    (`codereset.agents.arms.DEFAULT_LOCALIZER`)."""

    default_localizer: ClassVar[str]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        from codereset.agents.arms import DEFAULT_LOCALIZER

        cls.default_localizer = DEFAULT_LOCALIZER[cls.name]

    def __init__(self, cfg: Any, ctx: AgentContext) -> None:
        super().__init__(cfg, ctx)
        from codereset.agents.localizers import get_localizer

        self.localizer = get_localizer(getattr(cfg, "localizer", None) or self.default_localizer)
        self.localizer.check(cfg)

    def check_tasks(self, tasks: Sequence[Any]) -> None:
        self.localizer.check_tasks(self.cfg, tasks)

    def choose_resets(self, seeds: Sequence[Any]) -> list[ResetChoice]:
        return self.localizer.choose(self, seeds)
