"""Issue 25 items 5, 6, 7, 13 on the gym side: async vector envs, a mixed JSONL file in one env,
data errors that name file and line, and the env's refusals (finished states, long actions)."""

import json
import logging
from pathlib import Path

import gymnasium as gym
import pytest

import envs  # noqa: F401  (registers the env ids)
from envs.state import StateError, ThoughtState
from envs.tasks import load_suite
from envs.tasks.loaders import DataFormatError
from envs.thought_env import ThoughtMDPEnv

FIXTURES = Path(__file__).parent / "fixtures"
S = "</thought>"


# -- item 5: async vector envs ---------------------------------------------------------------
def test_async_vector_env_with_shared_memory_steps_any_text():
    """The issue's command: '<' (outside the Text charset) crashed Gymnasium's shared memory, and
    Text observations were read from it only once."""
    vec = gym.make_vec("ThoughtMDP-Math-v0", num_envs=3, vectorization_mode="async", tasks="arith")
    try:
        obs, _ = vec.reset(seed=0)
        assert isinstance(obs, tuple) and len(obs) == 3 and all(o.endswith("Assistant\n") for o in obs)
        obs, rewards, terminated, truncated, _ = vec.step(("日本 <think> é" + S,) * 3)
        assert all(o.endswith("日本 <think> é" + S) for o in obs) and not terminated.any()
        obs, rewards, terminated, truncated, _ = vec.step(("The answer is 5",) * 3)
        assert terminated.all() and all(o.endswith("The answer is 5") for o in obs)
    finally:
        vec.close()


def test_an_observation_too_big_for_shared_memory_says_what_to_do():
    from gymnasium.vector.utils import create_shared_memory, write_to_shared_memory

    from envs.spaces import SHARED_MEMORY_BYTES, AnyText

    space = AnyText(10 * SHARED_MEMORY_BYTES)
    buffer = create_shared_memory(space, n=2)
    write_to_shared_memory(space, 1, "ünï<>", buffer)
    with pytest.raises(ValueError, match=r"vector_kwargs=\{'shared_memory': False\}"):
        write_to_shared_memory(space, 0, "x" * (SHARED_MEMORY_BYTES + 1), buffer)


# -- item 6: a file of code and math rows in one env -----------------------------------------
def test_the_code_env_keeps_a_mixed_files_code_rows_and_counts_the_rest(caplog):
    path = FIXTURES / "tasks.jsonl"  # 3 code rows, 2 math rows
    with caplog.at_level(logging.WARNING, logger="envs.tasks"):
        env = gym.make("ThoughtMDP-Code-v0", tasks="jsonl", suite_kwargs={"path": str(path)}, sandbox="local")
    assert [t.kind for t in env.unwrapped.tasks] == ["code"] * 3
    assert "kept its 3 code task(s), left out 2 row(s) of the other kind" in caplog.text
    env.close()
    math_env = ThoughtMDPEnv(kind="math", tasks="jsonl", suite_kwargs={"path": str(path)})
    assert [t.task_id for t in math_env.tasks] == ["pens", "half"]


def test_a_file_without_rows_of_the_envs_kind_is_refused(tmp_path):
    path = tmp_path / "math_only.jsonl"
    path.write_text(json.dumps({"task_id": "a", "kind": "math", "problem": "1+1?", "answer": "2"}) + "\n")
    with pytest.raises(ValueError, match=r"math_only.jsonl \(train split\): none of its 1 rows is a code task"):
        ThoughtMDPEnv(kind="code", tasks="jsonl", suite_kwargs={"path": str(path)})


# -- item 7: data errors name file and line --------------------------------------------------
def test_a_non_utf8_byte_names_file_line_and_column(tmp_path):
    path = tmp_path / "latin1.jsonl"
    row = {"task_id": "a", "kind": "math", "problem": "x", "answer": "2"}
    path.write_bytes(json.dumps(row).encode() + b"\n" + b'{"task_id": "b", "problem": "caf\xe9"}\n')
    with pytest.raises(DataFormatError, match=r"latin1.jsonl, line 2, column 33: byte 0xe9 is not UTF-8"):
        load_suite("jsonl", "train", path=path)


def test_an_empty_file_says_it_is_empty(tmp_path):
    (tmp_path / "empty.jsonl").write_text("\n")
    with pytest.raises(DataFormatError, match=r"empty.jsonl: the file is empty"):
        load_suite("jsonl", "train", path=tmp_path / "empty.jsonl")


def test_a_file_without_rows_of_the_split_names_the_splits_it_has(tmp_path):
    path = tmp_path / "train_only.jsonl"
    path.write_text(json.dumps({"task_id": "a", "kind": "math", "problem": "1+1?", "answer": "2",
                                "split": "train"}) + "\n")
    with pytest.raises(DataFormatError, match=r"train_only.jsonl: none of its 1 rows has split 'val' "
                                              r"\(its splits: \['train'\]\)"):
        load_suite("jsonl", "val", path=path)


# -- item 13: the env's refusals ---------------------------------------------------------------
@pytest.fixture()
def arith():
    env = ThoughtMDPEnv(kind="math", tasks="arith", split="val", suite_kwargs={"n": 3})
    yield env
    env.close()


def test_reset_to_a_finished_state_is_refused_there(arith):
    arith.reset(seed=0)
    task = arith.task
    arith.step("The answer is 3")              # no stop pattern: the final thought
    finished = arith.get_state()
    with pytest.raises(StateError, match="the state is terminated after 1 thought"):
        arith.reset_to(finished)
    arith.reset_to(ThoughtState(task.suite, task.task_id, ()))  # its prefix is fine


def test_an_action_longer_than_the_action_space_is_refused(arith):
    arith.reset(seed=0)
    too_long = "x" * (arith.action_space.max_length + 1)
    with pytest.raises(ValueError, match=r"more than action_space.max_length=1000000"):
        arith.step(too_long)
    assert arith.get_state().thoughts == ()    # nothing was appended


def test_a_thought_without_the_stop_pattern_is_the_documented_final_thought(arith):
    arith.reset(seed=0)
    _, _, terminated, _, info = arith.step("I forgot the marker")
    assert terminated and "outcome" in info
    assert "without the stop pattern is the final thought" in " ".join(ThoughtMDPEnv.step.__doc__.split())


# -- item 8: the verifier's message in the step's info, never in an observation -----------------
@pytest.mark.parametrize("body, message, stderr", [
    ("    return -1", "expected 3, got -1", None),
    ("    print('about to fail', file=__import__('sys').stderr)\n    return 1 // 0",
     "ZeroDivisionError: integer division or modulo by zero", "about to fail"),
])
def test_the_outcome_carries_the_verifiers_message_and_the_observation_does_not(body, message, stderr):
    env = ThoughtMDPEnv(kind="code", tasks="jsonl", suite_kwargs={"path": str(FIXTURES / "tasks.jsonl")},
                        sandbox="local")
    try:
        env.reset(options={"task_id": "add"})
        answer = f"```python\ndef add(a, b):\n{body}\n```"
        obs, reward, terminated, _, info = env.step(answer)
        first = info["outcome"]["info"]["first_failure"]
        assert terminated and reward == 0.0 and first["case"] == "case 0"
        assert message in first["message"]
        assert stderr is None or stderr in first.get("stderr_tail", "")
        assert message not in obs and "expected" not in obs[len(env.prompt(env.task)):]
    finally:
        env.close()
