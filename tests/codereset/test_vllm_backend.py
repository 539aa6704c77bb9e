"""The vLLM backend against the Hugging Face model it serves.

Tests marked `vllm` start real engines (~30-100 s each on a 2-core CPU) and are skipped by the
default run; run them with `python -m pytest tests/codereset/test_vllm_backend.py -m vllm -q`.
One engine on the default model (float32, so it agrees with the fp32 trainer to rounding) is
shared by the module; the LoRA test starts a second one. The unmarked tests check the weight
export (what a sync sends) without vLLM.
"""

from __future__ import annotations

import copy
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from codereset.generation import Sampling, make_backend
from codereset.generation.vllm_export import weights_state
from codereset.learn.logprobs import token_logprobs
from codereset.models import LoRAConfig, ModelConfig, load_model

ROOT = Path(__file__).resolve().parents[2]
LOGPROB_TOL = 1e-3  # max |vLLM - trainer| per-token log-prob, both in float32 (seen: ~3e-5)
QUESTIONS = ["What is 2+2?", "Write a Python function that reverses a string.",
             "Name three colors.", "Explain what a list comprehension is in one sentence."]


def _trainer_logprobs(model, prefix: list[int], continuation: list[int], temperature: float = 1.0) -> list[float]:
    ids = torch.tensor([prefix + continuation])
    with torch.no_grad():
        return token_logprobs(model, ids, torch.ones_like(ids), temperature=temperature)[0, len(prefix):].tolist()


def _max_diff(a, b) -> float:
    assert len(a) == len(b)
    return max(abs(x - y) for x, y in zip(a, b))


# -- weight export (no vLLM) ---------------------------------------------------------------------
def _tiny_lora():
    cfg = ModelConfig(name="tiny", tokenizer="bytes", lora=LoRAConfig(enabled=True, r=4, alpha=8))
    model, _ = load_model(cfg)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "lora_B" in name:
                p.copy_(torch.randn_like(p) * 0.1)
    return model


def test_export_merged_lora_equals_peft_merge():
    model = _tiny_lora()
    state = weights_state(model, torch.float32, merge_lora=True)
    merged = copy.deepcopy(model).merge_and_unload().state_dict()
    assert not any("lora_" in k or "base_layer" in k for k in state)
    assert "lm_head.weight" not in state  # tied to the embedding: written once
    assert set(state) == set(merged) - {"lm_head.weight"}
    for name, value in state.items():
        torch.testing.assert_close(value, merged[name], rtol=0, atol=1e-6)
    # a LoRA delta was really applied (the test would pass vacuously otherwise)
    base = weights_state(model, torch.float32, merge_lora=False)
    changed = [k for k in state if not torch.equal(state[k], base[k])]
    assert changed and all(k.endswith("proj.weight") for k in changed)


def test_export_base_weights_leave_adapters_out():
    model = _tiny_lora()
    state = weights_state(model, torch.bfloat16, merge_lora=False)
    plain = {k.replace(".base_layer.", "."): v for k, v in model.get_base_model().state_dict().items()
             if "lora_" not in k and k != "lm_head.weight"}
    assert set(state) == set(plain)
    for name, value in state.items():
        assert value.dtype == torch.bfloat16
        assert torch.equal(value, plain[name].to(torch.bfloat16))


def test_unknown_options_are_refused():
    from codereset.generation.vllm import VLLMConfig

    with pytest.raises(ValueError, match="known"):
        VLLMConfig(lora_sync="live")
    with pytest.raises(ValueError, match="known"):
        VLLMConfig(dtype="fp8")


# -- one engine on the default model ---------------------------------------------------------------
@pytest.fixture(scope="module")
def served():
    pytest.importorskip("vllm")
    model, tok = load_model(ModelConfig())
    backend = make_backend("vllm", model, tok, {"dtype": "float32"})
    yield model, tok, backend
    backend.close()


def _prompts(tok) -> list[list[int]]:
    return [tok.apply_chat_template([{"role": "user", "content": q}], add_generation_prompt=True,
                                    tokenize=True, return_dict=True)["input_ids"] for q in QUESTIONS]


