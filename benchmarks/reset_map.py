"""The map of when resets pay (issue 26, item 6): speed-up over GRPO against the first error's
depth and against localization accuracy, the tabular prediction drawn beside the language-model
(LM) experiment's points.

Tabular prediction (`codereset.tabular`), in the LM experiment's shape. The LM `chain` suite
(envs/tasks/chain.py) has chains of 6-8 thoughts, every thought easy except one hard
multiplication at thought `critical_depth`; its warm-start passed 0.42 of sampled rollouts at
T = 0.7 and every failure's first error was the hard thought (231 of 231 at depth 5: the
warm-start section of benchmarks/results/reset_chain/README.md when this was written). Mapping
(each a flag; change them when the warm-start changes):
  - MDP `critical_chain(p, H, K, critical_depth = d - 1)` (family.py is 0-based; d here and in the
    LM suite is 1-based): H = `--horizon` 7 thoughts (the LM chains' middle length), K =
    `--thoughts` 2 (at the hard state one thought is sound, one fatal);
  - hard share p = `--hard-share` 1.0: every LM chain has its hard step and no LM failure comes
    from elsewhere, so there is no routine prompt (with p < 1, routine prompts succeed with
    probability `--routine-success` whatever their thoughts: failures outside the thoughts' control);
  - routine thoughts: every thought other than the hard one is sound (the LM's easy +1 steps never
    held a first error);
  - start policy: the hard state picks its sound thought with probability `--start-success` 0.42
    (the warm-start's sampled pass rate), every other state uniform (`family.start_logits`);
  - buffer (`codereset.tabular.pg`): 8 prompts per step, 8 trained slots per prompt, probe 4, at
    most 12 draws in the seed search, fallbacks reuse untrained draws: the LM runs' settings;
  - optimizer `--optimizer`: "sgd" (default), one plain gradient step on the logits per batch, or
    "adam", Adam on the logits with its state carried through the run (`codereset.tabular.pg`:
    the LM trains with AdamW; Adam's per-parameter normalization cancels a constant factor on the
    loss, such as a suffix's per-thought weight). `--lr` defaults per optimizer (`DEFAULT_LR`),
    one value for every arm.
Arms (`ARMS`): GRPO (one group of 8 fresh rollouts), CARO-1x8 (oracle h*, one reset group of 8
suffixes, untrained probe), CARO-1x4 (base group of 4 + 4 suffixes), SRPO-1x8[symptom] (h* = n,
the last thought, where the LM's SRPO localizer pointed for 71.5% of seeds), RRPO-1x8 (uniform h*),
and for the accuracy sweep SRPO-1x8 with the "mixed" localizer: h* = the oracle's with probability
q, else uniform (and a second line: else the symptom). Every arm runs the same seeds, each step's
random stream seeded by (seed, step), so arms are paired by seed (common random numbers).

Speed-up: the report's rule (`codereset.report.speedup`): GRPO's mean curve of the exact
expected reward must gain significantly; target = half its gain; interpolated crossings of the
mean curves; 95% paired bootstrap over seeds. Per training step (equal trained slots) and per
generated thought (trained + probe + seed search; the LM's axis counts tokens, localization
included). Two sweeps: depth d = 1..H for CARO-1x8, CARO-1x4, SRPO-1x8[symptom], RRPO-1x8; and
accuracy q at depth `--accuracy-depth` 5, drawn against the exact share (h* = the oracle's first
error among seeds with an error), the figure the LM reports call "exact" (q + (1 - q) / n for
"else uniform").

Early-phase prediction, in closed form (`initial_ratio`, printed beside the measured speed-ups).
With p = 1 every rollout passes the hard state; a group's expected gradient on its logit is
E[population std of the group's rewards] times the weight the loss gives that thought, 1 / (the
rollout's trained thoughts): 1/H for a fresh rollout, 1/(H - h* + 1) for a suffix from h* <= d; a
suffix from h* > d keeps the fatal thought and never succeeds (no gradient). So at the start the
ratio to GRPO is (1 - pi^12) * H / (H - d + 1) for CARO-1x8 (1 at d = 1, 7 at d = 7), the
harmonic sum (1 - pi^12) * sum_{h <= d} 1 / (H - h + 1) for RRPO-1x8, 0 for the symptom below
d = H (CARO-1x8's at d = H), and for CARO-1x4 E[std_4] / E[std_8] * (1 + (1 - pi^12) H / (H - d + 1)) / 2. What it
leaves out: the later phase (seeds get rare as pi -> 1), finite steps, and every LM effect.

LM points (`--lm FOLDER ...`, result folders of benchmarks/agent_comparison.py: summary.json and
runs/<arm>_s<seed>/config.yaml): the depth from the runs' env.suite_options.critical_depth; per
arm the report's speed-up (val pass@1 when the runs validated, else the train pass rate, as
summary.json's per-agent block; paired where the runs were paired) with its 95% CI on both axes,
and the localization exact share with its baselines (summary.json's "oracle" block). An arm that
never reached the target is drawn as such (a marker at the floor), not dropped.

Learning-rate pilot (`--pilot-lrs a,b,...`): GRPO alone at `--accuracy-depth`, `--seeds` seeds
per rate, printing the step at which its mean curve reaches half its own gain (interpolated), to
choose one rate per optimizer before the sweep; writes pilot.json and pilot.txt, no map.

Outputs under `--out` (required unless `--smoke`; `benchmarks/outdir.py`): reset_map.png,
results.json (every number), output.txt (the printout). `--tabular results.json` re-draws the map
from a stored tabular prediction (no training) with fresh LM points. The last line:
`reset_map: tabular caro-1x8 d1=..x d5=..x d7=..x lm_points=N`.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repo root, when not pip-installed
sys.path.insert(0, str(Path(__file__).resolve().parent))  # outdir

import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import outdir  # noqa: E402
import yaml  # noqa: E402
from scipy import stats  # noqa: E402

from codereset.report.speedup import CurveSet, SpeedupRule, crossing, gain_check, speedup  # noqa: E402
from codereset.tabular.family import ThoughtChainSpec, build, critical_chain, start_logits  # noqa: E402
from codereset.tabular.localizers import LocalizerConfig  # noqa: E402
from codereset.tabular.mdp import evaluate  # noqa: E402
from codereset.tabular.pg import OPTIMIZERS, PGConfig, make_optimizer, softmax, train_step  # noqa: E402

AXES = {"steps": "per training step", "tokens": "per generated thought (LM: token)"}
BASELINE = "grpo"
# --lr when left out, per --optimizer: sgd 0.25 (benchmarks/results/reset_map_tabular: GRPO at half
# its gain at step 32 of 120); adam: from the GRPO-only pilot at d = 5
# (benchmarks/results/reset_map_tabular_adam/README.md), chosen to match that step.
DEFAULT_LR = {"sgd": 0.25, "adam": 0.0175}
SMOKE_LR = {"sgd": 1.0, "adam": 0.1}


@dataclass(frozen=True)
class Arm:
    """A tabular arm: agent, split, localizer; `lm`: the LM arm label it predicts (None: none)."""

    agent: str
    split: str = "1x8"
    localizer: LocalizerConfig = field(default_factory=LocalizerConfig)
    lm: str | None = None
    color: str = "k"

    def config(self, args: argparse.Namespace) -> PGConfig:
        return PGConfig(agent=self.agent, split=self.split, localizer=self.localizer, lr=args.lr,
                        optimizer=args.optimizer,
                        group_size=args.slots // 2, probe_size=args.probe, max_seed_attempts=args.max_attempts,
                        prompts_per_step=args.prompts, reuse_search_draws=True)


ARMS: dict[str, Arm] = {
    "grpo": Arm("grpo", lm="grpo", color="#4c72b0"),
    "caro-1x8": Arm("srpo", "1x8", LocalizerConfig("perfect"), lm="caro-1x8", color="#c44e52"),
    "caro-1x4": Arm("srpo", "1x4", LocalizerConfig("perfect"), lm="caro", color="#8172b3"),
    "srpo-1x8[symptom]": Arm("srpo", "1x8", LocalizerConfig("symptom"), lm="srpo-1x8", color="#55a868"),
    "rrpo-1x8": Arm("rrpo", "1x8", lm="rrpo-1x8", color="#dd8452"),
}
DEPTH_ARMS = ("caro-1x8", "caro-1x4", "srpo-1x8[symptom]", "rrpo-1x8")
MIXED = {"else uniform": ("random", "#c44e52"), "else symptom": ("symptom", "#55a868")}
LM_COLORS = {arm.lm: arm.color for arm in ARMS.values() if arm.lm} | {"entropy-1x8": "#937860"}
LM_NAMES = {"caro": "caro (1x4)"}  # the LM sweep's label for the paper's split


def mixed_arm(q: float, otherwise: str) -> Arm:
    return Arm("srpo", "1x8", LocalizerConfig("mixed", accuracy=q, otherwise=otherwise))


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--horizon", type=int, default=7, help="H: thoughts per episode")
    ap.add_argument("--thoughts", type=int, default=2, help="K: thoughts to choose from per step")
    ap.add_argument("--start-success", type=float, default=0.42, help="start policy's sound-thought probability at the hard state")
    ap.add_argument("--hard-share", type=float, default=1.0, help="p: share of hard prompts (1: every prompt)")
    ap.add_argument("--routine-success", type=float, default=0.5, help="routine prompts' success (p < 1 only)")
    ap.add_argument("--depths", default="", help="comma list of hard-step depths d (1-based); default 1..H")
    ap.add_argument("--accuracy-depth", type=int, default=5, help="d of the accuracy sweep")
    ap.add_argument("--accuracies", default="0,0.2,0.4,0.6,0.8,1", help="q values of the accuracy sweep")
    ap.add_argument("--seeds", type=int, default=24)
    ap.add_argument("--steps", type=int, default=120)
    ap.add_argument("--optimizer", choices=sorted(OPTIMIZERS), default="sgd",
                    help="the tabular agents' optimizer (codereset.tabular.pg)")
    ap.add_argument("--lr", type=float, default=None,
                    help=f"step size of every arm (default per optimizer: {DEFAULT_LR})")
    ap.add_argument("--pilot-lrs", default="",
                    help="comma list of rates: run only the GRPO learning-rate pilot at --accuracy-depth")
    ap.add_argument("--prompts", type=int, default=8, help="prompts per step")
    ap.add_argument("--slots", type=int, default=8, help="trained slots per prompt")
    ap.add_argument("--probe", type=int, default=4, help="untrained first draws of a 1x8 split")
    ap.add_argument("--max-attempts", type=int, default=12, help="seed search: most draws per prompt")
    ap.add_argument("--n-boot", type=int, default=1000, help="bootstrap replicates")
    ap.add_argument("--lm", nargs="*", type=Path, default=[], help="LM result folders (summary.json + runs/)")
    ap.add_argument("--tabular", type=Path, default=None,
                    help="re-draw from this results.json's tabular prediction instead of training")
    outdir.add_arguments(ap, "reset_map")
    args = ap.parse_args(argv)
    if args.out is None and not args.smoke:
        ap.error("--out is required unless --smoke (a committed result folder only on purpose)")
    if args.smoke:  # tiny sizes (seconds); the figures mean nothing
        args.seeds, args.steps, args.n_boot, args.lr = 3, 12, 50, SMOKE_LR[args.optimizer]
        args.depths, args.accuracies = "1,5", "0,1"
    if args.lr is None:
        args.lr = DEFAULT_LR[args.optimizer]
    args.pilot_lrs = [float(x) for x in args.pilot_lrs.split(",")] if args.pilot_lrs else []
    args.out = outdir.resolve(args.out, "reset_map", args.smoke)
    args.depths = ([int(d) for d in args.depths.split(",")] if args.depths
                   else list(range(1, args.horizon + 1)))
    args.accuracies = [float(q) for q in args.accuracies.split(",")]
    if any(not 1 <= d <= args.horizon for d in args.depths + [args.accuracy_depth]):
        ap.error(f"depths must lie in 1..{args.horizon} (--horizon)")
    return args


# ---------------------------------------------------------------- the tabular prediction


def chain_spec(args: argparse.Namespace, depth: int) -> ThoughtChainSpec:
    """The LM-shaped member of the family with its hard step at thought `depth` (1-based)."""
    return critical_chain(args.hard_share, args.horizon, args.thoughts, critical_depth=depth - 1,
                          routine_success=args.routine_success)


def run(spec: ThoughtChainSpec, cfg: PGConfig, args: argparse.Namespace, seed: int) -> dict:
    """One training run from the LM-shaped start policy: exact eta per step (steps+1), cumulative
    generated thoughts, and its reset records' localization figures."""
    mdp = build(spec)
    theta = start_logits(spec, args.start_success)
    v_star = evaluate(mdp, softmax(theta)).v_star
    eta, thoughts = [evaluate(mdp, softmax(theta)).eta], [0.0]
    judged = exact = last = signal = resets = 0
    optimizer = make_optimizer(cfg)  # one per run: Adam's moments carry across its steps
    for step in range(args.steps):
        theta, records = train_step(mdp, theta, v_star, cfg, np.random.default_rng([seed, step]), optimizer)
        eta.append(evaluate(mdp, softmax(theta)).eta)
        thoughts.append(thoughts[-1] + sum(r.generated_thoughts for r in records))
        for r in (r for r in records if r.seed_found):
            resets += 1
            signal += r.reset_has_variance
            if r.error_found:
                judged += 1
                exact += r.h_star == r.h_oracle
                last += r.h_star == mdp.horizon
    return {"eta": np.array(eta), "thoughts": np.array(thoughts), "judged": judged, "exact": exact,
            "last": last, "resets": resets, "signal": signal}


