"""SCoRe-style two-attempt self-correction: a second attempt conditioned on the first, trained
with SCoRe's stage-II reward shaping for improvement.

Per prompt (slots S, even): S/2 first attempts from the prompt, then for each one second attempt
from the state (prompt, the first attempt's thoughts as stored ids, the self-correction
instruction `INSTRUCTION` as a user turn, the assistant's turn opener): `follow_up_start`, one
batched call. Two groups per prompt, each normalized on its own with group_norm:
  - first attempts, on their rewards r1;
  - second attempts, on the shaped reward r2 + alpha * (r2 - r1) (`agent.score.alpha`): a second
    attempt that fixes a wrong first one is worth more than one that repeats a right one, and
    one that breaks a right answer is penalized (SCoRe's progress bonus).

What is approximated (SCoRe, Kumar et al., 2024): stage I (train the second attempt while a strong
KL keeps the first near the base model) is not run as its own phase, and there is no KL term at
all; stage II's shaped objective is trained from the first step, with this project's loss
("pg", one on-policy step) instead of REINFORCE with a KL penalty; one second attempt per first.
Second-attempt tokens are trained and also reported as tokens_trained_second_attempt.
"""

from __future__ import annotations

from typing import Any, Sequence

import torch

from codereset.advantages import group_norm
from codereset.agents.common import OwnGroupsAgent, follow_up_start, generate
from codereset import buffer  # module import: codereset.buffer imports the agents package

INSTRUCTION = ("There might be an error in the solution above. Check each step, correct the error "
               "if there is one, and write the full solution again in the same format.")


def shaped_rewards(r1: Sequence[float], r2: Sequence[float], alpha: float) -> list[float]:
    """SCoRe stage II's training reward of each second attempt: r2 + alpha * (r2 - r1)."""
    return [b + alpha * (b - a) for a, b in zip(r1, r2, strict=True)]


def _normalized(rewards: Sequence[float]) -> list[float]:
    return [float(a) for a in group_norm(torch.tensor(list(rewards), dtype=torch.float32))]


class ScoreAgent(OwnGroupsAgent):
    name = "score"

    def build_groups(self, builder: Any, tasks: Sequence[Any], times: Any) -> list[buffer.PromptBuffer]:
        slots = builder.cfg.slots
        if slots < 2 or slots % 2:
            raise ValueError(f"score trains first and second attempts in pairs: buffer.slots must be even "
                             f"and >= 2, got {slots}")
        tok = builder.roller.backend.tokenizer
        firsts = generate(builder, [builder.roller.fresh(t, "base") for t in tasks], slots // 2, times)
        starts = [follow_up_start(r, INSTRUCTION, tok, kind="second_attempt") for d in firsts for r in d]
        seconds = generate(builder, starts, 1, times)
        prompts = []
        for p, (task, first) in enumerate(zip(tasks, firsts)):
            second = [g[0] for g in seconds[p * len(first):(p + 1) * len(first)]]
            r1, r2 = [r.reward for r in first], [r.reward for r in second]
            groups = [buffer.Group("first_attempt", first, advantages=_normalized(r1)),
                      buffer.Group("second_attempt", second,
                            advantages=_normalized(shaped_rewards(r1, r2, self.cfg.score.alpha)))]
            prompts.append(buffer.PromptBuffer(task, first, len(first), groups=groups,
                                        diagnostics={"score_improvements": [b - a for a, b in zip(r1, r2)]}))
        return prompts
