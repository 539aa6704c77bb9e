"""Agent comparison on the tabular Thought-MDP family: GRPO, RRPO and SRPO-style updates on a
softmax tabular policy, SRPO with a perfect (= CARO), noisy or random localizer.

MDP: `codereset.tabular.family.multi_fault` (H=5 thoughts, K=4 thoughts per step, 4 hard prompts
with fatal thoughts at every depth, share p=0.5; one routine prompt with noisy 0/1 outcomes), in
two regimes: "rare-success" (2 of 4 thoughts fatal per step: a hard prompt starts at
(1/2)^5 = 3% success) and "common-success" (1 of 4 fatal: (3/4)^5 = 24%). Start policy: uniform.
Updates: `codereset.tabular.pg` (method.md's "1x4" buffer, 8 trained slots per prompt, 8 prompts
per step, the project's group_norm advantage, one plain gradient step per batch at a learning
rate shared by all agents, chosen once so that GRPO visibly learns in 200 steps, not tuned per
agent). Every agent runs on the same seeds (common random numbers); SRPO with the random
localizer uses RRPO's reset rule and the same random stream, so the two coincide exactly. The curves are the exact expected reward of the policy, over seeds
(mean and 95% t-interval), against training steps and against generated thoughts (trained
thoughts plus seed-search thoughts; a continuation from h* generates H - h* + 1 thoughts).

Run: `python benchmarks/tabular_agents.py` (about 1-2 minutes on 2 CPU cores). Writes
tabular_agents.png and results.json under --out and prints one table per regime: exact expected
reward at steps 50, 100 and the end (mean ± 95% half-width), steps and generated thoughts to reach
halfway from the start to GRPO's final value, generated thoughts per step, and for reset agents
the share of reset groups with reward variance, the share with a correct continuation (overall,
and from clean (h* <= h_oracle) / erroneous prefixes), and the mean |h* - h_oracle|.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repo root, when not pip-installed

import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from scipy import stats  # noqa: E402

from codereset.tabular.family import build, multi_fault  # noqa: E402
from codereset.tabular.localizers import LocalizerConfig  # noqa: E402
from codereset.tabular.mdp import LayeredMDP, evaluate  # noqa: E402
from codereset.tabular.pg import PGConfig, softmax, train_step  # noqa: E402

COLORS = {"GRPO": "#4c72b0", "RRPO": "#dd8452", "SRPO perfect (CARO)": "#c44e52",
          "SRPO noisy": "#55a868", "SRPO random": "#8172b3"}


@dataclass(frozen=True)
class Regime:
    """name: label; fatal_per_step: fatal thoughts per depth of a hard prompt."""

    name: str
    fatal_per_step: int


REGIMES = (Regime("rare-success", 2), Regime("common-success", 1))


def parse_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--p", type=float, default=0.5, help="share of hard prompts")
    ap.add_argument("--horizon", type=int, default=5)
    ap.add_argument("--thoughts", type=int, default=4)
    ap.add_argument("--lr", type=float, default=5.0, help="learning rate of every agent")
    ap.add_argument("--deviation", default="-1:0.15,0:0.5,1:0.25,2:0.1",
                    help="noisy localizer: offset:probability pairs of h* - h_oracle")
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results/tabular_agents"))
    return ap.parse_args()


def agent_configs(args: argparse.Namespace) -> dict[str, PGConfig]:
    deviation = tuple((int(o), float(q)) for o, q in (pair.split(":") for pair in args.deviation.split(",")))
    return {"GRPO": PGConfig(agent="grpo", lr=args.lr),
            "RRPO": PGConfig(agent="rrpo", lr=args.lr),
            "SRPO perfect (CARO)": PGConfig(agent="srpo", lr=args.lr, localizer=LocalizerConfig("perfect")),
            "SRPO noisy": PGConfig(agent="srpo", lr=args.lr, localizer=LocalizerConfig("noisy", deviation)),
            "SRPO random": PGConfig(agent="srpo", lr=args.lr, localizer=LocalizerConfig("random"))}


def run(mdp: LayeredMDP, cfg: PGConfig, steps: int, seed: int) -> dict[str, np.ndarray]:
    """One training run: per-step exact eta (steps+1 values), generated thoughts, reset diagnostics."""
    rng = np.random.default_rng(seed)
    theta = [np.zeros((n, mdp.n_actions)) for n in mdp.sizes[:-1]]
    v_star = evaluate(mdp, softmax(theta)).v_star
    eta, thoughts = [evaluate(mdp, softmax(theta)).eta], [0]
    resets = variance = corrected = 0
    clean = [0, 0]  # [resets from a clean prefix (h* <= h_oracle), of which corrected]
    dirty = [0, 0]
    deviations = []
    for _ in range(steps):
        theta, records = train_step(mdp, theta, v_star, cfg, rng)
        eta.append(evaluate(mdp, softmax(theta)).eta)
        thoughts.append(thoughts[-1] + sum(r.generated_thoughts for r in records))
        for r in records:
            if not r.seed_found:
                continue
            resets += 1
            variance += r.reset_has_variance
            corrected += r.reset_corrected
            side = clean if r.h_star <= r.h_oracle else dirty
            side[0] += 1
            side[1] += r.reset_corrected
            deviations.append(r.h_star - r.h_oracle)
    return {"eta": np.array(eta), "thoughts": np.array(thoughts, dtype=float),
            "resets": resets, "variance_share": variance / max(resets, 1),
            "correction": corrected / max(resets, 1),
            "clean_correction": clean[1] / max(clean[0], 1), "clean_share": clean[0] / max(resets, 1),
            "dirty_correction": dirty[1] / max(dirty[0], 1),
            "mean_abs_deviation": float(np.mean(np.abs(deviations))) if deviations else float("nan")}


def ci95(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean over axis 0 and the half-width of its 95% t-interval."""
    half = stats.t.ppf(0.975, len(x) - 1) * x.std(axis=0, ddof=1) / np.sqrt(len(x))
    return x.mean(axis=0), half