def point(spec: ThoughtChainSpec, arms: dict[str, Arm], args: argparse.Namespace, rule: SpeedupRule) -> dict:
    """Every arm at one MDP: speed-up over GRPO on both axes, exact share, diagnostics."""
    runs = {name: [run(spec, arm.config(args), args, s) for s in range(args.seeds)] for name, arm in arms.items()}
    sets = {name: CurveSet(np.arange(args.steps + 1), np.stack([r["eta"] for r in rs]),
                           np.stack([r["thoughts"] for r in rs]), list(range(args.seeds)))
            for name, rs in runs.items()}
    base = sets[BASELINE]
    gain = gain_check(base, rule, BASELINE)
    out = {"gain": gain.as_dict(), "arms": {}}
    for name, rs in runs.items():
        judged = sum(r["judged"] for r in rs)
        resets = sum(r["resets"] for r in rs)
        entry = {"eta_final": float(sets[name].values[:, -1].mean()),
                 "eta_mean": sets[name].values.mean(axis=0).round(5).tolist(),
                 "thoughts_mean": sets[name].tokens.mean(axis=0).round(1).tolist(),
                 "thoughts_per_step": float(np.mean([r["thoughts"][-1] for r in rs]) / args.steps),
                 "exact": sum(r["exact"] for r in rs) / judged if judged else None,
                 "answered_last": sum(r["last"] for r in rs) / judged if judged else None,
                 "judged_seeds": judged,
                 "groups_with_signal": sum(r["signal"] for r in rs) / resets if resets else None}
        if name != BASELINE:
            entry["speedup"] = {axis: speedup(base, sets[name], rule, name, "eta", axis, gain, paired=True,
                                              baseline_name=BASELINE).as_dict() for axis in AXES}
        out["arms"][name] = entry
    return out


