"""envs.transition: the one end-of-episode rule, token-carrying steps, reset to a prefix, and the
env as a thin caller (same states, same statuses)."""

import gymnasium as gym
import pytest

import envs  # noqa: F401  (registers the env ids)
from envs import transition
from envs.rules import ThoughtRules
from envs.state import StateError, ThoughtState
from envs.transition import Action, initial, reset_to_prefix, status, step

RULES = ThoughtRules()
S = RULES.stop
CLOSED = f"step{S}"


@pytest.mark.parametrize("thoughts,finish,kind,expected", [
    ((), None, "math", "continue"),
    ((CLOSED,), None, "math", "continue"),
    ((CLOSED,), "stop", "math", "continue"),
    ((CLOSED, rf"so \boxed{{3}}{S}"), None, "math", "terminated"),
    ((CLOSED, r"so \boxed{3}"), "length", "math", "terminated"),   # open but final: answer wins
    ((CLOSED, "cut mid-thought"), "length", "math", "truncated"),  # token budget: truncation
    ((CLOSED, "last words"), "eos", "math", "terminated"),         # end-of-sequence: termination
    ((CLOSED, "last words"), None, "math", "terminated"),          # open text alone reads as eos
    ((CLOSED, ""), "eos", "math", "terminated"),                   # EOS right after a closed thought
    ((CLOSED, CLOSED), "length", "math", "continue"),              # closed at the budget: complete
    ((CLOSED,) * 20, None, "math", "truncated"),                   # thought budget
    ((CLOSED,) * 19, None, "math", "continue"),
    ((CLOSED,) * 19 + ("```python\nx=1\n```" + S,), None, "code", "terminated"),  # answer beats budget
    ((CLOSED,) * 19 + ("eos here",), "eos", "code", "terminated"),  # eos beats budget
])
def test_status_known_answers(thoughts, finish, kind, expected):
    assert status(RULES, kind, thoughts, finish) == expected


def test_status_budget_and_kinds():
    assert status(ThoughtRules(max_thoughts=2), "code", (CLOSED, CLOSED)) == "truncated"
    with pytest.raises(ValueError, match="code.*math"):
        status(RULES, "chess", ())


@pytest.mark.parametrize("text,finish,words", [
    ("open", "stop", "needs a thought that ends with the stop pattern"),
    ("", None, "must not be empty"),
    ("", "stop", "must not be empty"),
    (f"a{S}b", None, "only at its end"),
    ("x", "done", "unknown finish"),
])
def test_bad_actions_raise(text, finish, words):
    with pytest.raises(ValueError, match=words):
        step(RULES, "math", initial("arith", "t"), Action(text, finish))


def test_step_carries_token_ids_and_finish():
    s0 = initial("arith", "t", with_token_ids=True)
    s1, st1 = step(RULES, "math", s0, Action(CLOSED, "stop", (1, 2)))
    s2, st2 = step(RULES, "math", s1, Action("", "eos", ()))
    assert (st1, st2) == ("continue", "terminated")
    assert s2 == ThoughtState("arith", "t", (CLOSED, ""), finish="eos", token_ids=((1, 2), ()))
    assert ThoughtState.from_json(s2.to_json()) == s2
    with pytest.raises(ValueError, match="episode is over"):
        step(RULES, "math", s2, CLOSED)
    with pytest.raises(ValueError, match="must carry the thought's token_ids"):
        step(RULES, "math", s1, CLOSED)
    # A text-only state stays text-only.
    t1, _ = step(RULES, "math", initial("arith", "t"), Action(CLOSED, "stop", (1, 2)))
    assert t1.token_ids is None and t1.finish == "stop"


def test_reset_to_prefix_is_token_exact_and_enterable():
    s = initial("arith", "t", with_token_ids=True)
    for i, (text, finish) in enumerate([(f"a{S}", "stop"), (f"b{S}", "stop"), ("c", "length")]):
        s, _ = step(RULES, "math", s, Action(text, finish, (i, i + 10)))
    assert transition.state_status(RULES, "math", s) == "truncated"
    x = reset_to_prefix(s, 3)
    assert x == ThoughtState("arith", "t", (f"a{S}", f"b{S}"), "stop", ((0, 10), (1, 11)))
    assert transition.state_status(RULES, "math", x) == "continue"
    assert reset_to_prefix(s, 1) == ThoughtState("arith", "t", (), None, ())
    for bad in (0, 4):
        with pytest.raises(ValueError, match="out of range 1..3"):
            reset_to_prefix(s, bad)


def test_check_state():
    with pytest.raises(StateError, match="lacks the stop pattern"):
        transition.check_state(RULES, ThoughtState("a", "t", ("open", CLOSED)))
    with pytest.raises(StateError, match="no finish"):
        transition.check_state(RULES, ThoughtState("a", "t", (), "stop"))
    with pytest.raises(StateError, match="token ids for 0"):
        ThoughtState("a", "t", (CLOSED,), token_ids=())
    with pytest.raises(StateError, match="more than the budget"):
        transition.check_state(ThoughtRules(max_thoughts=1), ThoughtState("a", "t", (CLOSED, CLOSED)))


def test_env_is_a_thin_caller():
    """The env reaches the transition's states and statuses, for every finish."""
    env = gym.make("ThoughtMDP-Math-v0", split="val", suite_kwargs={"n": 5})
    try:
        for action, want in [(Action("cut", "length"), (False, True)), (Action("", "eos"), (True, False)),
                             ("open words", (True, False)), (Action("bye", "eos"), (True, False))]:
            env.reset(seed=0)
            start = env.unwrapped.get_state()
            env.step(CLOSED)
            _, reward, terminated, truncated, info = env.step(action)
            expected, st = step(RULES, "math", step(RULES, "math", start, CLOSED)[0], action)
            assert env.unwrapped.get_state() == expected
            assert (terminated, truncated) == want == (st == "terminated", st == "truncated")
            assert reward == 0.0 and "outcome" in info
        # reset_to a token-carrying prefix state, then continue it.
        env.reset(seed=0)
        s = env.unwrapped.get_state()
        s_ids = ThoughtState(s.suite, s.task_id, (CLOSED,), "stop", ((5, 6),))
        env.unwrapped.reset_to(s_ids)
        env.step(Action(f"more{S}", "stop", (7,)))
        assert env.unwrapped.get_state().token_ids == ((5, 6), (7,))
    finally:
        env.close()