@pytest.mark.vllm
def test_greedy_tokens_match_hf(served):
    model, tok, backend = served
    hf = make_backend("hf", model, tok)
    greedy = Sampling(temperature=0, max_new_tokens=48)
    prompts = _prompts(tok)
    want = hf.generate(prompts, 2, greedy, stop=["\n\n"])
    got = backend.generate(prompts, 2, greedy, stop=["\n\n"])
    for w, g in zip(want, got):
        assert [c.token_ids for c in g] == [c.token_ids for c in w]
        assert [c.finish_reason for c in g] == [c.finish_reason for c in w]
        assert [c.text for c in g] == [c.text for c in w]
    assert {c.finish_reason for grp in got for c in grp} >= {"stop", "eos"}  # both endings exercised


@pytest.mark.vllm
def test_continuous_rollouts_stop_at_their_episode_end_as_with_hf(served):
    """Continuous rollouts pass an `EpisodeEnd`: vLLM serves it in rounds that end at the thought
    marker (or the thought budget), HF per token; greedily both give the same rollouts, and the
    rows stop at their episode's end, not at the call's token budget."""
    from codereset.rollouts.rollout import Roller
    from envs.rules import ThoughtRules
    from envs.tasks import load_suite

    model, tok, backend = served
    rules = ThoughtRules(max_thoughts=3, max_thought_tokens=48)
    tasks = load_suite("basic", split="train", seed=0)[:3]
    got, generated = {}, {}
    for name, be in (("hf", make_backend("hf", model, tok)), ("vllm", backend)):
        before = be.stats["generated_tokens"]
        roller = Roller(be, rules, temperature=0.0, mode="continuous")
        got[name] = [g[0] for g in roller.run([roller.fresh(t) for t in tasks], 1)]
        generated[name] = be.stats["generated_tokens"] - before
    assert [(r.segments, r.status, r.finish) for r in got["vllm"]] == \
        [(r.segments, r.status, r.finish) for r in got["hf"]]
    kept = sum(r.generated_tokens - r.ended_with_eos for r in got["hf"])
    assert generated["hf"] == generated["vllm"] == kept  # nothing decoded past an episode's end
    assert backend.stats["episode_rounds"] >= 2


@pytest.mark.vllm
def test_sampled_continuations_follow_the_contract(served):
    model, tok, backend = served
    prompts = _prompts(tok)
    out = backend.generate(prompts, 3, Sampling(max_new_tokens=40, seed=1), stop=["\n"])
    assert [len(g) for g in out] == [3] * len(prompts)
    for prefix, group in zip(prompts, out):
        for c in group:
            assert c.text == tok.decode(c.token_ids)
            assert len(c.logprobs) == len(c.token_ids)
            if c.finish_reason == "stop":  # the last token completes the first stop string
                assert "\n" in c.text and "\n" not in tok.decode(c.token_ids[:-1])
            elif c.finish_reason == "length":
                assert len(c.token_ids) == 40
            if c.token_ids:  # the sampler's log-probs: log_softmax(logits / T), renormalized by
                # vLLM over the top-p nucleus ("processed_logprobs"), so at most -log(top_p) above
                # the trainer's tempered log-probs over the full vocabulary (generation/vllm.py)
                sampling = Sampling()
                ref = _trainer_logprobs(model, prefix, c.token_ids, sampling.temperature)
                gaps = [v - t for v, t in zip(c.logprobs, ref, strict=True)]
                assert min(gaps) > -LOGPROB_TOL
                assert max(gaps) < -math.log(sampling.top_p) + LOGPROB_TOL
    again = backend.generate(prompts, 3, Sampling(max_new_tokens=40, seed=1), stop=["\n"])
    assert [[c.token_ids for c in g] for g in again] == [[c.token_ids for c in g] for g in out]


@pytest.mark.vllm
def test_seeded_sampling_of_a_large_batch_is_reproducible(served):
    # 64 prompts need more than one engine step to prefill: seeds must survive that
    from envs.rules import ThoughtRules
    from envs.tasks import load_suite

    from codereset.rollouts.rollout import encode_prompt

    model, tok, backend = served
    prompts = [encode_prompt(t, tok, False, ThoughtRules()) for t in load_suite("basic", split="train")[:64]]
    assert sum(map(len, prompts)) > 4096
    first = backend.generate(prompts, 1, Sampling(max_new_tokens=4, seed=7))
    again = backend.generate(prompts, 1, Sampling(max_new_tokens=4, seed=7))
    assert [g[0].token_ids for g in again] == [g[0].token_ids for g in first]


