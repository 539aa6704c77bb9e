"""Generation speed: the Hugging Face backend vs the vLLM backend, measured in the same run.

    python benchmarks/generation.py [--threads 1]   # SmolLM2-135M-Instruct; ~10 min on 2 CPU cores

Both backends are built by the project's own `Trainer.setup()` from the same config (default
model, `basic` code suite, SRPO, the main job's CPU budget), so they serve the same model in
the same dtype (float32 on a CPU unless --vllm-dtype says otherwise). Figures:

1. Throughput: one `generate` call of 64 distinct training prompts (rendered without the worked
   example, so only the short instruction is shared), 1 sample each, temperature 0.7, top-p
   0.95, at most 128 new tokens; tokens/s = generated tokens / wall time. One short warm-up call
   per backend first; the vLLM engine's start-up is reported separately.
2. One SRPO buffer (split 1x4, one prompt): base group of 4, seed search, self-localization,
   shared-prefix group of 4, through `BufferBuilder.build`, timed with each backend, with its
   generate / localize / verify split. Sampling makes the two buffers different draws: their
   generated token counts are printed next to the times.
3. Prefix cache: for the vLLM buffer's shared-prefix (reset) group, the share of its prefix
   tokens that the engine served from its cache (the prefix x* = prompt + seed thoughts before
   h* was computed while the seed was sampled). vLLM caches whole KV blocks and always
   recomputes a prefix's last token, so the ceiling is block_size * floor((L-1)/block_size) / L.

`--backends hf` measures the HF side alone (no vLLM needed; the last line then reads `na`).
`--smoke`: the tiny random model, 4 prompts of at most 8 new tokens, a 3-thought SRPO buffer,
seconds; with `--backends hf` it needs no vLLM. No files are written (the run folders are temporary).

Targets (issue 5, on the 2-core machine): vLLM >= 4x the HF tokens/s, and >= 90% of a reset
group's prefix tokens served from the cache. The LAST line is exactly
`vllm_over_hf=<ratio> prefix_cache_hit=<fraction>`.

Measured 2026-11-26 on the 2-core development machine while other jobs kept the cores busy
(load 3-6; no idle window came), float32 on both sides, two runs:
- `--threads 1`: HF 23.4 tokens/s, vLLM 94.5 tokens/s (engine start 35 s); one SRPO 1x4 buffer
  111.8 s with HF (980 tokens) vs 52.3 s with vLLM (1075 tokens); the reset group's 4 x 244
  prefix tokens served from the cache at 0.918 (the block-32 ceiling). Last line
  `vllm_over_hf=4.04 prefix_cache_hit=0.918`.
- default threads: HF 12.6 tokens/s (two OpenMP threads spin-waiting against the other jobs;
  a 1-thread HF run in the same conditions does better), vLLM 97.0 tokens/s (start 25 s); SRPO
  buffer 901 s (980 tokens) vs 32.9 s (791 tokens); reset prefix 4 x 298 tokens at 0.966 (the
  ceiling). Last line `vllm_over_hf=7.70 prefix_cache_hit=0.966`; the 4.04 run is the fairer
  ratio. On an idle machine expect HF near 108 tokens/s (shared/docs/machine.md).
"""

from __future__ import annotations

import argparse
import atexit
import dataclasses
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the repo root, when not pip-installed
sys.path.insert(0, str(ROOT / "benchmarks"))  # outdir
import outdir  # noqa: E402


def backend_config(name: str, **options):
    """The typed `BackendConfig` for backend `name` with `options` set on that backend's own
    options (e.g. backend_config("vllm", dtype="auto"))."""
    from codereset.config import BackendConfig

    cfg = BackendConfig(name=name)
    setattr(cfg, name, dataclasses.replace(getattr(cfg, name), **options))
    return cfg


