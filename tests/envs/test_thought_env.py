"""ThoughtMDPEnv on the math suite: Gymnasium API, reset_to round trips, budget, state errors, oracle.

(The code env's checks, which need a sandbox, are in test_code_env.py.)
"""

import json
import warnings

import gymnasium as gym
import pytest
from gymnasium.utils.env_checker import check_env, data_equivalence

import envs  # noqa: F401  (registers the env ids)
from envs.rules import ThoughtRules
from envs.state import StateError, ThoughtState
from envs.tasks import load_suite
from envs.thought_env import ThoughtMDPEnv

S = "</thought>"


@pytest.fixture
def env():
    e = gym.make("ThoughtMDP-Math-v0", split="val", suite_kwargs={"n": 40})
    yield e
    e.close()


def check_reset_to_determinism(env, action, seed=123):
    """Gymnasium-style determinism check for resets: get_state, step, reset_to, step again."""
    env.reset(seed=seed)
    state = env.unwrapped.get_state()
    first = env.step(action)
    obs, info = env.unwrapped.reset_to(state)
    assert env.unwrapped.get_state() == state
    second = env.step(action)
    for a, b in zip(first, second, strict=True):
        assert data_equivalence(a, b, exact=True)
    # Also through reset(options={"state": ...}) and through the JSON form of the state.
    env.reset(options={"state": state})
    assert data_equivalence(env.step(action), first, exact=True)
    env.unwrapped.reset_to(state.to_json())
    assert data_equivalence(env.step(action), first, exact=True)


def test_check_env_passes_without_warnings(env):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check_env(env.unwrapped)
    assert [str(w.message) for w in caught] == []


def test_spaces_accept_any_unicode(env):
    e = env.unwrapped
    assert "naïve ∑ 日本 \x00 🙂" in e.observation_space
    assert f"日本 🙂{S}" in e.action_space and "open 🙂" in e.action_space
    assert f"two{S}thoughts{S}" not in e.action_space and "" not in e.action_space
    assert e.action_space.sample().endswith(S)


def test_reset_to_roundtrip_midway_and_terminal(env):
    check_reset_to_determinism(env, f"Let me think.{S}")
    env.reset(seed=5)
    task = env.unwrapped.task
    for thought in task.reference[:-1]:
        env.step(thought)
    check_reset_to_determinism(env, task.reference[-1], seed=5)


def test_reset_to_a_deep_state_step_by_step_equals_direct_play(env):
    env.reset(seed=1)
    task = env.unwrapped.task
    played = [env.step(t) for t in task.reference]
    state = ThoughtState(task.suite, task.task_id, task.reference[:-1])
    env.unwrapped.reset_to(state)
    assert data_equivalence(env.step(task.reference[-1]), played[-1], exact=True)


def test_references_score_one_and_wrong_answer_scores_zero(env):
    for task in env.unwrapped.tasks[:20]:
        env.reset(options={"task_id": task.task_id})
        for i, thought in enumerate(task.reference):
            obs, reward, terminated, truncated, info = env.step(thought)
            assert terminated == (i == len(task.reference) - 1) and not truncated
        assert reward == 1.0 and info["outcome"]["correct"]
        assert obs.endswith("".join(task.reference))
        env.reset(options={"task_id": task.task_id})
        wrong = rf"The answer is \boxed{{{int(task.answer) + 1}}}.{S}"
        _, reward, terminated, _, info = env.step(wrong)
        assert terminated and reward == 0.0 and info["outcome"]["status"] == "wrong_answer"


def test_open_thought_ends_the_episode(env):
    env.reset(seed=0)
    _, reward, terminated, truncated, info = env.step("I give up")
    assert (reward, terminated, truncated) == (0.0, True, False)
    assert info["outcome"]["status"] == "no_answer"
    with pytest.raises(RuntimeError, match="episode is over"):
        env.step(f"more{S}")


