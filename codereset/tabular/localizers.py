"""Reset localizers for the tabular family: where in a failed rollout (the seed) to reset.

Owns `LocalizerConfig`, the registry `LOCALIZERS` and `localize`. Every localizer maps a seed of
n thoughts to a reset index h* in 1..n (method.md: the reset state keeps thoughts 1..h*-1 and the
shared-prefix group redraws from thought h* on), given the oracle's index h_oracle:

- "perfect": h* = h_oracle (SRPO with this localizer is the CARO agent);
- "noisy": h* = h_oracle + d, d drawn from `deviation` (offset -> probability), clipped to 1..n;
  positive offsets point after the originating error (at a symptom), negative ones before it;
- "random": h* uniform in 1..n (the RRPO reset rule, so SRPO with it matches RRPO in law);
- "symptom": h* = n, the last thought, where a wrong answer shows (the language-model SRPO
  localizer of benchmarks/results/reset_chain named it for most seeds);
- "mixed": h* = h_oracle with probability `accuracy`, otherwise the `otherwise` localizer's answer
  (default "random": accuracy 1 is "perfect", accuracy 0 is "random", in law). Its share of exact
  answers is accuracy + (1 - accuracy) * (the other localizer's exact share), e.g. q + (1 - q) / n
  with "random": the figure the language-model reports call "exact".

h_oracle is the family's step oracle (`family.first_error`: the first thought that lowers the
best achievable success probability); when the seed has no such thought (its failure came from
outside the thoughts' control) h_oracle = n, as the project's CARO agent does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from codereset.tabular.family import first_error
from codereset.tabular.mdp import LayeredMDP


@dataclass(frozen=True)
class LocalizerConfig:
    """name: a key of `LOCALIZERS`.
    deviation: for "noisy", (offset, probability) pairs of h* - h_oracle before clipping to 1..n;
        the probabilities must sum to 1. Default: right half the time, one thought late (at the
        symptom) a quarter of the time, otherwise one early or two late.
    accuracy: for "mixed", the probability q of answering the oracle's h_oracle (0 <= q <= 1).
    otherwise: for "mixed", the localizer (a key of `LOCALIZERS` other than "mixed") answering
        with probability 1 - q.
    """

    name: str = "perfect"
    deviation: tuple[tuple[int, float], ...] = ((-1, 0.15), (0, 0.5), (1, 0.25), (2, 0.1))
    accuracy: float = 1.0
    otherwise: str = "random"

    def __post_init__(self) -> None:
        if self.name not in LOCALIZERS:
            raise ValueError(f"unknown localizer {self.name!r}; known: {sorted(LOCALIZERS)}")
        if not 0.0 <= self.accuracy <= 1.0:
            raise ValueError(f"accuracy must lie in [0, 1], got {self.accuracy}")
        if self.otherwise not in LOCALIZERS or self.otherwise == "mixed":
            raise ValueError(f"otherwise must name a localizer other than 'mixed'; known: "
                             f"{sorted(set(LOCALIZERS) - {'mixed'})}, got {self.otherwise!r}")
        probs = [p for _, p in self.deviation]
        if not probs or min(probs) < 0 or not np.isclose(sum(probs), 1.0):
            raise ValueError(f"deviation must be (offset, probability) pairs with probabilities >= 0 "
                             f"summing to 1, got {self.deviation}")


def _perfect(h_oracle: int, n: int, cfg: LocalizerConfig, rng: np.random.Generator) -> int:
    return h_oracle


def _noisy(h_oracle: int, n: int, cfg: LocalizerConfig, rng: np.random.Generator) -> int:
    offsets = np.array([d for d, _ in cfg.deviation])
    probs = np.array([p for _, p in cfg.deviation], dtype=float)
    return int(np.clip(h_oracle + rng.choice(offsets, p=probs / probs.sum()), 1, n))


def _random(h_oracle: int, n: int, cfg: LocalizerConfig, rng: np.random.Generator) -> int:
    return int(rng.integers(1, n + 1))


def _symptom(h_oracle: int, n: int, cfg: LocalizerConfig, rng: np.random.Generator) -> int:
    return n


def _mixed(h_oracle: int, n: int, cfg: LocalizerConfig, rng: np.random.Generator) -> int:
    if rng.random() < cfg.accuracy:
        return h_oracle
    return LOCALIZERS[cfg.otherwise](h_oracle, n, cfg, rng)


LOCALIZERS: dict[str, Callable[[int, int, LocalizerConfig, np.random.Generator], int]] = {
    "perfect": _perfect,
    "noisy": _noisy,
    "random": _random,
    "symptom": _symptom,
    "mixed": _mixed,
}


def oracle_index(mdp: LayeredMDP, v_star: list[np.ndarray], seed_states: np.ndarray) -> tuple[int, bool]:
    """(h_oracle, found): the seed's first error, or (n, False) when it has none."""
    h = first_error(mdp, v_star, seed_states)
    return (mdp.horizon, False) if h is None else (h, True)


def localize(cfg: LocalizerConfig, mdp: LayeredMDP, v_star: list[np.ndarray], seed_states: np.ndarray,
             rng: np.random.Generator) -> tuple[int, int]:
    """(h*, h_oracle) for one seed, `seed_states` its (H+1,) state row (a full rollout)."""
    h_oracle, _ = oracle_index(mdp, v_star, seed_states)
    return LOCALIZERS[cfg.name](h_oracle, mdp.horizon, cfg, rng), h_oracle
