"""The asynchronous rollout engine against a raw vLLM batch and against the HF loop, in ONE run.

    python benchmarks/rollout_engine.py [--seed 0] [--threads N] [--sync-too] [override ...]

Everything runs on the main job's config (conf/train.yaml: SmolLM2-135M-Instruct, the `basic`
code suite, 5 thoughts of 96 tokens, 4 prompts per step) with `+agent=srpo`, through trainers built
by the project's own `Trainer.setup()`, the vLLM one with `backend=vllm backend.vllm.engine=async`:
(a) raw: ONE call of the step's first draws on the async engine, `--rows` continuations of each of
    the step's prompts, at most max_thoughts x max_thought_tokens new tokens, no thought stops and
    no transition (each row runs to EOS or the cap): generated tokens / wall seconds;
(b) loop: the same rows through the agent loop (`Roller.run`, sampling.mode=continuous: every
    trajectory its own coroutine, one thought per request, the Thought-MDP transition after each,
    stopping at the episode's end): generated tokens / wall seconds. The prefix cache is reset
    before (a) and before (b), and before the step;
(c) one main-job SRPO step (`Trainer.train_step(1)`, same seed) through that vLLM trainer and
    through a fresh HF trainer (the HF backend's own loop); with `--sync-too` also through the
    blocking vLLM engine (`backend.vllm.engine=sync`, its own engine start); with `--graph` also
    through the async engine with the step as a graph of per-prompt tasks (`sampling.batching=graph`,
    `codereset.rollouts.graph`; its own engine start). Graph and step modes seed their draws
    differently, so their steps draw different rollouts: they are compared by generated tokens per
    wall second of the buffer's build (`time_build_s`: generation, scoring and localization).
The LAST line is exactly
`loop_vs_raw=<b/a> gen_vllm_vs_hf=<HF generate+localize s / vLLM generate+localize s>
step_vllm_vs_hf=<HF step s / vLLM step s> engine_start_s=<s> sync_s=<s>` (one line; sync_s: the
vLLM step's weight sync, time_sync_s), followed with `--graph` by ` graph_vs_step=<graph build
tokens/s / step build tokens/s> gen_graph_vs_hf=<HF build s per token / graph build s per token>`. Targets (issue 28, on the 2-core machine): loop_vs_raw >= 0.7
and gen_vllm_vs_hf >= 2.0 (engine start excluded, reported); the whole-step ratio is reported, not
targeted (the update is the same on both). The machine must be otherwise idle for the figures to
mean anything. It writes nothing but temporary run folders.

`--smoke`: the tiny random model with two 32-wide heads (vLLM's CPU kernels serve no smaller
head), 2 prompts, 2 rows, 3 thoughts of 16 tokens, one thread; needs vLLM; figures mean nothing.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the repo root, when not pip-installed
sys.path.insert(0, str(ROOT / "benchmarks"))  # outdir
import outdir  # noqa: E402

SMOKE = ["model=tiny", "model.random_init.num_heads=2", "model.random_init.num_kv_heads=1",
         "trainer.prompts_per_step=2", "env.max_thoughts=3", "env.max_thought_tokens=16"]
ASYNC = ["backend=vllm", "backend.vllm.engine=async"]
SYNC = ["backend=vllm", "backend.vllm.engine=sync"]


def make_trainer(agent: str, overrides: list[str], out: Path):
    """A set-up `Trainer` from conf/train.yaml with `+agent=<agent>` and `overrides`."""
    from hydra import compose, initialize_config_dir
    from omegaconf import OmegaConf

    from codereset.config import conf_dir
    from codereset.run.trainer import Trainer
    from codereset.train import register

    register()
    with initialize_config_dir(config_dir=conf_dir(), version_base="1.3"):
        cfg = compose(config_name="train", overrides=[f"+agent={agent}", "trainer.progress=false",
                                                      "logging.tensorboard=false", "validation.at_start=false",
                                                      "validation.every=0", "validation.at_end=false",
                                                      f"trainer.output_dir={out}", *overrides])
    trainer = Trainer(OmegaConf.to_object(cfg), out, OmegaConf.to_yaml(cfg))
    trainer.setup()
    return trainer


def close(trainer) -> None:
    trainer.verifier.close()
    trainer.backend.close()


def reset_cache(backend) -> None:
    """Empty the engine's prefix cache (so no measured phase reuses another's KV)."""
    engine = getattr(backend, "engine", None)
    if engine is not None and hasattr(backend, "loop"):
        backend.loop.run(engine.reset_prefix_cache())
    elif getattr(backend, "llm", None) is not None:
        backend.llm.reset_prefix_cache()


def raw_and_loop(trainer, rows: int) -> dict:
    """(a) and (b) of the module docstring on the trainer's backend; tokens/s of each."""
    from codereset.generation import Sampling

    backend, roller, rules = trainer.backend, trainer.roller, trainer.roller.rules
    tasks = trainer.sampler.batch(1)
    prompts = [roller.prompt_ids(t) for t in tasks]
    cap = rules.max_thoughts * rules.max_thought_tokens
    out = {}
    backend.generate(prompts[:1], 1, Sampling(max_new_tokens=2))  # warm-up: first-call costs out of (a)
    reset_cache(backend)
    before = backend.stats["generated_tokens"]
    start = time.perf_counter()
    backend.generate(prompts, rows, Sampling(temperature=roller.sampling.temperature, top_p=roller.sampling.top_p,
                                             max_new_tokens=cap))
    out["raw_s"] = time.perf_counter() - start
    out["raw_tokens"] = backend.stats["generated_tokens"] - before
    reset_cache(backend)
    before = backend.stats["generated_tokens"]
    start = time.perf_counter()
    groups = roller.run([roller.fresh(t) for t in tasks], rows)
    out["loop_s"] = time.perf_counter() - start
    out["loop_tokens"] = backend.stats["generated_tokens"] - before
    out["loop_thoughts"] = sum(r.n_thoughts for g in groups for r in g)
    out["max_in_flight"] = backend.stats.get("max_in_flight")
    reset_cache(backend)
    for k in ("raw", "loop"):
        out[f"{k}_rate"] = out[f"{k}_tokens"] / max(out[f"{k}_s"], 1e-9)
    return out


