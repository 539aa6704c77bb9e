"""RRPO: reset to a uniformly random visited state, h* uniform in 1..n (h*=1: empty prefix).

The rule is the "uniform" localizer (`codereset.agents.localizers`)."""

from __future__ import annotations

from codereset.agents.base import ResetAgent


class RRPOAgent(ResetAgent):
    name = "rrpo"
