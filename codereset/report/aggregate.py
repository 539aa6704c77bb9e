"""Aggregation over seeds: learning curves (vs step and vs generated tokens), the runs of a group
as arrays for the speed-up rule (`codereset.report.speedup`), and per-run summaries averaged per
group (agent).

Rules (the report prints them too):
- A curve is built per run first (optionally a trailing mean over `smooth` steps), then averaged
  over the group's runs at each x; the band is +-1 standard error over the runs present at that
  x (`n` says how many: a partial run drops out where its metrics stop).
- The validation curve (`val_pass_rate`) also takes the run's `eval.jsonl` rows of its validation
  split at k=1 for steps without a metrics row, so the starting evaluation (step 0, written when the
  trainer validates at the start) is the curve's first point; runs without one start at their first
  validated step.
- Against tokens, each step's mean sits at the mean cumulative generated tokens of the runs
  present at that step (0 at step 0). Generated tokens are cumulative `tokens_generated` (every
  kind of generation); rows without it fall back to the sum of the `tokens_<kind>` counts they do
  have (every kind except the reused prefix).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np

from codereset.report.runs import Run, is_number
from codereset.report.speedup import CurveSet
from codereset.run.schema import METRICS
from codereset.report.stats import MeanSE, mean_se, trailing_mean, weighted_mean

#: Phases whose seconds count as generation time for tokens/s.
GENERATION_PHASES = ("time_generate_s", "time_localize_s")
#: The metrics key of the validation pass rate; its curve also reads eval.jsonl (module docstring).
VAL_KEY = "val_pass_rate"
#: `tokens_<kind>` keys that are not a kind of generated token.
NOT_GENERATED = ("tokens_generated", "tokens_prefix_reused")
for _key in (VAL_KEY, "pass_rate", *NOT_GENERATED, *GENERATION_PHASES):
    METRICS.doc(_key)  # raises at import when the schema no longer declares a key read here


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


def token_kinds(rows) -> list[str]:
    """Every `tokens_<kind>` key with a number in some row (generated kinds, in first-seen order)."""
    seen: dict[str, None] = {}
    for row in rows:
        for key, value in row.items():
            if key.startswith("tokens_") and key not in NOT_GENERATED and is_number(value):
                seen[key] = None
    return list(seen)


def generated_tokens(row: dict) -> float:
    """Tokens generated in this step (all kinds), NaN when the row says nothing about tokens."""
    if is_number(row.get("tokens_generated")):
        return float(row["tokens_generated"])
    parts = [float(row[k]) for k in token_kinds([row])]
    return float(sum(parts)) if parts else math.nan


def cumulative_tokens(run: Run) -> dict[int, float]:
    """Step -> generated tokens up to and including that step (0 at step 0; steps with unknown
    tokens count 0)."""
    total, out = 0.0, {0: 0.0}
    for row in run.metrics:
        tokens = generated_tokens(row)
        total += tokens if math.isfinite(tokens) else 0.0
        out[int(row["step"])] = total
    return out


def val_split(run: Run) -> str:
    """The split the trainer validates on (`env.val_split`, else "val")."""
    return str(run.get("env.val_split", "val"))


def _points(run: Run, key: str) -> dict[int, float]:
    points = {int(r["step"]): float(r[key]) for r in run.metrics if is_number(r.get(key))}
    if key == VAL_KEY:
        split = val_split(run)
        for row in run.evals:
            if (row.get("split") == split and row.get("k") == 1 and is_number(row.get("step"))
                    and int(row["step"]) not in points):
                points[int(row["step"])] = float(row["pass_at_k"])
    return dict(sorted(points.items()))


def series(run: Run, key: str, smooth: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """(steps, values) of `key` over the rows that hold a number for it, optionally smoothed."""
    points = _points(run, key)
    steps = np.array(list(points), dtype=float)
    values = np.array(list(points.values()), dtype=float)
    return steps, trailing_mean(values, smooth) if values.size else values


def _stack(label: str, grid: np.ndarray, mat: np.ndarray) -> Curve:
    stats = [mean_se(mat[:, j]) for j in range(grid.size)]
    return Curve(label, grid,
                 np.array([s.mean for s in stats]), np.array([s.se for s in stats]),
                 np.array([s.n for s in stats], dtype=int))


def curve_set(runs: list[Run], key: str, smooth: int = 1) -> CurveSet | None:
    """The runs that logged `key` on one step grid: values and cumulative tokens (NaN where
    absent; tokens None when no run counted any), keyed by seed; None when no run logged it."""
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
        tokens[i, cols] = [cum.get(int(s), math.nan) for s in steps]
    counted = any(math.isfinite(generated_tokens(row)) for r, _, _ in per_run for row in r.metrics)
    return CurveSet(grid, values, tokens if counted else None, [r.seed for r, _, _ in per_run])


def step_curve(label: str, runs: list[Run], key: str, smooth: int = 1) -> Curve | None:
    """Mean +- SE of `key` per step over `runs`; None when no run logged it."""
    cs = curve_set(runs, key, smooth)
    return None if cs is None else _stack(label, cs.x, cs.values)


def token_curve(label: str, runs: list[Run], key: str, smooth: int = 1) -> Curve | None:
    """The step curve placed at x = mean cumulative generated tokens (over the runs present at
    that step; step 0 at 0); None when no run logged `key` or no run counted tokens."""
    cs = curve_set(runs, key, smooth)
    if cs is None or cs.tokens is None:
        return None
    curve = _stack(label, cs.x, cs.values)
    x = np.array([mean_se(np.where(np.isfinite(cs.values[:, j]), cs.tokens[:, j], np.nan)).mean
                  for j in range(cs.x.size)])
    keep = np.isfinite(x)
    if not (x[keep] > 0).any():
        return None
    return Curve(label, x[keep], curve.mean[keep], curve.se[keep], curve.n[keep])


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
    """Generated tokens / seconds spent generating (`GENERATION_PHASES`)."""
    tokens = sum(t for t in map(generated_tokens, run.metrics) if math.isfinite(t))
    seconds = sum(float(r.get(k)) for r in run.metrics
                  for k in GENERATION_PHASES if is_number(r.get(k)))
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
