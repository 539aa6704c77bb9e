"""Positive control: GRPO through the real trainer must raise HELD-OUT greedy pass@1.

    python benchmarks/learning_control.py [--seeds 0,1,2] [--minutes M] [--out DIR]

Why this setting (the cheapest one found where the answer is not known in advance):
  * The default model on code generates ~10-100 tokens/s here, so 20 minutes buys a few hundred
    rollouts: far too few to move held-out pass@1 measurably. A tiny model (~0.9M parameters,
    byte-level BPE) generates thousands of tokens/s.
  * From the `arith` warm-start, GRPO raised the *train* pass rate on 16 repeated prompts but not
    held-out pass@1 within 40 steps (issue 13): what RL can change within minutes and what then
    transfers to unseen prompts is a policy-wide preference, not a new skill.
  * So the task is `pairsum` (a + b for single digits, one thought; envs/tasks/pairsum.py) and the
    warm-start (`warm_start`, built here in ~1-2 minutes, from scratch) is taught a biased mixture
    on the RL train prompts: the decoy "a - b = ..." with probability `--decoy` (0.75), the right
    "a + b = ..." otherwise. The arithmetic of both is easy; greedy decoding picks the decoy, so
    held-out greedy pass@1 starts near the share of problems with b = 0 (~0.1). Sampled at
    temperature 0.7 the right operation appears in ~15-25% of rollouts, which gives GRPO groups
    with reward variance. If the gradient has the right sign and reaches the shared decision, the
    preference flips on all prompts and held-out greedy pass@1 rises towards the warm-start's
    addition accuracy. If it does not rise, the trainer is broken (or the lr is off by far).
  * Validation prompts are never trained on (the suite splits by problem text; the warm-start
    sees only train prompts), and each run validates at step 0, so the start is measured.

Each seed is one `python -m codereset.train +experiment=learning_control +agent=grpo` process (the
real entry point, config conf/experiment/learning_control.yaml). Statistics: val_gain is the
mean over seeds of (final - step-0) greedy val pass@1; ci_low is the 2.5% point of a bootstrap
that resamples seeds and, within each, tasks (paired per task: each task's end minus start).
Last line:
    val_start=<mean> val_end=<mean> val_gain=<mean> ci_low=<lower 95% bound> seeds=<n> steps=<n>
Target: ci_low > 0 and val_gain >= 0.15, 3 seeds within 20 minutes on this machine.

Writes OUT/runs/grpo_s<seed>/ and OUT/result.json, OUT = `--out` (default
runs/benchmarks/learning_control; the committed result is remade with `--out
benchmarks/results/learning_control`).
The warm-start is cached in `--warm-dir` (default outputs/learning_control/warmstart, the
experiment preset's model.name). `--smoke`: a 20-step warm-start and one seed of 1 GRPO step, in
a temp folder (warm-start included), well under a minute; its figures mean nothing.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))  # outdir
import outdir  # noqa: E402

WARM_DIR = ROOT / "outputs" / "learning_control" / "warmstart"


def warm_start(out: Path, steps: int, decoy: float, seed: int, log=print) -> dict:
    """Train the biased warm-start from scratch and save it to `out`; returns its summary."""
    import torch

    from codereset.models.bytes_tokenizer import byte_tokenizer
    from codereset.rollouts.rollout import encode_prompt
    from codereset.sft import data as sd
    from codereset.sft.config import SFTConfig
    from codereset.sft.train import batch_loss, build_model, save
    from envs.prompts import render_prompt
    from envs.rules import ThoughtRules
    from envs.tasks import load_suite
    from envs.tasks.pairsum import decoy_thought

    torch.set_num_threads(1)
    started = time.perf_counter()
    rules = ThoughtRules(max_thoughts=2, max_thought_tokens=32)
    train = load_suite("pairsum", "train")
    render_tok = byte_tokenizer()
    texts = [render_prompt(t, tokenizer=render_tok, fewshot=False, rules=rules) + t.reference[0]
             + decoy_thought(t, rules.stop) for t in train]
    tokenizer = sd.train_tokenizer(texts, 512)
    cfg = SFTConfig(seed=seed)
    model = build_model(cfg, tokenizer)
    prompts = {t.task_id: encode_prompt(t, tokenizer, False, rules) for t in train}
    targets = {t.task_id: [tokenizer(text, add_special_tokens=False)["input_ids"]
                           for text in (t.reference[0], decoy_thought(t, rules.stop))] for t in train}
    rng = random.Random(f"learning_control/warm/{seed}")
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.01)
    sched = torch.optim.lr_scheduler.LambdaLR(  # linear warm-up, cosine decay
        opt, lambda s: min(1.0, (s + 1) / 50) * 0.5 * (1 + math.cos(math.pi * s / steps)))
    model.train()
    for step in range(steps):
        batch = []
        for _ in range(64):
            task = rng.choice(train)
            target = targets[task.task_id][1 if rng.random() < decoy else 0]
            ids = prompts[task.task_id] + target + [tokenizer.eos_token_id]
            batch.append(sd.Example(tuple(ids), len(prompts[task.task_id])))
        loss = batch_loss(model, batch, tokenizer.pad_token_id)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        if (step + 1) % 100 == 0:
            log(f"[warm-start] step {step + 1}/{steps} loss {loss.item():.3f} "
                f"({time.perf_counter() - started:.0f} s)")
    model.eval()
    summary = {"steps": steps, "decoy": decoy, "seed": seed, "final_loss": round(loss.item(), 4),
               "seconds": round(time.perf_counter() - started, 1)}
    save(model, tokenizer, out, summary)
    summary.update(probe(model, tokenizer, rules))
    (out / "sft_summary.json").write_text(json.dumps(summary, indent=1) + "\n")
    return summary


def probe(model, tokenizer, rules) -> dict:
    """What the warm-start does on the val split: greedy pass@1, how often greedy answers with
    the decoy's value, and sampled (T=0.7) pass rate and '+' share over 8 samples per task."""
    from codereset.generation import make_backend
    from codereset.rollouts.rollout import Roller
    from envs.tasks import load_suite
    from envs.tasks.pairsum import operands
    from envs.verify import Verifier

    val = load_suite("pairsum", "val")
    backend = make_backend("hf", model, tokenizer)
    out = {}
    with Verifier(sandbox="local", rules=rules) as verifier:
        for name, temp, n in (("greedy", 0.0, 1), ("sampled", 0.7, 8)):
            roller = Roller(backend, rules, temperature=temp, top_p=1.0 if temp == 0 else 0.95,
                            fewshot=False, mode="continuous")
            groups = roller.run([roller.fresh(t, "eval") for t in val], n)
            rollouts = [r for g in groups for r in g]
            roller.score(verifier, rollouts)
            plus = [f"{operands(r.task)[0]} +" in "".join(r.thoughts)[:8] for r in rollouts]
            decoy = [str(a - b) == (r.outcome.info.get("predicted") or "") and b > 0
                     for r in rollouts for a, b in [operands(r.task)]]
            out[f"{name}_pass"] = round(sum(r.correct for r in rollouts) / len(rollouts), 4)
            out[f"{name}_plus_share"] = round(sum(plus) / len(plus), 4)
            out[f"{name}_decoy_answers"] = round(sum(decoy) / len(decoy), 4)
    return out


