"""Advantage estimators: one group's rewards in, one advantage per rollout out.

Registry `ADVANTAGES`, lookup `get_advantage(name)`. Every estimator has the same signature
`fn(rewards: Tensor (G,)) -> Tensor (G,)` and is applied to each group on its own (a base group,
each shared-prefix group of a reset); the trainer never mixes groups.

- "group_norm" (default, method.md): A_i = (r_i - mean(r)) / std(r), population std
  (divide by G), and A_i = 0 for every i when std(r) < 1e-8 (e.g. all rewards equal).
- "mean_center": A_i = r_i - mean(r) (no std division; an ablation).
- "rloo": leave-one-out baseline, A_i = r_i - mean_{j != i} r_j = G/(G-1) * (r_i - mean(r));
  zeros for G = 1.
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import Tensor

STD_EPS = 1e-8

AdvantageFn = Callable[[Tensor], Tensor]


def _check(rewards: Tensor) -> Tensor:
    if rewards.dim() != 1 or rewards.numel() == 0:
        raise ValueError(f"rewards must be a non-empty 1-D tensor (G,), got shape {tuple(rewards.shape)}")
    if not torch.isfinite(rewards).all():
        raise ValueError(f"rewards must be finite, got {rewards.tolist()}")
    return rewards.to(torch.float32)


def group_norm(rewards: Tensor) -> Tensor:
    """(G,) -> (G,): (r - mean) / population std; zeros when std < 1e-8."""
    r = _check(rewards)
    std = r.std(unbiased=False)
    if std < STD_EPS:
        return torch.zeros_like(r)
    return (r - r.mean()) / std


def mean_center(rewards: Tensor) -> Tensor:
    """(G,) -> (G,): r - mean(r)."""
    r = _check(rewards)
    return r - r.mean()


def rloo(rewards: Tensor) -> Tensor:
    """(G,) -> (G,): r_i minus the mean of the other rewards; zeros when G == 1."""
    r = _check(rewards)
    g = r.numel()
    if g == 1:
        return torch.zeros_like(r)
    return (r - r.mean()) * (g / (g - 1))


ADVANTAGES: dict[str, AdvantageFn] = {
    "group_norm": group_norm,
    "mean_center": mean_center,
    "rloo": rloo,
}


def get_advantage(name: str) -> AdvantageFn:
    """The estimator registered under `name`; unknown names raise listing the known ones."""
    try:
        return ADVANTAGES[name]
    except KeyError:
        raise ValueError(f"unknown advantage estimator {name!r}; known: {sorted(ADVANTAGES)}") from None
