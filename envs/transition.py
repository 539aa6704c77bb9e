"""The Thought-MDP transition, once: how one thought moves a state and when the episode ends.

Both the Gymnasium env (`envs.thought_env.ThoughtMDPEnv.step` / `reset_to`) and the trainer's
rollouts (`codereset.rollouts.rollout.Rollout.advance` / `reset_state`) call these pure functions, so
the states the trainer learns from are states of the env (replaying a logged rollout in the env
gives the same status and reward; tests/codereset/test_replay.py). The shape follows
Gymnasium's functional API (`gymnasium/experimental/functional.py`): the state is an immutable
value (`envs.state.ThoughtState`, which may carry the token ids of each thought), `step` maps
(state, action) to the next state, and re-entering a state (`reset_to_prefix`) is assignment.

An *action* is one thought plus how it ended (`finish`, see `FINISHES`):

  * ``"stop"``   the thought ends with the stop pattern (it is *closed*); the episode goes on
                 unless the final answer is in it or the thought budget is used up;
  * ``"eos"``    the policy emitted end-of-sequence: the episode *terminates* after this thought
                 (its last words). An EOS right after a closed thought is the empty thought "";
  * ``"length"`` the thought's token budget (`ThoughtRules.max_thought_tokens`) ran out before
                 its stop pattern: the thought is cut *open* and the episode is *truncated*
                 (method.md: running out of the budget is a truncation, not a termination).

A plain text action leaves `finish` out (None): a closed thought is "stop", an open one "eos"
(text alone cannot show a token budget; the trainer always passes the backend's finish). A
closed thought that ended at the token budget is complete, so "length" there counts as "stop".

`status`, the one end-of-episode rule, first match wins:
  1. the last thought holds the final answer (math ``\\boxed{}``, code a ```python block):
     ``terminated`` (whatever its finish);
  2. its finish is "eos": ``terminated``;
  3. it is open (finish "length"): ``truncated``;
  4. the thought budget (`ThoughtRules.max_thoughts`) is used up: ``truncated``;
  5. otherwise ``continue``.

A state is *over* when `status` of its thoughts (and the finish of its last one) is not
"continue"; stepping an over state raises.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import NamedTuple

from envs.rules import ThoughtRules
from envs.state import StateError, ThoughtState

Status = str  # "continue", "terminated" or "truncated"
STATUSES = ("continue", "terminated", "truncated")

# How a thought ended (registry; the docs are the rules above).
FINISHES: dict[str, str] = {
    "stop": "closed by the stop pattern; the episode goes on unless it answers or the budget is spent",
    "eos": "end-of-sequence: the episode terminates after this thought (it may be empty)",
    "length": "token budget spent before the stop pattern: cut open, the episode is truncated",
}


class Action(NamedTuple):
    """One thought with how it ended, for `step` (a plain `str` action means finish=None).

    text: the thought's text. finish: "stop", "eos", "length" or None (from the text: closed
    -> "stop", open -> "eos"). token_ids: the thought's token ids, kept in the state when the
    state carries ids (the trainer's, for token-exact resets).
    """

    text: str
    finish: str | None = None
    token_ids: tuple[int, ...] | None = None


def finish_of(rules: ThoughtRules, text: str, finish: str | None) -> str:
    """The finish of a thought `text` reported as `finish` (None: from the text), normalized."""
    closed = rules.is_closed(text)
    if finish is None:
        return "stop" if closed else "eos"
    if finish not in FINISHES:
        raise ValueError(f"unknown finish {finish!r}; known: {sorted(FINISHES)}")
    if finish == "stop" and not closed:
        raise ValueError(f"finish 'stop' needs a thought that ends with the stop pattern {rules.stop!r}; "
                         f"got {text[-40:]!r} (report 'eos' or 'length' for an open thought)")
    return "stop" if finish == "length" and closed else finish


def check_action(rules: ThoughtRules, text: str, finish: str | None = None) -> str:
    """Validate one action; returns its normalized finish. A thought holds the stop pattern at
    most once, at its end; it may be empty only when it ends the episode (finish eos/length)."""
    if not isinstance(text, str):
        raise ValueError(f"a thought must be a str, got {type(text).__name__}")
    finish = finish_of(rules, text, finish) if text else finish
    if text:
        rules.check_thought(text)
    elif finish not in ("eos", "length"):
        raise ValueError("a thought must not be empty, except the end-of-sequence "
                         "Action('', finish='eos') (or an empty 'length' cut)")
    return finish


def status(rules: ThoughtRules, kind: str, thoughts: Sequence[str], finish: str | None = None) -> Status:
    """Where an episode with these `thoughts` stands; `finish` is how the last one ended (None:
    from its text). The end-of-episode rule of the module docstring."""
    rules.extract_answer("", kind)  # unknown kinds raise here, listing the known ones
    if not thoughts:
        return "continue"
    last = thoughts[-1]
    finish = finish_of(rules, last, finish) if last else (finish or "eos")
    if rules.is_final(last, kind) or finish == "eos":
        return "terminated"
    if not rules.is_closed(last) or len(thoughts) >= rules.max_thoughts:
        return "truncated"
    return "continue"


def state_status(rules: ThoughtRules, kind: str, state: ThoughtState) -> Status:
    """`status` of a state (its thoughts and the finish of its last thought)."""
    return status(rules, kind, state.thoughts, state.finish)


def check_state(rules: ThoughtRules, state: ThoughtState) -> ThoughtState:
    """Raise `StateError` unless `state` can be entered under `rules`: every thought well formed,
    only the last open (or empty), its finish consistent, within the thought budget."""
    n = len(state.thoughts)
    for i, thought in enumerate(state.thoughts):
        last = i == n - 1
        try:
            check_action(rules, thought, state.finish if last else None)
        except ValueError as err:
            raise StateError(f"state thought {i} is malformed: {err}") from None
        if not last and not rules.is_closed(thought):
            raise StateError(f"state thought {i} lacks the stop pattern {rules.stop!r}; "
                             "only the last thought may be open")
    if state.finish is not None and not n:
        raise StateError(f"a state without thoughts has no finish, got {state.finish!r}")
    if n > rules.max_thoughts:
        raise StateError(f"state has {n} thoughts, more than the budget max_thoughts={rules.max_thoughts}")
    return state


def step(rules: ThoughtRules, kind: str, state: ThoughtState,
         action: Action | str) -> tuple[ThoughtState, Status]:
    """Append one thought to `state`: the next state and its status (see the module docstring).

    A state with token ids gets this thought's ids appended (the action must then carry them);
    a state without ids stays without (an action's ids are then not kept). Raises ValueError for a malformed action or a state that
    is already over.
    """
    if isinstance(action, str):
        action = Action(action)
    if not isinstance(action, Action):
        raise ValueError(f"an action is a thought (str) or an envs.transition.Action, got {type(action).__name__}")
    if state_status(rules, kind, state) != "continue":
        raise ValueError("the episode is over (terminated or truncated): reset to a state first")
    finish = check_action(rules, action.text, action.finish)
    token_ids = state.token_ids
    if token_ids is not None:
        if action.token_ids is None:
            raise ValueError("this state carries token ids: the action must carry the thought's token_ids")
        token_ids = token_ids + (tuple(int(t) for t in action.token_ids),)
    nxt = ThoughtState(state.suite, state.task_id, state.thoughts + (action.text,), finish=finish,
                       token_ids=token_ids)
    return nxt, status(rules, kind, nxt.thoughts, finish)


def initial(suite: str, task_id: str, with_token_ids: bool = False) -> ThoughtState:
    """The initial state of a task: no thoughts (with an empty token-id list when asked)."""
    return ThoughtState(suite, task_id, (), token_ids=() if with_token_ids else None)


def reset_to_prefix(state: ThoughtState, h: int) -> ThoughtState:
    """The state x* = (prompt, thoughts 1..h-1) of `state` (and their token ids), h 1-based as
    method.md's h*: h=1 is the empty prefix, h ranges over 1..n (n = thoughts in `state`)."""
    n = len(state.thoughts)
    if not 1 <= h <= n:
        raise ValueError(f"reset index h={h} out of range 1..{n} for a state with {n} thoughts")
    keep = h - 1
    return replace(state, thoughts=state.thoughts[:keep], finish="stop" if keep else None,
                   token_ids=None if state.token_ids is None else state.token_ids[:keep])