def train_config(backend, out: Path, seed: int, model: str | None = None, smoke: bool = False):
    """The main job's configuration (conf/train.yaml's CPU budget) with `backend` (a
    `BackendConfig`), agent SRPO; `model` replaces the default model; `smoke`: tiny budgets."""
    from codereset.config import (AgentConfig, EnvConfig, LocalizeConfig, LoggingConfig, TrainConfig,
                                  TrainerConfig, ValidationConfig)
    from codereset.models.config import ModelConfig, RandomInitConfig

    thoughts, thought_tokens, localize_tokens = (3, 16, 16) if smoke else (6, 128, 96)
    model_cfg = ModelConfig(name=model) if model else ModelConfig()
    if model == "tiny":  # 2 heads of 32: vLLM on a CPU serves no smaller head
        model_cfg.random_init = RandomInitConfig(num_heads=2, num_kv_heads=1)
    return TrainConfig(
        seed=seed, backend=backend, model=model_cfg,
        torch_threads=1 if smoke else None,
        env=EnvConfig(max_thoughts=thoughts, max_thought_tokens=thought_tokens),
        agent=AgentConfig(name="srpo", localize=LocalizeConfig(max_new_tokens=localize_tokens)),
        trainer=TrainerConfig(steps=1, prompts_per_step=1, output_dir=str(out), progress=False),
        validation=ValidationConfig(every=0, at_end=False),
        logging=LoggingConfig(tensorboard=False, samples=False),
    )


def make_trainer(backend, seed: int, model: str | None = None, smoke: bool = False):
    """A set-up Trainer (model, tokenizer, backend, builder) in a fresh temporary run directory."""
    from codereset.run.trainer import Trainer

    out = Path(tempfile.mkdtemp(prefix="bench-generation-"))
    atexit.register(shutil.rmtree, out, True)
    cfg = train_config(backend, out, seed, model, smoke)
    trainer = Trainer(cfg, out, json.dumps(dataclasses.asdict(cfg)))
    trainer.setup()
    return trainer


class CallRecorder:
    """Wraps a backend's `generate_streaming` (which its `generate` and the roller call) to keep,
    per call, (prefixes, requests per prefix, per-request (prefix, cached) tokens)."""

    def __init__(self, backend) -> None:
        self.backend = backend
        self.calls: list[tuple[list[list[int]], list[int], list[tuple[int, int]]]] = []
        self._streaming = backend.generate_streaming
        backend.generate_streaming = self.generate_streaming

    def generate_streaming(self, prefixes, n, sampling, stop=(), on_done=None, max_new=None, episode_end=None):
        out = self._streaming(prefixes, n, sampling, stop, on_done, max_new, episode_end)
        counts = [n] * len(prefixes) if isinstance(n, int) else list(n)
        if sampling.greedy:
            counts = [min(k, 1) for k in counts]
        self.calls.append(([list(p) for p in prefixes], counts, list(getattr(self.backend, "last_requests", []))))
        return out


def throughput(trainer, tasks, max_new_tokens: int) -> dict:
    """Tokens/s of one generate call over `tasks`' prompts (see module docstring, 1.)."""
    from codereset.generation import Sampling
    from codereset.rollouts.rollout import encode_prompt

    prompts = [encode_prompt(t, trainer.tokenizer, False, trainer.rules) for t in tasks]
    sampling = Sampling(temperature=0.7, top_p=0.95, max_new_tokens=max_new_tokens, seed=0)
    trainer.backend.generate(prompts[:2], 1, Sampling(max_new_tokens=8, seed=0))  # warm-up
    started = time.perf_counter()
    out = trainer.backend.generate(prompts, 1, sampling)
    wall = time.perf_counter() - started
    tokens = sum(len(g[0].token_ids) for g in out)
    return {"rows": len(prompts), "prompt_tokens_mean": round(sum(map(len, prompts)) / len(prompts), 1),
            "generated_tokens": tokens, "wall_s": round(wall, 2), "tokens_per_s": round(tokens / wall, 1)}


def srpo_buffer(trainer, tasks, record: bool) -> dict:
    """Build one SRPO 1x4 buffer (the first of `tasks` that yields a reset group)."""
    recorder = CallRecorder(trainer.backend) if record else None
    for task in tasks:
        if recorder:
            recorder.calls.clear()
        started = time.perf_counter()
        buf = trainer.builder.build([task])
        wall = time.perf_counter() - started
        resets = [g for g in buf.groups if g.kind == "reset"]
        if resets:
            break
    rollouts = [r for p in buf.prompts for r in p.draws] + [r for g in resets for r in g.rollouts]
    row = {"task": task.task_id, "wall_s": round(wall, 2),
           **{f"{k}_s": round(v, 2) for k, v in buf.times.seconds.items()},
           "generated_tokens": sum(r.generated_tokens for r in rollouts),
           "reset_groups": len(resets)}
    if recorder and resets:
        row.update(reset_cache_share(recorder, resets, trainer.backend.cfg.block_size))
    return row


