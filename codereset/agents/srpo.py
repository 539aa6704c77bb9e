"""SRPO: the policy itself localizes the seed's first erroneous thought; h* is its answer.

The rule is the "self" localizer (`codereset.agents.localizers`); the prompt, the lenient
parsing and the fallback for unusable answers live in `codereset.rollouts.localize`; settings in
`LocalizeConfig` (agent.localize).
"""

from __future__ import annotations

from codereset.agents.base import ResetAgent


class SRPOAgent(ResetAgent):
    name = "srpo"