def step(trainer) -> dict:
    """`train_step(1)` of a set-up trainer: its metrics row and the backend's counters over it."""
    stats = trainer.backend.stats
    if "peak_in_flight" in stats:
        stats["peak_in_flight"] = 0  # the step's own peak
    before = dict(stats)
    row = trainer.train_step(1)
    moved = {k: v - before.get(k, 0) for k, v in stats.items()
             if isinstance(v, (int, float)) and not k.startswith(("last_", "prefix_cache", "max_", "peak_"))}
    if "peak_in_flight" in stats:
        moved["peak_in_flight"] = stats["peak_in_flight"]
    return {"row": row, "backend": moved, "engine_start_s": trainer.backend.stats.get("engine_start_s", 0.0)}


def gen_s(row: dict) -> float:
    return row["time_generate_s"] + row["time_localize_s"]


def build_rate(row: dict) -> float:
    """Generated tokens per wall second of the buffer's build (generation, scoring, localization)."""
    return row["tokens_generated"] / max(row["time_build_s"], 1e-9)


def print_step(name: str, result: dict) -> None:
    row, be = result["row"], result["backend"]
    print(f"[{name}] step {row['time_step_s']:.1f} s: generate {row['time_generate_s']:.1f}, localize "
          f"{row['time_localize_s']:.1f}, verify {row['time_verify_s']:.1f} (busy {row['time_verify_busy_s']:.1f}), "
          f"train {row['time_train_s']:.1f} (sync {row.get('time_sync_s', 0.0):.1f}); tokens generated "
          f"{row['tokens_generated']} (trained {row['tokens_trained']}, seed search {row['tokens_seed_search']}, "
          f"localization {row['tokens_localization']}, aborted {row.get('tokens_aborted', 0)}); "
          f"{row['tokens_generated'] / max(gen_s(row), 1e-9):.1f} tokens/s of generate+localize; build "
          f"{row['time_build_s']:.1f} s = {build_rate(row):.1f} tokens/s; backend calls "
          f"{row['gen_calls']}, requests {be.get('requests', 'na')}, most in flight {be.get('peak_in_flight', 'na')}",
          flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--rows", type=int, default=8, help="continuations per prompt in (a) and (b)")
    ap.add_argument("--sync-too", action="store_true", help="also one step through the blocking vLLM engine")
    ap.add_argument("--graph", action="store_true",
                    help="also one step through the async engine with sampling.batching=graph")
    ap.add_argument("--threads", type=int, default=None,
                    help="CPU threads (torch's, and the cores a vLLM worker binds to); default: all")
    ap.add_argument("overrides", nargs="*", help="extra Hydra overrides for every trainer")
    outdir.add_arguments(ap, "rollout_engine", out=False)
    args = ap.parse_args()
    if args.smoke:
        args.overrides, args.threads, args.rows = [*SMOKE, *args.overrides], args.threads or 1, 2
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
        os.environ["OMP_NUM_THREADS"] = str(args.threads)
        os.environ["VLLM_CPU_OMP_THREADS_BIND"] = "0" if args.threads == 1 else f"0-{args.threads - 1}"
    try:
        import vllm  # noqa: F401
    except ImportError:
        sys.exit("rollout_engine: needs vLLM (pip install -e '.[vllm]')")
    extra = [f"seed={args.seed}", *args.overrides]
    tmp = Path(tempfile.mkdtemp(prefix="codereset-rollout-engine-"))

    print("[vllm-async] engine start ...", flush=True)
    trainer = make_trainer("srpo", [*ASYNC, *extra], tmp / "vllm")
    engine_start = trainer.backend.stats["engine_start_s"]
    print(f"[vllm-async] engine start {engine_start:.1f} s", flush=True)
    ab = raw_and_loop(trainer, args.rows)
    print(f"(a) raw batch: {ab['raw_tokens']} tokens in {ab['raw_s']:.1f} s = {ab['raw_rate']:.1f} tokens/s", flush=True)
    print(f"(b) agent loop: {ab['loop_tokens']} tokens ({ab['loop_thoughts']} thoughts) in {ab['loop_s']:.1f} s = "
          f"{ab['loop_rate']:.1f} tokens/s, most requests in flight {ab['max_in_flight']}", flush=True)
    results = {"vllm-async": step(trainer)}
    close(trainer)
    print_step("vllm-async", results["vllm-async"])
    if args.graph:
        trainer = make_trainer("srpo", [*ASYNC, "sampling.batching=graph", *extra], tmp / "vllm-graph")
        results["vllm-graph"] = step(trainer)
        close(trainer)
        print_step("vllm-graph", results["vllm-graph"])
    if args.sync_too:
        trainer = make_trainer("srpo", [*SYNC, *extra], tmp / "vllm-sync")
        results["vllm-sync"] = step(trainer)
        close(trainer)
        print_step("vllm-sync", results["vllm-sync"])
    trainer = make_trainer("srpo", ["backend=hf", *extra], tmp / "hf")
    results["hf"] = step(trainer)
    close(trainer)
    print_step("hf", results["hf"])
    v, h = results["vllm-async"]["row"], results["hf"]["row"]
    print(f"loop_vs_raw={ab['loop_rate'] / max(ab['raw_rate'], 1e-9):.2f} "
          f"gen_vllm_vs_hf={gen_s(h) / max(gen_s(v), 1e-9):.2f} "
          f"step_vllm_vs_hf={h['time_step_s'] / max(v['time_step_s'], 1e-9):.2f} "
          f"engine_start_s={engine_start:.1f} sync_s={v.get('time_sync_s', 0.0):.2f}"
          + (f" graph_vs_step={build_rate(results['vllm-graph']['row']) / max(build_rate(v), 1e-9):.2f}"
             f" gen_graph_vs_hf={build_rate(results['vllm-graph']['row']) / max(build_rate(h), 1e-9):.2f}"
             if args.graph else ""))


if __name__ == "__main__":
    main()
