"""Shared pieces of the agents that build their own groups (Critique-GRPO, SCoRe, SPO-tree, VinePPO).

- `generate(builder, starts, counts, times)`: one batched `Roller.run` over the start states,
  then one batched verifier call, timed as the "generate" and "verify" phases;
- `follow_up_start(rollout, message, tokenizer)`: a new start state that continues a finished
  attempt with a user turn (a critique, a self-correction instruction), token-exact: the
  attempt's stored ids, then the chat template's turn break and `message` (see its docstring);
- `OwnGroupsAgent`: the base of those agents (no seed search, no reset choice).
"""

from __future__ import annotations

from typing import Any, Sequence

from codereset.agents.base import Agent, ResetChoice
from codereset.rollouts.rollout import Rollout

_MARK = "\x00ATTEMPT\x00"


def generate(builder: Any, starts: Sequence[Rollout], counts: int | Sequence[int], times: Any) -> list[list[Rollout]]:
    """`counts` rollouts from each start (one batched call), scored; [len(starts)][count]."""
    with times.phase("generate"):
        groups = builder.roller.run(list(starts), counts)
    with times.phase("verify"):
        builder.roller.score(builder.verifier, [r for g in groups for r in g])
    return groups


def turn_break(tokenizer: Any, message: str) -> str:
    """The text between the end of an assistant turn's content and the next assistant turn's
    content when a user turn `message` comes in between, as the prompt format renders it (the
    tokenizer's chat template, else the plain-text format of `envs.prompts.render_messages`)."""
    from envs.prompts import render_messages

    text = render_messages([{"role": "user", "content": "Q"}, {"role": "assistant", "content": _MARK},
                            {"role": "user", "content": message}], tokenizer)
    if _MARK not in text:
        raise ValueError("the chat template drops assistant turns from the history; a follow-up turn "
                         "cannot continue an attempt token-exactly with this tokenizer")
    return text.split(_MARK, 1)[1]


def follow_up_start(rollout: Rollout, message: str, tokenizer: Any, kind: str) -> Rollout:
    """A start state (no thoughts yet) whose prompt is the attempt's prompt and thoughts, as the
    stored token ids, followed by the user turn `message` and the assistant's turn opener. The
    attempt's EOS (if it sampled one) is not kept: the turn break closes the turn itself."""
    ids = rollout.prefix_ids() + list(tokenizer(turn_break(tokenizer, message), add_special_tokens=False)["input_ids"])
    return Rollout(task=rollout.task, prompt_ids=ids, kind=kind, stop=rollout.stop, eos_id=rollout.eos_id)


class OwnGroupsAgent(Agent):
    """An agent that arranges each prompt's groups itself (`build_groups`); it never resets."""

    uses_resets = False

    def choose_resets(self, seeds: Sequence[Any]) -> list[ResetChoice]:
        if seeds:
            raise ValueError(f"agent {self.name} builds its own groups: the buffer must not search seeds for it")
        return []
