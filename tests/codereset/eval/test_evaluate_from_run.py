"""`python -m codereset.evaluate eval.checkpoint=RUN` (issue 25 item 3): the model, tokenizer and
prompt settings come from the run's saved config; a contradicting override is one `error:` line;
pass@k with k above the sample count is refused before a model loads (item 13)."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from codereset.config import conf_dir
from codereset.eval.from_run import apply_run_config, run_of_checkpoint
from codereset.run.checkpoint import save_checkpoint
from codereset.run.rundir import RunDir
from codereset.train import register

ROOT = Path(__file__).resolve().parents[3]


def composed(config_name, *overrides):
    register()
    with initialize_config_dir(config_dir=conf_dir(), version_base="1.3"):
        return compose(config_name=config_name, overrides=list(overrides))


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """A run folder as `python -m codereset.train +agent=grpo model=tiny` leaves it: config.yaml and
    a checkpoint of the tiny model (made here, not trained: only the format matters)."""
    from codereset.models.load import load_model

    path = tmp_path_factory.mktemp("runs") / "tiny_run"
    train_cfg = composed("train", "+agent=grpo", "model=tiny", "env.max_thoughts=2")
    RunDir(path).write_config(OmegaConf.to_yaml(train_cfg, resolve=True))
    model, tokenizer = load_model(OmegaConf.to_object(train_cfg).model)
    save_checkpoint(path / "checkpoints", 3, model, tokenizer, torch.optim.AdamW(model.parameters()), {})
    return path


def test_the_run_gives_model_and_prompt_but_not_the_suite(tiny_run):
    cfg = composed("evaluate", "env=humaneval", f"eval.checkpoint={tiny_run}")
    assert apply_run_config(cfg, ["env=humaneval", f"eval.checkpoint={tiny_run}"]) == tiny_run
    assert (cfg.model.name, cfg.model.random_init.hidden_size) == ("tiny", 64)
    assert (cfg.env.max_thoughts, cfg.env.max_thought_tokens, cfg.env.tasks) == (2, 16, "humaneval")
    assert run_of_checkpoint(tiny_run / "checkpoints" / "step_000003") == tiny_run


def test_a_bare_checkpoint_keeps_the_composed_model(tmp_path):
    (tmp_path / "ckpt").mkdir()
    cfg = composed("evaluate", "model=tiny", f"eval.checkpoint={tmp_path / 'ckpt'}")
    assert apply_run_config(cfg, []) is None and cfg.model.name == "tiny"


def evaluate(cwd, *args, timeout=180):
    return subprocess.run([sys.executable, "-m", "codereset.evaluate", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=timeout)


@pytest.mark.parametrize("args, message", [
    (["model=smollm2"], "model.name='smollm2-135m-instruct' (the run has 'tiny')"),
    (["env.max_thoughts=5"], "env.max_thoughts=5 (the run has 2)"),
])
def test_an_override_that_contradicts_the_run_is_one_line(tmp_path, tiny_run, args, message):
    proc = evaluate(tmp_path, f"eval.checkpoint={tiny_run}", *args, f"eval.output_dir={tmp_path / 'out'}")
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and message in proc.stderr, proc.stderr
    assert "Drop those overrides" in proc.stderr and not (tmp_path / "out").exists()


def test_pass_at_k_above_the_sample_count_is_refused_before_loading(tmp_path):
    proc = evaluate(tmp_path, "model=tiny", "eval.k=[1,5]", f"eval.output_dir={tmp_path / 'out'}")
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1, proc.stderr
    assert "got k=[5]: raise eval.n_samples to 5" in proc.stderr and not (tmp_path / "out").exists()


def test_evaluating_a_tiny_run_needs_nothing_but_the_run(tmp_path, tiny_run):
    """The issue's crash: the default model (SmolLM2) with a tiny run's weights was a size mismatch."""
    out = tmp_path / "out"
    proc = evaluate(tmp_path, f"eval.checkpoint={tiny_run}", "env=humaneval", "eval.max_tasks=2",
                    "sandbox=local", "eval.progress=false", f"eval.output_dir={out}")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "evaluating model tiny (weights of" in proc.stderr + proc.stdout
    rows = [json.loads(line) for line in (out / "eval.jsonl").read_text().splitlines()]
    assert [(r["step"], r["suite"], r["n_tasks"]) for r in rows] == [(3, "humaneval", 2)]