def test_budget_counted_inside_env_truncates_after_reset_to():
    env = ThoughtMDPEnv(kind="math", tasks="arith", split="val", suite_kwargs={"n": 5},
                        rules=ThoughtRules(max_thoughts=4))
    env.reset(seed=0)
    flags = [env.step(f"step {i}{S}")[2:4] for i in range(4)]
    assert flags == [(False, False)] * 3 + [(False, True)]
    task = env.task
    env.reset_to(ThoughtState(task.suite, task.task_id, (f"a{S}",) * 3))
    _, reward, terminated, truncated, info = env.step(f"b{S}")
    assert (reward, terminated, truncated) == (0.0, False, True)
    assert info["n_thoughts"] == 4
    # A final answer in the last allowed thought terminates instead.
    env.reset_to(ThoughtState(task.suite, task.task_id, (f"a{S}",) * 3))
    assert env.step(rf"\boxed{{{task.answer}}}{S}")[1:4] == (1.0, True, False)
    # A state already at the budget is over: refused at reset_to (issue 25 item 13); one past it too.
    with pytest.raises(StateError, match="the state is truncated after 4 thought.*reset_to_prefix"):
        env.reset_to(ThoughtState(task.suite, task.task_id, (f"a{S}",) * 4))
    with pytest.raises(StateError, match="the state is terminated"):
        env.reset(options={"state": ThoughtState(task.suite, task.task_id, (rf"\boxed{{1}}{S}",))})
    with pytest.raises(StateError, match="budget"):
        env.reset_to(ThoughtState(task.suite, task.task_id, (f"a{S}",) * 5))


def test_rendering_a_state_and_splitting_it_again_gives_the_state(env):
    e = env.unwrapped
    e.reset(seed=2)
    for thoughts in [(), (f"a{S}",), (f"naïve{S}", f"\n{S}", "open end"), (f"{S}",) * 5]:
        state = ThoughtState(e.task.suite, e.task.task_id, thoughts)
        assert e.state_of(e.observation_of(state)) == state
    with pytest.raises(StateError, match="does not start with the prompt"):
        e.state_of("something else")


def test_state_is_hashable_and_json_roundtrips(env):
    env.reset(seed=0)
    env.step(f"naïve 日本{S}")
    state = env.unwrapped.get_state()
    assert ThoughtState.from_json(state.to_json()) == state
    assert hash(state) == hash(ThoughtState.from_json(json.loads(state.to_json())))


@pytest.mark.parametrize("bad,match", [
    (ThoughtState("humaneval", "HumanEval/0", ()), "suite 'humaneval'"),
    (ThoughtState("arith", "arith/1-nope", ()), "not among"),
    ('{"suite": "arith"}', "missing"),
    ("not json", "does not parse"),
    ({"suite": "arith", "task_id": "x", "thoughts": "abc"}, "list of str"),
    (42, "ThoughtState"),
])
def test_bad_states_raise_clear_errors(env, bad, match):
    with pytest.raises(StateError, match=match):
        env.unwrapped.reset_to(bad)


def test_malformed_thoughts_in_state(env):
    env.reset(seed=0)
    task = env.unwrapped.task
    with pytest.raises(StateError, match="thought 0 lacks the stop"):
        env.unwrapped.reset_to(ThoughtState(task.suite, task.task_id, ("open", f"b{S}")))
    with pytest.raises(StateError, match="thought 0 is malformed"):
        env.unwrapped.reset_to(ThoughtState(task.suite, task.task_id, (f"a{S}b{S}",)))
    with pytest.raises(StateError, match="tuple of str"):
        ThoughtState(task.suite, task.task_id, ["a"])


def test_bad_actions_and_options(env):
    env.reset(seed=0)
    with pytest.raises(ValueError, match="stop pattern"):
        env.step(f"one{S}two{S}")
    with pytest.raises(ValueError, match="known"):
        env.reset(options={"task": "x"})
    with pytest.raises(ValueError, match="no task"):
        env.reset(options={"task_id": "missing"})


def test_first_error_through_env(env):
    env.reset(seed=3)
    task = env.unwrapped.task
    assert env.unwrapped.first_error() is None
    for thought in task.reference:
        env.step(thought)
    assert env.unwrapped.first_error() is None
    state = ThoughtState(task.suite, task.task_id, (f"I think 1 + 1 = 3.{S}",))
    assert env.unwrapped.first_error(state) == 0


def test_kind_mismatch_is_rejected():
    with pytest.raises(ValueError, match="another kind"):
        ThoughtMDPEnv(kind="code", tasks=load_suite("arith", "val", n=2))
    with pytest.raises(ValueError, match="unknown task kind 'chess'"):
        ThoughtMDPEnv(kind="chess", tasks=load_suite("arith", "val", n=2))
    with pytest.raises(ValueError, match="unknown task suite 'nope'; known suites: \\['apps', 'arith'"):
        gym.make("ThoughtMDP-Math-v0", tasks="nope")
