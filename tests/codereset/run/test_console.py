"""The console and TensorBoard (issue 25 items 9, 10): log lines above the progress bar, a
start-up summary block, TensorBoard tags grouped train/, time/, eval/, reset/ and the config as text."""

import io
import logging
import sys
from types import SimpleNamespace

import pytest
import torch

from codereset.run import console
from codereset.run.schema import METRICS


def test_every_metric_has_one_of_four_groups():
    tags = {k.name: console.tb_tag(k.name) for k in METRICS.keys}
    assert {t.split("/")[0] for t in tags.values()} <= {"train", "time", "eval", "reset"}
    assert tags["loss"] == "train/loss" and tags["pass_rate"] == "train/pass_rate"
    assert tags["time_generate_s"] == "time/time_generate_s" and tags["val_pass_rate"] == "eval/val_pass_rate"
    assert tags["seeds_found"] == "reset/seeds_found" and tags["tokens_seed_search"] == "reset/tokens_seed_search"


def test_log_lines_go_above_the_bar_not_onto_it(monkeypatch):
    from tqdm import tqdm

    err = io.StringIO()
    monkeypatch.setattr(sys, "stderr", err)
    handler = logging.StreamHandler(sys.stderr)
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        bar = tqdm(total=2, file=sys.stderr, desc="grpo")
        with console.log_above_bar():
            assert handler not in root.handlers          # replaced by tqdm's handler while inside
            logging.getLogger("codereset.train").warning("step 1: a line of its own")
        bar.close()
        assert handler in root.handlers
    finally:
        root.removeHandler(handler)
    assert "\nstep 1: a line of its own\n" in "\n" + err.getvalue().replace("\r", "\n")


def test_the_startup_summary_names_what_a_run_is():
    cfg = SimpleNamespace(
        model=SimpleNamespace(name="tiny"), backend=SimpleNamespace(name="hf"),
        env=SimpleNamespace(tasks="arith", id="ThoughtMDP-Math-v0", train_split="train", val_split="val"),
        sandbox=SimpleNamespace(kind="auto"), agent=SimpleNamespace(name="grpo"),
        trainer=SimpleNamespace(steps=4, prompts_per_step=2))
    model = torch.nn.Linear(1000, 1000)
    trainer = SimpleNamespace(cfg=cfg, model=model, train_tasks=[SimpleNamespace(kind="math")] * 10,
                              val_tasks=[SimpleNamespace(kind="math")] * 3, last_done=0,
                              config_yaml="agent: {name: grpo}\n", run=SimpleNamespace(path="/runs/x"))
    text = "\n".join(console.startup_summary(trainer))
    assert "model    tiny: 1.0M parameters (1.0M trained)" in text
    assert "device   cpu, dtype float32; backend hf" in text
    assert "tasks    arith (ThoughtMDP-Math-v0): 10 train, 3 val" in text
    assert "sandbox  none (math suite" in text and "agent    grpo; 4 steps of 2 prompts" in text
    assert "run dir  /runs/x" in text


def test_tensorboard_gets_the_config_as_text(tmp_path):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from codereset.run.rundir import RunDir
    from codereset.run.trainer import Trainer

    trainer = Trainer.__new__(Trainer)
    trainer.cfg = SimpleNamespace(logging=SimpleNamespace(tensorboard=True))
    trainer.run, trainer.config_yaml = RunDir(tmp_path), "seed: 3\nagent:\n  name: grpo\n"
    writer = trainer._tensorboard(0)
    writer.add_scalar(console.tb_tag("loss"), 0.5, 1)
    writer.close()
    events = EventAccumulator(str(tmp_path / "tb"))
    events.Reload()
    assert events.Tags()["scalars"] == ["train/loss"] and "config/text_summary" in events.Tags()["tensors"]
    text = events.Tensors("config/text_summary")[0].tensor_proto.string_val[0].decode()
    assert "    seed: 3" in text and "      name: grpo" in text
