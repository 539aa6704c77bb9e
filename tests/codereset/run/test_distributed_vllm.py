"""One colocated vLLM engine per rank under `torchrun` (gloo on the CPU), marked `vllm`: both
ranks start an engine at once (about 1-2 min per test on a 2-core CPU). `.ci/run` runs them:
`python -m pytest -m vllm -p no:cacheprovider tests/codereset/run/test_distributed_vllm.py`.

- After an update whose gradients are summed over the two ranks and a weight sync, each rank's
  engine gives the same greedy continuations as the trainer's own model (HF), and the update
  changed them (so the comparison is not vacuous). Rank 0 drives the blocking engine and rank 1
  the async one, so one run covers both engine classes.
- The ranks' engines draw different samples of one prompt (each has its own seed).
- `torchrun -m codereset.train ... backend=vllm` (the async engine), two steps: one run directory,
  the metrics of the whole global batch, the token counts add up.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
RANK_SCRIPT = Path(__file__).with_name("vllm_colocate_rank.py")
# model=tiny with 2 heads: vLLM's CPU attention needs head size >= 32 (tiny's default is 16)
TINY_FOR_VLLM = ["model=tiny", "model.random_init.num_heads=2", "model.random_init.num_kv_heads=1"]


def _torchrun(args: list[str], cwd: Path, timeout: int) -> subprocess.CompletedProcess:
    if shutil.which("torchrun") is None:
        pytest.skip("torchrun not on PATH")
    pytest.importorskip("vllm")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    return subprocess.run(["torchrun", "--nproc_per_node", "2", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=timeout)


@pytest.mark.vllm
def test_each_ranks_engine_serves_the_trainers_weights_after_a_sync(tmp_path):
    out = tmp_path / "rank"
    proc = _torchrun([str(RANK_SCRIPT), str(out), "sync", "async"], tmp_path, 600)
    assert proc.returncode == 0, proc.stderr[-4000:]
    reports = [json.loads(Path(f"{out}.{rank}").read_text()) for rank in range(2)]
    assert [r["engine"] for r in reports] == ["VLLMBackend", "AsyncVLLMBackend"]
    for r in reports:
        assert r["after"] == r["trainer"], f"rank {r['rank']}: the engine does not serve the trainer's weights"
        assert r["after"] != r["before"], "the update changed no greedy continuation: nothing was checked"
        assert (r["rollouts_trained"], r["skipped"]) == (4, False)  # both ranks' draws, one update
    assert reports[0]["before"] == reports[1]["before"]            # same weights at the start
    assert reports[0]["checksum"] == reports[1]["checksum"]        # and after the summed-gradient update
    assert reports[0]["draws"] != reports[1]["draws"]              # each engine its own random stream


@pytest.mark.vllm
def test_torchrun_trains_on_one_vllm_engine_per_rank(tmp_path):
    run = tmp_path / "run"
    proc = _torchrun(["-m", "codereset.train", "+agent=rrpo", *TINY_FOR_VLLM, "backend=vllm",
                      "backend.vllm.engine=async", "trainer.steps=2", "trainer.prompts_per_step=2",
                      "trainer.progress=false",
                      f"trainer.output_dir={run}", "validation.every=0", "validation.at_end=false"],
                     tmp_path, 600)
    assert proc.returncode == 0, proc.stderr[-4000:]
    status = json.loads((run / "run_status.json").read_text())
    assert (status["state"], status["last_step"], status["world_size"]) == ("finished", 2, 2)
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [1, 2]  # step 2 sampled from the engines synced after step 1
    for r in rows:
        assert r["rollouts_trained"] == 16  # 2 prompts x 8 trained slots, one prompt per rank
        assert r["gen_calls"] >= 4 and r["gen_rows_per_call"] > 0  # both ranks' engines, counted
        assert r["tokens_generated"] == (r["tokens_trained"] + r["tokens_seed_search"] + r["tokens_localization"]
                                         + r.get("tokens_aborted", 0))
        assert 0 < r["time_sync_s"] <= r["time_train_s"]
    tasks = {json.loads(line)["task_id"] for line in (run / "samples.jsonl").read_text().splitlines()
             if json.loads(line)["step"] == 1}
    assert len(tasks) == 2
    assert "engine: async" in (run / "config.yaml").read_text()
    assert not (tmp_path / "outputs").exists()
