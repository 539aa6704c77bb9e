"""The powered comparison (issue 14): agents through the real trainer with paired seeds, step-0
evaluation and the report's speed-up rule.

    python benchmarks/agent_comparison.py                      # preset arith: tiny model, 4 agents x 5 seeds
    python benchmarks/agent_comparison.py --preset basic       # SmolLM2-135M on the `basic` code suite, 4 agents x 2 seeds
    python benchmarks/agent_comparison.py --preset chain --keep  # the reset experiment (issue 26): 6 arms x 6 seeds
    python benchmarks/agent_comparison.py --agents grpo srpo --seeds 0 1 --override trainer.steps=10

Arms are AGENT[LOCALIZER]-SPLIT (`--agents grpo caro-1x8 rrpo[entropy]-1x8`; the split is 1x4 when
left out): each runs with `+agent=AGENT buffer.split=SPLIT agent.localizer=LOCALIZER`, and its run
folders and report group carry the arm label (`codereset.agents.arm_label`), so two splits of one
agent are never merged.

Steps:
  1. Warm-start (preset arith only, each stage when its checkpoint is missing):
     `python -m codereset.sft --out outputs/sft/arith_tiny` (reference thoughts + localization of
     corrupted references, ~35 min on one thread), then
     `python -m codereset.sft.own_failures --init outputs/sft/arith_tiny --out outputs/sft/arith_tiny_own`
     (localization taught on the model's OWN failed rollouts labelled by the step oracle; it
     reports exact / within-1 accuracy on held-out failures against RRPO's uniform draw).
  2. The sweep: `python -m codereset.train <preset overrides> +agent=A seed=S trainer.paired=true
     validation.at_start=true trainer.output_dir=SWEEP/A_sS` for every agent x seed, `--workers`
     jobs at a time on one CPU thread each. Paired: runs with one seed see the same prompts in the
     same order and draw their first base groups from the same random stream, so two agents with
     seed s differ only where the agents differ.
  3. `python -m codereset.report SWEEP --out OUT`: curves from step 0, the speed-up against GRPO
     only where GRPO gained significantly (target: half its gain), with a paired bootstrap CI over
     seeds; summary.json per agent (seeds, steps, start / final val pass@1 with CIs, speed-up).
  4. Printed: per agent the start and final val pass@1, the speed-up (or why there is none); for
     the localizing agents the localization against the oracle (exact, within one) and the
     correction rates from clean vs erroneous prefixes (paper: 28% vs 17% suffix pass@4); for SRPO
     each seed's val gain beside its exact-localization rate (does its gain track localization?).
  Last line: `agent_comparison[<preset>]: ...` with the final means and the speed-ups.

Writes OUT/{report.md,report.html,summary.json,figures/,runs/<job>/,output.txt,run_info.json}.
Rebuild the report without training: `python -m codereset.report OUT/runs --out OUT`.
"""

from __future__ import annotations

import argparse
import json
import re
import os
import shutil
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))  # sweep_io, also when imported from elsewhere
from sweep_io import KEPT_FILES, Tee, last_pass_at_1, machine, read_jsonl  # noqa: E402

from codereset.agents.arms import DEFAULT_LOCALIZER, arm_label  # noqa: E402
from codereset.report.speedup import SpeedupRule, bootstrap_mean  # noqa: E402
from codereset.run.resume import steps_done  # noqa: E402

ARM_SPEC = re.compile(r"(?P<agent>[a-z_]+)(?:\[(?P<localizer>[a-z_]+)\])?(?:-(?P<split>\d+x\d+))?")