def reset_cache_share(recorder: CallRecorder, resets, block: int) -> dict:
    """Prefix tokens of the reset groups' requests, and how many came from the cache."""
    prefix_tokens = cached = ceiling = 0
    for group in resets:
        first = group.rollouts[0]
        state = list(first.prompt_ids) + [t for seg in first.segments[: first.prefix_len] for t in seg]
        for prefixes, counts, requests in reversed(recorder.calls):  # the group's own (latest) call
            if state in prefixes:
                i = prefixes.index(state)
                mine = requests[sum(counts[:i]):sum(counts[: i + 1])]
                prefix_tokens += sum(p for p, _ in mine)
                cached += sum(c for _, c in mine)
                ceiling += sum(block * ((p - 1) // block) for p, _ in mine)
                break
    return {"reset_prefix_tokens": prefix_tokens, "reset_prefix_cached": cached,
            "prefix_cache_hit": round(cached / prefix_tokens, 4) if prefix_tokens else None,
            "prefix_cache_ceiling": round(ceiling / prefix_tokens, 4) if prefix_tokens else None}


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--batch", type=int, default=64, help="prompts in the throughput call")
    p.add_argument("--max-new-tokens", type=int, default=128)
    p.add_argument("--vllm-dtype", default="auto", help="vLLM dtype (auto = the trainer model's)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=None,
                   help="CPU threads for both backends (torch threads of the HF backend, the cores "
                        "the vLLM worker binds to); default: the libraries' own (all cores). On a "
                        "machine shared with other busy processes, 1 avoids OpenMP spin-wait stalls")
    p.add_argument("--model", default=None, help="model name (default: the main job's; --smoke: tiny)")
    p.add_argument("--backends", default="hf,vllm", help="which to measure: hf,vllm (default) or hf")
    outdir.add_arguments(p, "generation", out=False)
    args = p.parse_args(argv)
    backends = args.backends.split(",")
    if set(backends) - {"hf", "vllm"} or "hf" not in backends:
        p.error("--backends: hf or hf,vllm")
    if args.smoke:
        args.batch, args.max_new_tokens, args.threads = 4, 8, args.threads or 1
        args.model = args.model or "tiny"
    if args.threads:
        import os

        import torch

        torch.set_num_threads(args.threads)
        os.environ["OMP_NUM_THREADS"] = str(args.threads)
        os.environ["VLLM_CPU_OMP_THREADS_BIND"] = "0" if args.threads == 1 else f"0-{args.threads - 1}"

    from envs.tasks import load_suite

    tasks = load_suite("basic", split="train", seed=0)
    batch, buffer_tasks = tasks[: args.batch], tasks[args.batch: args.batch + 5]
    results = {}
    hf = make_trainer(backend_config("hf", max_batch_size=64), args.seed, args.model, args.smoke)
    results["hf_throughput"] = throughput(hf, batch, args.max_new_tokens)
    print("hf throughput", json.dumps(results["hf_throughput"]), flush=True)
    results["hf_srpo_buffer"] = srpo_buffer(hf, buffer_tasks, record=False)
    print("hf srpo buffer", json.dumps(results["hf_srpo_buffer"]), flush=True)
    hf.verifier.close()
    del hf
    if "vllm" not in backends:
        results["threads"] = args.threads
        print("results " + json.dumps(results))
        print("vllm_over_hf=na prefix_cache_hit=na (vllm not measured: --backends hf)")
        return

    started = time.perf_counter()
    vl = make_trainer(backend_config("vllm", dtype=args.vllm_dtype), args.seed, args.model, args.smoke)
    results["vllm_setup_s"] = round(time.perf_counter() - started, 1)
    print(f"vllm trainer setup (engine start included) {results['vllm_setup_s']} s", flush=True)
    results["vllm_throughput"] = throughput(vl, batch, args.max_new_tokens)
    print("vllm throughput", json.dumps(results["vllm_throughput"]), flush=True)
    results["vllm_srpo_buffer"] = srpo_buffer(vl, buffer_tasks, record=True)
    print("vllm srpo buffer", json.dumps(results["vllm_srpo_buffer"]), flush=True)
    vl.verifier.close()
    vl.backend.close()

    ratio = results["vllm_throughput"]["tokens_per_s"] / results["hf_throughput"]["tokens_per_s"]
    hit = results["vllm_srpo_buffer"].get("prefix_cache_hit")
    results["threads"] = args.threads
    print("results " + json.dumps(results))
    print(f"vllm_over_hf={ratio:.2f} prefix_cache_hit={'nan' if hit is None else f'{hit:.3f}'}")


if __name__ == "__main__":
    main()
