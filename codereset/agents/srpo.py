"""SRPO: the policy itself localizes the seed's first erroneous thought; h* is its answer.

The prompt, the lenient parsing and the fallback for unusable answers live in
`codereset.rollouts.localize`; settings in `LocalizeConfig` (agent.localize).
"""

from __future__ import annotations

from typing import Any, Sequence

from codereset.agents.base import Agent, ResetChoice
from codereset.generation.base import Sampling
from codereset.rollouts.localize import VARIANTS, get_fallback, localize_many


class SRPOAgent(Agent):
    name = "srpo"

    def __init__(self, cfg: Any, ctx: Any) -> None:
        super().__init__(cfg, ctx)
        get_fallback(cfg.localize.fallback)
        if cfg.localize.variant not in VARIANTS:
            raise ValueError(f"unknown localization variant {cfg.localize.variant!r}; known: {sorted(VARIANTS)}")

    def choose_resets(self, seeds: Sequence[Any]) -> list[ResetChoice]:
        """A seed of one thought has one reset state (h* = 1, the prompt): it is not asked about
        (no tokens, never a parse failure). The others are localized in one batched call."""
        loc = self.cfg.localize
        sampling = Sampling(temperature=loc.temperature, top_p=loc.top_p,
                            max_new_tokens=loc.max_new_tokens)
        asked = [s for s in seeds if len(s.thoughts) > 1]
        results = iter(localize_many(asked, self.ctx.backend, sampling, loc, self.ctx.rng, self.ctx.rules))
        choices = []
        for seed in seeds:
            if len(seed.thoughts) <= 1:
                choices.append(ResetChoice(h=1, info={"localizer_skipped": True}))
                continue
            r = next(results)
            choices.append(ResetChoice(
                h=r.h, localization_failed=r.failed, localization_tokens=r.generated_tokens,
                localization_budget_out=r.budget_out, localized=True,
                info={"localizer_answer": r.text, "localizer_parsed": r.parsed, "localizer_rule": r.rule,
                      "localizer_failed": r.failed, "localizer_budget_out": r.budget_out}))
        return choices
