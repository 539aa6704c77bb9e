"""CARO: reset at the oracle's first erroneous thought.

The oracle (`agent.oracle`):
- "exact": `envs.oracle.first_error`, the step-level truth of suites that have it (`arith`);
- "mc": `codereset.rollouts.values.mc_first_error`, the first thought after which the Monte-Carlo value
  (`agent.values.k` continuations per state, all seeds' states in one batched call) drops by
  more than `agent.values.drop_threshold`; works on any suite, code included;
- "auto" (default): exact where the task has an oracle, mc otherwise.

Both give the 0-based index i of the first wrong thought, so h* = i + 1 (the prefix keeps the i
clean thoughts before it). When the oracle finds no wrong thought in a failed seed (e.g. it
stopped without an answer), h* = n: only the last thought is redrawn (recorded as
`oracle_found_error: false` in the sample info). The mc oracle's continuations are the cost of
choosing h*, so they count as localization tokens (tokens_localization).
"""

from __future__ import annotations

from typing import Any, Sequence

from codereset.agents.base import Agent, ResetChoice
from codereset.rollouts.values import mc_first_error, mc_values
from envs.oracle import first_error, has_oracle

ORACLES = ("auto", "exact", "mc")


class CAROAgent(Agent):
    name = "caro"

    def __init__(self, cfg: Any, ctx: Any) -> None:
        super().__init__(cfg, ctx)
        if cfg.oracle not in ORACLES:
            raise ValueError(f"unknown agent.oracle={cfg.oracle!r}; known: {list(ORACLES)}")

    def check_tasks(self, tasks: Sequence[Any]) -> None:
        missing = sorted({t.suite for t in tasks if not has_oracle(t)})
        if missing and self.cfg.oracle == "exact":
            raise ValueError(f"agent caro with agent.oracle=exact needs tasks with a step-level oracle, but "
                             f"suite(s) {missing} have none; use agent.oracle=mc (Monte-Carlo values) or "
                             "agent.oracle=auto, or a suite that has one, e.g. env=math_arith")

    def _uses_mc(self, task: Any) -> bool:
        return self.cfg.oracle == "mc" or (self.cfg.oracle == "auto" and not has_oracle(task))

    def choose_resets(self, seeds: Sequence[Any]) -> list[ResetChoice]:
        mc_seeds = [s for s in seeds if self._uses_mc(s.task)]
        found: dict[int, tuple[int | None, dict, int]] = {}
        if mc_seeds:
            if self.roller is None:
                raise RuntimeError("the mc oracle generates continuations: attach a roller and verifier first "
                                   "(BufferBuilder does)")
            mc = mc_values(mc_seeds, self.roller, self.verifier, self.cfg.values.k)
            for seed, v in zip(mc_seeds, mc.per_rollout):
                i = mc_first_error(v.values, self.cfg.values.drop_threshold)
                found[id(seed)] = (i, {"oracle": "mc", "mc_values": v.values}, v.tokens)
        choices = []
        for seed in seeds:
            if id(seed) in found:
                i, info, tokens = found[id(seed)]
            else:
                i, info, tokens = first_error(seed.task, seed.thoughts, self.ctx.rules), {"oracle": "exact"}, 0
            h = seed.n_thoughts if i is None else i + 1
            choices.append(ResetChoice(h=h, localization_tokens=tokens,
                                       info={"oracle_found_error": i is not None, **info}))
        return choices