@dataclass(frozen=True)
class Arm:
    """One arm of the comparison: agent, localizer (None: the agent's own) and buffer split."""

    agent: str
    localizer: str | None = None
    split: str = "1x4"

    @property
    def label(self) -> str:
        """`codereset.agents.arm_label`: the run folders' and the report's name of the arm."""
        return arm_label(self.agent, self.localizer, self.split)

    @property
    def resets(self) -> bool:
        return self.agent in DEFAULT_LOCALIZER

    def overrides(self) -> list[str]:
        out = [f"+agent={self.agent}"]
        if self.resets:
            out.append(f"buffer.split={self.split}")
        if self.localizer is not None:
            out.append(f"agent.localizer={self.localizer}")
        return out


def parse_arm(spec: str) -> Arm:
    """"grpo", "caro-1x8", "srpo-1x4", "rrpo[entropy]-1x8" (agent[localizer]-split; split 1x4 when
    left out) -> Arm. A bad spec raises ValueError saying the form."""
    m = ARM_SPEC.fullmatch(spec)
    if m is None:
        raise ValueError(f"arm {spec!r}: expected AGENT, AGENT-SPLIT or AGENT[LOCALIZER]-SPLIT, e.g. grpo, "
                         "caro-1x8, rrpo[entropy]-1x8")
    return Arm(m["agent"], m["localizer"], m["split"] or "1x4")


@dataclass(frozen=True)
class Preset:
    """One comparison setting: the trainer overrides every run gets and the warm-start it needs."""

    overrides: tuple[str, ...]
    title: str
    sweep_dir: str
    out: str
    warm_start: tuple[tuple[str, ...], ...] = ()   # (checkpoint dir, command...) stages, made when missing
    agents: tuple[str, ...] = ("grpo", "rrpo", "srpo", "caro")
    seeds: tuple[int, ...] = (0, 1, 2, 3, 4)
    threads: int = 1
    workers: int = 2
    heldout: tuple[str, ...] = ()   # `python -m codereset.evaluate` overrides for a held-out check of each final checkpoint


