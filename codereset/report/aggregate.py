"""Aggregation over seeds: learning curves (vs step and vs generated tokens), speed-ups, and
per-run summaries averaged per group (agent).

Rules (the report prints them too):
- A curve is built per run first (optionally a trailing mean over `smooth` steps), then averaged
  over the group's runs at each x; the band is +-1 standard error over the runs present at that
  x (`n` says how many: a partial run drops out where its metrics stop).
- Against tokens, each step's mean sits at the mean cumulative generated tokens of the runs
  present at that step. Generated tokens are cumulative `tokens_generated` (trained + seed search + localization +
  untrained); rows without it fall back to the sum of the token kinds they do have.
- Speed-up: the target is the baseline group's final value (its mean curve at its last step).
  Each group's *step to target* is the first step where its mean curve reaches the target;
  speed-up = baseline's step to target / the group's (baseline = 1.0). The token speed-up does
  the same with the mean cumulative generated tokens at those steps.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np

from codereset.report.runs import Run, is_number
from codereset.report.stats import MeanSE, mean_se, trailing_mean, weighted_mean

#: Token kinds that add up to the generated total when `tokens_generated` is missing.
GENERATED_PARTS = ("tokens_trained", "tokens_seed_search", "tokens_localization")


@dataclass
class Curve:
    """Mean and standard error of one metric across a group's runs, at each x."""

    label: str
    x: np.ndarray
    mean: np.ndarray
    se: np.ndarray
    n: np.ndarray

    def final(self) -> float:
        """The mean at the last x (NaN for an empty curve)."""
        return float(self.mean[-1]) if self.x.size else math.nan

    def first_reaching(self, target: float, tol: float = 1e-9) -> float | None:
        """First x whose mean is >= target (None when never)."""
        hits = np.nonzero(np.nan_to_num(self.mean, nan=-math.inf) >= target - tol)[0]
        return float(self.x[hits[0]]) if hits.size else None


def generated_tokens(row: dict) -> float:
    """Tokens generated in this step (all kinds), NaN when the row says nothing about tokens."""
    if is_number(row.get("tokens_generated")):
        return float(row["tokens_generated"])
    parts = [float(row[k]) for k in GENERATED_PARTS if is_number(row.get(k))]
    return float(sum(parts)) if parts else math.nan


def cumulative_tokens(run: Run) -> dict[int, float]:
    """Step -> generated tokens up to and including that step (steps with unknown tokens count 0)."""
    total, out = 0.0, {}
    for row in run.metrics:
        tokens = generated_tokens(row)
        total += tokens if math.isfinite(tokens) else 0.0
        out[int(row["step"])] = total
    return out


