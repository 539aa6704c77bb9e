"""Resume after `kill -9` mid-run and after Ctrl-C: nothing lost or duplicated in the run files."""

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from codereset.run.rundir import RunDir, effective_state

ROOT = Path(__file__).resolve().parents[3]
BASE = ["+agent=srpo", "model=tiny"]


def start(*args):
    return subprocess.Popen([sys.executable, "-m", "codereset.train", *BASE, *args], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)


def metric_steps(out: Path) -> list[int]:
    return [r["step"] for r in RunDir(out).read("metrics.jsonl")]


def wait_for_rows(proc, out: Path, n: int, timeout: float = 300.0) -> None:
    deadline = time.monotonic() + timeout
    while len(metric_steps(out)) < n:
        if proc.poll() is not None:
            raise AssertionError(f"run ended early ({proc.returncode}): {proc.stderr.read()[-3000:]}")
        if time.monotonic() > deadline:
            os.killpg(proc.pid, signal.SIGKILL)
            raise AssertionError("no metrics row in time")
        time.sleep(0.2)


def finish(*args, timeout=420):
    proc = subprocess.run([sys.executable, "-m", "codereset.train", *BASE, *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return proc


def test_resume_after_kill_9_loses_and_duplicates_nothing(tmp_path):
    out = tmp_path / "run"
    proc = start("trainer.steps=2", f"trainer.output_dir={out}")
    wait_for_rows(proc, out, 1)
    os.killpg(proc.pid, signal.SIGKILL)          # kill -9, possibly between a row and its checkpoint
    proc.wait(timeout=30)
    proc.stdout.close()
    proc.stderr.close()
    status = json.loads((out / "run_status.json").read_text())
    assert status["state"] == "running" and effective_state(status) == "dead"   # killed, not live
    finish("trainer.steps=2", f"trainer.output_dir={out}", "trainer.resume=true")
    assert metric_steps(out) == [1, 2]
    per_step = Counter(r["step"] for r in RunDir(out).read("samples.jsonl"))
    assert set(per_step) == {1, 2} and len(set(per_step.values())) == 1   # no step twice
    assert [r["step"] for r in RunDir(out).read("eval.jsonl")] == [0, 2]   # step 0 validated once
    assert {r["step"] for r in RunDir(out).read("eval_samples.jsonl")} == {0, 2}
    status = json.loads((out / "run_status.json").read_text())
    assert {k: status[k] for k in ("state", "last_step", "total_steps")} == {
        "state": "finished", "last_step": 2, "total_steps": 2}


def test_ctrl_c_saves_a_checkpoint_and_resume_continues(tmp_path):
    out = tmp_path / "run"
    proc = start("trainer.steps=40", "trainer.checkpoint_every=10", f"trainer.output_dir={out}")
    wait_for_rows(proc, out, 1)
    proc.send_signal(signal.SIGINT)
    try:
        _, err = proc.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        raise
    assert proc.returncode == 130, err[-3000:]
    status = json.loads((out / "run_status.json").read_text())
    done = metric_steps(out)
    assert status["state"] == "interrupted" and status["last_step"] == done[-1]
    assert done == list(range(1, done[-1] + 1))
    # checkpoint_every=10 was not due: the interrupt itself saved the last finished step
    assert (out / "checkpoints" / "latest").read_text().strip() == f"step_{done[-1]:06d}"
    finish(f"trainer.steps={done[-1] + 1}", f"trainer.output_dir={out}", "trainer.resume=true")
    assert metric_steps(out) == list(range(1, done[-1] + 2))


def test_a_finished_run_dir_is_not_overwritten(tmp_path):
    out = tmp_path / "run"
    RunDir(out).append("metrics.jsonl", {"step": 1})
    proc = subprocess.run([sys.executable, "-m", "codereset.train", *BASE, f"trainer.output_dir={out}"],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2 and "trainer.resume=true" in proc.stderr


def test_truncate_after_drops_later_steps_and_a_half_written_line(tmp_path):
    run = RunDir(tmp_path)
    for step in (1, 2, 3):
        run.append("metrics.jsonl", {"step": step})
        run.append("samples.jsonl", {"step": step, "task_id": "a"})
    with open(tmp_path / "metrics.jsonl", "a") as f:
        f.write('{"step": 4, "pass_ra')                     # killed mid-write
    assert run.truncate_after(2) == {"metrics.jsonl": 2, "samples.jsonl": 1}
    assert [r["step"] for r in run.read("metrics.jsonl")] == [1, 2]
    assert [r["step"] for r in run.read("samples.jsonl")] == [1, 2]
    run.append("metrics.jsonl", {"step": 3})
    assert [r["step"] for r in run.read("metrics.jsonl")] == [1, 2, 3]


@pytest.mark.parametrize("keep", [1, 2])
def test_checkpoints_are_pruned_and_latest_points_at_the_newest(tmp_path, keep):
    import torch

    from codereset.run.checkpoint import latest_checkpoint, load_trainer_state, save_checkpoint

    class Saveable(torch.nn.Linear):
        def save_pretrained(self, path):
            Path(path).mkdir(parents=True, exist_ok=True)

    model = Saveable(2, 2)
    opt = torch.optim.AdamW(model.parameters())
    for step in (1, 2, 3):
        save_checkpoint(tmp_path, step, model, model, opt, {"x": step}, keep=keep)
    assert sorted(p.name for p in tmp_path.glob("step_*")) == [f"step_{s:06d}" for s in range(4 - keep, 4)]
    found = latest_checkpoint(tmp_path)
    assert found.name == "step_000003" and load_trainer_state(found)["x"] == 3
    assert not list(tmp_path.glob(".tmp-*"))


def test_lora_checkpoint_holds_the_adapter_and_restores_it(tmp_path):
    import torch

    from codereset.run.checkpoint import latest_checkpoint, load_weights, save_checkpoint
    from codereset.models import LoRAConfig, ModelConfig, load_model

    cfg = ModelConfig(name="tiny", tokenizer="bytes", lora=LoRAConfig(enabled=True, r=4, alpha=8))
    model, tok = load_model(cfg)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "lora_B" in name:
                p.add_(0.25)
    trainable = [p for p in model.parameters() if p.requires_grad]
    save_checkpoint(tmp_path, 1, model, tok, torch.optim.AdamW(trainable), {})
    saved = tmp_path / "step_000001" / "model"
    assert (saved / "adapter_model.safetensors").is_file() and not (saved / "model.safetensors").exists()
    fresh, _ = load_model(cfg)
    load_weights(fresh, latest_checkpoint(tmp_path))
    for (name, a), (_, b) in zip(model.state_dict().items(), fresh.state_dict().items()):
        assert torch.equal(a, b), name


def test_checkpoints_save_without_transformers_progress_bars(tmp_path, capfd):
    """HF's "Writing model shards" bar would break the training bar into fragments (issue 18 item 10)."""
    import torch
    from transformers.utils import logging as hf_logging

    from codereset.run.checkpoint import save_checkpoint
    from codereset.models import ModelConfig, load_model

    model, tok = load_model(ModelConfig(name="tiny", tokenizer="bytes"))
    model.save_pretrained(tmp_path / "plain")
    assert "Writing model shards" in capfd.readouterr().err        # what a bare save prints
    save_checkpoint(tmp_path / "ckpt", 1, model, tok, torch.optim.AdamW(model.parameters()), {})
    assert "Writing model shards" not in capfd.readouterr().err
    assert hf_logging.is_progress_bar_enabled()                    # restored for everyone else


TIMING = ("time_",)


def _rows(path: Path) -> list[dict]:
    """A run file's rows without wall-clock fields (the only thing two equal runs may differ in)."""
    return [{k: v for k, v in r.items() if not k.startswith(TIMING)} for r in RunDir(path.parent, create=False).read(path.name)]


def test_a_finished_run_continued_to_more_steps_equals_one_longer_run(tmp_path):
    """`agent_comparison --keep` continues kept runs to a larger trainer.steps: that must give the
    very run a longer one gives (optimizer and random states restored, constant lr), resets included."""
    arm = ["+experiment=chain_tiny", "+agent=caro", "buffer.split=1x8", "model.name=chain-tiny",
           "trainer.prompts_per_step=2", "validation.every=2", "validation.max_tasks=4",
           "trainer.paired=true", "trainer.progress=false", "seed=3"]

    def train(*args):
        proc = subprocess.run([sys.executable, "-m", "codereset.train", *arm, *args], cwd=ROOT,
                              capture_output=True, text=True, timeout=420)
        assert proc.returncode == 0, proc.stderr[-4000:]

    train("trainer.steps=3", f"trainer.output_dir={tmp_path / 'long'}")
    train("trainer.steps=2", f"trainer.output_dir={tmp_path / 'short'}")
    train("trainer.steps=3", f"trainer.output_dir={tmp_path / 'short'}", "trainer.resume=true")
    for name in ("metrics.jsonl", "eval.jsonl", "samples.jsonl"):
        longer, continued = _rows(tmp_path / "long" / name), _rows(tmp_path / "short" / name)
        assert longer and continued == longer, name
    resets = [r for r in _rows(tmp_path / "long" / "samples.jsonl") if r["group"] == "reset" and r["step"] == 3]
    assert resets  # the continued step had reset groups to get right