def expected_std(n: int, pi: float) -> float:
    """E[population std of n i.i.d. Bernoulli(pi) rewards]."""
    k = np.arange(n + 1)
    return float(stats.binom.pmf(k, n, pi) @ np.sqrt(k / n * (1 - k / n)))


def initial_ratio(name: str, depth: int, args: argparse.Namespace) -> float | None:
    """The closed-form early-phase gradient ratio to GRPO (module docstring), at p = 1 only: the ratio of
    expected gradients, so the speed-up of the plain gradient step (sgd), not of Adam's normalized one."""
    if args.hard_share < 1.0:
        return None
    h, pi, g = args.horizon, args.start_success, args.slots
    seed = 1 - pi ** args.max_attempts
    formulas = {
        "caro-1x8": lambda: seed * h / (h - depth + 1),
        "rrpo-1x8": lambda: seed * sum(1 / (h - k + 1) for k in range(1, depth + 1)),
        "srpo-1x8[symptom]": lambda: seed * h / (h - depth + 1) if depth == h else 0.0,  # h* = n: right only at d = H
        "caro-1x4": lambda: expected_std(g // 2, pi) / expected_std(g, pi) * (1 + seed * h / (h - depth + 1)) / 2,
    }
    return formulas[name]() if name in formulas else None


def lr_pilot(args: argparse.Namespace, say) -> dict:
    """GRPO alone at --accuracy-depth for each rate of --pilot-lrs: its mean curve's start, final,
    and the (interpolated) step at which it reaches half its own gain."""
    spec, out = chain_spec(args, args.accuracy_depth), {}
    say(f"lr pilot: GRPO only, optimizer {args.optimizer}, depth {args.accuracy_depth}, {args.seeds} seeds x "
        f"{args.steps} steps")
    say(f"  {'lr':>8} {'start':>6} {'final':>6} {'gain':>6} {'half-gain step':>15}")
    for lr in args.pilot_lrs:
        cfg = replace(ARMS[BASELINE].config(args), lr=lr)
        eta = np.stack([run(spec, cfg, args, s)["eta"] for s in range(args.seeds)]).mean(axis=0)
        half = crossing(np.arange(args.steps + 1), eta, eta[0] + (eta[-1] - eta[0]) / 2) if eta[-1] > eta[0] else None
        out[str(lr)] = {"start": float(eta[0]), "final": float(eta[-1]), "half_gain_step": half,
                        "eta_mean": eta.round(5).tolist()}
        say(f"  {lr:>8g} {eta[0]:6.3f} {eta[-1]:6.3f} {eta[-1] - eta[0]:+6.3f} "
            f"{'none' if half is None else f'{half:.1f}':>15}")
    return out


def tabular_prediction(args: argparse.Namespace, say) -> dict:
    """The two sweeps: depth (DEPTH_ARMS) and accuracy (mixed localizers at accuracy_depth)."""
    rule = SpeedupRule(n_boot=args.n_boot)
    t0 = time.time()
    by_depth = {}
    for d in args.depths:
        by_depth[d] = point(chain_spec(args, d), {n: ARMS[n] for n in (BASELINE, *DEPTH_ARMS)}, args, rule)
        by_depth[d]["initial_ratio"] = {n: initial_ratio(n, d, args) for n in DEPTH_ARMS}
        say(f"  depth {d}: done ({time.time() - t0:.0f} s)")
    arms = {BASELINE: ARMS[BASELINE]} | {f"{line} q={q:g}": mixed_arm(q, other)
                                          for line, (other, _) in MIXED.items() for q in args.accuracies}
    by_accuracy = point(chain_spec(args, args.accuracy_depth), arms, args, rule)
    say(f"  accuracy sweep at depth {args.accuracy_depth}: done ({time.time() - t0:.0f} s)")
    return {"depths": {str(d): v for d, v in by_depth.items()}, "accuracy": by_accuracy,
            "accuracies": args.accuracies, "accuracy_depth": args.accuracy_depth, "seconds": time.time() - t0}


# ---------------------------------------------------------------- the LM points


def _mean(block: dict | None) -> float | None:
    return None if not block else block.get("mean")


def folder_depth(folder: Path) -> int | None:
    """The hard step's depth of every run in `folder`/runs (env.suite_options.critical_depth);
    ValueError when runs disagree, None when no run sets one."""
    depths = set()
    for cfg in sorted((folder / "runs").glob("*/config.yaml")):
        options = (yaml.safe_load(cfg.read_text()).get("env") or {}).get("suite_options") or {}
        depths.add(options.get("critical_depth"))
    if len(depths) > 1:
        raise ValueError(f"{folder}: runs disagree on env.suite_options.critical_depth: {sorted(map(str, depths))}")
    return next(iter(depths), None)


def _lm_speedup(s: dict | None, paired: bool) -> dict:
    if not s:
        return {"value": None, "ci95": None, "reason": "no speed-up in summary.json", "paired": paired}
    return {"value": s.get("speedup"), "ci95": s.get("ci95"), "reason": s.get("reason"), "paired": paired}


def read_lm_folder(folder: Path) -> dict:
    """One LM result folder: its depth, the report's main metric, and per arm (baseline left out)
    the speed-up per axis {value, ci95, reason, paired} and the localization figures."""
    summary = json.loads((folder / "summary.json").read_text())
    speedups = summary.get("speedups") or {}
    metric = "val_pass_rate" if "val_pass_rate" in speedups else "pass_rate"  # report: val when validated
    comp = speedups.get(metric) or {}
    baseline = (summary.get("config") or {}).get("baseline", BASELINE)
    arms = {}
    for arm in summary.get("groups", {}):
        if arm == baseline:
            continue
        paired = arm in (comp.get("paired") or {})
        by_axis = ((comp.get("paired") if paired else comp.get("speedups")) or {}).get(arm) or {}
        oracle = (summary.get("oracle") or {}).get(arm) or {}
        arms[arm] = {
            "speedup": {axis: _lm_speedup(by_axis.get(axis), paired) for axis in AXES},
            "exact": _mean(oracle.get("exact")),
            "exact_se": (oracle.get("exact") or {}).get("se"),
            "exact_if_uniform": _mean(oracle.get("exact_if_uniform")),
            "answered_last": _mean(oracle.get("answered_last")),
            "seeds": len(summary["groups"][arm]),
        }
    return {"folder": str(folder), "depth": folder_depth(folder), "metric": metric,
            "baseline_gain_significant": bool((comp.get("gain") or {}).get("significant")),
            "title": (summary.get("config") or {}).get("title"), "arms": arms}


# ---------------------------------------------------------------- the figure


def never(entry: dict, axis: str) -> bool:
    """The arm has no speed-up because it never reached GRPO's target (not: no target at all)."""
    return "did not reach" in (entry["speedup"][axis].get("reason") or "")


def _sp(entry: dict, axis: str) -> tuple[float, float, float]:
    """(value, lo, hi) of a speed-up dict (tabular `SpeedUp.as_dict` or LM `_lm_speedup`); NaN where none."""
    s = entry["speedup"][axis]
    v = s["speedup"] if "speedup" in s else s.get("value")
    ci = s.get("ci95") or [None, None]
    return tuple(math.nan if c is None else float(c) for c in (v, *ci))


def _bar(ax, x: float, entry: dict, axis: str, floor: float, **kw) -> None:
    """A point with its CI; an arm that never reached the target is a floor marker; no target: nothing."""
    v, lo, hi = _sp(entry, axis)
    if math.isnan(v):
        if never(entry, axis):
            ax.plot([x], [floor], marker="v", ms=9, ls="none", mfc="white", **kw)
        return
    lo, hi = max(lo, floor) if not math.isnan(lo) else v, hi if not math.isnan(hi) else v
    ax.errorbar([x], [v], yerr=[[v - lo], [hi - v]], fmt="o", ms=7, capsize=4, elinewidth=1.5, **kw)


def _line(ax, xs: list[float], entries: list[dict], axis: str, floor: float, color: str, label: str,
          marker: str = "s", shift: float = 0.0) -> None:
    """A tabular line (small markers) with its 95% band over the points that have a speed-up; the
    points whose arm never reached the target are floor markers, moved by `shift` (no line)."""
    vals = np.array([_sp(e, axis) for e in entries])
    ok = ~np.isnan(vals[:, 0])
    x = np.asarray(xs, dtype=float)
    y = np.where(ok, vals[:, 0], np.nan)
    ax.plot(x, y, "-" + marker, color=color, lw=2, ms=4, alpha=0.85, label=label)
    ax.fill_between(x, np.fmax(np.where(ok, vals[:, 1], np.nan), floor), np.where(ok, vals[:, 2], np.nan),
                    color=color, alpha=0.13)
    gone = [xi + shift for xi, e in zip(x, entries) if never(e, axis)]
    ax.plot(gone, [floor] * len(gone), marker="v", ms=8, ls="none", color=color, alpha=0.85)


def plot(tab: dict, lm: list[dict], horizon: int, path: Path, optimizer: str = "sgd") -> None:
    floor = 0.2
    fig, axes = plt.subplots(2, 2, figsize=(14, 11))
    depths = sorted(int(d) for d in tab["depths"])
    acc = tab["accuracy"]["arms"]
    for row, axis in enumerate(AXES):
        ax_a, ax_b = axes[row]
        for k, name in enumerate(DEPTH_ARMS):  # panel A: tabular lines
            _line(ax_a, depths, [tab["depths"][str(d)]["arms"][name] for d in depths], axis, floor,
                  ARMS[name].color, f"tabular {name}", marker="os^D"[k], shift=0.07 * (k - 1.5))
        for folder in (f for f in lm if f["depth"] is not None):  # panel A: LM points, spread around their depth
            for j, (arm, e) in enumerate(sorted(folder["arms"].items())):
                x = folder["depth"] + 0.09 * (j - (len(folder["arms"]) - 1) / 2)
                _bar(ax_a, x, e, axis, floor, color=LM_COLORS.get(arm, "k"), mec=LM_COLORS.get(arm, "k"))
        for line, (_, color) in MIXED.items():  # panel B: tabular lines against their measured exact share
            entries = sorted((acc[f"{line} q={q:g}"] for q in tab["accuracies"]
                              if acc[f"{line} q={q:g}"]["exact"] is not None), key=lambda e: e["exact"])
            _line(ax_b, [e["exact"] for e in entries], entries, axis, floor, color,
                  f"tabular SRPO-1x8: h* = oracle's w.p. q, {line}", marker="s")
        for folder in (f for f in lm if f["depth"] == tab["accuracy_depth"]):  # panel B: LM points
            placed = 0
            for arm, e in sorted(folder["arms"].items()):
                if e["exact"] is None:
                    continue
                _bar(ax_b, e["exact"], e, axis, floor, color=LM_COLORS.get(arm, "k"), mec=LM_COLORS.get(arm, "k"))
                v = _sp(e, axis)[0]
                ax_b.annotate(f"LM {LM_NAMES.get(arm, arm)}", (e["exact"], floor if math.isnan(v) else v),
                              textcoords="offset points", fontsize=9, color=LM_COLORS.get(arm, "k"),
                              xytext=(-95 if e["exact"] > 0.9 else 8, 8 if placed % 2 or math.isnan(v) else -14))
                placed += 1
        ax_a.set(xlabel="first-error depth d (the hard thought, 1-based)", xticks=range(1, horizon + 1),
                 xlim=(0.6, horizon + 0.4), title=f"A. speed-up vs first-error depth, {AXES[axis]}")
        ax_b.set(xlabel="localization accuracy: exact share (h* = the oracle's first error)", xlim=(-0.04, 1.06),
                 title=f"B. vs localization accuracy (d = {tab['accuracy_depth']}), {AXES[axis]}")
        for ax in (ax_a, ax_b):
            ax.set_yscale("log")
            ax.axhline(1.0, color="k", lw=0.8, ls=":")
            ax.set_ylabel("speed-up over GRPO to half its gain")
            ticks = [t for t in (0.25, 0.5, 1, 1.5, 2, 3, 5, 8) if t > floor]
            ax.set_ylim(floor * 0.85, max(10, ax.get_ylim()[1]))
            ax.set_yticks(ticks, [f"{t:g}x" for t in ticks])
            ax.minorticks_off()
            ax.grid(alpha=0.3)
    handles = axes[0, 0].get_legend_handles_labels()[0] + axes[0, 1].get_legend_handles_labels()[0]
    handles += [plt.Line2D([], [], color=c, marker="o", ls="none", ms=7, label=f"LM {LM_NAMES.get(a, a)} (95% CI)")
                for a, c in LM_COLORS.items() if any(a in f["arms"] for f in lm)]
    handles.append(plt.Line2D([], [], color="grey", marker="v", ls="none", ms=8,
                              label="never reached the target (at the floor; hollow: LM)"))
    fig.legend(handles=handles, loc="lower center", ncol=4, fontsize=9, frameon=False)
    fig.suptitle(f"When resets pay: tabular prediction ({optimizer}; lines, 95% band over seeds) beside the LM "
                 "experiment (points, 95% CI over seeds)", fontsize=13)
    fig.tight_layout(rect=(0, 0.07, 1, 0.97))
    fig.savefig(path, dpi=110)
    plt.close(fig)


# ---------------------------------------------------------------- printing and main


def _cell(entry: dict, axis: str) -> str:
    v, lo, hi = _sp(entry, axis)
    if math.isnan(v):
        return "never" if never(entry, axis) else "n/a"
    return f"{v:.2f} [{lo:.2f}, {hi:.2f}]"


def report(tab: dict, lm: list[dict], say) -> None:
    say(f"\nA. tabular speed-up over GRPO vs depth (paired bootstrap 95% CI); in parentheses: the closed-form "
        "early ratio of the plain gradient step (sgd)")
    for axis in AXES:
        say(f"  {AXES[axis]}:")
        say(f"  {'d':>2} {'GRPO gain':>9}  " + "  ".join(f"{n:>30}" for n in DEPTH_ARMS))
        for d, pt in tab["depths"].items():
            gain = "yes" if pt["gain"]["significant"] else "NO"
            cells = []
            for n in DEPTH_ARMS:
                init = pt["initial_ratio"].get(n)
                cells.append(_cell(pt["arms"][n], axis) + (f" ({init:.2f})" if axis == "steps" and init is not None else ""))
            say(f"  {d:>2} {gain:>9}  " + "  ".join(f"{c:>30}" for c in cells))
    say(f"\nB. tabular SRPO-1x8 with h* = oracle's w.p. q, at depth {tab['accuracy_depth']}")
    say(f"  {'line':<13} {'q':>4} {'exact':>6} {'per step':>20} {'per thought':>20} {'signal':>6}")
    for name, e in tab["accuracy"]["arms"].items():
        if name == BASELINE:
            continue
        line, q = name.rsplit(" q=", 1)
        say(f"  {line:<13} {q:>4} {e['exact']:6.3f} {_cell(e, 'steps'):>20} {_cell(e, 'tokens'):>20} "
            f"{e['groups_with_signal'] or 0:6.2f}")
    for folder in lm:
        depth = folder["depth"] if folder["depth"] is not None else "unknown (no runs/*/config.yaml sets it: not drawn)"
        say(f"\nLM {folder['folder']}: depth {depth}, metric {folder['metric']}, GRPO gain "
            f"{'significant' if folder['baseline_gain_significant'] else 'NOT significant'}")
        for arm, e in sorted(folder["arms"].items()):
            ex = "-" if e["exact"] is None else f"{e['exact']:.3f}"
            say(f"  {arm:<14} exact {ex:>6}  per step {_cell(e, 'steps'):>20}  per token {_cell(e, 'tokens'):>20}"
                f"  seeds {e['seeds']}")


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    lines: list[str] = []

    def say(text: str = "") -> None:
        print(text, flush=True)
        lines.append(text)

    t0 = time.time()
    if args.pilot_lrs:
        pilot = lr_pilot(args, say)
        settings = {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()
                    if k not in ("lm", "tabular", "out", "smoke")}
        (args.out / "pilot.json").write_text(json.dumps({"args": settings, "pilot": pilot}, indent=1))
        say(f"wrote {args.out / 'pilot.json'}, pilot.txt in {time.time() - t0:.0f} s")
        (args.out / "pilot.txt").write_text("\n".join(lines) + "\n")
        return
    if args.tabular is not None:
        stored = json.loads(args.tabular.read_text())
        tab, settings = stored["tabular"], stored["args"]
        say(f"tabular prediction read from {args.tabular} (its settings: {settings})")
    else:
        settings = {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()
                    if k not in ("lm", "tabular", "out", "smoke")}
        say(f"tabular: critical_chain(p={args.hard_share}, H={args.horizon}, K={args.thoughts}), start success "
            f"{args.start_success}; {args.seeds} paired seeds x {args.steps} steps, {args.optimizer} lr {args.lr}, "
            f"{args.prompts} prompts x {args.slots} slots, probe {args.probe}, seed search <= {args.max_attempts}")
        tab = tabular_prediction(args, say)
    lm = [read_lm_folder(f) for f in args.lm]
    report(tab, lm, say)
    plot(tab, lm, int(settings["horizon"]), args.out / "reset_map.png", settings.get("optimizer", "sgd"))
    n_points = sum(len(f["arms"]) for f in lm)
    (args.out / "results.json").write_text(json.dumps({"args": settings, "tabular": tab, "lm": lm}, indent=1))
    caro = {d: _sp(pt["arms"]["caro-1x8"], "steps")[0] for d, pt in tab["depths"].items()}
    say(f"\nwrote {args.out / 'reset_map.png'}, results.json, output.txt in {time.time() - t0:.0f} s")
    say("reset_map: tabular caro-1x8 " + " ".join(f"d{d}={v:.2f}x" if not math.isnan(v) else f"d{d}=never"
                                                  for d, v in caro.items()) + f" lm_points={n_points}")
    (args.out / "output.txt").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