ARITH_SFT = "outputs/sft/arith_tiny"
ARITH_OWN = "outputs/sft/arith_tiny_own"
CHAIN_SFT_A = "outputs/sft/chain_tiny_a"
CHAIN_SFT = "outputs/sft/chain_tiny"
PRESETS: dict[str, Preset] = {
    # The tiny model on `arith` (conf/experiment/arith_tiny.yaml), from the two-stage warm-start.
    # A fixed training set of 64 problems (`+env.suite_options.n=64`) and greedy pass@1 on exactly
    # those problems every 5 steps (`env.val_split=train`): the RL objective itself. On the 100
    # held-out val problems a 60-step GRPO pilot stayed flat (0.17 -> 0.18), so a speed-up there
    # could not be measured; the held-out pass@1 of every final checkpoint is still reported
    # (`heldout`). lr 1e-4: 3e-4 lowered every agent from this warm-start family and 3e-5 moved
    # none (benchmarks/results/tiny_lm_comparison); the positive control learns at 1e-4.
    "arith": Preset(
        overrides=("+experiment=arith_tiny", f"model.name={ARITH_OWN}", "optim.lr=1e-4",
                   "+env.suite_options.n=64", "env.val_split=train", "validation.max_tasks=null",
                   "trainer.steps=60", "validation.every=5", "trainer.checkpoint_every=1000"),
        title="Powered comparison on arith (tiny model, 64 training problems, paired seeds)",
        sweep_dir="runs/agent_comparison/arith", out="runs/benchmarks/agent_comparison_arith",
        warm_start=((ARITH_SFT, "-m", "codereset.sft", "--out", ARITH_SFT),
                    (ARITH_OWN, "-m", "codereset.sft.own_failures", "--init", ARITH_SFT, "--out", ARITH_OWN)),
        heldout=("env=math_arith", "env.fewshot=false", "env.max_thoughts=8", "env.max_thought_tokens=48",
                 "eval.split=val", "eval.mode=continuous", "eval.progress=false")),
    # The reset experiment of issue 26: the tiny model on `chain` (conf/experiment/chain_tiny.yaml),
    # where a failed rollout's first error sits late (the hard step at thought 5 of 6-8 by
    # default; --override env.suite_options.critical_depth=N moves it), arms at equal group sizes
    # (GRPO's one group of 8 against one reset group of 8 suffixes, 1x8) plus the paper's 1x4 for
    # CARO. The same design as "arith": a fixed training set of 64 problems, greedy pass@1 on them
    # every 5 steps, held-out pass@1 of each final checkpoint on the val split. lr 1e-4 as there.
    "chain": Preset(
        overrides=("+experiment=chain_tiny", f"model.name={CHAIN_SFT}", "optim.lr=1e-4",
                   "+env.suite_options.n=64", "env.val_split=train", "validation.max_tasks=null",
                   "trainer.steps=60", "validation.every=5", "trainer.checkpoint_every=1000"),
        title="Reset experiment on chain (tiny model, hard step at thought 5, 64 training problems, paired seeds)",
        sweep_dir="runs/agent_comparison/chain", out="runs/benchmarks/reset_chain",
        # the warm-start as it was made (2026-12-06): 36 minutes from scratch (val 0.14), then a
        # continuation at lr 1e-3 that stopped in its target band (val 0.37 greedy; 0.42 sampled at
        # T=0.7 on critical_depth=5, every failure's first error at thought 5: first_errors.py).
        # No own-failure localization stage (it did not fit the session): the localizer is the one
        # stage 1 taught on corrupted references.
        warm_start=((CHAIN_SFT_A, "-m", "codereset.sft", "--suite", "chain", "--out", CHAIN_SFT_A,
                     "--max-thoughts", "10", "--max-steps", "2000", "--max-minutes", "36", "--target-low", "0.35",
                     "--target-high", "0.55"),
                    (CHAIN_SFT, "-m", "codereset.sft", "--init", CHAIN_SFT_A, "--suite", "chain", "--out", CHAIN_SFT,
                     "--max-thoughts", "10", "--max-steps", "600", "--max-minutes", "12", "--lr", "1e-3",
                     "--warmup-steps", "20", "--target-low", "0.3", "--target-high", "0.55")),
        agents=("grpo", "caro-1x8", "srpo-1x8", "rrpo-1x8", "entropy-1x8", "caro-1x4"),
        seeds=(0, 1, 2, 3, 4, 5),
        heldout=("env=math_chain", "env.fewshot=false", "env.max_thoughts=10", "env.max_thought_tokens=48",
                 "eval.split=val", "eval.mode=continuous", "eval.progress=false")),
    # The default model on the main job's suite and per-step budget (conf/train.yaml: 4 prompts
    # a step, 5 thoughts of 96 tokens), sized for about 2 hours of the 2-core CPU: 8 steps, greedy
    # pass@1 on the first 32 held-out val tasks at steps 0, 4 and 8 (the main job's 8 tasks read
    # 0.125-0.75 for near-identical models), 2 paired seeds (a third did not fit: one run took
    # 25-35 min on the shared machine, benchmarks/results/agent_comparison_basic). `basic` has no step oracle, so CARO uses the
    # Monte-Carlo one (`agent.oracle=auto` -> mc) at k=4 continuations per state, half the default,
    # to fit the budget; the other agents ignore `agent.values`.
    "basic": Preset(
        overrides=("trainer.steps=8", "trainer.prompts_per_step=4", "validation.every=4",
                   "validation.max_tasks=32", "trainer.checkpoint_every=1000", "agent.values.k=4"),
        title="Comparison on basic (SmolLM2-135M-Instruct, paired seeds)",
        sweep_dir="runs/agent_comparison/basic", out="runs/benchmarks/agent_comparison_basic",
        seeds=(0, 1), threads=1, workers=2),
}



