"""Tiny language model comparison (issue 7, part 2): GRPO, RRPO, SRPO and CARO through the real
trainer on the procedural `arith` math suite, three seeds each, on a CPU in under 30 minutes.

Steps:
  1. Warm-start, when `--sft-dir` holds no checkpoint yet: `python -m codereset.sft --out DIR`
     (a ~0.9M-parameter Llama trained from scratch on reference thoughts and SRPO localization
     examples until greedy val pass@1 reaches 20-40%).
  2. The sweep: `python -m codereset.train +experiment=arith_tiny +agent=A seed=S
     model.name=DIR trainer.output_dir=SWEEP/A_sS` for every agent x seed, `--workers` jobs at a
     time, each on one CPU thread (OMP_NUM_THREADS=1). Hydra's own multirun launcher runs jobs
     one after another; two single-thread jobs side by side use a 2-core machine about twice as
     well as one, which is what fits the sweep into the time budget.
  3. The report tool over the sweep: `python -m codereset.report SWEEP --out OUT`.
  4. Printed: final greedy val pass@1 per agent (mean, sample std and min-max over seeds) next to
     the warm-start's, and the localizers' accuracy against the oracle from the runs'
     `localization_deviations` (exact hits, within one step, mean |h* - h_oracle|, parse
     failures); RRPO's uniform reset is the chance level, CARO must be exact.
  The last line is a one-line summary.

Run (from the repository root): `python benchmarks/tiny_lm_comparison.py`
OUT is `--out`: default runs/benchmarks/tiny_lm_comparison; the committed result is remade with
`--out benchmarks/results/tiny_lm_comparison`. `--smoke`: a 5-step warm-start, GRPO and SRPO x
one seed x one step, the report, all in a temp folder (about a minute); its figures mean nothing.
Writes OUT/{report.md,report.html,summary.json,figures/}, OUT/runs/<job>/ (metrics, eval, config
and status of every run, enough to rebuild the report), OUT/output.txt (this script's printed
output), OUT/run_info.json (command, machine, wall times). Rebuild the report without training:
`python -m codereset.report OUT/runs --out OUT`.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))  # sweep_io, also when imported from elsewhere
import outdir  # noqa: E402
from sweep_io import KEPT_FILES, Tee, machine, read_jsonl  # noqa: E402
AGENTS = ("grpo", "rrpo", "srpo", "caro")
# --smoke: a warm-start of a few steps on little data, and runs of one step on few prompts
SMOKE_SFT = ("--max-steps", "5", "--warmup-steps", "2", "--data-seeds", "1", "--n-tasks-per-seed", "200",
             "--eval-every", "5", "--val-tasks", "4", "--localize-eval", "4")
SMOKE_OVERRIDES = ("trainer.steps=1", "trainer.prompts_per_step=2", "validation.max_tasks=4",
                   "validation.every=1", "trainer.checkpoint_every=1")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sft-dir", default="outputs/sft/arith_tiny", help="warm-start checkpoint (made when missing)")
    p.add_argument("--sweep-dir", default="runs/tiny_lm_comparison", help="run directories go here (replaced)")
    outdir.add_arguments(p, "tiny_lm_comparison")
    p.add_argument("--agents", nargs="+", default=list(AGENTS), choices=AGENTS)
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    p.add_argument("--workers", type=int, default=2, help="training jobs at a time (one CPU thread each)")
    p.add_argument("--budget-minutes", type=float, default=30.0, help="the sweep's time budget (reported)")
    p.add_argument("--override", dest="overrides", action="append", default=[],
                   help="extra Hydra override for every run (repeatable), e.g. --override trainer.steps=4")
    args = p.parse_args(argv)
    args.out = outdir.resolve(args.out, "tiny_lm_comparison", args.smoke)
    if args.smoke:  # everything in the temp folder: warm-start, sweep, report
        args.sft_dir, args.sweep_dir = str(args.out / "sft"), str(args.out / "sweep")
        args.agents, args.seeds = ["grpo", "srpo"], [0]
        args.overrides = [*SMOKE_OVERRIDES, *args.overrides]
    return args


def warm_start(sft_dir: Path, say: Tee, extra: tuple[str, ...] = ()) -> dict:
    """The warm-start's summary, training it first when `sft_dir` has no checkpoint."""
    summary = sft_dir / "sft_summary.json"
    if not summary.is_file():
        say(f"warm-start: no checkpoint at {sft_dir}; running python -m codereset.sft --out {sft_dir}")
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "codereset.sft", "--out", str(sft_dir), *extra], cwd=ROOT, check=False)
        if not summary.is_file():
            raise SystemExit(f"the warm-start wrote no checkpoint to {sft_dir}; see its output above")
        say(f"warm-start: {(time.perf_counter() - started) / 60:.1f} min")
    return json.loads(summary.read_text())


