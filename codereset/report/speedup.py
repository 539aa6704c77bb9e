"""Speed-up against a baseline, only where the baseline has gained something to compare.

The rule (printed in every report; also used by `benchmarks/tabular_agents.py`):

1. The baseline must gain. Each baseline run's gain is its last value minus its first (its
   step-0 evaluation when the run validated at the start). The mean gain over runs needs a 95%
   bootstrap interval (over runs) whose lower end is above 0, from at least `min_seeds` (3) runs:
   with 2 the percentile interval is only the range of the two. Otherwise there is no speed-up:
   "no gain to compare" and the reason.
2. The target lies between start and final: `start + fraction * (final - start)` of the baseline's
   mean curve (`fraction=0.5`: the level at which the baseline has covered half its gain).
3. Each group's time to target is where its mean curve first reaches the target, linearly
   interpolated between the two points around the crossing (x = training step, or mean cumulative
   generated tokens). Speed-up = baseline's time / the group's time.
4. The 95% interval is a percentile bootstrap over runs (seeds): each replicate resamples the
   baseline's runs and the group's runs (independently; or, for paired runs, the same seeds for
   both), recomputes the target from the resampled baseline and both crossings. A replicate whose
   group never reaches the target counts as speed-up 0 (never); a replicate whose baseline does not
   gain, or whose group starts at the target, has no speed-up and is left out (the share left out
   is reported).

Everything here works on plain arrays (`CurveSet`: runs x grid points), so the tabular benchmark
and the run-directory report share one implementation.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

NO_GAIN = "no gain to compare"


@dataclass(frozen=True)
class SpeedupRule:
    """fraction: where between the baseline's start and final value the target lies (0 < f <= 1).
    n_boot: bootstrap replicates. seed: their random stream (fixed: a report is reproducible).
    level: confidence level of the intervals. min_seeds: baseline runs needed to call a gain
    significant."""

    fraction: float = 0.5
    n_boot: int = 2000
    seed: int = 0
    level: float = 0.95
    min_seeds: int = 3

    def __post_init__(self) -> None:
        if not 0.0 < self.fraction <= 1.0:
            raise ValueError(f"fraction must lie in (0, 1], got {self.fraction}")
        if self.n_boot < 1 or not 0.0 < self.level < 1.0:
            raise ValueError(f"need n_boot >= 1 and 0 < level < 1, got {self.n_boot}, {self.level}")

    def interval(self, values: np.ndarray) -> tuple[float, float]:
        tail = 100 * (1 - self.level) / 2
        lo, hi = np.percentile(values, [tail, 100 - tail])
        return float(lo), float(hi)


@dataclass
class CurveSet:
    """One group's runs on a common grid.

    x: (G,) grid (training steps). values: (R, G) the metric per run, NaN where a run has no
    point. tokens: (R, G) cumulative generated tokens per run at each grid point (NaN where
    unknown; None when no run counted tokens). seeds: (R,) each run's seed (pairing key).
    """

    x: np.ndarray
    values: np.ndarray
    tokens: np.ndarray | None = None
    seeds: list = field(default_factory=list)

    def __post_init__(self) -> None:
        self.x = np.asarray(self.x, dtype=float)
        self.values = np.atleast_2d(np.asarray(self.values, dtype=float))
        if self.values.shape[1] != self.x.size:
            raise ValueError(f"values have {self.values.shape[1]} columns for {self.x.size} grid points")
        if self.tokens is not None:
            self.tokens = np.atleast_2d(np.asarray(self.tokens, dtype=float))
            if self.tokens.shape != self.values.shape:
                raise ValueError(f"tokens {self.tokens.shape} and values {self.values.shape} differ")
        if not self.seeds:
            self.seeds = list(range(self.values.shape[0]))

    @property
    def n_runs(self) -> int:
        return self.values.shape[0]

    def mean_curve(self, rows: np.ndarray | None = None, axis: str = "steps") -> tuple[np.ndarray, np.ndarray]:
        """(x, mean over `rows`) at the grid points where some selected run has a value; x is the
        step, or the mean cumulative tokens of the runs present (made non-decreasing)."""
        rows = np.arange(self.n_runs) if rows is None else rows
        vals = self.values[rows]
        keep = np.isfinite(vals).any(axis=0)
        mean = _nanmean(vals[:, keep])
        if axis == "steps":
            return self.x[keep], mean
        if self.tokens is None:
            return np.array([]), np.array([])
        toks = self.tokens[rows][:, keep]
        tx = _nanmean(np.where(np.isfinite(vals[:, keep]), toks, np.nan))
        ok = np.isfinite(tx)
        return np.maximum.accumulate(tx[ok]) if ok.any() else tx[ok], mean[ok]

    def start_final(self, rows: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Each selected run's first and last value (NaN for a run with none)."""
        rows = np.arange(self.n_runs) if rows is None else rows
        starts, finals = [], []
        for r in rows:
            v = self.values[r][np.isfinite(self.values[r])]
            starts.append(v[0] if v.size else math.nan)
            finals.append(v[-1] if v.size else math.nan)
        return np.array(starts), np.array(finals)


