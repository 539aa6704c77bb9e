"""The code reward: the fraction of test cases passed by default, all-or-nothing on request;
`correct` means every case passed either way (envs.verify.CODE_REWARDS)."""

import pytest

from envs.tasks import Task
from envs.verify import CODE_REWARDS, Verifier

S = "</thought>"


def _task():
    from sandboxes import CallTests

    tests = CallTests(entry_point="f", cases=(((1,), 2), ((2,), 4), ((3,), 6), ((4,), 9)))
    return Task(task_id="double", suite="mine", kind="code", problem="Write f(x) = 2x.",
                reference=(), tests=tests, answer=None)


def _answer(body):
    return [f"Final answer:\n```python\ndef f(x):\n    return {body}\n```{S}"]


@pytest.mark.parametrize("reward, expected", [("fraction", [1.0, 0.75, 0.0]),
                                              ("all_or_nothing", [1.0, 0.0, 0.0])])
def test_code_reward_modes(reward, expected, sandbox):
    task = _task()                       # case 4 expects 9: x * 2 passes 3 of 4 cases
    answers = [_answer("x * 2 + (x == 4)"), _answer("x * 2"), _answer("x + 100")]
    outcomes = Verifier(sandbox=sandbox, code_reward=reward).score_many([(task, a) for a in answers])
    assert [o.reward for o in outcomes] == expected
    assert [o.correct for o in outcomes] == [True, False, False]
    assert outcomes[1].info["n_passed"] == 3 and outcomes[1].info["n_cases"] == 4


def test_unknown_code_reward_lists_the_known_ones():
    with pytest.raises(ValueError, match=r"unknown code_reward 'binary'; known: \['all_or_nothing', 'fraction'\]"):
        Verifier(sandbox="local", code_reward="binary")
    assert sorted(CODE_REWARDS) == ["all_or_nothing", "fraction"]


def test_the_env_passes_the_code_reward_on():
    import gymnasium as gym

    import envs  # noqa: F401

    env = gym.make("ThoughtMDP-Code-v0", tasks=[_task()], sandbox="local", code_reward="all_or_nothing")
    assert env.unwrapped.verifier.code_reward == "all_or_nothing"
    env.close()