def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--preset", default="arith", choices=sorted(PRESETS))
    p.add_argument("--agents", nargs="+", default=None,
                   help="arms, AGENT[LOCALIZER]-SPLIT (e.g. grpo caro-1x8 rrpo[entropy]-1x8; split 1x4 when "
                        "left out); default: the preset's")
    p.add_argument("--seeds", nargs="+", type=int, default=None, help="default: the preset's")
    p.add_argument("--workers", type=int, default=None, help="runs at a time (default: the preset's)")
    p.add_argument("--sweep-dir", default=None, help="run directories (replaced); default: the preset's")
    p.add_argument("--out", default=None,
                   help="result folder; default: the preset's under runs/benchmarks/ (a committed result "
                        "folder is written only when named here)")
    p.add_argument("--override", dest="overrides", action="append", default=[],
                   help="extra Hydra override for every run (repeatable), e.g. --override trainer.steps=10")
    p.add_argument("--model", default=None,
                   help="train from this checkpoint instead of the preset's warm-start (none is made)")
    p.add_argument("--title", default=None, help="the report's title (default: the preset's)")
    p.add_argument("--keep", action="store_true", help="keep finished runs of an earlier sweep (resume a sweep); a kept run with fewer steps "
                        "than trainer.steps asks is continued from its last checkpoint")
    return p.parse_args(argv)


def warm_start(preset: Preset, say: Tee) -> list[dict]:
    """Make each missing warm-start stage; returns their sft_summary.json contents."""
    out = []
    for directory, *command in preset.warm_start:
        summary = ROOT / directory / "sft_summary.json"
        if not summary.is_file():
            say(f"warm-start: no checkpoint at {directory}; running python {' '.join(command)}")
            started = time.perf_counter()
            subprocess.run([sys.executable, *command], cwd=ROOT, check=False)
            if not summary.is_file():
                raise SystemExit(f"the warm-start wrote no checkpoint to {directory}; see its output above")
            say(f"warm-start stage {directory}: {(time.perf_counter() - started) / 60:.1f} min")
        out.append(json.loads(summary.read_text()))
    return out


def run_job(arm: Arm, seed: int, preset: Preset, sweep: Path, extra: list[str]) -> dict:
    """One training run as a subprocess; its name, exit code, wall and CPU minutes."""
    agent = arm.label
    name = f"{agent}_s{seed}"
    run_dir = sweep / name
    status = run_dir / "run_status.json"
    overrides = [*preset.overrides, *extra]
    extend = False
    if status.is_file() and json.loads(status.read_text()).get("state") == "finished":
        done, asked = steps_done(run_dir), requested_steps(overrides)
        if asked is None or done >= asked:
            return {"job": name, "agent": agent, "seed": seed, "returncode": 0, "minutes": 0.0,
                    "cpu_minutes": 0.0, "command": "(kept from an earlier sweep)"}
        # a kept run with fewer steps than asked is continued from its last checkpoint (optimizer
        # and random states restored; the RL trainer's lr is constant), as one longer run would be
        extend = True
    else:
        shutil.rmtree(run_dir, ignore_errors=True)
    cmd = [sys.executable, "-m", "codereset.train", *preset.overrides, *arm.overrides(), f"seed={seed}",
           "trainer.paired=true", "validation.at_start=true", f"trainer.output_dir={run_dir}",
           "trainer.progress=false", *extra, *(["trainer.resume=true"] if extend else [])]
    threads = str(preset.threads)
    env = dict(os.environ, OMP_NUM_THREADS=threads, MKL_NUM_THREADS=threads, TOKENIZERS_PARALLELISM="false")
    started = time.perf_counter()
    with open(sweep / f"{name}.log", "a" if extend else "w") as log:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        _, wait_status, usage = os.wait4(proc.pid, 0)  # the job's own CPU time, whoever else runs
    code = os.waitstatus_to_exitcode(wait_status)
    if code == 0 and preset.heldout:
        heldout_eval(preset, model_of(preset), run_dir, run_dir / "heldout", extra)
    return {"job": name, "agent": agent, "seed": seed, "returncode": code, "extended": extend,
            "minutes": round((time.perf_counter() - started) / 60, 2),
            "cpu_minutes": round((usage.ru_utime + usage.ru_stime) / 60, 2), "command": " ".join(cmd[1:])}


