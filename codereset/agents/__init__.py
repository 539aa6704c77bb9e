"""Agents: how each method chooses reset states. Registry `AGENTS`, factory `make_agent`.

- "grpo": no resets (all slots fresh rollouts).
- "rrpo": uniform random reset index.
- "srpo": self-localization by the policy (`codereset.rollouts.localize`).
- "caro": the oracle's first error (exact `envs.oracle.first_error`, or Monte-Carlo values).
- "entropy": the thought of highest mean surprisal (no model call).
These four are `ResetAgent`s: each is its default localizer (`codereset.agents.localizers`),
and `agent.localizer` gives any of them another; `arm_label` names the run's arm.
Agents that build their own groups (`Agent.build_groups`; the paper's baselines and VinePPO):
- "critique_grpo": a critique and one refinement of a failed rollout join the originals' group.
- "score": SCoRe two-attempt self-correction with stage-II reward shaping.
- "spo_tree": segment-level tree sampling, segment advantages from the tree's values.
- "vineppo": per-thought advantages from Monte-Carlo state values (`codereset.rollouts.values`).
"""

from __future__ import annotations

from typing import Any

from codereset.agents.arms import arm_label, arm_of_config
from codereset.agents.base import Agent, AgentContext, ResetAgent, ResetChoice
from codereset.agents.caro import CAROAgent
from codereset.agents.critique_grpo import CritiqueGRPOAgent
from codereset.agents.entropy import EntropyAgent
from codereset.agents.grpo import GRPOAgent
from codereset.agents.rrpo import RRPOAgent
from codereset.agents.score import ScoreAgent
from codereset.agents.spo_tree import SPOTreeAgent
from codereset.agents.srpo import SRPOAgent
from codereset.agents.vineppo import VinePPOAgent

AGENTS: dict[str, type[Agent]] = {cls.name: cls for cls in (
    GRPOAgent, RRPOAgent, SRPOAgent, CAROAgent, EntropyAgent, CritiqueGRPOAgent, ScoreAgent, SPOTreeAgent, VinePPOAgent)}


def agent_class(name: str) -> type[Agent]:
    """The agent class registered under `name`; unknown names raise listing the known ones."""
    try:
        return AGENTS[name]
    except KeyError:
        raise ValueError(f"unknown agent {name!r}; known agents: {sorted(AGENTS)}") from None


def make_agent(name: str, cfg: Any, ctx: AgentContext) -> Agent:
    """Build agent `name` with its config (`AgentConfig`) and context."""
    return agent_class(name)(cfg, ctx)


__all__ = ["AGENTS", "Agent", "AgentContext", "ResetAgent", "ResetChoice", "agent_class", "arm_label",
           "arm_of_config", "make_agent"]
