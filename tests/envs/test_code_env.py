"""ThoughtMDP-Code-v0: Gymnasium API, reset_to round trip through a sandbox reward, and HumanEval
canonical solutions played as one thought (reward 1.0) against broken ones (< 1.0)."""

import warnings

import gymnasium as gym
import pytest
from gymnasium.utils.env_checker import check_env, data_equivalence

import envs  # noqa: F401
from envs.tasks import load_suite
from envs.thought_env import ThoughtMDPEnv

S = "</thought>"


def test_check_env_passes_without_warnings():
    env = gym.make("ThoughtMDP-Code-v0", suite_kwargs={"n": 30})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check_env(env.unwrapped)
    assert [str(w.message) for w in caught] == []
    env.close()


@pytest.fixture(scope="module")
def humaneval_env(sandbox):
    env = ThoughtMDPEnv(kind="code", tasks="humaneval", split="test", sandbox=sandbox)
    yield env
    env.close()


def test_reset_to_roundtrip_with_a_scored_step(humaneval_env):
    env = humaneval_env
    env.reset(options={"task_id": "HumanEval/2"})
    env.step(f"I take the part after the decimal point.{S}")
    state = env.get_state()
    action = "```python\ndef truncate_number(number: float) -> float:\n    return number % 1.0\n```" + S
    first = env.step(action)
    assert first[1:3] == (1.0, True)
    summary = first[4]["outcome"]["info"]
    assert summary["n_cases"] == summary["n_passed"] > 0 and "first_failure" not in summary
    env.reset_to(state)
    assert data_equivalence(env.step(action), first, exact=True)
    env.reset(options={"state": state.to_json()})
    assert data_equivalence(env.step(action), first, exact=True)


def test_humaneval_canonical_solutions_score_one_as_one_thought(humaneval_env):
    env = humaneval_env
    for task in env.tasks:
        env.reset(options={"task_id": task.task_id})
        obs, reward, terminated, truncated, info = env.step(task.reference[0])
        assert (reward, terminated, truncated) == (1.0, True, False), (task.task_id, info)
        assert info["outcome"]["correct"]


def test_humaneval_wrong_solutions_score_below_one(humaneval_env, verifier):
    tasks = load_suite("humaneval", "test")
    wrong = [f"```python\ndef {t.tests.entry_point}(*args, **kwargs):\n    return None\n```{S}" for t in tasks]
    outcomes = verifier.score_many([(t, [w]) for t, w in zip(tasks, wrong)])
    assert [t.task_id for t, o in zip(tasks, outcomes) if o.reward >= 1.0] == []
    env = humaneval_env
    env.reset(options={"task_id": "HumanEval/0"})
    _, reward, terminated, _, info = env.step(wrong[0])
    assert terminated and reward < 1.0 and not info["outcome"]["correct"]
    summary = info["outcome"]["info"]
    assert summary["n_cases"] > summary["n_passed"] == round(reward * summary["n_cases"])
    assert summary["first_failure"]["status"] == "wrong_answer"


# Wrong answers that also redefine the prompt's helper the tests call (issue 17 item 2): the
# tests must use the problem's helper, so each scores below 1.
HELPER_REDEFINED = {
    "HumanEval/32": "def poly(xs, x):\n    return 0.0\n\ndef find_zero(xs):\n    return 0.0\n",
    "HumanEval/38": "def encode_cyclic(s):\n    return s\n\ndef decode_cyclic(s):\n    return s\n",
    "HumanEval/50": "def encode_shift(s):\n    return s\n\ndef decode_shift(s):\n    return s\n",
}


@pytest.mark.parametrize("task_id", sorted(HELPER_REDEFINED))
def test_redefined_prompt_helper_does_not_pass(humaneval_env, task_id):
    env = humaneval_env
    env.reset(options={"task_id": task_id})
    _, reward, terminated, _, info = env.step(f"```python\n{HELPER_REDEFINED[task_id]}```{S}")
    assert terminated and reward < 1.0 and not info["outcome"]["correct"], info


def test_no_code_block_and_untagged_block(humaneval_env):
    env = humaneval_env
    env.reset(options={"task_id": "HumanEval/0"})
    _, reward, terminated, truncated, _ = env.step(f"```\nnot python\n```{S}")
    assert (reward, terminated, truncated) == (0.0, False, False)  # not a final answer: go on
    _, reward, terminated, _, info = env.step("I stop here.")  # open thought = end of sequence
    assert (reward, terminated, info["outcome"]["status"]) == (0.0, True, "no_answer")


def test_basic_reference_through_env(sandbox):
    env = ThoughtMDPEnv(kind="code", tasks="basic", split="val", suite_kwargs={"n": 10}, sandbox=sandbox)
    for task in env.tasks:
        env.reset(options={"task_id": task.task_id})
        results = [env.step(t) for t in task.reference]
        assert [r[2] for r in results] == [False] * (len(results) - 1) + [True]
        assert results[-1][1] == 1.0
    env.close()