def requested_steps(overrides: list[str]) -> int | None:
    """The last `trainer.steps=N` among the overrides (None when none sets it)."""
    found = [o.split("=", 1)[1] for o in overrides if o.startswith("trainer.steps=")]
    return int(found[-1]) if found else None


def heldout_overrides(preset: Preset, extra: list[str]) -> list[str]:
    """The held-out check's overrides: the preset's, plus every `env.suite_options.*` override the
    runs got beyond the preset (e.g. critical_depth=2 scores held-out problems of that depth too)."""
    return [*preset.heldout, *(o for o in extra if o.lstrip("+").startswith("env.suite_options.")
                               and not o.lstrip("+").startswith("env.suite_options.n="))]


def heldout_eval(preset: Preset, model: str, checkpoint: Path | None, out_dir: Path,
                 extra: list[str] = ()) -> float | None:
    """Greedy held-out pass@1 of `checkpoint` (a run directory; None = the warm-start `model`)."""
    shutil.rmtree(out_dir, ignore_errors=True)  # an extended run's earlier check is replaced
    cmd = [sys.executable, "-m", "codereset.evaluate", *heldout_overrides(preset, list(extra)), f"model.name={model}",
           f"eval.output_dir={out_dir}", *([f"eval.checkpoint={checkpoint}"] if checkpoint else [])]
    env = dict(os.environ, OMP_NUM_THREADS=str(preset.threads), TOKENIZERS_PARALLELISM="false")
    with open(out_dir.parent / f"{out_dir.name}.log", "w") as log:
        subprocess.run(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, check=False)
    return last_pass_at_1(out_dir / "eval.jsonl")


def model_of(preset: Preset) -> str:
    return next(o.split("=", 1)[1] for o in reversed(preset.overrides) if o.startswith("model.name="))



def val_curve(run: Path) -> list[tuple[int, float]]:
    """(step, greedy val pass@1) of a run, step 0 included (eval.jsonl rows with k = 1)."""
    return [(int(r["step"]), float(r["pass_at_k"])) for r in read_jsonl(run / "eval.jsonl") if str(r.get("k")) == "1"]


def localization(run: Path) -> dict:
    """The run's localization against the oracle over its multi-thought seeds where the oracle found
    an error (`localization_judged`: [h*, h_oracle, n]), beside what h* = 1 and a uniform h* score
    on the same seeds and the modal h* share (`codereset.run.metrics.reference_agreement`, the
    trainer's rule). Runs that predate those keys: exact / within one from the deviations only."""
    from codereset.run.metrics import last_thought_agreement, reference_agreement

    rows = read_jsonl(run / "metrics.jsonl")
    judged = [tuple(t) for row in rows for t in (row.get("localization_judged") or [])]
    if judged:
        agree = reference_agreement(judged) | last_thought_agreement(judged)
        hs = [t[0] for t in judged]
        return {"n": len(judged), "exact": agree["localization_exact"], "within_1": agree["localization_within_one"],
                "exact_if_first": agree["localization_exact_first"],
                "exact_if_uniform": agree["localization_exact_uniform"],
                "exact_if_last": agree["exact_last"], "answered_last": agree["answered_last"],
                "modal_h_share": max(hs.count(h) for h in set(hs)) / len(hs),
                "one_thought_seeds": sum(int(row.get("reset_seeds_one_thought") or 0) for row in rows)}
    devs = [d for row in rows for d in (row.get("localization_deviations") or [])]
    n = len(devs)
    return {"n": n, "exact": sum(d == 0 for d in devs) / n if n else None,
            "within_1": sum(abs(d) <= 1 for d in devs) / n if n else None}


