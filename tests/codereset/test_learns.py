"""Regression test for "the trainer learns": GRPO through `python -m codereset.train` on the
positive control's setting (benchmarks/learning_control.py: a tiny warm-start taught to subtract
three times out of four on `pairsum`) must raise the train reward and held-out greedy pass@1.

Slow (~3-4 minutes: the warm-start is built from scratch, then 16 GRPO steps); `.ci/run` runs it.
"""

import importlib.util
import json
import statistics
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _control():
    spec = importlib.util.spec_from_file_location("learning_control", ROOT / "benchmarks/learning_control.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_grpo_raises_train_reward_and_heldout_pass_rate(tmp_path):
    lc = _control()
    warm = tmp_path / "warm"
    summary = lc.warm_start(warm, steps=300, decoy=0.75, seed=0, log=lambda _: None)
    assert summary["greedy_plus_share"] < 0.5          # the start is the decoy's: room to learn
    assert summary["sampled_plus_share"] > 0.05        # and the right operation gets sampled
    run = tmp_path / "run"
    proc = subprocess.run([sys.executable, "-m", "codereset.train", "+experiment=learning_control",
                           "+agent=grpo", f"model.name={warm}", "trainer.steps=16", "validation.every=8",
                           "trainer.progress=false", f"trainer.output_dir={run}"],
                          cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    rewards = [json.loads(line)["reward_mean"] for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert statistics.fmean(rewards[-4:]) > statistics.fmean(rewards[:4]) + 0.05, rewards
    curve = lc.per_task(run)
    start, end = statistics.fmean(curve[0].values()), statistics.fmean(curve[16].values())
    assert end >= start + 0.2, (start, end)
