"""CARO: reset at the oracle's first erroneous thought (`envs.oracle.first_error`).

first_error returns the 0-based index i of the first wrong thought, so h* = i + 1 (the prefix
keeps the i clean thoughts before it). When the oracle finds no wrong thought in a failed seed
(e.g. it stopped without an answer), h* = n: only the last thought is redrawn (recorded as
`oracle_found_error: false` in the sample info). Needs tasks with step-level truth (the `arith`
math suite: `env=math_arith`).
"""

from __future__ import annotations

from typing import Any, Sequence

from codereset.agents.base import Agent, ResetChoice
from envs.oracle import first_error, has_oracle


class CAROAgent(Agent):
    name = "caro"

    def check_tasks(self, tasks: Sequence[Any]) -> None:
        missing = sorted({t.suite for t in tasks if not has_oracle(t)})
        if missing:
            raise ValueError(f"agent caro needs tasks with a step-level oracle, but suite(s) {missing} "
                             "have none; use a suite that has one, e.g. env=math_arith")

    def choose_resets(self, seeds: Sequence[Any]) -> list[ResetChoice]:
        choices = []
        for seed in seeds:
            i = first_error(seed.task, seed.thoughts, self.ctx.rules)
            h = seed.n_thoughts if i is None else i + 1
            choices.append(ResetChoice(h=h, info={"oracle_found_error": i is not None}))
        return choices
