"""VinePPO: per-thought advantages from Monte-Carlo state values (`codereset.rollouts.values`).

Per prompt: `buffer.slots` fresh rollouts (one group, like GRPO; `BufferBuilder.first_draws`, so
under trainer.paired the first of them are GRPO's first draws). For every rollout, the value
V_j of each thought boundary j = 0..n-1 is estimated from `agent.values.k` continuations sampled
from that state (token-exact resets; all states of the step in one batched call), and
V_n = the rollout's reward. Thought t's tokens are trained with A_t = V_t - V_{t-1}
(`Rollout.token_advantages`), so a rollout's advantages telescope to r - V_0.

Departures from the VinePPO paper (Kazemnejad et al., 2024): steps are the Thought-MDP's
thoughts (the paper splits at newlines); the loss is this project's ("pg": no ratio, no clipping,
no KL, one on-policy step), not PPO's clipped objective with a KL penalty; advantages are not
normalized. The continuations are untrained and counted as tokens_mc.
"""

from __future__ import annotations

from typing import Any, Sequence

from codereset.agents.common import OwnGroupsAgent
from codereset.rollouts import buffer  # module import: codereset.rollouts.buffer imports the agents package
from codereset.rollouts.values import mc_values, thought_advantages, token_advantages


class VinePPOAgent(OwnGroupsAgent):
    name = "vineppo"

    def build_groups(self, builder: Any, tasks: Sequence[Any], times: Any,
                     seed: int | None = None) -> list[buffer.PromptBuffer]:
        slots = builder.cfg.slots
        draws, _ = builder.first_draws(tasks, "base", slots, seed, times)  # no probe: paired <= slots
        flat = [r for d in draws for r in d]
        mc = mc_values(flat, builder.roller, builder.verifier, self.cfg.values.k, times)
        prompts = []
        for p, (task, rollouts) in enumerate(zip(tasks, draws)):
            values = mc.per_rollout[p * slots:(p + 1) * slots]
            for rollout, v in zip(rollouts, values):
                rollout.token_advantages = token_advantages(rollout, thought_advantages(v.values))
            group = buffer.Group("base", rollouts, advantages=[v.values[-1] - v.values[0] for v in values])
            prompts.append(buffer.PromptBuffer(task, rollouts, len(rollouts), groups=[group],
                                        extra_tokens={"mc": sum(v.tokens for v in values)},
                                        diagnostics={"mc_start_values": [values[0].values[0]]}))
        return prompts
