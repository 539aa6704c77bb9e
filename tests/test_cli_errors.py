"""The command line's configuration errors (issue 18 items 2, 3, 7, 9): one `error:` line that
says what to change, exit status 2, before anything slow, and no directory created. Each runs in
an empty working directory, so `outputs/` appearing there would show Hydra started a job."""

import os
import subprocess
import sys
import time

import pytest

from codereset.agents import AGENTS

FAST_S = 30.0  # the preflight composes the config and imports torch; no model loads


def run(module, cwd, *args, env=None):
    started = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", module, *args], cwd=cwd, capture_output=True, text=True,
                          timeout=120, env={**os.environ, **(env or {})})
    return proc, time.monotonic() - started


@pytest.mark.parametrize("args, message", [
    (["model=tiny"], f"error: no agent chosen: add +agent=NAME, one of {sorted(AGENTS)}"),
    (["+agent=grpo", "+trainer.stepz=3"], "error: unknown config key 'trainer.stepz' (valid keys here: advantage,"),
    (["+agent=grpo", "+stepz=3"], "error: unknown config key 'stepz' (valid keys here: agent, backend,"),
    (["+agent=grpo", "trainer.stepz=3"], "error: unknown config key 'trainer.stepz' (valid keys here: advantage,"),
    (["+agent=grpo", "env.taks=arith"], "error: unknown config key 'env.taks' (valid keys here: code_reward,"),
    (["+agent=grpo", "model.name=does/not-exist"], "error: model.name='does/not-exist' is not a named model, not a "
                                                   "local path, and not in the Hugging Face cache (offline"),
    (["+agent=grpo", "model.name=./no/such/dir"], "error: model.name='./no/such/dir': no such file or directory"),
    (["+agent=grpo", "model=tiny", "logging.wandb=true"], "error: logging.wandb=true needs the wandb package"),
    (["+agent=ppo"], "error: In 'train': Could not find 'agent/ppo' Available options in 'agent': caro"),
])
def test_train_config_errors_are_one_line_exit_2_and_create_nothing(tmp_path, args, message):
    if "wandb" in message and __import__("importlib").util.find_spec("wandb") is not None:
        pytest.skip("wandb is installed here")
    proc, seconds = run("codereset.train", tmp_path, *args, env={"HF_HUB_OFFLINE": "1"})
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert proc.stderr.startswith(message), proc.stderr
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    assert list(tmp_path.iterdir()) == []                 # no outputs/DATE/TIME, no run dir
    assert seconds < FAST_S


def test_an_unreachable_hub_is_one_line_without_retries(tmp_path):
    # no HF_HUB_OFFLINE: the one look-up fails at once here (no network), with no retries
    env = {k: "" for k in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")}
    proc, seconds = run("codereset.train", tmp_path, "+agent=grpo", "model.name=does/not-exist", env=env)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1
    assert proc.stderr.startswith("error: model.name='does/not-exist' ")
    assert "hub" in proc.stderr and seconds < FAST_S


def test_caro_needing_the_exact_oracle_on_a_suite_without_one_fails_fast(tmp_path):
    from codereset.config import AgentConfig

    if "oracle" not in AgentConfig.__dataclass_fields__:
        pytest.skip("caro has no agent.oracle option in this tree")
    proc, seconds = run("codereset.train", tmp_path, "+agent=caro", "agent.oracle=exact", "model=tiny")
    assert proc.returncode == 2 and "env=math_arith" in proc.stderr and proc.stderr.count("\n") == 1
    assert list(tmp_path.iterdir()) == [] and seconds < FAST_S


def test_evaluate_errors_and_help(tmp_path):
    proc, _ = run("codereset.evaluate", tmp_path, "+eval.kk=3")
    assert proc.returncode == 2 and proc.stderr.startswith("error: unknown config key 'eval.kk'")
    assert list(tmp_path.iterdir()) == []
    proc, _ = run("codereset.evaluate", tmp_path, "--help")
    assert proc.returncode == 0
    groups = proc.stdout.split("Config groups")[1].split("What to measure")[0]
    assert "model:" in groups and "env:" in groups and "sandbox:" in groups
    assert "agent" not in groups and "experiment" not in groups      # training-only groups


def test_evaluate_help_lists_the_presets_that_exist(tmp_path):
    from pathlib import Path

    from codereset.config import conf_dir

    proc, _ = run("codereset.evaluate", tmp_path, "--help")
    for group in ("model", "env", "sandbox"):
        line = next(ln for ln in proc.stdout.splitlines() if ln.strip().startswith(f"{group}:"))
        listed = line.split(":", 1)[1].split("(")[0].replace(",", " ").split()
        assert listed == sorted(p.stem for p in (Path(conf_dir()) / group).glob("*.yaml")), group


MATH_ROW = {"task_id": "a", "kind": "math", "problem": "1+1?", "answer": "2", "split": "train"}


@pytest.mark.parametrize("content, message", [
    # the non-UTF-8 byte and the empty file: tests/envs/test_gym_and_data_issue25.py, in-process
    (__import__("json").dumps(MATH_ROW).encode() + b"\n",
     "data.jsonl: none of its 1 rows has split 'val' (its splits: ['train'])"),
])
def test_data_errors_name_file_and_line_and_leave_no_run_folder(tmp_path, content, message):
    """Issue 25 item 7: the file's errors stop at the preflight, before Hydra makes outputs/...
    (a file without val rows used to leave a stub run folder: the train split loaded, val did not)."""
    data = tmp_path / "data" / "data.jsonl"
    data.parent.mkdir()
    data.write_bytes(content)
    work = tmp_path / "work"
    work.mkdir()
    proc, _ = run("codereset.train", work, "+agent=grpo", "model=tiny", "env=math_arith", "env.tasks=jsonl",
                  f"+env.suite_options.path={data}")
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and message in proc.stderr, proc.stderr
    assert list(work.iterdir()) == []
