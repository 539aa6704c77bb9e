"""SCoRe-style two-attempt self-correction: a second attempt conditioned on the first, trained
with SCoRe's stage-II reward shaping for improvement.

Per prompt (slots S, even): S/2 first attempts from the prompt (`BufferBuilder.first_draws`:
paired), then for each one second attempt from the state (prompt, the first attempt's thoughts as
stored ids, the self-correction instruction `INSTRUCTION` as a user turn, the assistant's turn
opener): `follow_up_start`, one batched call. Two groups per prompt, each normalized on its own
by trainer.advantage (group_norm by default), like every agent's groups:
  - first attempts, on their rewards r1;
  - second attempts, on the shaped reward r2 + alpha * (r2 - r1) (`agent.score.alpha`,
    `Group.shaped_rewards`): a second attempt that fixes a wrong first one is worth more than
    one that repeats a right one, and one that breaks a right answer is penalized (SCoRe's
    progress bonus). A first attempt the verifier could not judge (`codereset.rollouts.infra`) gives its
    second attempt no bonus (shaped = r2).

What is approximated (SCoRe, Kumar et al., 2024): stage I (train the second attempt while a strong
KL keeps the first near the base model) is not run as its own phase, and there is no KL term at
all; stage II's shaped objective is trained from the first step, with this project's loss
("pg", one on-policy step) and per-group advantages from trainer.advantage (group_norm by
default, so the comparison with the other agents differs only in the groups) instead of REINFORCE
with a KL penalty; one second attempt per first.
Second-attempt tokens are trained and also reported as tokens_trained_second_attempt.
"""

from __future__ import annotations

from typing import Any, Sequence

from codereset.agents.common import OwnGroupsAgent, follow_up_start, generate
from codereset.rollouts import buffer  # module import: codereset.rollouts.buffer imports the agents package
from codereset.rollouts.infra import infra_failed

INSTRUCTION = ("There might be an error in the solution above. Check each step, correct the error "
               "if there is one, and write the full solution again in the same format.")


def shaped_rewards(r1: Sequence[float], r2: Sequence[float], alpha: float) -> list[float]:
    """SCoRe stage II's training reward of each second attempt: r2 + alpha * (r2 - r1)."""
    return [b + alpha * (b - a) for a, b in zip(r1, r2, strict=True)]


class ScoreAgent(OwnGroupsAgent):
    name = "score"

    def build_groups(self, builder: Any, tasks: Sequence[Any], times: Any,
                     seed: int | None = None) -> list[buffer.PromptBuffer]:
        slots = builder.cfg.slots
        if slots < 2 or slots % 2:
            raise ValueError(f"score trains first and second attempts in pairs: buffer.slots must be even "
                             f"and >= 2, got {slots}")
        tok = builder.roller.backend.tokenizer
        firsts, probes = builder.first_draws(tasks, "base", slots // 2, seed, times)
        starts = [follow_up_start(r, INSTRUCTION, tok, kind="second_attempt") for d in firsts for r in d]
        seconds = generate(builder, starts, 1, times)
        prompts = []
        for p, (task, first, probe) in enumerate(zip(tasks, firsts, probes)):
            second = [g[0] for g in seconds[p * len(first):(p + 1) * len(first)]]
            r2 = [r.reward for r in second]
            r1 = [b if infra_failed(a) else a.reward for a, b in zip(first, r2)]  # unjudged: no bonus
            groups = [buffer.Group("first_attempt", first),
                      buffer.Group("second_attempt", second, shaped_rewards=shaped_rewards(r1, r2, self.cfg.score.alpha))]
            prompts.append(buffer.PromptBuffer(task, first + probe, len(first) + len(probe), groups=groups,
                                               diagnostics={"score_improvements": [b - a for a, b in zip(r1, r2)]}))
        return prompts
