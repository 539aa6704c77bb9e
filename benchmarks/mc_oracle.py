"""How well the Monte-Carlo oracle (`codereset.rollouts.values`) agrees with the exact `first_error` oracle on
`arith`, and what it costs in tokens.

    python benchmarks/mc_oracle.py [--model DIR] [--sft-minutes M] [--tasks 48] [--samples 4] [--k 8]

1. The policy: the warm-started tiny model in `--model` (default outputs/sft/arith_tiny, made by
   `python -m codereset.sft`). When the directory holds no checkpoint, a short warm-start is made
   there first (`--sft-minutes` of `python -m codereset.sft` without localization training) and
   the script says so: it is weaker than the committed comparison's (34.6 min, val pass@1 0.26).
2. Rollouts: `--samples` per task on the first `--tasks` train problems of `arith`, sampled as the
   trainer does (temperature 0.7, top_p 0.95, conf/experiment/arith_tiny.yaml's thought budget).
3. For every failed rollout: the exact oracle's reset h = first_error + 1 (n when it finds none,
   as CARO does), and the MC oracle's from V_0..V_n at `--k` continuations per state (one batched
   call), for each drop threshold in `--thresholds`.
Printed: per threshold, the share of failed rollouts where both give the same h (and within one
step), beside RRPO's chance level (a uniform h agrees with probability 1/n), and how often the MC
oracle finds a drop at all (it cannot where every estimated value is below the threshold, as for
a policy that rarely succeeds) and how often it then agrees; the cost: MC tokens
per failed rollout and as a ratio to the tokens of the rollouts themselves (same run). Writes
summary.json and output.txt under `--out` (default runs/benchmarks/mc_oracle; the committed result
is remade with `--out benchmarks/results/mc_oracle`). The machine is shared: token counts are
exact, wall times are not comparable across runs. `--smoke`: the random `tiny` model as it is (no
warm-start), 2 tasks x 2 samples, k=2, seconds, into a temp folder.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))  # outdir
import outdir  # noqa: E402


def warm_start(model_dir: Path, minutes: float) -> str:
    """A short warm-start into `model_dir` unless it already holds a checkpoint (or `minutes` is 0:
    the model name is used as it is, e.g. the random `tiny` for a smoke run); returns a note."""
    if minutes <= 0:
        return f"no warm-start: model {model_dir} as it is"
    if (model_dir / "config.json").is_file():
        return f"warm-start: existing checkpoint {model_dir}"
    steps = max(100, int(minutes * 60 / 0.45))  # ~0.45 s per step without localization examples here
    cmd = [sys.executable, "-m", "codereset.sft", "--out", str(model_dir), "--max-minutes", str(minutes),
           "--max-steps", str(steps), "--localize-batch-size", "0", "--eval-every", str(max(50, steps // 4)),
           "--val-tasks", "50"]
    print("making a short warm-start:", " ".join(cmd), flush=True)
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    tail = proc.stdout.strip().splitlines()[-1:] or proc.stderr.strip().splitlines()[-1:]
    if not (model_dir / "config.json").is_file():
        raise SystemExit(f"the warm-start failed (exit {proc.returncode}): {proc.stderr[-2000:]}")
    return f"warm-start: made here in <= {minutes} min ({steps} steps max): {tail[0] if tail else ''}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=str(ROOT / "outputs/sft/arith_tiny"))
    ap.add_argument("--sft-minutes", type=float, default=6.0, help="0: use --model as it is")
    ap.add_argument("--tasks", type=int, default=48)
    ap.add_argument("--samples", type=int, default=4)
    ap.add_argument("--k", type=int, default=8)
    ap.add_argument("--thresholds", type=float, nargs="+", default=[0.125, 0.25, 0.375, 0.5])
    ap.add_argument("--seed", type=int, default=0)
    outdir.add_arguments(ap, "mc_oracle")
    args = ap.parse_args()
    if args.smoke:  # the random tiny model as it is, tiny sizes
        args.model, args.sft_minutes, args.tasks, args.samples, args.k = "tiny", 0.0, 2, 2, 2
    out = outdir.resolve(args.out, "mc_oracle", args.smoke)
    note = warm_start(Path(args.model), args.sft_minutes)

    import torch

    from codereset.generation import make_backend
    from codereset.models import load_model
    from codereset.models.config import ModelConfig
    from codereset.rollouts.rollout import Roller
    from codereset.rollouts.values import mc_first_error, mc_values
    from envs.oracle import first_error
    from envs.rules import ThoughtRules
    from envs.tasks import load_suite
    from envs.verify import Verifier

    torch.manual_seed(args.seed)
    torch.set_num_threads(1)
    model, tokenizer = load_model(ModelConfig(name=args.model))
    backend = make_backend("hf", model, tokenizer, {"name": "hf"})
    rules = ThoughtRules(max_thoughts=8, max_thought_tokens=48)
    roller = Roller(backend, rules, 0.7, 0.95, fewshot=False, mode="continuous")
    tasks = load_suite("arith", "train")[: args.tasks]
    started = time.perf_counter()
    with Verifier(sandbox="local", rules=rules) as verifier:
        groups = roller.run([roller.fresh(t) for t in tasks], args.samples)
        rollouts = [r for g in groups for r in g]
        roller.score(verifier, rollouts)
        failed = [r for r in rollouts if not r.correct]
        t_rollouts = time.perf_counter() - started
        mc = mc_values(failed, roller, verifier, args.k)
    t_mc = time.perf_counter() - started - t_rollouts
    if not failed:
        raise SystemExit("no failed rollouts: nothing to localize")

    exact_i = [first_error(r.task, r.thoughts, rules) for r in failed]
    exact_h = [r.n_thoughts if i is None else i + 1 for r, i in zip(failed, exact_i)]
    # the subsets agreement is read on: every failed rollout; those with >= 2 thoughts (h is a
    # choice); those where the exact oracle names an error
    subsets = {"all": list(range(len(failed))),
               "multi_thought": [x for x, r in enumerate(failed) if r.n_thoughts >= 2],
               "exact_found": [x for x, i in enumerate(exact_i) if i is not None]}
    chance = {name: (round(sum(1.0 / failed[x].n_thoughts for x in idx) / len(idx), 4) if idx else None)
              for name, idx in subsets.items()}
    per_threshold = {}
    for thr in args.thresholds:
        mc_j = [mc_first_error(v.values, thr) for v in mc.per_rollout]
        mc_h = [r.n_thoughts if j is None else j + 1 for r, j in zip(failed, mc_j)]
        found = [x for x, j in enumerate(mc_j) if j is not None]
        row = {"mc_found_error": round(len(found) / len(failed), 4),
               # precision when the MC oracle names an error itself (no fallback to h = n)
               "agreement_when_mc_found": (round(sum(exact_h[x] == mc_h[x] for x in found) / len(found), 4)
                                           if found else None), "mc_found_n": len(found)}
        for name, idx in subsets.items():
            row[f"agreement_{name}"] = (round(sum(exact_h[x] == mc_h[x] for x in idx) / len(idx), 4)
                                        if idx else None)
            row[f"within_one_{name}"] = (round(sum(abs(exact_h[x] - mc_h[x]) <= 1 for x in idx) / len(idx), 4)
                                         if idx else None)
        per_threshold[str(thr)] = row
    rollout_tokens = sum(r.generated_tokens for r in rollouts)
    summary = {
        "note": note, "model": args.model, "tasks": len(tasks), "samples": args.samples, "k": args.k,
        "rollouts": len(rollouts), "pass_rate": round(1 - len(failed) / len(rollouts), 4),
        "failed": len(failed), "mean_thoughts_failed": round(sum(r.n_thoughts for r in failed) / len(failed), 3),
        "subset_sizes": {name: len(idx) for name, idx in subsets.items()},
        "chance_agreement_uniform_h": chance, "per_threshold": per_threshold,
        "mc_tokens": mc.tokens, "mc_continuations": mc.continuations,
        "mc_tokens_per_failed_rollout": round(mc.tokens / len(failed), 1),
        "rollout_tokens": rollout_tokens, "mc_to_rollout_token_ratio": round(mc.tokens / rollout_tokens, 3),
        "seconds_rollouts": round(t_rollouts, 1), "seconds_mc": round(t_mc, 1),
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
    }
    sizes = summary["subset_sizes"]
    lines = [note,
             f"{len(rollouts)} rollouts of {len(tasks)} arith train tasks, pass rate {summary['pass_rate']:.3f}, "
             f"{len(failed)} failed (mean {summary['mean_thoughts_failed']:.2f} thoughts; {sizes['multi_thought']} "
             f"with >= 2 thoughts; the exact oracle names an error in {sizes['exact_found']})",
             "agreement of h (exact vs MC) on: all failed / >= 2 thoughts / exact error found"]
    fmt = lambda v: "  -  " if v is None else f"{v:.3f}"  # noqa: E731
    lines.append(f"  chance (uniform h, RRPO):      {fmt(chance['all'])} / {fmt(chance['multi_thought'])} / "
                 f"{fmt(chance['exact_found'])}")
    for thr, m in per_threshold.items():
        lines.append(f"  MC K={args.k} drop > {thr:<6}:   {fmt(m['agreement_all'])} / {fmt(m['agreement_multi_thought'])}"
                     f" / {fmt(m['agreement_exact_found'])}   (within one step: {fmt(m['within_one_multi_thought'])} "
                     f"on >= 2 thoughts; MC finds a drop in {m['mc_found_error']:.3f}, and then agrees in "
                     f"{fmt(m['agreement_when_mc_found'])} of {m['mc_found_n']})")
    lines.append(f"cost: {mc.tokens} MC tokens ({mc.continuations} continuations), "
                 f"{summary['mc_tokens_per_failed_rollout']:.0f} per failed rollout, "
                 f"{summary['mc_to_rollout_token_ratio']:.2f}x the tokens of all {len(rollouts)} rollouts "
                 f"(wall {t_mc:.0f} s vs {t_rollouts:.0f} s for the rollouts, shared machine)")
    key = "agreement_multi_thought" if sizes["multi_thought"] else "agreement_all"
    best = max(per_threshold.items(), key=lambda kv: kv[1][key] or 0.0)
    lines.append(f"mc_oracle {key}={fmt(best[1][key])} (threshold {best[0]}) chance={fmt(chance[key[10:]])} "
                 f"failed={len(failed)} k={args.k} mc_tokens_per_failed={summary['mc_tokens_per_failed_rollout']:.0f}")
    print("\n".join(lines))
    out.mkdir(parents=True, exist_ok=True)
    (out / "summary.json").write_text(json.dumps(summary, indent=1) + "\n")
    (out / "output.txt").write_text("\n".join(lines) + "\n")
    print(f"wrote {out / 'summary.json'} and {out / 'output.txt'}")


if __name__ == "__main__":
    main()
