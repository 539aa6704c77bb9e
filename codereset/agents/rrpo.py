"""RRPO: reset to a uniformly random visited state, h* uniform in 1..n (h*=1: empty prefix)."""

from __future__ import annotations

from typing import Any, Sequence

from codereset.agents.base import Agent, ResetChoice


class RRPOAgent(Agent):
    name = "rrpo"

    def choose_resets(self, seeds: Sequence[Any]) -> list[ResetChoice]:
        return [ResetChoice(h=self.ctx.rng.randint(1, seed.n_thoughts)) for seed in seeds]
