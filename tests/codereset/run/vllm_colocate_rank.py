"""One rank of the two-process colocated-vLLM check, run by `torchrun --nproc_per_node 2` from
test_distributed_vllm.py (not a test module itself): `python vllm_colocate_rank.py OUT ENGINE0 ENGINE1`.

Each rank joins the gloo group, builds the same tiny model, starts its own vLLM engine (rank r's
engine class is ENGINE<r>: "sync" or "async"), samples two continuations of one prompt on it,
trains on them (its share of the batch) with gradients summed over ranks (`PolicyUpdater` with the rank's `DistInfo`),
syncs its engine, and writes OUT.<rank> (JSON): greedy continuations of the engine before and after
the sync and of the trainer's own model (the HF backend) after it, its draws, and a checksum of
its parameters.
"""

from __future__ import annotations

import json
import sys
import time

import torch

from codereset.generation import Sampling, make_backend
from codereset.learn.losses import LossConfig
from codereset.learn.update import PolicyUpdater
from codereset.models import ModelConfig, load_model
from codereset.models.config import RandomInitConfig
from codereset.rollouts.rollout import Rollout
from codereset.run import distributed
from envs.tasks import Task

QUESTIONS = ["def add(a, b):", "Name three colors.", "What is 2+2?"]
GREEDY = Sampling(temperature=0.0, max_new_tokens=12)
SAMPLED = Sampling(temperature=1.0, max_new_tokens=12)


def main(out: str, engines: list[str]) -> None:
    info = distributed.from_env()
    distributed.init(info)
    started = time.perf_counter()
    try:
        torch.manual_seed(0)
        # vLLM's CPU attention needs head size >= 32: 2 heads of the tiny model's width 64
        model, tok = load_model(ModelConfig(name="tiny", random_init=RandomInitConfig(num_heads=2, num_kv_heads=1)))
        distributed.broadcast_params_(model, info)
        prompts = [tok(q, add_special_tokens=False)["input_ids"] for q in QUESTIONS]
        with make_backend("vllm", model, tok, {"dtype": "float32", "engine": engines[info.rank]}) as engine:
            engine_s = time.perf_counter() - started
            before = [g[0].token_ids for g in engine.generate(prompts, 1, GREEDY)]
            # two draws of the same prompt on every rank, no per-request seed: the engine's own stream.
            # One request per call, so the engine's random numbers are consumed alike whatever its class
            # (how requests share engine steps depends on timing on the async engine)
            draws = [engine.generate(prompts[:1], 1, SAMPLED)[0][0] for _ in range(2)]
            task = Task(task_id="t0", suite="fake", kind="math", problem=QUESTIONS[0], reference=("1",), answer="1")
            rollouts = [Rollout(task=task, prompt_ids=prompts[0], segments=[c.token_ids]) for c in draws]
            optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
            result = PolicyUpdater(model, optimizer, LossConfig(), 2, 1.0, tok.pad_token_id, info,
                                   forward="plain").step(rollouts, [1.0, -1.0])
            engine.sync_weights(model)
            after = [g[0].token_ids for g in engine.generate(prompts, 1, GREEDY)]
            kind = type(engine).__name__
        trainer = [g[0].token_ids for g in make_backend("hf", model, tok).generate(prompts, 1, GREEDY)]
        with torch.no_grad():
            checksum = float(sum(p.double().sum() for p in model.parameters()))
        report = {"rank": info.rank, "engine": kind, "before": before, "after": after, "trainer": trainer,
                  "draws": [c.token_ids for c in draws], "rollouts_trained": result.rollouts,
                  "skipped": result.skipped, "checksum": checksum, "engine_start_s": round(engine_s, 1),
                  "wall_s": round(time.perf_counter() - started, 1)}
        with open(f"{out}.{info.rank}", "w") as f:
            json.dump(report, f)
    finally:
        distributed.shutdown(info)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:4])
