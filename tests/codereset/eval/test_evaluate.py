"""pass@k (unbiased estimator), task evaluation with a scripted policy, checkpoint loading, and the
`python -m codereset.evaluate` command."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf
from scripted_policy import MarkerVerifier, PlannedPolicy, ScriptedBackend, byte_tokenizer, make_task

from codereset.run.checkpoint import save_checkpoint
from codereset.eval.evaluate import evaluate, load_evaluated_model
from codereset.eval.eval_tasks import eval_rows, evaluate_tasks
from codereset.eval.passk import pass_at_k
from codereset.rollouts.rollout import Roller
from codereset.train import register
from envs.rules import ThoughtRules

ROOT = Path(__file__).resolve().parents[3]


@pytest.mark.parametrize("n, c, k, expected", [
    (5, 2, 1, 0.4), (5, 2, 2, 0.7), (5, 0, 3, 0.0), (5, 5, 1, 1.0), (4, 1, 4, 1.0), (10, 3, 5, 1 - 21 / 252),
])
def test_pass_at_k_known_values(n, c, k, expected):
    assert pass_at_k(n, c, k) == pytest.approx(expected)


def test_pass_at_k_rejects_impossible_inputs():
    for n, c, k in ((3, 4, 1), (3, 1, 4), (3, 1, 0)):
        with pytest.raises(ValueError):
            pass_at_k(n, c, k)


def test_evaluate_tasks_with_a_scripted_policy():
    plan = {"Problem number 0: solve it.": "RWWR", "Problem number 1: solve it.": "WWWW"}
    backend = ScriptedBackend(byte_tokenizer(), PlannedPolicy(plan))
    roller = Roller(backend, ThoughtRules(), temperature=0.8)
    result = evaluate_tasks(roller, MarkerVerifier(), [make_task(0), make_task(1)], 4, [1, 2])
    assert result["pass_at_k"]["1"] == pytest.approx((0.5 + 0.0) / 2)
    assert result["pass_at_k"]["2"] == pytest.approx((1 - 1 / 6 + 0.0) / 2)
    assert [t["correct"] for t in result["per_task"]] == [2, 0]
    samples = result["samples"]  # every scored rollout, task by task, with its verdict
    assert [s["task_id"] for s in samples] == [make_task(0).task_id] * 4 + [make_task(1).task_id] * 4
    assert [s["correct"] for s in samples].count(True) == 2 and all(s["thoughts"] for s in samples)
    rows = eval_rows(5, "fake", "test", result)
    assert [(r["step"], r["k"], r["n_tasks"], r["n_samples"]) for r in rows] == [(5, 1, 2, 4), (5, 2, 2, 4)]
    with pytest.raises(ValueError, match="k <= n_samples"):
        evaluate_tasks(roller, MarkerVerifier(), [make_task(0)], 2, [3])


def eval_cfg(*overrides):
    register()
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        return OmegaConf.to_object(compose(config_name="evaluate", overrides=list(overrides)))


def test_checkpoint_weights_are_the_ones_evaluated(tmp_path):
    cfg = eval_cfg("model=tiny")
    model, tok, step = load_evaluated_model(cfg)
    assert step == 0
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.5)
    save_checkpoint(tmp_path / "checkpoints", 7, model, tok, torch.optim.AdamW(model.parameters()), {})
    cfg = eval_cfg("model=tiny", f"eval.checkpoint={tmp_path}")
    loaded, _, step = load_evaluated_model(cfg)
    assert step == 7
    for a, b in zip(model.state_dict().values(), loaded.state_dict().values()):
        assert torch.equal(a, b)
    with pytest.raises(ValueError, match="no checkpoint"):
        load_evaluated_model(eval_cfg("model=tiny", f"eval.checkpoint={tmp_path / 'nowhere'}"))


def test_greedy_with_several_samples_is_refused(tmp_path):
    with pytest.raises(ValueError, match="identical samples"):
        evaluate(eval_cfg("model=tiny", "eval.n_samples=4"), tmp_path)


def test_evaluate_command_on_humaneval(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "codereset.evaluate", "model=tiny", "env.tasks=humaneval",
                           "eval.max_tasks=2", f"eval.output_dir={tmp_path}"],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "humaneval/test: pass@1 = 0.0000 (2 tasks, 1 samples each)" in proc.stdout
    (row,) = [json.loads(line) for line in (tmp_path / "eval.jsonl").read_text().splitlines()]
    samples = [json.loads(line) for line in (tmp_path / "eval_samples.jsonl").read_text().splitlines()]
    assert len(samples) == 2 and all(s["split"] == "test" and "verdict" in s for s in samples)
    assert (row["suite"], row["split"], row["k"], row["n_tasks"], row["step"]) == ("humaneval", "test", 1, 2, 0)
    assert [t["task_id"] for t in row["per_task"]] == ["HumanEval/0", "HumanEval/1"]