def train_seed(seed: int, steps: int, run_dir: Path, warm: Path, extra: list[str]) -> float:
    """One GRPO run through the real entry point; returns its wall time in seconds."""
    cmd = [sys.executable, "-m", "codereset.train", "+experiment=learning_control", "+agent=grpo",
           f"model.name={warm}", f"seed={seed}", f"trainer.steps={steps}",
           f"trainer.checkpoint_every={steps}", f"trainer.output_dir={run_dir}",
           "trainer.progress=false", *extra]
    started = time.perf_counter()
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout[-3000:] + proc.stderr[-6000:])
        raise SystemExit(f"seed {seed}: codereset.train exited with {proc.returncode}")
    return time.perf_counter() - started


def per_task(run_dir: Path) -> dict[int, dict[str, float]]:
    """{step: {task_id: greedy pass@1}} from a run's eval.jsonl."""
    out: dict[int, dict[str, float]] = {}
    for line in (run_dir / "eval.jsonl").read_text().splitlines():
        row = json.loads(line)
        if str(row["k"]) == "1":
            out[int(row["step"])] = {t["task_id"]: float(t["pass_at_k"]) for t in row["per_task"]}
    return out


def bootstrap_low(gains: list[list[float]], reps: int = 4000, seed: int = 0) -> float:
    """2.5% point of the mean gain, resampling seeds, then tasks within each seed."""
    rng = random.Random(seed)
    means = []
    for _ in range(reps):
        seeds = [rng.choice(gains) for _ in gains]
        means.append(statistics.fmean(statistics.fmean(rng.choice(g) for _ in g) for g in seeds))
    means.sort()
    return means[int(0.025 * reps)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--steps", type=int, default=30, help="GRPO steps per seed")
    ap.add_argument("--minutes", type=float, default=20.0,
                    help="wall budget: seeds that would start after it are skipped (and reported)")
    ap.add_argument("--warm-steps", type=int, default=300)
    ap.add_argument("--decoy", type=float, default=0.75)
    ap.add_argument("--rebuild", action="store_true", help="rebuild the warm-start even if cached")
    ap.add_argument("--warm-dir", type=Path, default=WARM_DIR,
                    help="the warm-start's folder (built there when missing; default: the preset's)")
    outdir.add_arguments(ap, "learning_control")
    ap.add_argument("extra", nargs="*", help="extra Hydra overrides for every run")
    args = ap.parse_args()
    if args.smoke:  # a throw-away warm-start and one 1-step seed in a temp folder
        args.seeds, args.steps, args.warm_steps, args.rebuild = "0", 1, 20, True
        args.extra = [*args.extra, "trainer.prompts_per_step=2"]
    out = outdir.resolve(args.out, "learning_control", args.smoke)
    warm_dir = out / "warmstart" if args.smoke else args.warm_dir
    started = time.perf_counter()
    seeds = [int(s) for s in args.seeds.split(",")]
    summary_path = warm_dir / "sft_summary.json"
    if args.rebuild or not summary_path.exists():
        warm = warm_start(warm_dir, args.warm_steps, args.decoy, seed=0)
    else:
        warm = json.loads(summary_path.read_text())
    print(f"warm-start: {json.dumps(warm)}")
    gains, starts, ends, done = [], [], [], []
    for seed in seeds:
        elapsed = (time.perf_counter() - started) / 60
        if elapsed > args.minutes:
            print(f"seed {seed}: skipped, {elapsed:.1f} min used of the {args.minutes} min budget")
            continue
        run_dir = out / "runs" / f"grpo_s{seed}"
        if run_dir.exists():
            shutil.rmtree(run_dir)
        seconds = train_seed(seed, args.steps, run_dir, warm_dir, args.extra)
        curve = per_task(run_dir)
        first, last = curve[0], curve[max(curve)]
        gains.append([last[t] - first[t] for t in first])
        starts.append(statistics.fmean(first.values()))
        ends.append(statistics.fmean(last.values()))
        done.append(seed)
        means = {s: round(statistics.fmean(v.values()), 3) for s, v in sorted(curve.items())}
        print(f"seed {seed}: {seconds:.0f} s; greedy val pass@1 by step {means}")
    if not gains:
        raise SystemExit("no seed finished within the budget")
    total = (time.perf_counter() - started) / 60
    result = {"seeds": done, "steps": args.steps, "val_start": statistics.fmean(starts),
              "val_end": statistics.fmean(ends), "val_gain": statistics.fmean(ends) - statistics.fmean(starts),
              "ci_low": bootstrap_low(gains), "minutes": round(total, 2), "warm_start": warm,
              "per_seed": [{"seed": s, "start": a, "end": b} for s, a, b in zip(done, starts, ends)]}
    out.mkdir(parents=True, exist_ok=True)
    (out / "result.json").write_text(json.dumps(result, indent=1) + "\n")
    print(f"total {total:.1f} min")
    print(f"val_start={result['val_start']:.3f} val_end={result['val_end']:.3f} "
          f"val_gain={result['val_gain']:.3f} ci_low={result['ci_low']:.3f} seeds={len(done)} "
          f"steps={args.steps}")


if __name__ == "__main__":
    main()