def fmt_ci(stat: dict | None) -> str:
    if not stat or stat.get("mean") is None:
        return "n/a"
    lo, hi = stat.get("ci95") or (None, None)
    return f"{stat['mean']:.3f} [{lo:.3f}, {hi:.3f}]" if lo is not None else f"{stat['mean']:.3f}"


def fmt_speedup(speed: dict) -> str:
    ci = speed.get("ci95")
    return f"{speed['value']:.2f}x" + (f" [{ci[0]:.2f}, {ci[1]:.2f}]" if ci else " (no CI)")



def heldout_table(agents: list[str], seeds: list[int], sweep: Path, start: float | None, say: Tee) -> dict:
    """Held-out greedy pass@1 of each final checkpoint; per-seed paired difference against grpo."""
    finals = {a: {s: v for s in seeds if (v := last_pass_at_1(sweep / f"{a}_s{s}" / "heldout" / "eval.jsonl")) is not None} for a in agents}
    say(f"held-out val pass@1 of the final checkpoints (warm-start {start if start is None else f'{start:.3f}'}); "
        "paired difference to grpo over seeds with a bootstrap 95% CI")
    out = {"warm_start": start, "agents": {}}
    for a in agents:
        values = list(finals[a].values())
        if not values:
            continue
        diffs = [finals[a][s] - finals["grpo"][s] for s in finals[a] if s in finals.get("grpo", {})] if a != "grpo" else []
        ci = bootstrap_mean(diffs, SpeedupRule()).ci95 if diffs else None
        say(f"  {a:<14} {statistics.mean(values):.3f} (n={len(values)})"
            + (f"  minus grpo {statistics.mean(diffs):+.3f}" + (f" [{ci[0]:+.3f}, {ci[1]:+.3f}]" if ci else "") if diffs else ""))
        out["agents"][a] = {"per_seed": finals[a], "mean": statistics.mean(values),
                            "paired_difference_to_grpo": statistics.mean(diffs) if diffs else None,
                            "paired_difference_ci95": ci}
    return out