def first_reach(curve: np.ndarray, level: float) -> int | None:
    hit = np.flatnonzero(curve >= level)
    return int(hit[0]) if len(hit) else None


def main() -> None:
    args = parse_args()
    t0 = time.time()
    agents = agent_configs(args)
    results: dict = {}
    fig, ax = plt.subplots(len(REGIMES), 2, figsize=(12, 4.3 * len(REGIMES)), squeeze=False)
    for row, regime in enumerate(REGIMES):
        mdp = build(multi_fault(args.p, args.horizon, args.thoughts, fatal_per_step=regime.fatal_per_step))
        v0 = evaluate(mdp, mdp.uniform_policy())
        best = float(mdp.start @ v0.v_star[0])
        runs = {name: [run(mdp, cfg, args.steps, seed) for seed in range(args.seeds)] for name, cfg in agents.items()}
        etas = {name: np.stack([r["eta"] for r in rs]) for name, rs in runs.items()}
        grpo_final = etas["GRPO"].mean(axis=0)[-1]
        level = v0.eta + 0.5 * (grpo_final - v0.eta)  # halfway from the start to GRPO's final value
        print(f"\n{regime.name}: multi_fault(p={args.p}, H={args.horizon}, K={args.thoughts}, "
              f"{regime.fatal_per_step} fatal per step); eta start {v0.eta:.3f}, best {best:.3f}; "
              f"{args.seeds} seeds x {args.steps} steps, lr {args.lr}")
        print(f"halfway level (start + half of GRPO's final gain): {level:.3f}")
        print(f"{'agent':<21} {'eta@50':>14} {'eta@100':>14} {'eta final':>14} {'steps to half':>13} "
              f"{'kthoughts to half':>17} {'thoughts/step':>13} {'reset var>0':>11} {'corrected':>9} "
              f"{'clean/err corr':>15} {'|h*-h_or|':>9}")
        table = {}
        for name, rs in runs.items():
            mean, half = ci95(etas[name])
            reach = first_reach(mean, level)
            thoughts = np.mean([r["thoughts"] for r in rs], axis=0)
            per_step = np.mean([r["thoughts"][-1] / args.steps for r in rs])
            diag = {k: float(np.mean([r[k] for r in rs])) for k in
                    ("variance_share", "correction", "clean_correction", "dirty_correction", "clean_share",
                     "mean_abs_deviation")}
            is_reset = name != "GRPO"
            cells = [f"{mean[i]:.3f}±{half[i]:.3f}" for i in (min(50, args.steps), min(100, args.steps), args.steps)]
            print(f"{name:<21} {cells[0]:>14} {cells[1]:>14} {cells[2]:>14} "
                  f"{'not reached' if reach is None else reach:>13} "
                  f"{'not reached' if reach is None else f'{thoughts[reach] / 1000:.1f}':>17} {per_step:13.1f} "
                  + (f"{diag['variance_share']:11.2f} {diag['correction']:9.2f} "
                     f"{diag['clean_correction']:7.2f}/{diag['dirty_correction']:.2f} "
                     f"{diag['mean_abs_deviation']:9.2f}" if is_reset else f"{'-':>11} {'-':>9} {'-':>15} {'-':>9}"))
            table[name] = {"eta_mean": mean.tolist(), "eta_ci95_half": half.tolist(),
                           "thoughts_mean": thoughts.tolist(), "halfway_level": level,
                           "steps_to_halfway": reach,
                           "thoughts_to_halfway": None if reach is None else float(thoughts[reach]),
                           "thoughts_per_step": per_step,
                           **({"reset_diagnostics": diag} if is_reset else {})}
            steps = np.arange(args.steps + 1)
            for col, x in enumerate((steps, thoughts)):
                ax[row, col].plot(x, mean, color=COLORS[name], label=name, ls="--" if name == "SRPO random" else "-")
                ax[row, col].fill_between(x, mean - half, mean + half, color=COLORS[name], alpha=0.15)
        results[regime.name] = {"eta_start": v0.eta, "eta_best": best, "agents": table}
        for col, xlabel in enumerate(("training step", "generated thoughts (trained + seed search)")):
            ax[row, col].axhline(best, color="k", lw=0.8, ls=":")
            ax[row, col].axhline(level, color="grey", lw=0.6, ls="-.")
            ax[row, col].set(xlabel=xlabel, ylabel="exact expected reward",
                             title=f"{regime.name} (hard prompts start at "
                                   f"{(1 - regime.fatal_per_step / args.thoughts) ** args.horizon:.0%})")
        ax[row, 0].legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    args.out.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out / "tabular_agents.png", dpi=110)
    plt.close(fig)
    record = {"args": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
              "regimes": results, "seconds": time.time() - t0}
    (args.out / "results.json").write_text(json.dumps(record, indent=1))
    print(f"\nwrote {args.out / 'tabular_agents.png'} and {args.out / 'results.json'} in {time.time() - t0:.0f} s")


if __name__ == "__main__":
    main()