def run_job(agent: str, seed: int, sft_dir: Path, sweep: Path, overrides: list[str]) -> dict:
    """One training run as a subprocess; returns its name, exit code and wall time."""
    name = f"{agent}_s{seed}"
    cmd = [sys.executable, "-m", "codereset.train", "+experiment=arith_tiny", f"+agent={agent}",
           f"seed={seed}", f"model.name={sft_dir}", f"trainer.output_dir={sweep / name}",
           "trainer.progress=false", *overrides]
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", TOKENIZERS_PARALLELISM="false")
    started = time.perf_counter()
    with open(sweep / f"{name}.log", "w") as log:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(proc.pid, 0)  # the job's own CPU time, whoever else shares the cores
        proc.returncode = os.waitstatus_to_exitcode(status)
    return {"job": name, "agent": agent, "seed": seed, "returncode": proc.returncode,
            "minutes": round((time.perf_counter() - started) / 60, 2),
            "cpu_minutes": round((usage.ru_utime + usage.ru_stime) / 60, 2), "command": " ".join(cmd[1:])}



def spread(values: list[float]) -> str:
    """mean ± sample std [min-max] (n)."""
    if not values:
        return "n/a"
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.mean(values):.3f} ± {sd:.3f} [{min(values):.3f}-{max(values):.3f}] (n={len(values)})"


def final_val(run: Path) -> float | None:
    """The last greedy val pass@1 of a run (eval.jsonl, k=1)."""
    rows = [r for r in read_jsonl(run / "eval.jsonl") if str(r.get("k")) == "1"]
    return float(rows[-1]["pass_at_k"]) if rows else None


def localization(runs: list[Path]) -> dict:
    """Deviations h* - h_oracle over every reset group of `runs`, and parse failures."""
    devs, failures, groups = [], 0, 0
    for run in runs:
        for row in read_jsonl(run / "metrics.jsonl"):
            devs += list(row.get("localization_deviations") or [])
            failures += int(row.get("localization_parse_failures") or 0)
            groups += len(row.get("reset_depths") or [])
    n = len(devs)
    return {"n": n, "reset_groups": groups, "parse_failures": failures,
            "exact": sum(d == 0 for d in devs) / n if n else None,
            "within_1": sum(abs(d) <= 1 for d in devs) / n if n else None,
            "mean_abs_deviation": sum(abs(d) for d in devs) / n if n else None,
            "mean_deviation": sum(devs) / n if n else None}



