"""Entropy resets: reset where the policy was least sure of what it wrote, at no model call.

h* is the thought with the highest mean surprisal (-log p of its sampled tokens, the sampler's
log-probs every rollout keeps); the "entropy" localizer (`codereset.agents.localizers`). Not in
the paper: the cheap alternative to self-localization that independent work branches on (FR3E,
AttnRL), measured here beside SRPO and the oracle on the same engine.
"""

from __future__ import annotations

from codereset.agents.base import ResetAgent


class EntropyAgent(ResetAgent):
    name = "entropy"
