"""The own-failure localization stage (codereset.sft.own_failures): oracle labels of failed
rollouts, the uniform draw's chance level, the localizer's scoring, the sampling accounting, and
fine-tuning that learns the labels."""

from __future__ import annotations

import random

import pytest
import torch

from codereset.generation.base import Completion
from codereset.sft import ModelShape, SFTConfig, build_model
from codereset.sft import own_failures as of
from codereset.sft.data import corrupt, train_tokenizer
from envs.rules import ThoughtRules
from envs.tasks import load_suite

RULES = ThoughtRules(max_thoughts=8, max_thought_tokens=48)
TINY = ModelShape(hidden_size=32, num_layers=1, num_heads=2, num_kv_heads=1, intermediate_size=64,
                  max_position_embeddings=512)
FIRST = SFTConfig(fewshot=False, max_thoughts=8, max_thought_tokens=48, localize_variant="L2",
                  localize_worked_example=False)


@pytest.fixture(scope="module")
def tasks():
    return [t for t in load_suite("arith", "train", seed=1, n=60) if len(t.reference) >= 3]


@pytest.fixture(scope="module")
def tokenizer(tasks):
    from codereset.models.bytes_tokenizer import byte_tokenizer
    from envs.prompts import render_prompt

    render_tok = byte_tokenizer()
    return train_tokenizer([render_prompt(t, tokenizer=render_tok, fewshot=False) + "".join(t.reference)
                            for t in tasks], 400)


@pytest.fixture
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def test_label_is_the_oracles_first_wrong_thought_one_based(tasks):
    task = tasks[0]
    thoughts = list(RULES.adopt(task.reference))
    assert of.label(task, thoughts, RULES, 2) is None  # the reference: nothing wrong
    wrong = thoughts[1].replace(task.step_values[1], str(int(task.step_values[1]) + 7))
    assert wrong != thoughts[1]
    assert of.label(task, [thoughts[0], wrong, *thoughts[2:]], RULES, 2) == 2
    assert of.label(task, [wrong], RULES, 2) is None  # one thought: SRPO does not ask
    assert of.label(task, [wrong], RULES, 1) == 1


def test_uniform_chance_is_rrpos_draw():
    task = object()
    fs = [of.Failure(task, ("a", "b", "c"), 1),        # exact 1/3, within-1 {1, 2}: 2/3
          of.Failure(task, ("a", "b", "c", "d"), 2)]   # exact 1/4, within-1 {1, 2, 3}: 3/4
    chance = of.uniform_chance(fs)
    assert chance["exact"] == pytest.approx((1 / 3 + 1 / 4) / 2)
    assert chance["within_1"] == pytest.approx((2 / 3 + 3 / 4) / 2)
    assert of.uniform_chance([]) == {"exact": None, "within_1": None}


class _Answers:
    """A backend stand-in that answers the localization prompts with fixed texts."""

    def __init__(self, texts):
        self.texts = texts

    def generate(self, prompts, n, sampling, stop=()):
        assert len(prompts) == len(self.texts) and sampling.temperature == 0.0
        return [[Completion(token_ids=[1], text=t, finish_reason="eos")] for t in self.texts]


def test_localizer_scoring_counts_exact_near_and_unparsed(monkeypatch, tasks, tokenizer):
    import codereset.generation as generation

    fs = [of.Failure(tasks[0], ("a", "b", "c", "d"), 2)] * 4
    answers = _Answers(["\\boxed{2}", "\\boxed{3}", "\\boxed{9}", "no idea"])  # exact, near, out of range, none
    monkeypatch.setattr(generation, "make_backend", lambda *a, **k: answers)
    got = of.evaluate_localizer(torch.nn.Linear(1, 1), tokenizer, fs, FIRST, RULES)
    assert got["n"] == 4 and got["exact"] == 0.25 and got["within_1"] == 0.5 and got["parse_failures"] == 0.5
    assert got["uniform"]["exact"] == pytest.approx(0.25)


def test_sampling_accounts_for_every_rollout(tasks, tokenizer, one_thread):
    model = build_model(SFTConfig(shape=TINY), tokenizer)
    cfg = of.OwnFailuresConfig(chunk=3)
    rules = ThoughtRules(max_thoughts=3, max_thought_tokens=8)
    failures, counts = of.collect(model, tokenizer, tasks[:4], cfg, rules, False, seed=0, samples=2)
    assert counts["rollouts"] == 8 and counts["correct"] + counts["failed"] == 8
    assert counts["failed"] == counts["too_short"] + counts["unlabelled"] + counts["kept"]
    assert counts["kept"] == len(failures)
    for f in failures:
        assert len(f.thoughts) >= 2 and 1 <= f.step <= len(f.thoughts)


def test_finetune_learns_the_labels_of_failures(tasks, tokenizer, one_thread):
    rng = random.Random(0)
    failures = []
    while len(failures) < 24:
        task = rng.choice(tasks)
        made = corrupt(task, rng, RULES)  # (failed thoughts, oracle step) of a corrupted reference
        if made is not None:
            failures.append(of.Failure(task, tuple(made[0]), made[1]))
    torch.manual_seed(0)
    model = build_model(SFTConfig(shape=TINY), tokenizer)
    cfg = of.OwnFailuresConfig(steps=60, batch_size=8, solution_batch_size=0, lr=3e-3, warmup_steps=5)
    losses = of.finetune(model, tokenizer, failures, tasks, cfg, FIRST, RULES, random.Random(1), log=lambda _: None)
    assert len(losses) == 60
    assert sum(losses[-10:]) / 10 < 0.5 * sum(losses[:5]) / 5


def test_missing_first_stage_says_what_to_run(tmp_path):
    with pytest.raises(FileNotFoundError, match="python -m codereset.sft"):
        of.first_stage_config(str(tmp_path))
