"""Agents: how each method chooses reset states. Registry `AGENTS`, factory `make_agent`.

- "grpo": no resets (all slots fresh rollouts).
- "rrpo": uniform random reset index.
- "srpo": self-localization by the policy (`codereset.localize`).
- "caro": the env's step-level oracle (`envs.oracle.first_error`).
"""

from __future__ import annotations

from typing import Any

from codereset.agents.base import Agent, AgentContext, ResetChoice
from codereset.agents.caro import CAROAgent
from codereset.agents.grpo import GRPOAgent
from codereset.agents.rrpo import RRPOAgent
from codereset.agents.srpo import SRPOAgent

AGENTS: dict[str, type[Agent]] = {cls.name: cls for cls in (GRPOAgent, RRPOAgent, SRPOAgent, CAROAgent)}


def agent_class(name: str) -> type[Agent]:
    """The agent class registered under `name`; unknown names raise listing the known ones."""
    try:
        return AGENTS[name]
    except KeyError:
        raise ValueError(f"unknown agent {name!r}; known agents: {sorted(AGENTS)}") from None


def make_agent(name: str, cfg: Any, ctx: AgentContext) -> Agent:
    """Build agent `name` with its config (`AgentConfig`) and context."""
    return agent_class(name)(cfg, ctx)


__all__ = ["AGENTS", "Agent", "AgentContext", "ResetChoice", "agent_class", "make_agent"]
