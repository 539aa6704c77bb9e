"""Run-directory safety (issue 18 items 1, 2, 4): a resume refuses a config that changes the
method and fewer steps than done; a refused start touches nothing; a dead owner reads "dead".
Run dirs are made by hand (config.yaml composed from conf/, a checkpoint marker), so no model
loads; the command-line tests are subprocesses that end at the preflight."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from codereset.config import conf_dir
from codereset.run.resume import RESUME_MAY_CHANGE, RunDirError, check_run_dir, config_changes
from codereset.run.rundir import RunDir, current_owner, effective_state, owner_alive
from codereset.train import register

ROOT = Path(__file__).resolve().parents[3]
BASE = ["+agent=srpo", "model=tiny"]


def config_yaml(*overrides, agent="srpo"):
    register()
    with initialize_config_dir(config_dir=conf_dir(), version_base="1.3"):
        cfg = compose(config_name="train", overrides=[f"+agent={agent}", "model=tiny", *overrides])
        return OmegaConf.to_yaml(cfg, resolve=True)


def fake_run(path: Path, done: int, *overrides, owner=None) -> Path:
    """A run dir as a run leaves it after `done` steps (config.yaml, metrics rows, a checkpoint)."""
    run = RunDir(path)
    run.write_config(config_yaml(f"trainer.output_dir={path}", *overrides))
    for step in range(1, done + 1):
        run.append("metrics.jsonl", {"step": step})
    ckpt = path / "checkpoints" / f"step_{done:06d}"
    ckpt.mkdir(parents=True)
    (ckpt / "trainer_state.pt").write_bytes(b"")
    (path / "checkpoints" / "latest").write_text(ckpt.name + "\n")
    status = {"state": "interrupted", "last_step": done, "total_steps": done}
    if owner is not None:
        status["owner"] = owner
    (path / "run_status.json").write_text(json.dumps(status))
    (path / ".hydra").mkdir()
    (path / ".hydra" / "config.yaml").write_text("the run's own hydra config\n")
    return path


def train(cwd, *args):
    return subprocess.run([sys.executable, "-m", "codereset.train", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=120)


def test_method_changes_are_refused_naming_the_keys(tmp_path):
    run = fake_run(tmp_path / "run", 2)
    new = config_yaml(f"trainer.output_dir={run}", "optim.lr=1e-4", "trainer.resume=true", agent="grpo")
    with pytest.raises(RunDirError) as err:
        check_run_dir(run, new, resume=True, steps=10)
    msg = str(err.value)
    assert "agent.name: 'srpo' -> 'grpo'" in msg and "optim.lr: 5e-05 -> 0.0001" in msg
    assert "trainer.steps" not in msg.split("may change only")[0]


def test_run_control_changes_are_allowed_and_reported(tmp_path):
    run = fake_run(tmp_path / "run", 2)
    old = OmegaConf.load(run / "config.yaml")               # the main job's budget, whatever it is now
    steps, every = old.trainer.steps + 16, old.validation.every + 1
    new = config_yaml(f"trainer.output_dir={run}", "trainer.resume=true", f"trainer.steps={steps}",
                      f"validation.every={every}", "logging.tensorboard=false")
    changes = check_run_dir(run, new, resume=True, steps=steps)
    assert changes == ["logging.tensorboard: True -> False", "trainer.resume: False -> True",
                       f"trainer.steps: {old.trainer.steps} -> {steps}",
                       f"validation.every: {old.validation.every} -> {every}"]


@pytest.mark.parametrize("key, value", [("seed", 1), ("env.tasks", "stdio"), ("sampling.temperature", 1.0),
                                        ("buffer.split", "2x4"), ("loss.name", "clipped"),
                                        ("model.name", "smollm2-135m-random"), ("sandbox.wall_time_s", 2.0),
                                        ("trainer.prompts_per_step", 8)])
def test_each_method_key_is_refused(tmp_path, key, value):
    old = config_yaml()
    method, control = config_changes(old, config_yaml(f"{key}={value}"))
    assert [line.split(":")[0] for line in method] == [key] and control == []


def test_fewer_steps_than_done_are_refused(tmp_path):
    run = fake_run(tmp_path / "run", 6)
    with pytest.raises(RunDirError, match=r"trainer.steps=3 but the run in .* has done 6 steps; resume "
                                          r"with trainer.steps >= 6"):
        check_run_dir(run, config_yaml(f"trainer.output_dir={run}", "trainer.steps=3"), resume=True, steps=3)


def test_a_live_owner_blocks_resume_and_a_dead_one_reads_dead(tmp_path):
    live = fake_run(tmp_path / "live", 1)
    status = {"state": "running", "last_step": 1, "total_steps": 4, "owner": current_owner()}
    (live / "run_status.json").write_text(json.dumps(status))
    with pytest.raises(RunDirError, match=f"being trained by process {os.getpid()}"):
        check_run_dir(live, config_yaml(f"trainer.output_dir={live}"), resume=True, steps=4)
    dead = {**status, "owner": {**current_owner(), "pid_start": -1}}   # the pid now runs something else
    proc = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    gone = {**status, "owner": {**current_owner(), "pid": int(proc.stdout)}}    # that process has exited
    assert owner_alive(status["owner"]) is True and effective_state(status) == "running"
    assert owner_alive(dead["owner"]) is False and effective_state(dead) == "dead"
    assert owner_alive(gone["owner"]) is False and effective_state(gone) == "dead"
    elsewhere = {**status, "owner": {**current_owner(), "host": "another-host"}}
    assert owner_alive(elsewhere["owner"]) is None and effective_state(elsewhere) == "running"
    assert effective_state(None) == "unknown"


def test_status_records_its_owner(tmp_path):
    run = RunDir(tmp_path)
    run.set_status("running", 0, 3)
    status = run.status()
    assert status["owner"]["pid"] == os.getpid() and owner_alive(status["owner"]) is True


def test_resume_may_change_is_documented_in_the_readme():
    readme = (ROOT / "README.md").read_text()
    assert "RESUME_MAY_CHANGE" in readme and "trainer.steps" in RESUME_MAY_CHANGE


# -- the command line: refusals exit 2 before Hydra writes anything --------------------------------
def test_a_refused_start_leaves_the_run_untouched(tmp_path):
    run = fake_run(tmp_path / "run", 2)
    before = {p: p.read_bytes() for p in run.rglob("*") if p.is_file()}
    proc = train(tmp_path, *BASE, f"trainer.output_dir={run}")
    assert proc.returncode == 2 and "already holds a run; continue it with trainer.resume=true" in proc.stderr
    assert {p: p.read_bytes() for p in run.rglob("*") if p.is_file()} == before


def test_a_resume_under_another_method_is_refused_and_leaves_the_run_untouched(tmp_path):
    run = fake_run(tmp_path / "run", 2)
    before = {p: p.read_bytes() for p in run.rglob("*") if p.is_file()}
    proc = train(tmp_path, "+agent=grpo", "model=tiny", f"trainer.output_dir={run}", "trainer.resume=true")
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert proc.stderr.count("\n") == 1 and "agent.name: 'srpo' -> 'grpo'" in proc.stderr
    assert {p: p.read_bytes() for p in run.rglob("*") if p.is_file()} == before


def test_a_resume_with_fewer_steps_than_done_exits_2(tmp_path):
    run = fake_run(tmp_path / "run", 6, "trainer.steps=6")
    proc = train(tmp_path, *BASE, f"trainer.output_dir={run}", "trainer.resume=true", "trainer.steps=3")
    assert proc.returncode == 2 and "trainer.steps >= 6" in proc.stderr
    assert json.loads((run / "run_status.json").read_text())["total_steps"] == 6


def test_the_report_tells_a_dead_run_from_a_live_one(tmp_path):
    from codereset.report.runs import load_run

    proc = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    for name, owner, state in [("live", current_owner(), "running"),
                               ("dead", {**current_owner(), "pid": int(proc.stdout)}, "dead")]:
        run = fake_run(tmp_path / name, 1)
        (run / "run_status.json").write_text(json.dumps(
            {"state": "running", "last_step": 1, "total_steps": 4, "owner": owner}))
        assert load_run(run).state == state
