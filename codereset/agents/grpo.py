"""GRPO: no resets. All trained slots of a prompt are fresh rollouts in one group."""

from __future__ import annotations

from typing import Any, Sequence

from codereset.agents.base import Agent, ResetChoice


class GRPOAgent(Agent):
    name = "grpo"
    uses_resets = False

    def choose_resets(self, seeds: Sequence[Any]) -> list[ResetChoice]:
        if seeds:
            raise ValueError("GRPO never resets: the buffer must not search seeds for it")
        return []
