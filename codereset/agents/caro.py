"""CARO: reset at the oracle's first erroneous thought.

The rule is the "oracle" localizer (`codereset.agents.localizers`). The oracle (`agent.oracle`):
- "exact": `envs.oracle.first_error`, the step-level truth of suites that have it (`arith`, `chain`);
- "mc": `codereset.rollouts.values.mc_first_error`, the first thought after which the Monte-Carlo
  value (`agent.values.k` continuations per state, all seeds' states in one batched call) drops
  by more than `agent.values.drop_threshold`; works on any suite, code included;
- "auto" (default): exact where the task has an oracle, mc otherwise.

Both give the 0-based index i of the first wrong thought, so h* = i + 1 (the prefix keeps the i
clean thoughts before it). When the oracle finds no wrong thought in a failed seed (e.g. it
stopped without an answer), h* = n: only the last thought is redrawn (recorded as
`oracle_found_error: false` in the sample info). The mc oracle's continuations are the cost of
choosing h*, so they count as localization tokens (tokens_localization).
"""

from __future__ import annotations

from codereset.agents.base import ResetAgent


class CAROAgent(ResetAgent):
    name = "caro"
