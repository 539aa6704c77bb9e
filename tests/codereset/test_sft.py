"""The warm-start (codereset.sft): corruptions labelled by the oracle, the example encoding the
trainer sees, the loss going down on a known batch, and a checkpoint that `load_model` reads."""

from __future__ import annotations

import json
import random

import pytest
import torch

from codereset.sft import SFTConfig, ModelShape, batch_loss, build_model, corrupt, run
from codereset.sft.__main__ import config_from_args
from codereset.sft.data import CORRUPTIONS, compose, decompose, localization_example, solution_example, train_tokenizer
from envs.oracle import first_error
from envs.rules import ThoughtRules
from envs.tasks import load_suite

RULES = ThoughtRules(max_thoughts=8, max_thought_tokens=48)
TINY = ModelShape(hidden_size=32, num_layers=1, num_heads=2, num_kv_heads=1, intermediate_size=64,
                  max_position_embeddings=512)


@pytest.fixture(scope="module")
def tasks():
    return load_suite("arith", "train", seed=1, n=60)


@pytest.fixture(scope="module")
def tokenizer(tasks):
    from codereset.models.bytes_tokenizer import byte_tokenizer
    from envs.prompts import render_prompt

    render_tok = byte_tokenizer()
    return train_tokenizer([render_prompt(t, tokenizer=render_tok, fewshot=False) + "".join(t.reference)
                            for t in tasks], 400)


def test_decompose_compose_round_trips_every_reference(tasks):
    for task in tasks:
        start, opening, events = decompose(task, RULES.stop)
        assert compose(start, opening, events, RULES.stop) == task.reference


def test_slip_on_a_known_task_is_flagged_at_its_step(tasks):
    task = next(t for t in tasks if t.difficulty == 3)
    start, opening, events = decompose(task, RULES.stop)
    true_1 = int(task.step_values[1])
    thoughts = compose(start, opening, events, RULES.stop, results={1: true_1 + 7})
    assert f"= {true_1 + 7}." in thoughts[1]
    assert first_error(task, thoughts, RULES) == 1
    assert RULES.extract_answer(thoughts[-1], "math") != task.answer  # propagated to the answer


@pytest.mark.parametrize("kind", sorted(CORRUPTIONS))
def test_corruptions_fail_and_carry_the_oracle_label(tasks, kind):
    rng = random.Random(0)
    made = [m for t in tasks if (m := corrupt(t, rng, RULES, kinds=(kind,))) is not None]
    assert len(made) >= 20  # most draws are usable
    for task in tasks:
        out = corrupt(task, random.Random(task.task_id), RULES, kinds=(kind,))
        if out is None:
            continue
        thoughts, step = out
        assert step == first_error(task, thoughts, RULES) + 1
        assert 1 <= step <= len(thoughts)
        assert RULES.extract_answer(thoughts[-1], "math") != task.answer
        assert all(t.endswith(RULES.stop) for t in thoughts)


def test_unknown_corruption_kind_lists_the_known_ones(tasks):
    with pytest.raises(ValueError, match="known"):
        corrupt(tasks[0], random.Random(0), RULES, kinds=("typo",))


def test_examples_are_the_trainers_prompt_ids_then_the_targets(tasks, tokenizer):
    from codereset.rollouts.localize import encode_chat
    from codereset.rollouts.rollout import encode_prompt

    task = tasks[0]
    ex = solution_example(task, tokenizer, False, RULES)
    assert list(ex.ids[: ex.target_from]) == encode_prompt(task, tokenizer, False, RULES)
    assert tokenizer.decode(ex.ids[ex.target_from:]) == "".join(task.reference) + "<|im_end|>"
    thoughts, step = next(m for t in tasks if (m := corrupt(t, random.Random(1), RULES)) is not None)
    loc = localization_example(task, thoughts, step, tokenizer, "L2", False, RULES)
    assert tokenizer.decode(loc.ids[loc.target_from:]) == f"\\boxed{{{step}}}<|im_end|>"
    assert loc.ids[-1] == tokenizer.eos_token_id
    assert encode_chat(tokenizer, tokenizer.decode(loc.ids[: loc.target_from])) == list(loc.ids[: loc.target_from])


@pytest.fixture
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny matrices: a second thread only adds contention
    yield
    torch.set_num_threads(before)


def test_loss_goes_down_on_a_known_batch(tasks, tokenizer, one_thread):
    cfg = SFTConfig(shape=TINY)
    model = build_model(cfg, tokenizer)
    batch = [solution_example(t, tokenizer, False, RULES) for t in tasks[:2]]
    opt = torch.optim.AdamW(model.parameters(), lr=2e-2)
    with torch.no_grad():
        first = float(batch_loss(model, batch, tokenizer.pad_token_id))
    assert first == pytest.approx(torch.log(torch.tensor(float(len(tokenizer)))).item(), rel=0.1)
    for _ in range(20):
        loss = batch_loss(model, batch, tokenizer.pad_token_id)
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        assert float(batch_loss(model, batch, tokenizer.pad_token_id)) < 0.5 * first


def test_run_saves_a_checkpoint_that_load_model_reads(tmp_path):
    from codereset.models import ModelConfig, load_model

    out = tmp_path / "ckpt"
    cfg = SFTConfig(out=str(out), shape=TINY, data_seeds=[1], n_tasks_per_seed=40, vocab_size=400,
                    batch_size=4, localize_batch_size=2, max_steps=2, eval_every=2, val_tasks=2,
                    localize_eval=2, max_thoughts=2, max_thought_tokens=8, target_low=0.9, target_high=1.0)
    summary = run(cfg, log=lambda _: None)
    assert summary["steps"] == 2 and summary["stop_reason"] == "max_steps"
    assert len(summary["evaluations"]) == 1 and summary["evaluations"][0]["step"] == 2
    saved = json.loads((out / "sft_summary.json").read_text())
    assert saved["config"]["shape"]["hidden_size"] == 32
    model, tok = load_model(ModelConfig(name=str(out), device="cpu"))
    assert sum(p.numel() for p in model.parameters()) == summary["parameters"]
    assert tok.chat_template and tok.eos_token == "<|im_end|>" and len(tok) == summary["vocab_size"]
    assert not list(tmp_path.glob(".ckpt.*"))  # no temporary directory left behind


def test_command_line_options_fill_the_config():
    cfg = config_from_args(["--out", "x", "--hidden-size", "48", "--data-seeds", "5", "6",
                            "--fewshot", "true", "--threads", "none"])
    assert cfg.out == "x" and cfg.shape.hidden_size == 48 and cfg.data_seeds == [5, 6]
    assert cfg.fewshot is True and cfg.threads is None
    with pytest.raises(ValueError, match="suite_seed"):
        config_from_args(["--data-seeds", "0", "1"])
