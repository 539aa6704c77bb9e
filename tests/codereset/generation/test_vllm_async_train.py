"""The async engine beyond rollouts (marked `vllm`; its own module, so its engines never run beside
test_vllm_async.py's, one at a time): two SRPO training steps end to end (the run finishes, every
step row has its weight-sync seconds, the token counts add up), in phases and with the step as a
graph of per-prompt tasks (sampling.batching=graph), and a LoRA adapter synced live."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[3]
# model=tiny with 2 heads: vLLM's CPU attention needs head size >= 32 (tiny's default is 16)
TINY_FOR_VLLM = ["model=tiny", "model.random_init.num_heads=2", "model.random_init.num_kv_heads=1"]


@pytest.mark.vllm
@pytest.mark.parametrize("batching", ["step", "graph"])
def test_srpo_two_steps_on_the_async_engine(tmp_path, batching):
    pytest.importorskip("vllm")
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "codereset.train", "+agent=srpo", *TINY_FOR_VLLM, "backend=vllm",
           "backend.vllm.engine=async", f"sampling.batching={batching}", "trainer.steps=2", "validation.every=1",
           f"trainer.output_dir={out}"]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=900,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert json.loads((out / "run_status.json").read_text())["state"] == "finished"
    rows = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [1, 2]
    for r in rows:
        assert r["tokens_generated"] > 0 and 0 < r["time_sync_s"] <= r["time_train_s"]
        assert r["tokens_generated"] == (r["tokens_trained"] + r["tokens_seed_search"] + r["tokens_localization"]
                                         + r.get("tokens_aborted", 0))
        assert len(r.get("aborted_draws", [0] * 4)) == 4
        assert r["time_build_s"] > 0 and r["rollouts_trained"] == 32
        assert r["seeds_found"] + r["fallback_groups"] == 4  # one reset or fallback group per prompt
    assert "engine: async" in (out / "config.yaml").read_text()
    assert f"batching: {batching}" in (out / "config.yaml").read_text()
    assert len([json.loads(x) for x in (out / "eval.jsonl").read_text().splitlines()]) >= 2


@pytest.mark.vllm
def test_lora_adapter_sync_on_the_async_engine():
    pytest.importorskip("vllm")
    from codereset.generation import make_backend
    from codereset.learn.logprobs import token_logprobs
    from codereset.models import LoRAConfig, ModelConfig, load_model

    model, tok = load_model(ModelConfig(lora=LoRAConfig(enabled=True, r=8, alpha=16)))
    prefix = tok("def add(a, b):\n    return a + b\n\nThe function above", add_special_tokens=False)["input_ids"]
    cont = tok(" adds two numbers and returns their sum.", add_special_tokens=False)["input_ids"]

    def gap(a: list[float]) -> float:
        ids = torch.tensor([prefix + cont])
        with torch.no_grad():
            ref = token_logprobs(model, ids, torch.ones_like(ids))[0, len(prefix):].tolist()
        return max(abs(x - y) for x, y in zip(a, ref))

    with make_backend("vllm", model, tok, {"dtype": "float32", "lora_sync": "adapter", "engine": "async"}) as backend:
        before = backend.continuation_logprobs(prefix, cont)
        assert gap(before) < 1e-3
        with torch.no_grad():  # stands in for an optimizer step: only adapter weights move
            for name, p in model.named_parameters():
                if "lora_B" in name:
                    p.add_(torch.randn_like(p) * 0.02)
        backend.sync_weights(model)
        backend.sync_weights(model)  # a second sync removes the first adapter live
        after = backend.continuation_logprobs(prefix, cont)
        assert gap(after) < 1e-3 and max(abs(a - b) for a, b in zip(after, before)) > 2e-2
        assert set(backend.loop.run(backend.engine.list_loras())) == {backend._lora_request.lora_int_id}