def _nanmean(a: np.ndarray) -> np.ndarray:
    count = np.isfinite(a).sum(axis=0)
    total = np.where(np.isfinite(a), a, 0.0).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def crossing(x: np.ndarray, y: np.ndarray, target: float, tol: float = 1e-12) -> float | None:
    """First x at which y reaches `target`, interpolated linearly between the last point below it
    and the first at or above it; x[0] when y starts there; None when y never reaches it."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    hits = np.flatnonzero(y >= target - tol)
    if not hits.size:
        return None
    i = int(hits[0])
    if i == 0:
        return float(x[0])
    x0, x1, y0, y1 = x[i - 1], x[i], y[i - 1], y[i]
    return float(x0 + (target - y0) * (x1 - x0) / (y1 - y0))


@dataclass(frozen=True)
class Interval:
    """A point estimate with its bootstrap interval; `reason` says why there is none."""

    value: float | None
    ci95: tuple[float, float] | None = None
    reason: str | None = None
    n: int = 0

    def as_dict(self) -> dict:
        return {"value": _num(self.value), "ci95": None if self.ci95 is None else [_num(v) for v in self.ci95],
                "reason": self.reason, "n": self.n}


def _num(v: float | None) -> float | None:
    return None if v is None or not math.isfinite(v) else float(v)


def bootstrap_mean(values: np.ndarray, rule: SpeedupRule) -> Interval:
    """Mean of the finite values and its percentile bootstrap interval (None with < 2 values)."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if not v.size:
        return Interval(None, None, "no value", 0)
    if v.size < 2:
        return Interval(float(v.mean()), None, "one run: no interval over seeds", 1)
    rng = np.random.default_rng(rule.seed)
    reps = v[rng.integers(0, v.size, (rule.n_boot, v.size))].mean(axis=1)
    return Interval(float(v.mean()), rule.interval(reps), None, int(v.size))


@dataclass(frozen=True)
class GainCheck:
    """Did the baseline gain? start/final: means over runs; gain: mean per-run gain with CI."""

    start: float
    final: float
    gain: Interval
    significant: bool
    reason: str | None

    def as_dict(self) -> dict:
        return {"start": _num(self.start), "final": _num(self.final), "gain": self.gain.as_dict(),
                "significant": self.significant, "reason": self.reason}


def gain_check(base: CurveSet, rule: SpeedupRule, name: str = "baseline") -> GainCheck:
    """Rule 1 of the module docstring."""
    starts, finals = base.start_final()
    gain = bootstrap_mean(finals - starts, rule)
    start, final = float(np.nanmean(starts)), float(np.nanmean(finals))
    if gain.n < max(2, rule.min_seeds):
        reason = (f"{NO_GAIN}: {name} has {gain.n} run(s) with a start and a final value; a gain needs a "
                  f"bootstrap interval over at least {max(2, rule.min_seeds)} seeds")
        return GainCheck(start, final, gain, False, reason)
    if gain.ci95[0] <= 0:
        reason = (f"{NO_GAIN}: {name} did not gain significantly (start {start:.3f}, final {final:.3f}, "
                  f"gain {gain.value:+.3f}, 95% CI [{gain.ci95[0]:+.3f}, {gain.ci95[1]:+.3f}] over "
                  f"{gain.n} seeds)")
        return GainCheck(start, final, gain, False, reason)
    return GainCheck(start, final, gain, True, None)


def target_of(base: CurveSet, rows: np.ndarray | None, fraction: float) -> float | None:
    """start + fraction * (final - start) of the baseline's mean curve; None when it does not rise."""
    _, mean = base.mean_curve(rows)
    if mean.size < 2 or not mean[-1] > mean[0]:
        return None
    return float(mean[0] + fraction * (mean[-1] - mean[0]))


def _times(base: CurveSet, agent: CurveSet, brows, arows, fraction: float, axis: str):
    """(target, baseline's time, agent's time) for one (re)sample; None parts where undefined."""
    target = target_of(base, brows, fraction)
    if target is None:
        return None, None, None
    bx = crossing(*base.mean_curve(brows, axis), target)
    ax = crossing(*agent.mean_curve(arows, axis), target)
    return target, bx, ax


def _ratio(bx: float | None, ax: float | None) -> float | None:
    """Speed-up of one (re)sample: 0 when the agent never reaches, None when undefined."""
    if bx is None or bx <= 0:
        return None
    if ax is None:
        return 0.0
    return None if ax <= 0 else bx / ax


