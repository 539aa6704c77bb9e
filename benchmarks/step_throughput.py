"""One SRPO training step on the main job's defaults, through the old path and the new one, in ONE run.

    python benchmarks/step_throughput.py [--seed 0] [--threads 1] [--vllm] [override ...]

Both steps are `Trainer.train_step(1)` of a trainer built by the project's own `Trainer.setup()`
from conf/train.yaml with `+agent=srpo backend=hf` (and any extra Hydra overrides given), the
same seed, each from a freshly loaded model:
- old: `sampling.batching=per_round` (one generate call per distinct count and token budget,
  the seed search in rounds of `buffer.search_batch`, scoring after each call),
  `backend.hf.engine=generate` (one `model.generate` per chunk: every row decodes until the
  chunk's longest is done, every sample re-encodes its prompt) and `trainer.forward=plain`
  (whole sequences through the model);
- new: the defaults (`sampling.batching=step`, the HF backend's own decoding loop, scoring
  overlapped with generation, `trainer.forward=shared_prefix`).
Both use the HF backend so they differ only in the path (vLLM: benchmarks/generation.py).

Baselines measured in the same run, on the same model:
- generation: one plain `model.generate` call of 32 rows on prompts of the step's prompt length
  (the training prompts, cycled) with exactly 64 new tokens; target: the new step's generated
  tokens per second of generate+localize time >= 1.0x it;
- update: a plain full-sequence forward+backward (fp32, micro-batches of
  trainer.micro_batch_size, the loss a plain sum of log-probs of the trained tokens) over the new
  step's trained rollouts; target: the new step's trained tokens per second of update time
  >= 0.6x its trained tokens per second.
`--vllm` then runs the new path once more through `backend=vllm` (same seed) and prints its phases,
engine start and weight-sync seconds and `vllm_over_hf_step=<HF step s / vLLM step s>`.
Per path the backend's own counters show where generation time went: calls, rows, decode steps and
mean live rows per step, prefill and decode seconds, tokens decoded past an episode's end.
Targets on the 2-core machine (issue 12): step_speedup >= 4. The machine is shared: figures vary
with the other jobs' load. The LAST line is exactly
`step_speedup=<x> gen_rows_per_call=<mean> forward_tokens_per_trained_token=<old>/<new>`.
It writes no files but its temporary run folders. `--smoke`: the same two steps with `model=tiny`
(random weights, 3 thoughts of 16 tokens) on 2 prompts, one thread, well under a minute; its figures
mean nothing. With `--vllm` it needs the vLLM engine.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the repo root, when not pip-installed
sys.path.insert(0, str(ROOT / "benchmarks"))  # outdir
import outdir  # noqa: E402

OLD = ["sampling.batching=per_round", "backend.hf.engine=generate", "trainer.forward=plain"]
PHASES = ("generate", "verify", "localize", "train", "step")
RATIOS = ("prefix_cache_hit", "last_prefix_cache_hit", "engine_start_s")  # backend stats that are not counters
# --smoke: the tiny model with 2 heads of 32 (vLLM on a CPU serves no smaller head), 2 prompts
SMOKE = ["model=tiny", "model.random_init.num_heads=2", "model.random_init.num_kv_heads=1",
         "trainer.prompts_per_step=2"]


def make_trainer(overrides: list[str], out: Path, backend: str = "hf"):
    from hydra import compose, initialize_config_dir
    from omegaconf import OmegaConf

    from codereset.config import conf_dir
    from codereset.train import register
    from codereset.run.trainer import Trainer

    register()
    with initialize_config_dir(config_dir=conf_dir(), version_base="1.3"):
        cfg = compose(config_name="train", overrides=["+agent=srpo", f"backend={backend}", "trainer.progress=false",
                                                      "logging.tensorboard=false", f"trainer.output_dir={out}",
                                                      *overrides])
    trainer = Trainer(OmegaConf.to_object(cfg), out, OmegaConf.to_yaml(cfg))
    trainer.setup()
    return trainer


def run_step(overrides: list[str], out: Path, backend: str = "hf") -> dict:
    """One step (step 1) of a fresh trainer; returns its metrics row, its buffer and the trainer."""
    trainer = make_trainer(overrides, out, backend)
    kept = {}
    build = trainer.builder.build

    def keep(tasks, *args, **kwargs):
        kept["buf"] = build(tasks, *args, **kwargs)
        return kept["buf"]

    trainer.builder.build = keep
    stats0 = dict(trainer.backend.stats)
    row = trainer.train_step(1)
    stats = {k: v - stats0.get(k, 0) for k, v in trainer.backend.stats.items()
             if isinstance(v, (int, float)) and k not in RATIOS}
    stats["engine_start_s"] = trainer.backend.stats.get("engine_start_s", 0.0)
    return {"row": row, "buf": kept["buf"], "trainer": trainer, "backend": stats}


def backend_line(name: str, result: dict) -> str:
    """Where the step's generation time went: calls, rows, decode steps, discarded tokens (decoded
    by the backend but in no rollout: past an episode's end; a backend does not count a sampled
    EOS, a rollout does)."""
    row, be, buf = result["row"], result["backend"], result["buf"]
    rollouts = {id(r): r for p in buf.prompts for r in [*p.draws, *(x for g in p.groups for x in g.rollouts)]}
    kept = row["tokens_generated"] - sum(r.ended_with_eos for r in rollouts.values())
    parts = [f"[{name}] backend: calls {be.get('calls', 0)}, rows {be.get('rows', be.get('requests', 0))}, "
             f"generated {be.get('generated_tokens', 0)} tokens ({kept} kept in rollouts and localization "
             f"without their EOS, so {be.get('generated_tokens', 0) - kept} discarded)"]
    if be.get("decode_steps"):
        mean_rows = be["row_steps"] / be["decode_steps"]
        parts.append(f"decode steps {be['decode_steps']} (mean rows per step {mean_rows:.1f}), "
                     f"prefill {be['prefill_tokens']} tokens in {be['prefill_s']:.1f} s, decode {be['decode_s']:.1f} s "
                     f"({be['generated_tokens'] / max(be['decode_s'], 1e-9):.1f} tokens/s), "
                     f"episode ends {be.get('episode_ends', 0)}")
    if be.get("engine_start_s"):
        parts.append(f"engine start {be['engine_start_s']:.1f} s (before the step), weight syncs "
                     f"{be.get('weight_syncs', 0)} taking {be.get('sync_time_s', 0.0):.1f} s (in train)")
    return "; ".join(parts)


def close(trainer) -> None:
    trainer.verifier.close()
    trainer.backend.close()


def plain_generate(trainer, prompt_len: int, rows: int = 32, new: int = 64) -> float:
    """Tokens/s of one plain model.generate call: `rows` training prompts cut to `prompt_len`."""
    import torch
    from transformers import GenerationConfig

    ids = [trainer.roller.prompt_ids(t) for t in trainer.train_tasks[:rows]]
    ids = [(p * (prompt_len // len(p) + 1))[:prompt_len] for p in ids]
    ids = (ids * (rows // len(ids) + 1))[:rows]
    x = torch.tensor(ids)
    model = trainer.model
    model.eval()
    cfg = GenerationConfig(max_new_tokens=new, min_new_tokens=new, do_sample=True, temperature=0.7,
                           top_p=0.95, top_k=0, pad_token_id=trainer.tokenizer.pad_token_id)
    start = time.perf_counter()
    with torch.no_grad():
        out = model.generate(input_ids=x, attention_mask=torch.ones_like(x), generation_config=cfg)
    seconds = time.perf_counter() - start
    model.train()
    return rows * (out.shape[1] - x.shape[1]) / seconds


def plain_update(trainer, rollouts, micro: int) -> float:
    """Trained tokens/s of a plain full-sequence forward+backward over `rollouts` (no step taken)."""
    import torch

    model = trainer.model
    pad = trainer.tokenizer.pad_token_id
    trained = 0
    start = time.perf_counter()
    for s in range(0, len(rollouts), micro):
        chunk = rollouts[s : s + micro]
        seqs = [r.sequence() for r in chunk]
        width = max(len(q) for q in seqs)
        ids = torch.full((len(seqs), width), pad, dtype=torch.long)
        mask = torch.zeros((len(seqs), width), dtype=torch.bool)
        for i, q in enumerate(seqs):
            ids[i, : len(q)] = torch.tensor(q)
            mask[i, chunk[i].trained_from : len(q)] = True
        logits = model(input_ids=ids, attention_mask=(ids != pad) | mask).logits[:, :-1].float()
        logp = torch.log_softmax(logits, -1).gather(-1, ids[:, 1:, None])[..., 0]
        (-(logp * mask[:, 1:]).sum()).backward()
        trained += int(mask.sum())
    seconds = time.perf_counter() - start
    model.zero_grad(set_to_none=True)
    return trained / seconds


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--vllm", action="store_true",
                    help="also run the new path through backend=vllm (its engine start is reported apart)")
    ap.add_argument("--skip-old", action="store_true",
                    help="diagnosis only: skip the old path (no step_speedup then)")
    ap.add_argument("--threads", type=int, default=None,
                    help="CPU threads (torch's, and the cores a vLLM worker binds to); default: the "
                         "libraries' own (all cores). On a machine shared with other busy jobs, 1 avoids "
                         "OpenMP threads spin-waiting for a core another job holds")
    ap.add_argument("overrides", nargs="*", help="extra Hydra overrides for every step")
    outdir.add_arguments(ap, "step_throughput", out=False)
    args = ap.parse_args()
    if args.smoke:
        args.overrides, args.threads = [*SMOKE, *args.overrides], args.threads or 1
    if args.threads:
        import os

        import torch

        torch.set_num_threads(args.threads)
        os.environ["OMP_NUM_THREADS"] = str(args.threads)
        os.environ["VLLM_CPU_OMP_THREADS_BIND"] = "0" if args.threads == 1 else f"0-{args.threads - 1}"
    extra = [f"seed={args.seed}", *args.overrides]
    tmp = Path(tempfile.mkdtemp(prefix="codereset-step-bench-"))
    paths = ([] if args.skip_old else [("old", OLD)]) + [("new", [])]
    results = {}
    for name, overrides in paths:
        print(f"[{name}] one step with backend=hf {' '.join(overrides + extra)} ...", flush=True)
        results[name] = run_step([*overrides, *extra], tmp / name)
        if name != "new":
            close(results[name]["trainer"])
    new = results["new"]
    trainer = new["trainer"]
    rollouts = [r for g in new["buf"].groups for r in g.rollouts]
    prompt_len = round(sum(len(r.prompt_ids) for r in rollouts) / len(rollouts))
    base = {"gen": plain_generate(trainer, prompt_len), "upd": plain_update(trainer, rollouts,
                                                                         trainer.cfg.trainer.micro_batch_size),
            "prompt_len": prompt_len}
    close(trainer)
    report(results, base)
    if args.vllm:  # last: the HF figures above stand even if the engine fails
        print("[vllm] one step with backend=vllm (the new path) ...", flush=True)
        results["vllm"] = run_step(extra, tmp / "vllm", "vllm")
        close(results["vllm"]["trainer"])
        report(results, base)
        v = results["vllm"]
        print(f"vllm_over_hf_step={new['row']['time_step_s'] / v['row']['time_step_s']:.2f} (step wall time; the "
              f"engine start, {v['backend']['engine_start_s']:.1f} s, is once per run, not per step)")
    if not args.skip_old:
        row = new["row"]
        speedup = results["old"]["row"]["time_step_s"] / row["time_step_s"]
        ftt = [results[k]["row"].get("forward_tokens_per_trained_token") for k in ("old", "new")]
        fmt = lambda v: "nan" if v is None else f"{v:.2f}"  # noqa: E731
        print(f"step_speedup={speedup:.2f} gen_rows_per_call={row['gen_rows_per_call']:.1f} "
              f"forward_tokens_per_trained_token={fmt(ftt[0])}/{fmt(ftt[1])}")


def report(results: dict, base: dict) -> None:
    """Per phase seconds of every path run, where generation went, and the rates against the
    plain baselines (`base`: plain generate and update rates, the prompt length)."""
    names = list(results)
    ratio = "old" in results
    print(f"\n{'phase (s)':<14}" + "".join(f"{n:>10}" for n in names) + (f"{'old/new':>10}" if ratio else ""))
    for phase in [*PHASES, "verify_busy"]:
        vals = {n: results[n]["row"][f"time_{phase}_s"] for n in names}
        tail = f"{(vals['old'] / vals['new'] if vals['new'] else float('nan')):>10.2f}" if ratio else ""
        print(f"{phase:<14}" + "".join(f"{v:>10.1f}" for v in vals.values()) + tail)
    for name in names:
        row, be = results[name]["row"], results[name]["backend"]
        kept = be.get("generated_tokens", 0) / be["row_steps"] if be.get("row_steps") else float("nan")
        print(f"[{name}] tokens generated {row['tokens_generated']} (trained {row['tokens_trained']}, seed search "
              f"{row['tokens_seed_search']}, localization {row['tokens_localization']}); backend calls "
              f"{row['gen_calls']}, rows/call {row['gen_rows_per_call']:.1f}; decoded row-steps kept {kept:.2f}; "
              f"forward tokens per trained token {row.get('forward_tokens_per_trained_token')}")
        print(backend_line(name, results[name]))
    for name in [n for n in names if n != "old"]:
        row = results[name]["row"]
        gen_rate = row["tokens_generated"] / max(row["time_generate_s"] + row["time_localize_s"], 1e-9)
        upd_rate = row["tokens_trained"] / max(row["time_train_s"], 1e-9)
        print(f"generation [{name}]: {gen_rate:.1f} tokens/s of generate+localize vs plain batch-32 HF generate "
              f"(prompt {base['prompt_len']} tokens, 64 new) {base['gen']:.1f} tokens/s: {gen_rate / base['gen']:.2f}x "
              "(target >= 1.0)")
        print(f"update [{name}]: {upd_rate:.1f} trained tokens/s of train time vs plain full-sequence "
              f"forward+backward {base['upd']:.1f}: {upd_rate / base['upd']:.2f}x (target >= 0.6)")


if __name__ == "__main__":
    main()