@pytest.mark.vllm
def test_reset_group_prefix_served_from_cache(served):
    model, tok, backend = served
    prompt = _prompts(tok)[1]
    first = backend.generate([prompt], 1, Sampling(temperature=0, max_new_tokens=120))[0][0]
    reset_state = prompt + first.token_ids[:100]  # a seed's prefix: computed while it was sampled
    backend.generate([reset_state], 4, Sampling(max_new_tokens=16), stop=["\n"])
    block, length = backend.cfg.block_size, len(reset_state)
    most = block * ((length - 1) // block)  # whole blocks, last prefix token always recomputed
    assert backend.last_requests == [(length, most)] * 4
    assert backend.stats["last_prefix_cache_hit"] == pytest.approx(most / length)


@pytest.mark.vllm
def test_training_step_reaches_engine(served):
    model, tok, backend = served
    prefix = tok("def add(a, b):\n    return a + b\n\nThe function above", add_special_tokens=False)["input_ids"]
    cont = tok(" adds two numbers and returns their sum.", add_special_tokens=False)["input_ids"]
    before = backend.continuation_logprobs(prefix, cont)
    assert _max_diff(before, _trainer_logprobs(model, prefix, cont)) < LOGPROB_TOL
    backend.generate([prefix], 1, Sampling(temperature=0, max_new_tokens=4))  # now cached
    # one optimizer step on the trainer's model
    model.train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    ids = torch.tensor([prefix + cont])
    loss = -token_logprobs(model, ids, torch.ones_like(ids))[0, len(prefix):].mean()
    loss.backward()
    optimizer.step()
    model.eval()
    backend.sync_weights(model)
    after = backend.continuation_logprobs(prefix, cont)
    assert _max_diff(after, _trainer_logprobs(model, prefix, cont)) < LOGPROB_TOL
    assert _max_diff(after, before) > 20 * LOGPROB_TOL  # the sync did something
    backend.generate([prefix], 1, Sampling(temperature=0, max_new_tokens=4))
    assert backend.last_requests == [(len(prefix), 0)]  # no KV from the old weights survived
    assert backend.stats["weight_syncs"] == 1


@pytest.mark.vllm
def test_lora_adapter_sync():
    pytest.importorskip("vllm")
    model, tok = load_model(ModelConfig(lora=LoRAConfig(enabled=True, r=8, alpha=16)))
    prefix = tok("def add(a, b):\n    return a + b\n\nThe function above", add_special_tokens=False)["input_ids"]
    cont = tok(" adds two numbers and returns their sum.", add_special_tokens=False)["input_ids"]
    with make_backend("vllm", model, tok, {"dtype": "float32", "lora_sync": "adapter"}) as backend:
        before = backend.continuation_logprobs(prefix, cont)
        assert _max_diff(before, _trainer_logprobs(model, prefix, cont)) < LOGPROB_TOL
        with torch.no_grad():  # stands in for an optimizer step: only adapter weights move
            for name, p in model.named_parameters():
                if "lora_B" in name:
                    p.add_(torch.randn_like(p) * 0.02)
        backend.sync_weights(model)
        after = backend.continuation_logprobs(prefix, cont)
        assert _max_diff(after, _trainer_logprobs(model, prefix, cont)) < LOGPROB_TOL
        assert _max_diff(after, before) > 20 * LOGPROB_TOL


# -- end to end ---------------------------------------------------------------------------------
# model=tiny with 2 heads: vLLM's CPU attention needs head size >= 32 (tiny's default is 16).
TINY_FOR_VLLM = ["model=tiny", "model.random_init.num_heads=2", "model.random_init.num_kv_heads=1"]


@pytest.mark.vllm
def test_srpo_two_steps_with_vllm_backend(tmp_path):
    pytest.importorskip("vllm")
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "codereset.train", "+agent=srpo", *TINY_FOR_VLLM, "backend=vllm",
           "trainer.steps=2", f"trainer.output_dir={out}"]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=900,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert json.loads((out / "run_status.json").read_text())["state"] == "finished"
    rows = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [1, 2]
    assert all(r["tokens_generated"] > 0 and r["time_generate_s"] > 0 for r in rows)
    assert "name: vllm" in (out / "config.yaml").read_text()