@dataclass(frozen=True)
class SpeedUp:
    """One group's speed-up against the baseline on one metric and axis ("steps" or "tokens").

    target: the level (rule 2). baseline_at / at: where the baseline's and the group's mean curves
    reach it (None: never). speedup: with `ci95`, or None with `reason`. paired: whether the interval
    resampled seeds jointly (paired runs). left_out: share of replicates without a speed-up.
    """

    label: str
    metric: str
    axis: str
    target: float | None
    baseline_at: float | None
    at: float | None
    speedup: float | None
    ci95: tuple[float, float] | None
    reason: str | None
    paired: bool = False
    n_runs: int = 0
    left_out: float = 0.0

    def as_dict(self) -> dict:
        return {"label": self.label, "metric": self.metric, "axis": self.axis, "target": _num(self.target),
                "baseline_at": _num(self.baseline_at), "at": _num(self.at), "speedup": _num(self.speedup),
                "ci95": None if self.ci95 is None else [_num(v) for v in self.ci95], "reason": self.reason,
                "paired": self.paired, "n_runs": self.n_runs, "left_out": self.left_out}


def pair_rows(base: CurveSet, agent: CurveSet) -> tuple[np.ndarray, np.ndarray]:
    """Row indices of the seeds both sets hold (each seed once), in seed order."""
    common = sorted(set(base.seeds) & set(agent.seeds), key=str)
    return (np.array([base.seeds.index(s) for s in common], dtype=int),
            np.array([agent.seeds.index(s) for s in common], dtype=int))


def speedup(base: CurveSet, agent: CurveSet, rule: SpeedupRule, label: str, metric: str,
            axis: str = "steps", gain: GainCheck | None = None, paired: bool = False,
            baseline_name: str = "baseline") -> SpeedUp:
    """Rules 2-4 of the module docstring for one group (the baseline itself gets 1.0 exactly)."""
    gain = gain or gain_check(base, rule, baseline_name)
    if not gain.significant:
        return SpeedUp(label, metric, axis, None, None, None, None, None, gain.reason, paired, agent.n_runs)
    if paired:
        brows, arows = pair_rows(base, agent)
        if brows.size < 2:
            return SpeedUp(label, metric, axis, None, None, None, None, None,
                           f"{brows.size} paired seed(s): a paired interval needs at least 2", True, int(brows.size))
    else:
        brows, arows = np.arange(base.n_runs), np.arange(agent.n_runs)
    if axis == "tokens" and (base.tokens is None or agent.tokens is None):
        return SpeedUp(label, metric, axis, None, None, None, None, None, "no generated-token counts",
                       paired, int(arows.size))
    target, bx, ax = _times(base, agent, brows, arows, rule.fraction, axis)
    value = _ratio(bx, ax)
    if ax is None:
        last = agent.mean_curve(arows, axis)[0]
        where = f"{last[-1]:,.0f} {'steps' if axis == 'steps' else 'tokens'}" if last.size else "its run"
        return SpeedUp(label, metric, axis, target, bx, None, None, None,
                       f"did not reach the target {target:.3f} within {where}", paired, int(arows.size))
    if value is None:
        return SpeedUp(label, metric, axis, target, bx, ax, None, None,
                       f"at or above the target {target:.3f} at its first point (its start differs from the "
                       "baseline's)", paired, int(arows.size))
    rng = np.random.default_rng(rule.seed)
    reps = []
    for _ in range(rule.n_boot):
        bi = rng.integers(0, brows.size, brows.size)
        ai = bi if paired else rng.integers(0, arows.size, arows.size)
        _, rbx, rax = _times(base, agent, brows[bi], arows[ai], rule.fraction, axis)
        reps.append(_ratio(rbx, rax))
    defined = np.array([r for r in reps if r is not None], dtype=float)
    left_out = 1 - defined.size / rule.n_boot
    ci = rule.interval(defined) if defined.size else None
    return SpeedUp(label, metric, axis, target, bx, ax, value, ci, None, paired, int(arows.size), left_out)


@dataclass(frozen=True)
class PairedSeed:
    """One seed of a paired comparison: each run's time to the common target, their ratio, and
    the group's final value minus the baseline's."""

    seed: object
    baseline_at: float | None
    at: float | None
    speedup: float | None
    final_difference: float

    def as_dict(self) -> dict:
        return {"seed": self.seed, "baseline_at": _num(self.baseline_at), "at": _num(self.at),
                "speedup": _num(self.speedup), "final_difference": _num(self.final_difference)}


def paired_seeds(base: CurveSet, agent: CurveSet, target: float | None) -> list[PairedSeed]:
    """Per-seed paired differences (steps axis) against the baseline's common `target`."""
    brows, arows = pair_rows(base, agent)
    _, bfinal = base.start_final(brows)
    _, afinal = agent.start_final(arows)
    out = []
    for k, (b, a) in enumerate(zip(brows, arows)):
        bx = crossing(base.x, base.values[b], target) if target is not None else None
        ax = crossing(agent.x, agent.values[a], target) if target is not None else None
        out.append(PairedSeed(base.seeds[b], bx, ax, _ratio(bx, ax), float(afinal[k] - bfinal[k])))
    return out
