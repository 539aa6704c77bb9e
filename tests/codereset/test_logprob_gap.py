"""Sampler/trainer agreement end to end (issue 13 item 2): rollouts sampled by the HF backend from
the tiny model in fp32 (temperature 0.7, top-p 0.95, per-thought and continuous modes, base and
reset rollouts) and scored by the updater at the sampling temperature agree to 1e-4 per token.
The same weights score both, so a larger gap is a bug: an off-by-one mask, a missed EOS, a
re-tokenized prefix, untempered logits. (vLLM: see its backend tests; its kernels differ, so the
tolerance there is looser.)"""

import copy

import pytest
import torch
from scripted_policy import make_task

from codereset.generation.hf import HFBackend
from codereset.learn.losses import LossConfig
from codereset.models import ModelConfig, load_model
from codereset.rollouts.rollout import Roller
from codereset.learn.update import PolicyUpdater, sampler_logprobs
from envs.rules import ThoughtRules

GAP = 1e-4


@pytest.fixture(scope="module")
def tiny():
    torch.manual_seed(0)
    return load_model(ModelConfig(name="tiny", tokenizer="bytes", device="cpu", dtype="float32"))


@pytest.mark.parametrize("mode", ["per_thought", "continuous"])
def test_hf_sampler_and_trainer_logprobs_agree(tiny, mode):
    model, tok = tiny
    torch.manual_seed(1)
    roller = Roller(HFBackend(model, tok), ThoughtRules(max_thoughts=3, max_thought_tokens=12), 0.7, 0.95,
                    fewshot=False, mode=mode)
    tasks = [make_task(0), make_task(1)]
    fresh = [g for g in roller.run([roller.fresh(t) for t in tasks], 3)]
    reset = roller.fresh(tasks[0], "reset")  # a reset state: one stored prefix thought
    thought = "step one</thought>"
    ids = tok(thought, add_special_tokens=False)["input_ids"]
    reset.segments, reset.texts, reset.seg_logprobs, reset.prefix_len = [ids], [thought], [None], 1
    [resets] = roller.run([reset], 2)
    rollouts = [r for g in fresh for r in g] + resets
    assert all(sampler_logprobs(r) is not None for r in rollouts)
    assert all(len(sampler_logprobs(r)) == r.generated_tokens for r in rollouts)  # EOS included
    advs = [1.0, -1.0] * (len(rollouts) // 2) + [0.5] * (len(rollouts) % 2)
    up = PolicyUpdater(copy.deepcopy(model), torch.optim.SGD(model.parameters(), lr=0.0), LossConfig(), 4, 1.0,
                       tok.pad_token_id, sampling_temperature=0.7)
    m = up.step(rollouts, advs).metrics()
    assert m["logprob_gap"] is not None and m["logprob_gap_max"] < GAP, m
