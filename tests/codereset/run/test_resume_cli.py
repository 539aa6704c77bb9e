"""`trainer.resume=RUN_DIR` and sweeps into used folders (issue 25 items 1, 4).

Fast tests use run folders made by hand (a saved config composed from conf/, a checkpoint
marker), so no model loads; the end-to-end sweep (train, re-run with more steps, resume the sweep
folder) is marked slow."""

import dataclasses
import json
import subprocess
import sys
import typing
from pathlib import Path

import pytest
import torch
import yaml
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from codereset.config import TrainConfig, TrainerConfig, conf_dir
from codereset.run.resume import may_change
from codereset.run.resume_cli import compose_resume, resume_argv, resume_target
from codereset.run.rundir import RunDir
from codereset.train import register

ROOT = Path(__file__).resolve().parents[3]
BASE = ["+agent=grpo", "model=tiny"]
QUIET = ["validation.every=0", "validation.at_end=false", "validation.at_start=false"]


def composed(*overrides, hydra=False):
    register()
    with initialize_config_dir(config_dir=conf_dir(), version_base="1.3"):
        return compose(config_name="train", overrides=[*BASE, *overrides], return_hydra_config=hydra)


def fake_run(path: Path, done: int, *overrides) -> Path:
    """A run folder as a run leaves it after `done` steps (config.yaml, rows, a checkpoint)."""
    run = RunDir(path)
    run.write_config(OmegaConf.to_yaml(composed(*overrides), resolve=True))
    for step in range(1, done + 1):
        run.append("metrics.jsonl", {"step": step})
    ckpt = path / "checkpoints" / f"step_{done:06d}"
    ckpt.mkdir(parents=True)
    (ckpt / "trainer_state.pt").write_bytes(b"")
    (path / "checkpoints" / "latest").write_text(ckpt.name + "\n")
    (path / "run_status.json").write_text(json.dumps({"state": "finished", "last_step": done, "total_steps": done}))
    return path


