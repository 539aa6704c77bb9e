"""Two SRPO training steps end to end with `backend.vllm.engine=async` (marked `vllm`; its own
module, so its engine never runs beside test_vllm_async.py's): the run finishes, every step row
has its weight-sync seconds, and the token counts add up."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
# model=tiny with 2 heads: vLLM's CPU attention needs head size >= 32 (tiny's default is 16)
TINY_FOR_VLLM = ["model=tiny", "model.random_init.num_heads=2", "model.random_init.num_kv_heads=1"]


@pytest.mark.vllm
def test_srpo_two_steps_on_the_async_engine(tmp_path):
    pytest.importorskip("vllm")
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "codereset.train", "+agent=srpo", *TINY_FOR_VLLM, "backend=vllm",
           "backend.vllm.engine=async", "trainer.steps=2", "validation.every=1", f"trainer.output_dir={out}"]
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
    assert "engine: async" in (out / "config.yaml").read_text()
    assert len([json.loads(x) for x in (out / "eval.jsonl").read_text().splitlines()]) >= 2