def series(run: Run, key: str, smooth: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """(steps, values) of `key` over the rows that hold a number for it, optionally smoothed."""
    rows = [r for r in run.metrics if is_number(r.get(key))]
    steps = np.array([int(r["step"]) for r in rows], dtype=float)
    values = np.array([float(r[key]) for r in rows], dtype=float)
    return steps, trailing_mean(values, smooth) if values.size else values


def _stack(label: str, grid: np.ndarray, mat: np.ndarray) -> Curve:
    stats = [mean_se(mat[:, j]) for j in range(grid.size)]
    return Curve(label, grid,
                 np.array([s.mean for s in stats]), np.array([s.se for s in stats]),
                 np.array([s.n for s in stats], dtype=int))


def _aligned(runs: list[Run], key: str, smooth: int):
    """Step grid, (runs x steps) values and (runs x steps) cumulative tokens, NaN where absent."""
    per_run = [(r, *series(r, key, smooth)) for r in runs]
    per_run = [(r, s, v) for r, s, v in per_run if s.size]
    if not per_run:
        return None
    grid = np.array(sorted(set().union(*(set(s.tolist()) for _, s, _ in per_run))), dtype=float)
    values = np.full((len(per_run), grid.size), math.nan)
    tokens = np.full((len(per_run), grid.size), math.nan)
    for i, (run, steps, vals) in enumerate(per_run):
        cols = np.searchsorted(grid, steps)
        cum = cumulative_tokens(run)
        values[i, cols] = vals
        tokens[i, cols] = [cum[int(s)] for s in steps]
    return grid, values, tokens


def step_curve(label: str, runs: list[Run], key: str, smooth: int = 1) -> Curve | None:
    """Mean +- SE of `key` per step over `runs`; None when no run logged it."""
    aligned = _aligned(runs, key, smooth)
    return None if aligned is None else _stack(label, aligned[0], aligned[1])


def token_curve(label: str, runs: list[Run], key: str, smooth: int = 1) -> Curve | None:
    """The step curve placed at x = mean cumulative generated tokens (over the runs present at
    that step); None when no run logged `key` or no run counted tokens."""
    aligned = _aligned(runs, key, smooth)
    if aligned is None:
        return None
    _, values, tokens = aligned
    curve = _stack(label, np.zeros(values.shape[1]), values)
    curve.x = np.array([mean_se(tokens[:, j]).mean for j in range(values.shape[1])])
    keep = np.isfinite(curve.x) & (curve.x > 0)
    if not keep.any():
        return None
    return Curve(label, curve.x[keep], curve.mean[keep], curve.se[keep], curve.n[keep])


@dataclass(frozen=True)
class SpeedUp:
    """How soon a group reaches the baseline's final value of a metric."""

    label: str
    metric: str
    target: float
    step: int | None
    speedup: float | None
    tokens: float | None
    token_speedup: float | None

    def as_dict(self) -> dict:
        return dict(self.__dict__)


def mean_tokens_at(runs: list[Run], step: int) -> float | None:
    """Mean cumulative generated tokens at `step` over the runs that reached it."""
    values = [cumulative_tokens(r).get(step) for r in runs]
    stats = mean_se(values)
    return stats.mean if stats.n else None


def speedups(curves: dict[str, Curve], runs: dict[str, list[Run]], baseline: str,
             metric: str) -> list[SpeedUp]:
    """Step (and tokens) at which each group first reaches the baseline's final value.

    Raises ValueError listing the groups when `baseline` has no curve for `metric`.
    """
    if baseline not in curves:
        raise ValueError(f"baseline '{baseline}' has no '{metric}' curve; groups with one: "
                         f"{sorted(curves)}. Pick one with --baseline.")
    target = curves[baseline].final()
    base_step = curves[baseline].first_reaching(target)
    base_tokens = mean_tokens_at(runs[baseline], int(base_step)) if base_step else None
    out = []
    for label, curve in curves.items():
        x = curve.first_reaching(target)
        step = int(x) if x is not None else None
        tokens = mean_tokens_at(runs[label], step) if step is not None else None
        out.append(SpeedUp(
            label, metric, float(target), step,
            base_step / step if step and base_step else None,
            tokens,
            base_tokens / tokens if tokens and base_tokens else None,
        ))
    return out


def per_run(runs: list[Run], fn: Callable[[Run], float]) -> MeanSE:
    """`fn` evaluated on each run, then mean +- SE over runs (NaN results ignored)."""
    return mean_se(fn(r) for r in runs)


def run_mean(key: str) -> Callable[[Run], float]:
    """Per-run mean of `key` over the rows that hold a number for it."""
    def fn(run: Run) -> float:
        return mean_se(r.get(key) for r in run.metrics).mean
    return fn


def run_sum(key: str) -> Callable[[Run], float]:
    """Per-run sum of `key` (NaN when no row holds it)."""
    def fn(run: Run) -> float:
        values = [float(r[key]) for r in run.metrics if is_number(r.get(key))]
        return float(sum(values)) if values else math.nan
    return fn


def run_weighted(key: str, weight: Callable[[dict], float]) -> Callable[[Run], float]:
    """Per-run mean of `key` over rows, each weighted by `weight(row)` (e.g. its group count)."""
    def fn(run: Run) -> float:
        return weighted_mean([r.get(key) for r in run.metrics],
                             [weight(r) for r in run.metrics])
    return fn


def run_tokens_per_second(run: Run) -> float:
    """Generated tokens / seconds spent generating (generate + localize phases)."""
    tokens = sum(t for t in map(generated_tokens, run.metrics) if math.isfinite(t))
    seconds = sum(float(r.get(k)) for r in run.metrics
                  for k in ("time_generate_s", "time_localize_s") if is_number(r.get(k)))
    return tokens / seconds if seconds > 0 and tokens > 0 else math.nan


def pooled(runs: list[Run], key: str) -> list[float]:
    """All numbers found in the list-valued `key` (e.g. `reset_depths`) across runs and steps."""
    out = []
    for run in runs:
        for row in run.metrics:
            values = row.get(key)
            if isinstance(values, list):
                out.extend(float(v) for v in values if is_number(v))
    return out