def describe(summary: dict, agents: list[str], sweep: Path, seeds: list[int], say: Tee) -> dict:
    """Print the per-agent outcome from the report's summary.json (and the run files)."""
    out: dict = {"agents": {}}
    say("per agent: greedy val pass@1 at step 0 and at the end (mean [95% CI over seeds]), speed-up vs grpo")
    for agent in agents:
        row = summary["agents"].get(agent)
        if row is None:
            say(f"  {agent:<14} no finished runs")
            continue
        start, final = row["val_pass_at_1"]["start"], row["val_pass_at_1"]["final"]
        speed, paired = row.get("speedup"), row.get("paired_speedup")
        say(f"  {agent:<14} start {fmt_ci(start)}  final {fmt_ci(final)}  speed-up "
            f"{fmt_speedup(speed) if speed else 'none (' + str(row.get('speedup_reason')) + ')'}"
            + (f"; paired {fmt_speedup(paired)} over {paired['n_pairs']} pairs" if paired else "")
            + (f"; per token {fmt_speedup(row['token_speedup'])}" if row.get("token_speedup") else ""))
        out["agents"][agent] = {"start": start, "final": final, "speedup": speed, "paired_speedup": paired,
                                "token_speedup": row.get("token_speedup"),
                                "speedup_reason": row.get("speedup_reason")}
    say("")
    say("localization against the oracle and corrections (reset groups of every seed)")
    oracle = summary.get("oracle") or {}
    say("is each reset arm localizing? (multi-thought seeds with an oracle error, all seeds pooled)")
    for agent in [a for a in agents if parse_arm(a).resets]:
        pooled = [localization(sweep / f"{agent}_s{s}") for s in seeds]
        pooled = [p for p in pooled if p.get("n") and "exact_if_first" in p]
        if pooled:
            n = sum(p["n"] for p in pooled)
            mean = lambda k: sum(p[k] * p["n"] for p in pooled) / n  # noqa: E731
            say(f"  {agent:<16} n={n}  exact {mean('exact'):.3f} (h*=1 would score {mean('exact_if_first'):.3f}, "
                f"h*=n {mean('exact_if_last'):.3f}, uniform {mean('exact_if_uniform'):.3f}), within 1 "
                f"{mean('within_1'):.3f}, modal h* share {mean('modal_h_share'):.3f}, answered h*=n "
                f"{mean('answered_last'):.3f}, one-thought seeds {sum(p['one_thought_seeds'] for p in pooled)}")
            out.setdefault("localization", {})[agent] = {k: mean(k) for k in (
                "exact", "within_1", "exact_if_first", "exact_if_last", "exact_if_uniform", "modal_h_share",
                "answered_last")} | {"n": n}
    for agent in [a for a in agents if parse_arm(a).resets and a in oracle]:
        o = oracle[agent]
        say(f"  {agent:<5} exact {fmt_ci(o.get('share_exact'))}  clean prefix {fmt_ci(o.get('share_clean'))}  "
            f"suffix pass@4 clean {fmt_ci(o.get('suffix_pass_at_4_clean'))} vs erroneous "
            f"{fmt_ci(o.get('suffix_pass_at_4_erroneous'))}  (paper: 0.28 vs 0.17)")
        out.setdefault("oracle", {})[agent] = o
    for srpo in [a for a in agents if parse_arm(a).agent == "srpo" and parse_arm(a).localizer in (None, "self")][:1]:
        say("")
        say(f"{srpo} per seed: val gain (final - step 0) beside its exact-localization rate")
        pairs = []
        for s in seeds:
            curve = val_curve(sweep / f"{srpo}_s{s}")
            loc = localization(sweep / f"{srpo}_s{s}")
            if len(curve) >= 2 and loc["exact"] is not None:
                gain = curve[-1][1] - curve[0][1]
                pairs.append((loc["exact"], gain))
                say(f"  seed {s}: gain {gain:+.3f}, exact {loc['exact']:.3f} (n={loc['n']})")
        if len(pairs) >= 3 and len({p[0] for p in pairs}) > 1 and len({p[1] for p in pairs}) > 1:
            r = statistics.correlation([p[0] for p in pairs], [p[1] for p in pairs])
            say(f"  Pearson r(exact, gain) = {r:+.2f} over {len(pairs)} seeds (few seeds: a hint, not a test)")
            out["srpo_gain_vs_localization"] = {"pairs": pairs, "pearson_r": r}
    return out


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    preset = PRESETS[args.preset]
    arms = [parse_arm(a) for a in (args.agents or preset.agents)]
    agents = [a.label for a in arms]
    seeds = list(args.seeds if args.seeds is not None else preset.seeds)
    workers = args.workers or preset.workers
    sweep = ROOT / (args.sweep_dir or preset.sweep_dir)
    out = ROOT / (args.out or preset.out)
    say = Tee()
    started = time.perf_counter()
    if args.model:
        preset = replace(preset, warm_start=(), overrides=tuple(
            o for o in preset.overrides if not o.startswith("model.name=")) + (f"model.name={args.model}",))
    stages = warm_start(preset, say)
    for directory, summary in zip((s[0] for s in preset.warm_start), stages):
        own = summary.get("own_failures")
        if own:
            b, a = own["before"]["localization"], own["after"]["localization"]
            say(f"warm-start {directory}: val pass@1 {summary['val_pass_rate']:.3f}; localization on "
                f"{a['n']} held-out own failures: exact {b['exact']:.3f} -> {a['exact']:.3f}, within 1 "
                f"{b['within_1']:.3f} -> {a['within_1']:.3f}, uniform draw {a['uniform']['exact']:.3f} / "
                f"{a['uniform']['within_1']:.3f}")
        else:
            say(f"warm-start {directory}: val pass@1 {summary['val_pass_rate']:.3f}, "
                f"{summary.get('total_steps', summary.get('steps'))} steps")
    if not args.keep:
        shutil.rmtree(sweep, ignore_errors=True)
    sweep.mkdir(parents=True, exist_ok=True)
    jobs = [(a, s) for s in seeds for a in arms]
    say(f"sweep: {len(jobs)} runs ({', '.join(agents)} x seeds {seeds}), {workers} at a time, "
        f"{preset.threads} thread(s) each; overrides {' '.join(preset.overrides + tuple(args.overrides))}")
    sweep_started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        results = list(pool.map(lambda job: run_job(*job, preset, sweep, args.overrides), jobs))
    sweep_minutes = (time.perf_counter() - sweep_started) / 60
    for r in results:
        say(f"  {r['job']:<18} exit {r['returncode']}  {r['minutes']:.1f} min wall, {r['cpu_minutes']:.1f} min CPU")
    failed = [r["job"] for r in results if r["returncode"] != 0]
    say(f"sweep: {sweep_minutes:.1f} min wall, {sum(r['cpu_minutes'] for r in results):.1f} CPU-minutes"
        + (f"; FAILED: {failed} (logs in {sweep})" if failed else ""))
    report = subprocess.run([sys.executable, "-m", "codereset.report", str(sweep), "--out", str(out),
                             "--title", args.title or preset.title], cwd=ROOT, capture_output=True, text=True)
    say(report.stdout.strip() or report.stderr.strip())
    if report.returncode != 0:
        return 1
    for r in results:  # the small per-run files, enough to rebuild the report
        dest = out / "runs" / r["job"]
        dest.mkdir(parents=True, exist_ok=True)
        for name in KEPT_FILES:
            if (sweep / r["job"] / name).is_file():
                shutil.copy2(sweep / r["job"] / name, dest / name)
        if (sweep / r["job"] / "heldout" / "eval.jsonl").is_file():
            shutil.copy2(sweep / r["job"] / "heldout" / "eval.jsonl", dest / "heldout_eval.jsonl")
    summary = json.loads((out / "summary.json").read_text())
    say("")
    described = describe(summary, agents, sweep, seeds, say)
    if preset.heldout:
        say("")
        # beside the sweep, not in it: the report reads every run directory under the sweep
        start = heldout_eval(preset, model_of(preset), None, sweep.with_name(f"{sweep.name}_warm_start_heldout"),
                             args.overrides)
        described["heldout"] = heldout_table(agents, seeds, sweep, start, say)
    info = {"command": "python benchmarks/agent_comparison.py " + " ".join(argv if argv is not None else sys.argv[1:]),
            "preset": args.preset, "overrides": list(preset.overrides) + args.overrides,
            "machine": machine(), "sweep_minutes": round(sweep_minutes, 2),
            "total_minutes": round((time.perf_counter() - started) / 60, 2), "jobs": results,
            "warm_start": [{k: s.get(k) for k in ("val_pass_rate", "localization_accuracy", "total_steps",
                                                  "total_minutes", "own_failures")} for s in stages],
            **described}
    (out / "run_info.json").write_text(json.dumps(info, indent=1, default=str) + "\n")
    finals = " ".join(f"{a}={d['final']['mean']:.3f}" for a, d in described["agents"].items()
                      if d["final"] and d["final"].get("mean") is not None)
    speeds = " ".join(f"{a}={d['speedup']['value']:.2f}x" if isinstance(d["speedup"], dict) and d["speedup"].get("value")
                      else f"{a}=none" for a, d in described["agents"].items() if a != "grpo")
    say("")
    say(f"agent_comparison[{args.preset}]: final val pass@1 {finals}; speed-up vs grpo {speeds}; "
        f"seeds={len(seeds)} sweep_minutes={sweep_minutes:.1f}")
    (out / "output.txt").write_text("\n".join(say.lines) + "\n")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
