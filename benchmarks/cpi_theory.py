"""Theory check, exact and tabular: CPI with random resets (CPI-RR) vs CPI with the
credit-assignment oracle (CPI-CARO), as the improvable-state probability p varies.

Prediction (method.md, "Theory"): CARO needs a factor 1/p^2 fewer samples and improves 1/p more
per iteration, so log(samples RR / samples CARO) against log p has slope -2 and
log(improvement per iteration CARO / RR) against log p has slope -1.

MDP: `codereset.tabular.family.critical_chain(p)` (H=3 thoughts, K=3 thoughts per step): a share
p of prompts is hard, with one improvable state at the end of a chain (thought 0 sound, the
other thoughts fatal); the others are routine, with noisy 0/1 outcomes and no improvable state.
Start policy: uniform. CPI: `codereset.tabular.cpi` (its docstring has the exact algorithm).

Measurements, all with exact values (the algorithms only see sampled 0/1 returns):
  A. one CPI iteration from the start policy, `--seeds` seeds per (p, method):
     samples = Q-rollouts the iteration needs to certify its improvement step (the quantity the
     theorem's sample complexity counts), improvement = exact eta(after) - eta(before).
     The last line's slopes come from A: per-seed least-squares slopes of the log ratios against
     log p, mean and 95% t-interval over seeds.
  B. full runs to a fixed improvement, `--run-seeds` seeds: CPI iterated until eta has gained
     `--target-fraction` of the achievable improvement at this p ("relative"), and until it has
     gained that much of the achievable improvement at the smallest p ("absolute", the same
     number for every p). Reported next to A because the totals compound the per-iteration
     sample factor with the number of iterations (see the README of the results).
  The rollouts that find reset states (search) are reported too: RR needs one per sample,
  CARO 1/P(visit an improvable state).

Run: `python benchmarks/cpi_theory.py` (about 1-2 minutes on 2 CPU cores). Writes
cpi_theory.png and results.json under --out (default runs/benchmarks/cpi_theory; the committed
result is remade with `--out benchmarks/results/cpi_theory`). `--smoke`: 3 values of p, 3 + 2
seeds, a few seconds, into a temp folder. The last printed line is
`sample_complexity_slope=<x> improvement_slope=<y>`.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repo root, when not pip-installed
sys.path.insert(0, str(Path(__file__).resolve().parent))  # outdir

import matplotlib  # noqa: E402
import outdir  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.ticker import NullFormatter  # noqa: E402
from scipy import stats  # noqa: E402

from codereset.tabular.cpi import CPIConfig, cpi_step, run_cpi  # noqa: E402
from codereset.tabular.family import build, critical_chain  # noqa: E402
from codereset.tabular.mdp import evaluate  # noqa: E402

METHODS = {"RR": "random", "CARO": "oracle"}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--p-min", type=float, default=0.02, help="smallest improvable-state probability")
    ap.add_argument("--p-max", type=float, default=0.2, help="largest improvable-state probability")
    ap.add_argument("--n-p", type=int, default=5, help="number of p values (geometric grid)")
    ap.add_argument("--seeds", type=int, default=60, help="seeds of measurement A (one iteration)")
    ap.add_argument("--run-seeds", type=int, default=8, help="seeds of measurement B (full runs)")
    ap.add_argument("--horizon", type=int, default=3, help="thoughts per episode H")
    ap.add_argument("--thoughts", type=int, default=3, help="thoughts per step K")
    ap.add_argument("--routine-success", type=float, default=0.5, help="success rate of routine prompts")
    ap.add_argument("--target-fraction", type=float, default=0.5,
                    help="B: share of the achievable improvement that counts as reached")
    ap.add_argument("--max-iterations", type=int, default=20000, help="B: iteration cap per run")
    outdir.add_arguments(ap, "cpi_theory")
    args = ap.parse_args(argv)
    if args.smoke:  # tiny sizes (seconds); the slopes mean nothing
        args.p_min, args.p_max, args.n_p, args.seeds, args.run_seeds = 0.1, 0.3, 3, 3, 2
    args.out = outdir.resolve(args.out, "cpi_theory", args.smoke)
    return args


def slope_ci(log_p: np.ndarray, log_ratio: np.ndarray) -> tuple[float, float, float]:
    """log_ratio (seeds, n_p): least-squares slope per seed; (mean, 95% CI low, high) over seeds."""
    ok = np.isfinite(log_ratio).all(axis=1)
    y = log_ratio[ok]
    x = log_p - log_p.mean()
    slopes = (y - y.mean(axis=1, keepdims=True)) @ x / (x @ x)
    mean = float(slopes.mean())
    if len(slopes) < 2:
        return mean, float("nan"), float("nan")
    half = float(stats.t.ppf(0.975, len(slopes) - 1) * slopes.std(ddof=1) / np.sqrt(len(slopes)))
    return mean, mean - half, mean + half


def one_iteration(ps: np.ndarray, args: argparse.Namespace) -> dict[str, np.ndarray]:
    """Measurement A: arrays (seeds, n_p) per method of samples, search rollouts, improvement."""
    out = {f"{k}_{m}": np.zeros((args.seeds, len(ps))) for k in ("samples", "search", "gain") for m in METHODS}
    for j, p in enumerate(ps):
        mdp = build(critical_chain(p, args.horizon, args.thoughts, routine_success=args.routine_success))
        start = mdp.uniform_policy()
        eta0 = evaluate(mdp, start).eta
        for i, (label, reset) in enumerate(METHODS.items()):
            cfg = CPIConfig(reset=reset)
            for seed in range(args.seeds):
                step = cpi_step(mdp, start, cfg, np.random.default_rng([seed, j, i]))
                if not step.certified:
                    raise RuntimeError(f"CPI-{label} did not certify an improvement at p={p}, seed {seed}")
                out[f"samples_{label}"][seed, j] = step.samples
                out[f"search_{label}"][seed, j] = step.search_rollouts
                out[f"gain_{label}"][seed, j] = evaluate(mdp, step.policy).eta - eta0
    return out


def full_runs(ps: np.ndarray, args: argparse.Namespace) -> dict[str, np.ndarray]:
    """Measurement B: samples (and search rollouts) to the relative and absolute targets, and the
    mean improvement per iteration, arrays (run_seeds, n_p) per method (nan: not reached)."""
    keys = ("rel", "abs", "rel_search", "iters", "gain_per_iter")
    out = {f"{k}_{m}": np.full((args.run_seeds, len(ps)), np.nan) for k in keys for m in METHODS}
    first = build(critical_chain(ps[0], args.horizon, args.thoughts, routine_success=args.routine_success))
    v_first = evaluate(first, first.uniform_policy())
    abs_gain = args.target_fraction * (float(first.start @ v_first.v_star[0]) - v_first.eta)
    for j, p in enumerate(ps):
        mdp = build(critical_chain(p, args.horizon, args.thoughts, routine_success=args.routine_success))
        start = mdp.uniform_policy()
        v0 = evaluate(mdp, start)
        rel_gain = args.target_fraction * (float(mdp.start @ v0.v_star[0]) - v0.eta)
        for i, (label, reset) in enumerate(METHODS.items()):
            for seed in range(args.run_seeds):
                run = run_cpi(mdp, start, CPIConfig(reset=reset), np.random.default_rng([1000 + seed, j, i]),
                              args.max_iterations, eta_target=v0.eta + max(rel_gain, abs_gain))
                reached = [run.samples_to_reach(v0.eta + g) for g in (rel_gain, abs_gain)]
                out[f"rel_{label}"][seed, j] = np.nan if reached[0] is None else reached[0]
                out[f"abs_{label}"][seed, j] = np.nan if reached[1] is None else reached[1]
                if reached[0] is not None:
                    out[f"rel_search_{label}"][seed, j] = run.search[run.samples.index(reached[0])]
                n_it = len(run.eta) - 1
                out[f"iters_{label}"][seed, j] = n_it
                out[f"gain_per_iter_{label}"][seed, j] = (run.eta[-1] - run.eta[0]) / max(n_it, 1)
    return out


def gmean(a: np.ndarray) -> np.ndarray:
    """Geometric mean over seeds (axis 0), ignoring nan."""
    return np.exp(np.nanmean(np.log(a), axis=0))


def plot(ps: np.ndarray, a: dict, b: dict, fits: dict, path: Path) -> None:
    fig, ax = plt.subplots(2, 2, figsize=(11, 8.5))
    colors = {"RR": "#dd8452", "CARO": "#c44e52"}
    for label in METHODS:
        s = a[f"samples_{label}"]
        ax[0, 0].plot(ps, gmean(s), marker="o", color=colors[label], label=f"CPI-{label}")
        ax[0, 0].fill_between(ps, np.percentile(s, 10, axis=0), np.percentile(s, 90, axis=0),
                              color=colors[label], alpha=0.2)
        g = a[f"gain_{label}"]
        ax[0, 1].plot(ps, g.mean(axis=0), marker="o", color=colors[label], label=f"CPI-{label}")
        ax[0, 1].fill_between(ps, np.percentile(g, 10, axis=0), np.percentile(g, 90, axis=0),
                              color=colors[label], alpha=0.2)
    ax[0, 0].set(xscale="log", yscale="log", xlabel="p (probability of reaching the improvable state)",
                 ylabel="Q-rollouts to certify one improvement step", title="A. samples per iteration")
    ax[0, 1].set(xscale="log", yscale="log", xlabel="p", ylabel="exact improvement of one iteration",
                 title="A. improvement per iteration")
    ratios = {"samples RR/CARO (A)": (a["samples_RR"] / a["samples_CARO"], fits["samples"], -2, "#4c72b0"),
              "improvement CARO/RR (A)": (a["gain_CARO"] / a["gain_RR"], fits["gain"], -1, "#55a868"),
              "samples to target RR/CARO (B, relative)": (b["rel_RR"] / b["rel_CARO"], fits["run_rel"], None, "#8172b3")}
    for name, (r, (m, lo, hi), pred, color) in ratios.items():
        geo = gmean(r)
        ax[1, 0].plot(ps, geo, "o", color=color)
        anchor = np.exp(np.mean(np.log(geo)) - m * np.mean(np.log(ps)))
        ax[1, 0].plot(ps, anchor * ps ** m, "-", color=color,
                      label=f"{name}: slope {m:.2f} [{lo:.2f}, {hi:.2f}]" + (f", predicted {pred}" if pred else ""))
        if pred is not None:
            ax[1, 0].plot(ps, anchor * ps ** m * (ps / ps[len(ps) // 2]) ** (pred - m), ":", color=color)
    ax[1, 0].set(xscale="log", yscale="log", xlabel="p", ylabel="ratio (geometric mean over seeds)",
                 title="ratios: fitted (solid) vs predicted slope (dotted)")
    low, high = ax[1, 0].get_ylim()
    ax[1, 0].set_ylim(low, high * 100)  # room for the legend above the points
    ax[1, 0].legend(fontsize=7.5, loc="upper right")
    for label in METHODS:
        ax[1, 1].plot(ps, gmean(b[f"rel_{label}"]), marker="o", color=colors[label],
                      label=f"CPI-{label}, Q-rollouts")
        ax[1, 1].plot(ps, gmean(b[f"rel_search_{label}"]), marker="x", ls="--", color=colors[label],
                      label=f"CPI-{label}, reset-search rollouts")
    ax[1, 1].set(xscale="log", yscale="log", xlabel="p", ylabel="cumulative rollouts",
                 title="B. full runs to the relative target")
    for a_ in (ax[0, 0], ax[0, 1], ax[1, 1]):
        a_.legend(fontsize=8)
    for a_ in ax.flat:
        a_.set_xticks(ps, [f"{p:.3g}" for p in ps])
        a_.xaxis.set_minor_formatter(NullFormatter())
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> None:
    args = parse_args()
    t0 = time.time()
    ps = np.geomspace(args.p_min, args.p_max, args.n_p)
    log_p = np.log(ps)
    a = one_iteration(ps, args)
    t_a = time.time() - t0
    b = full_runs(ps, args)
    fits = {"samples": slope_ci(log_p, np.log(a["samples_RR"] / a["samples_CARO"])),
            "gain": slope_ci(log_p, np.log(a["gain_CARO"] / a["gain_RR"])),
            "search": slope_ci(log_p, np.log(a["search_RR"] / a["search_CARO"])),
            "run_rel": slope_ci(log_p, np.log(b["rel_RR"] / b["rel_CARO"])),
            "run_abs": slope_ci(log_p, np.log(b["abs_RR"] / b["abs_CARO"])),
            "run_gain": slope_ci(log_p, np.log(b["gain_per_iter_CARO"] / b["gain_per_iter_RR"]))}
    cfg = CPIConfig()
    print(f"critical_chain: H={args.horizon}, K={args.thoughts}, routine success {args.routine_success}; "
          f"CPI: z={cfg.z}, rel_accuracy={cfg.rel_accuracy:.3f}, first_batch={cfg.first_batch}, "
          f"growth={cfg.growth}, tau={cfg.tau}; seeds A={args.seeds}, B={args.run_seeds}")
    print("\nA. one CPI iteration from the uniform policy (geometric means over seeds; improvement: means)")
    print(f"{'p':>7} {'samples RR':>12} {'samples CARO':>13} {'ratio':>9} {'search RR':>11} {'search CARO':>12}"
          f" {'gain RR':>10} {'gain CARO':>10} {'ratio':>8}")
    for j, p in enumerate(ps):
        print(f"{p:7.4f} {gmean(a['samples_RR'])[j]:12.4g} {gmean(a['samples_CARO'])[j]:13.4g} "
              f"{gmean(a['samples_RR'] / a['samples_CARO'])[j]:9.4g} {gmean(a['search_RR'])[j]:11.4g} "
              f"{gmean(a['search_CARO'])[j]:12.4g} {a['gain_RR'].mean(0)[j]:10.3g} "
              f"{a['gain_CARO'].mean(0)[j]:10.3g} {a['gain_CARO'].mean(0)[j] / a['gain_RR'].mean(0)[j]:8.4g}")
    print(f"\nB. full runs to {args.target_fraction:.0%} of the achievable improvement "
          "(relative: at this p; absolute: at the smallest p) — Q-rollouts, geometric means")
    print(f"{'p':>7} {'rel RR':>12} {'rel CARO':>10} {'abs RR':>12} {'abs CARO':>10} {'iters RR':>9}"
          f" {'iters CARO':>10}")
    for j, p in enumerate(ps):
        print(f"{p:7.4f} {gmean(b['rel_RR'])[j]:12.4g} {gmean(b['rel_CARO'])[j]:10.4g} "
              f"{gmean(b['abs_RR'])[j]:12.4g} {gmean(b['abs_CARO'])[j]:10.4g} "
              f"{np.nanmean(b['iters_RR'], 0)[j]:9.1f} {np.nanmean(b['iters_CARO'], 0)[j]:10.1f}")
    not_reached = {k: int(np.isnan(v).sum()) for k, v in b.items() if k.startswith(("rel_", "abs_"))}
    if any(not_reached.values()):
        print(f"runs that did not reach their target (left out of the fits): {not_reached}")
    print("\nlog-log slopes against p (mean over seeds [95% CI])")
    rows = [("A: samples per certified step, RR/CARO", "samples", "-2"),
            ("A: improvement per iteration, CARO/RR", "gain", "-1"),
            ("A: reset-search rollouts per step, RR/CARO", "search", "(-1 if search counts)"),
            ("B: Q-rollouts to relative target, RR/CARO", "run_rel", "(-3: -2 per step, 1/p more steps)"),
            ("B: Q-rollouts to absolute target, RR/CARO", "run_abs", "(-4: -2 per step, 1/p^2 more steps)"),
            ("B: mean improvement per iteration, CARO/RR", "run_gain", "-1")]
    for name, key, pred in rows:
        m, lo, hi = fits[key]
        print(f"  {name:<45} measured {m:6.2f} [{lo:6.2f}, {hi:6.2f}]   predicted {pred}")
    args.out.mkdir(parents=True, exist_ok=True)
    plot(ps, a, b, fits, args.out / "cpi_theory.png")
    record = {"args": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
              "cpi_config": asdict(cfg), "p": ps.tolist(),
              "one_iteration": {k: v.tolist() for k, v in a.items()},
              "full_runs": {k: np.where(np.isnan(v), None, v).tolist() for k, v in b.items()},
              "slopes": {k: {"mean": m, "ci95": [lo, hi]} for k, (m, lo, hi) in fits.items()},
              "seconds": {"one_iteration": t_a, "total": time.time() - t0}}
    (args.out / "results.json").write_text(json.dumps(record, indent=1))
    print(f"\nwrote {args.out / 'cpi_theory.png'} and {args.out / 'results.json'} "
          f"in {time.time() - t0:.0f} s (A: {t_a:.0f} s)")
    print(f"sample_complexity_slope={fits['samples'][0]:.3f} improvement_slope={fits['gain'][0]:.3f}")


if __name__ == "__main__":
    main()