def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    say = Tee()
    sft_dir, sweep, out = (ROOT / args.sft_dir).resolve(), ROOT / args.sweep_dir, ROOT / args.out
    started = time.perf_counter()
    sft = warm_start(sft_dir, say, SMOKE_SFT if args.smoke else ())
    say(f"warm-start checkpoint {args.sft_dir}: {sft['parameters'] / 1e6:.2f}M parameters, "
        f"vocab {sft['vocab_size']}, {sft.get('total_steps', sft['steps'])} steps, "
        f"{sft.get('total_minutes', sft['minutes']):.1f} min (all phases), greedy val pass@1 "
        f"{sft['val_pass_rate']:.3f}, localization accuracy {sft['localization_accuracy']}")
    shutil.rmtree(sweep, ignore_errors=True)
    sweep.mkdir(parents=True)
    jobs = [(a, s) for s in args.seeds for a in args.agents]
    say(f"sweep: {len(jobs)} runs ({', '.join(args.agents)} x seeds {args.seeds}), {args.workers} at a time")
    sweep_started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=args.workers) as pool:
        results = list(pool.map(lambda job: run_job(*job, sft_dir, sweep, args.overrides), jobs))
    sweep_minutes = (time.perf_counter() - sweep_started) / 60
    for r in results:
        say(f"  {r['job']:<8} exit {r['returncode']}  {r['minutes']:.1f} min wall, {r['cpu_minutes']:.1f} min CPU")
    cpu = sum(r["cpu_minutes"] for r in results)
    say(f"sweep: {sweep_minutes:.1f} min wall; its jobs used {cpu:.1f} CPU-minutes, i.e. "
        f"{cpu / min(args.workers, os.cpu_count() or 1):.1f} min on {min(args.workers, os.cpu_count() or 1)} "
        "otherwise idle cores (the wall time also holds other processes' load)")
    failed = [r["job"] for r in results if r["returncode"] != 0]
    report = subprocess.run([sys.executable, "-m", "codereset.report", str(sweep), "--out", str(out),
                             "--title", "Tiny LM comparison on arith (GRPO, RRPO, SRPO, CARO)"],
                            cwd=ROOT, capture_output=True, text=True)
    say(report.stdout.strip() or report.stderr.strip())
    for r in results:  # the small per-run files, so the report can be rebuilt without training
        dest = out / "runs" / r["job"]
        dest.mkdir(parents=True, exist_ok=True)
        for name in KEPT_FILES:
            if (sweep / r["job"] / name).is_file():
                shutil.copy2(sweep / r["job"] / name, dest / name)

    say("")
    say(f"final greedy val pass@1 (warm-start: {sft['val_pass_rate']:.3f}); mean ± std [min-max] over seeds")
    finals = {}
    for agent in args.agents:
        values = [v for s in args.seeds if (v := final_val(sweep / f"{agent}_s{s}")) is not None]
        finals[agent] = values
        say(f"  {agent:<5} {spread(values)}")
    say("")
    say("localization against the oracle (every reset group of every seed; exact = h* == h_oracle)")
    loc = {}
    for agent in args.agents:
        if agent == "grpo":
            continue
        loc[agent] = stats = localization([sweep / f"{agent}_s{s}" for s in args.seeds])
        if stats["n"]:
            say(f"  {agent:<5} exact {stats['exact']:.3f}  within 1 {stats['within_1']:.3f}  "
                f"mean |dev| {stats['mean_abs_deviation']:.2f}  mean dev {stats['mean_deviation']:+.2f}  "
                f"(n={stats['n']} of {stats['reset_groups']} reset groups; parse failures "
                f"{stats['parse_failures']})")
        else:
            say(f"  {agent:<5} no reset group with an oracle error")
    total = (time.perf_counter() - started) / 60
    info = {"command": "python benchmarks/tiny_lm_comparison.py " + " ".join(argv or sys.argv[1:]),
            "machine": machine(), "sweep_minutes": round(sweep_minutes, 2), "total_minutes": round(total, 2),
            "budget_minutes": args.budget_minutes, "warm_start": {k: sft.get(k) for k in (
                "parameters", "vocab_size", "total_steps", "total_minutes", "val_pass_rate",
                "localization_accuracy")},
            "cpu_minutes": round(cpu, 2), "jobs": results, "final_val_pass_at_1": finals, "localization": loc}
    out.mkdir(parents=True, exist_ok=True)
    (out / "run_info.json").write_text(json.dumps(info, indent=1) + "\n")
    means = " ".join(f"{a}={statistics.mean(v):.3f}" if v else f"{a}=n/a" for a, v in finals.items())
    srpo = loc.get("srpo", {})
    srpo_text = f"{srpo['exact']:.2f}" if srpo.get("exact") is not None else "n/a"
    say("")
    say(f"sweep {sweep_minutes:.1f} min (budget {args.budget_minutes:.0f}){'' if not failed else f'; FAILED: {failed}'}")
    say(f"tiny_lm_comparison: final val pass@1 {means} (warm-start {sft['val_pass_rate']:.3f}); "
        f"srpo localizer exact={srpo_text} (n={srpo.get('n', 0)}); sweep_minutes={sweep_minutes:.1f}")
    (out / "output.txt").write_text("\n".join(say.lines) + "\n")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