def files(folder: Path) -> dict:
    return {p: p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def train(cwd, *args, timeout=120):
    return subprocess.run([sys.executable, "-m", "codereset.train", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=timeout)


def schema_keys(cls=TrainConfig, prefix=""):
    for f in dataclasses.fields(cls):
        hint = typing.get_type_hints(cls)[f.name]
        yield prefix + f.name
        if dataclasses.is_dataclass(hint):
            yield from schema_keys(hint, f"{prefix}{f.name}.")


# -- job folder names ----------------------------------------------------------------------------
def test_job_folder_names_leave_out_exactly_the_run_control_keys():
    excluded = composed(hydra=True).hydra.job.config.override_dirname.exclude_keys
    control = [k for k in schema_keys() if may_change(k) or may_change(k + ".")]
    assert sorted(excluded) == sorted(control)


def test_a_rerun_with_more_steps_and_resume_names_the_same_folder():
    first = composed("seed=1", "trainer.steps=2", hydra=True).hydra.job.override_dirname
    again = composed("seed=1", "trainer.steps=5", "trainer.resume=true", "validation.every=1",
                     hydra=True).hydra.job.override_dirname
    assert first == again == "+agent=grpo,model=tiny,seed=1"


# -- trainer.resume=RUN_DIR ----------------------------------------------------------------------
def test_hydra_way_of_resuming_is_read_as_resume_from_the_folder(tmp_path):
    run = fake_run(tmp_path / "run", 2)
    target, rest = resume_target(["--config-path", f"{run}/.hydra", "--config-name", "config",
                                  "trainer.resume=true", "trainer.steps=4"])
    assert target == run and rest == ["trainer.steps=4"]
    assert resume_target(["trainer.resume=true", "x=1"]) == (None, ["trainer.resume=true", "x=1"])


def test_the_saved_config_is_the_config(tmp_path):
    """Only the run-control override differs from the run's own config; the schema is the real one."""
    from codereset.run.preflight import check_train_config

    run = fake_run(tmp_path / "run", 2, "seed=7", "optim.lr=0.001", "trainer.steps=2")
    argv = resume_argv([f"trainer.resume={run}", "trainer.steps=4"], check_train_config, pytest.fail)
    config_dir = Path(argv[argv.index("--config-path") + 1])
    cfg = compose_resume(config_dir, ["trainer.steps=4"])
    obj = OmegaConf.to_object(cfg)
    assert isinstance(obj, TrainConfig) and isinstance(obj.trainer, TrainerConfig)
    assert (obj.seed, obj.optim.lr, obj.trainer.steps, obj.trainer.resume) == (7, 0.001, 4, True)
    assert obj.trainer.output_dir == str(run.resolve())
    assert yaml.safe_load((config_dir / "run.yaml").read_text())["hydra"]["output_subdir"] is None


def refused(argv):
    """resume_argv's one-line refusal, in this process (the CLI prints it as `error: ...`)."""
    from codereset.run.preflight import check_train_config

    messages = []

    def fail(message):
        messages.append(message)
        raise SystemExit(2)

    with pytest.raises(SystemExit):
        resume_argv(argv, check_train_config, fail)
    return messages[0]


@pytest.mark.parametrize("args, message", [
    (["+agent=rrpo"], "+agent=rrpo would change it"),
    (["-m"], "takes no Hydra flags"),
    (["trainer.output_dir=elsewhere"], "continues the run in that folder; drop trainer.output_dir=elsewhere"),
])
def test_a_resume_from_a_folder_refuses_method_overrides(tmp_path, args, message):
    run = fake_run(tmp_path / "run", 2)
    assert message in refused([f"trainer.resume={run}", *args])


def test_a_method_override_on_the_command_line_is_one_line_and_touches_nothing(tmp_path):
    run = fake_run(tmp_path / "run", 2)
    before = files(run)
    proc = train(tmp_path, f"trainer.resume={run}", "optim.lr=1")
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1, proc.stderr
    assert "optim.lr=1 would change it. Only run-control keys may be given" in proc.stderr
    assert files(run) == before and not (tmp_path / "outputs").exists()


def test_a_resume_from_a_folder_without_a_run_says_so(tmp_path):
    (tmp_path / "empty").mkdir()
    assert "holds no run" in refused([f"trainer.resume={tmp_path / 'empty'}"])
    assert "no such folder" in refused([f"trainer.resume={tmp_path / 'nope'}"])


def test_a_sweep_folder_checks_every_job_before_running_any(tmp_path):
    sweep = tmp_path / "sweep"
    fake_run(sweep / "+agent=grpo,model=tiny", 2, "trainer.steps=2")
    fake_run(sweep / "+agent=grpo,model=tiny,seed=1", 4, "seed=1", "trainer.steps=4")
    before = files(sweep)
    proc = train(tmp_path, f"trainer.resume={sweep}", "trainer.steps=3")
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1, proc.stderr
    assert "sweep job +agent=grpo,model=tiny,seed=1: trainer.steps=3 but the run" in proc.stderr
    assert files(sweep) == before


def test_a_real_run_continues_from_its_folder_alone(tmp_path):
    """The whole command-line path (preflight, Hydra on the saved config, Trainer.setup and its
    restore) on a run folder holding a real tiny-model checkpoint of step 1, asked for 1 step."""
    import random

    from codereset.models.load import load_model
    from codereset.run.checkpoint import rng_state, save_checkpoint

    run = tmp_path / "run"
    cfg = composed("seed=3", "trainer.steps=1", *QUIET)
    RunDir(run).write_config(OmegaConf.to_yaml(cfg, resolve=True))
    RunDir(run).append("metrics.jsonl", {"step": 1})
    (run / ".hydra").mkdir()
    (run / ".hydra" / "overrides.yaml").write_text("- the first start's overrides\n")
    (run / "train.log").write_text("the first start's log\n")
    model, tokenizer = load_model(OmegaConf.to_object(cfg).model)
    state = {"rng": rng_state(), "agent_rng": random.Random("agent:3").getstate(), "nonfinite_streak": 0}
    save_checkpoint(run / "checkpoints", 1, model, tokenizer, torch.optim.AdamW(model.parameters()), state)
    work = tmp_path / "work"
    work.mkdir()
    proc = train(work, f"trainer.resume={run}", "trainer.steps=1", "logging.tensorboard=false", timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    log = (run / "train.log").read_text()
    assert log.startswith("the first start's log") and "resuming from" in log and "(step 1)" in log
    assert RunDir(run).status()["state"] == "finished" and list(work.iterdir()) == []
    assert (run / ".hydra" / "overrides.yaml").read_text() == "- the first start's overrides\n"
    assert yaml.safe_load((run / "config.yaml").read_text())["seed"] == 3


# -- sweeps into a used folder -------------------------------------------------------------------
def test_a_sweep_into_a_folder_that_holds_its_runs_is_one_line_exit_2(tmp_path):
    sweep = tmp_path / "sweep"
    fake_run(sweep / "+agent=grpo,model=tiny,seed=0", 2, "seed=0", "trainer.steps=2")
    before = files(sweep)
    proc = train(tmp_path, "-m", *BASE, "seed=0,1", "trainer.steps=3", f"hydra.sweep.dir={sweep}")
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1, proc.stderr
    assert "+agent=grpo,model=tiny,seed=0 already holds a run" in proc.stderr
    assert "trainer.resume=true" in proc.stderr and "Traceback" not in proc.stderr
    assert files(sweep) == before and not (sweep / "+agent=grpo,model=tiny,seed=1").exists()


def test_a_sweep_with_one_output_dir_for_all_jobs_is_one_line_before_hydra(tmp_path):
    proc = train(tmp_path, "-m", "+agent=grpo,srpo", "model=tiny", f"trainer.output_dir={tmp_path / 'x'}",
                 f"hydra.sweep.dir={tmp_path / 'sweep'}")
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and "set hydra.sweep.dir=DIR" in proc.stderr
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_a_sweep_continues_in_its_own_folders(tmp_path):
    """Issue 25 item 1 end to end: a 1-step sweep, re-run with 2 steps and resume=true (the same
    folders), then continued to 3 steps from the sweep folder alone."""
    sweep = tmp_path / "sweep"
    args = ["-m", "+agent=grpo,rrpo", "model=tiny", *QUIET, f"hydra.sweep.dir={sweep}"]
    assert train(tmp_path, *args, "trainer.steps=1", timeout=600).returncode == 0
    jobs = sorted(p.name for p in sweep.iterdir() if p.is_dir())
    assert jobs == ["+agent=grpo,model=tiny", "+agent=rrpo,model=tiny"]
    proc = train(tmp_path, *args, "trainer.steps=2", "trainer.resume=true", timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert sorted(p.name for p in sweep.iterdir() if p.is_dir()) == jobs
    proc = train(tmp_path, f"trainer.resume={sweep}", "trainer.steps=3", timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    for job in jobs:
        assert [r["step"] for r in RunDir(sweep / job).read("metrics.jsonl")] == [1, 2, 3]
        assert RunDir(sweep / job).status()["state"] == "finished"
