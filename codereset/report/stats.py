"""Small statistics used by the report: mean and standard error over seeds, weighted means,
trailing moving averages, and the Wilson score interval for proportions.

Conventions: missing values (None, NaN, inf) are ignored, never treated as zero. A standard
error needs at least two values; with one it is NaN (shown as "n=1", plotted without a band).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable, Sequence

import numpy as np

from codereset.report.runs import is_number


@dataclass(frozen=True)
class MeanSE:
    """Mean over `n` values and its standard error (sample std / sqrt(n); NaN when n < 2)."""

    mean: float
    se: float
    n: int

    def as_dict(self) -> dict:
        return {"mean": _json_float(self.mean), "se": _json_float(self.se), "n": self.n}


def _json_float(x: float) -> float | None:
    return None if not math.isfinite(x) else float(x)


def mean_se(values: Iterable) -> MeanSE:
    """Mean and standard error of the finite numbers in `values`."""
    xs = np.array([float(v) for v in values if is_number(v)], dtype=float)
    if xs.size == 0:
        return MeanSE(math.nan, math.nan, 0)
    if xs.size == 1:
        return MeanSE(float(xs[0]), math.nan, 1)
    return MeanSE(float(xs.mean()), float(xs.std(ddof=1) / math.sqrt(xs.size)), int(xs.size))


def weighted_mean(values: Sequence, weights: Sequence) -> float:
    """Sum(w*v)/sum(w) over pairs where v is a number and w > 0; NaN when none."""
    total = weight = 0.0
    for v, w in zip(values, weights):
        if is_number(v) and is_number(w) and w > 0:
            total += float(v) * float(w)
            weight += float(w)
    return total / weight if weight > 0 else math.nan


def trailing_mean(values: Sequence[float], window: int) -> np.ndarray:
    """Mean of each value and the `window - 1` before it (fewer at the start); NaNs ignored.

    `window=1` returns the values unchanged. A position whose whole window is NaN stays NaN.
    """
    if window < 1:
        raise ValueError(f"smoothing window must be >= 1, got {window}")
    xs = np.asarray(values, dtype=float)
    out = np.full(xs.shape, math.nan)
    for i in range(xs.size):
        chunk = xs[max(0, i - window + 1): i + 1]
        chunk = chunk[np.isfinite(chunk)]
        if chunk.size:
            out[i] = chunk.mean()
    return out


def wilson_interval(p: float, n: int, z: float = 1.96) -> tuple[float, float]:
    """Wilson score interval for a proportion `p` observed over `n` trials (NaNs if n < 1)."""
    if not (is_number(p) and n and n >= 1):
        return math.nan, math.nan
    p = min(1.0, max(0.0, float(p)))
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)
