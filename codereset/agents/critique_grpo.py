"""Critique-GRPO: a failed rollout gets a critique and one refinement conditioned on it; the group
is the refinements plus the original rollouts.

Per prompt (slots S, refinements R = `agent.critique.refinements`, the release's 1 of 8):
  1. S - R original rollouts from the prompt (batched for all prompts; `BufferBuilder.first_draws`,
     so under trainer.paired the first of them are the draws every agent starts from).
  2. Each of the first R failed originals (draw order; judged wrong, not an infrastructure
     failure) gets a critique, and ONE refinement is sampled from the state (prompt, the failed
     attempt's thoughts as stored ids, the critique as a user turn, the assistant's turn
     opener): `critique_message`, `follow_up_start`.
  3. Slots left when fewer than R originals failed are filled with fresh originals (so every
     prompt trains S rollouts; a prompt with no failure is plain GRPO).
  4. The group (originals + refinements) is normalized together (trainer.advantage). A
     refinement trains only its own tokens, conditioned on the critique it was sampled under.

The critique is written from the verifier's verdict, not generated: "binary" (the release's
default) says the answer is incorrect; "reference" also states the task's reference answer
(math tasks, which carry one). So no critic answer is parsed; a refinement's answer is extracted
and verified by the Thought-MDP rules like any rollout's. Critique tokens are prompt tokens (not
generated); refinement tokens are trained and also reported as tokens_trained_refinement.

Departures from the Critique-GRPO paper (Zhang et al., 2025): no model-written chain-of-thought
critiques, and refinements are trained on-policy under their critique context, without the
paper's policy shaping of off-policy refinements under the original question.
"""

from __future__ import annotations

from typing import Any, Sequence

from codereset.agents.common import OwnGroupsAgent, follow_up_start, generate
from codereset.rollouts import buffer  # module import: codereset.rollouts.buffer imports the agents package
from codereset.rollouts.infra import infra_failed

VARIANTS = ("binary", "reference")
INSTRUCTION = ("Review your solution, find where it goes wrong, and write a corrected solution "
               "step by step in the same format.")


def critique_message(task: Any, variant: str) -> str:
    """The critique of a failed attempt (the user turn the refinement answers)."""
    if variant == "binary":
        return f"Your final answer is incorrect. {INSTRUCTION}"
    if variant == "reference":
        if task.answer is None:
            raise ValueError(f"critique variant 'reference' needs tasks with a reference answer; task "
                             f"{task.task_id!r} (suite {task.suite!r}) has none: use agent.critique.variant=binary")
        return f"Your final answer is incorrect. The correct answer is {task.answer}. {INSTRUCTION}"
    raise ValueError(f"unknown agent.critique.variant={variant!r}; known: {list(VARIANTS)}")


class CritiqueGRPOAgent(OwnGroupsAgent):
    name = "critique_grpo"

    def __init__(self, cfg: Any, ctx: Any) -> None:
        super().__init__(cfg, ctx)
        if cfg.critique.variant not in VARIANTS:
            raise ValueError(f"unknown agent.critique.variant={cfg.critique.variant!r}; known: {list(VARIANTS)}")
        if cfg.critique.refinements < 1:
            raise ValueError(f"agent.critique.refinements must be >= 1, got {cfg.critique.refinements}")

    def check_tasks(self, tasks: Sequence[Any]) -> None:
        if self.cfg.critique.variant == "reference":
            for task in tasks:
                critique_message(task, "reference")

    def build_groups(self, builder: Any, tasks: Sequence[Any], times: Any,
                     seed: int | None = None) -> list[buffer.PromptBuffer]:
        refine = self.cfg.critique.refinements
        if builder.cfg.slots <= refine:
            raise ValueError(f"critique_grpo needs buffer.slots ({builder.cfg.slots}) above "
                             f"agent.critique.refinements ({refine})")
        tok = builder.roller.backend.tokenizer
        originals, probes = builder.first_draws(tasks, "base", builder.cfg.slots - refine, seed, times)
        starts, counts, owners = [], [], []
        for p, (task, draws) in enumerate(zip(tasks, originals)):
            failed = [r for r in draws if not r.correct and not infra_failed(r)][:refine]  # judged wrong
            message = critique_message(task, self.cfg.critique.variant)
            for r in failed:
                starts.append(follow_up_start(r, message, tok, kind="refinement"))
                counts.append(1)
                owners.append(p)
            if len(failed) < refine:
                starts.append(builder.roller.fresh(task, "base"))
                counts.append(refine - len(failed))
                owners.append(p)
        extra = generate(builder, starts, counts, times)
        prompts = []
        for p, (task, draws, probe) in enumerate(zip(tasks, originals, probes)):
            added = [r for o, rs in zip(owners, extra) if o == p for r in rs]
            refinements = [r for r in added if r.kind == "refinement"]
            fresh = [r for r in added if r.kind != "refinement"]
            fresh_draws = draws + probe + fresh  # the probe (pairing surplus, if any) is untrained
            prompts.append(buffer.PromptBuffer(
                task, fresh_draws, len(fresh_draws), groups=[buffer.Group("critique", draws + fresh + refinements)],
                diagnostics={"refinement_correct": [float(r.correct) for r in refinements]}))
        return prompts
