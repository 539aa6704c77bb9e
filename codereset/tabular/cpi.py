"""Sample-based Conservative Policy Iteration with random resets (CPI-RR) or oracle resets
(CPI-CARO) on a `LayeredMDP` (method.md, "Theory"; Kakade & Langford 2002 adapted to a finite
horizon H and 0/1 rewards).

One iteration (`cpi_step`), with the reset distribution mu of the registry `RESETS`:
  - "random" (CPI-RR): mu = a uniformly random visited state of an on-policy rollout, i.e.
    mu(s) = (1/H) sum_h d_h(s); the update may change the policy at any of the H states of a
    trajectory (N = H).
  - "oracle" (CPI-CARO): mu = the on-policy visitation restricted to the oracle's improvable
    states (some thought has advantage > tau), renormalized; the update changes the policy only
    there (N = the most improvable states one trajectory can visit).
  1. Greedy samples: s ~ mu, thought a uniform over K, one rollout of the policy from (s, a);
     pi'(s) = the thought with the best empirical return at s (ties broken at random), pi' = pi
     at states with no sample.
  2. Evaluation samples (fresh, same law): A_hat = mean of K * R * (pi'(a|s) - pi(a|s)), an
     unbiased estimate of the policy advantage E_{s~mu}[A(s, pi')], with its standard error SE.
  3. Both sample sets grow together (first_batch, then x growth) until A_hat > 0 and
     z * SE <= rel_accuracy * A_hat (the estimate is accurate to a fixed fraction of itself at
     confidence z: Kakade & Langford's eps/3 rule with eps set by the advantage itself), or
     max_batch is reached (no certified improvement: the step is not taken).
  4. Conservative step pi <- (1 - alpha) pi + alpha pi' with
     alpha = min(1, (A_hat - z SE) / (2 adv_bound (N - 1))) (alpha = 1 when N = 1): the maximizer
     of the lower bound eta(new) - eta(old) >= alpha W A - alpha^2 adv_bound W (N - 1), where W
     is the expected number of mu-states per trajectory and the second term bounds the effect
     of the changed visitation (a state's visitation changes only after an earlier changed state).
Samples counted: the Q-rollouts of steps 1 and 2 (2 per batch unit). `search_rollouts` adds the
on-policy rollouts that produce the reset states: one per sample for "random", Geometric(P_I)
per sample for "oracle" (P_I = probability that a rollout visits an improvable state).

The rollouts are drawn through `mdp.sample_q_flat` (exactly the law of one-by-one rollouts,
at O(|S| K) cost per batch), which needs the exact Q-values of the current policy; the algorithm
itself only sees the counts and 0/1 returns.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from codereset.tabular.mdp import (LayeredMDP, Policy, Values, evaluate, improvable, max_visits,
                                   reach_probability, sample_q_flat)


@dataclass(frozen=True)
class CPIConfig:
    """Settings of sample-based CPI.

    reset: reset distribution, a name in `RESETS` ("random" = CPI-RR, "oracle" = CPI-CARO).
    tau: advantage threshold of the oracle's improvable states (used by "oracle").
    z: confidence multiplier of the accuracy test and of the step's lower bound.
    rel_accuracy: stop sampling once z * SE <= rel_accuracy * A_hat.
    first_batch: samples per set (greedy, evaluation) in the first round of an iteration.
    growth: factor by which both sample sets grow per round (> 1).
    max_batch: per-set sample cap; an iteration that reaches it without certification stops CPI.
    adv_bound: a-priori bound on |A(s, a)| (1 for 0/1 rewards).
    """

    reset: str = "random"
    tau: float = 0.05
    z: float = 2.0
    rel_accuracy: float = 1.0 / 3.0
    first_batch: int = 32
    growth: float = 1.25
    max_batch: int = 10**9
    adv_bound: float = 1.0

    def __post_init__(self) -> None:
        if self.reset not in RESETS:
            raise ValueError(f"unknown reset {self.reset!r}; known: {sorted(RESETS)}")
        if self.growth <= 1.0 or self.first_batch < 1 or self.max_batch < self.first_batch:
            raise ValueError("need growth > 1 and 1 <= first_batch <= max_batch, got "
                             f"growth={self.growth}, first_batch={self.first_batch}, max_batch={self.max_batch}")
        if self.z <= 0 or self.rel_accuracy <= 0 or self.adv_bound <= 0 or self.tau < 0:
            raise ValueError("z, rel_accuracy and adv_bound must be > 0 and tau >= 0")


@dataclass(frozen=True)
class ResetDistribution:
    """weights: per depth (n_h,), summing to 1 (all zero: no state to reset to);
    max_updates: N, the most reset-distribution states one trajectory can visit;
    hit_probability: probability that one on-policy rollout yields a usable reset state."""

    weights: list[np.ndarray]
    max_updates: int
    hit_probability: float


def random_reset(mdp: LayeredMDP, policy: Policy, values: Values, cfg: CPIConfig) -> ResetDistribution:
    """CPI-RR: a uniformly random depth of an on-policy rollout."""
    h_max = mdp.horizon
    return ResetDistribution(weights=[values.occupancy[h] / h_max for h in range(h_max)],
                             max_updates=h_max, hit_probability=1.0)


def oracle_reset(mdp: LayeredMDP, policy: Policy, values: Values, cfg: CPIConfig) -> ResetDistribution:
    """CPI-CARO: on-policy visitation restricted to the improvable states."""
    mask = improvable(values, cfg.tau)
    raw = [values.occupancy[h] * mask[h] for h in range(mdp.horizon)]
    total = sum(float(r.sum()) for r in raw)
    if total <= 0:
        return ResetDistribution(weights=[np.zeros_like(r) for r in raw], max_updates=0,
                                 hit_probability=0.0)
    return ResetDistribution(weights=[r / total for r in raw],
                             max_updates=max_visits(mdp, policy, mask),
                             hit_probability=reach_probability(mdp, policy, mask))


RESETS: dict[str, Callable[[LayeredMDP, Policy, Values, CPIConfig], ResetDistribution]] = {
    "random": random_reset,
    "oracle": oracle_reset,
}


def greedy_policy(policy: np.ndarray, counts: np.ndarray, wins: np.ndarray,
                  rng: np.random.Generator) -> np.ndarray:
    """On stacked (S, K) arrays: pi'(s) = one-hot on the best empirical return among the sampled
    thoughts of s (random tie-break); rows without any sample keep pi."""
    q_hat = np.where(counts > 0, wins / np.maximum(counts, 1), -np.inf)  # (S, K)
    ties = (q_hat == q_hat.max(axis=1, keepdims=True)) & (counts > 0)
    pick = np.where(ties, rng.random(q_hat.shape), -1.0).argmax(axis=1)  # (S,)
    greedy = np.zeros_like(policy)
    greedy[np.arange(len(policy)), pick] = 1.0
    sampled = (counts > 0).any(axis=1)
    greedy[~sampled] = policy[~sampled]
    return greedy


def advantage_estimate(policy: np.ndarray, greedy: np.ndarray, wins: np.ndarray,
                       n: int) -> tuple[float, float]:
    """(A_hat, SE) from n evaluation samples (stacked (S, K) arrays; `wins` counts the samples of
    each (s, a) that returned 1): mean and standard error of K R (pi'(a|s) - pi(a|s))."""
    k = policy.shape[1]
    diff = greedy - policy
    mean = k * float((wins * diff).sum()) / n
    second = k * k * float((wins * diff * diff).sum()) / n
    return mean, float(np.sqrt(max(second - mean * mean, 0.0) / n))


@dataclass(frozen=True)
class StepResult:
    """One CPI iteration. policy: the new policy (the old one when not certified); alpha: the step
    taken (0 when not certified); adv_estimate / adv_se: A_hat and its SE at the last round;
    batch: samples per set at the last round; samples: Q-rollouts used (2 * batch);
    search_rollouts: on-policy rollouts that produced the reset states; certified: a step was taken."""

    policy: Policy
    alpha: float
    adv_estimate: float
    adv_se: float
    batch: int
    samples: int
    search_rollouts: int
    certified: bool


def cpi_step(mdp: LayeredMDP, policy: Policy, cfg: CPIConfig, rng: np.random.Generator,
             first_batch: int | None = None) -> StepResult:
    """One CPI iteration (module docstring). `first_batch` overrides cfg.first_batch (a warm
    start from the previous iteration's batch)."""
    values = evaluate(mdp, policy)
    reset = RESETS[cfg.reset](mdp, policy, values, cfg)
    if reset.hit_probability <= 0:
        return StepResult(policy, 0.0, 0.0, 0.0, 0, 0, 0, certified=False)
    pi, q, mu = np.vstack(policy), np.vstack(values.q), np.concatenate(reset.weights)  # (S,K),(S,K),(S,)
    g_n = np.zeros(pi.shape, dtype=np.int64)
    g_w, e_w = g_n.copy(), g_n.copy()
    m, target = 0, max(1, min(first_batch or cfg.first_batch, cfg.max_batch))
    while True:
        counts, wins = sample_q_flat(mu, q, target - m, rng)
        g_n += counts
        g_w += wins
        e_w += sample_q_flat(mu, q, target - m, rng)[1]
        m = target
        greedy = greedy_policy(pi, g_n, g_w, rng)
        adv, se = advantage_estimate(pi, greedy, e_w, m)
        certified = adv > 0 and cfg.z * se <= cfg.rel_accuracy * adv
        if certified or m >= cfg.max_batch:
            break
        target = min(cfg.max_batch, max(m + 1, int(np.ceil(m * cfg.growth))))
    samples = 2 * m
    if reset.hit_probability >= 1.0:
        search = samples
    else:
        search = samples + int(rng.negative_binomial(samples, reset.hit_probability))
    if not certified:
        return StepResult(policy, 0.0, adv, se, m, samples, search, certified=False)
    lower = max(adv - cfg.z * se, 0.0)
    if reset.max_updates <= 1:
        alpha = 1.0
    else:
        alpha = min(1.0, lower / (2.0 * cfg.adv_bound * (reset.max_updates - 1)))
    mixed = (1.0 - alpha) * pi + alpha * greedy
    new = np.split(mixed, np.cumsum(mdp.sizes[:-1])[:-1])
    return StepResult(new, alpha, adv, se, m, samples, search, certified=True)


@dataclass
class CPIRun:
    """A CPI run: eta[i] is the exact expected reward after i iterations; samples[i] and
    search[i] the cumulative Q-rollouts and search rollouts spent by then; steps the iterations."""

    eta: list[float] = field(default_factory=list)
    samples: list[int] = field(default_factory=list)
    search: list[int] = field(default_factory=list)
    steps: list[StepResult] = field(default_factory=list)

    def samples_to_reach(self, eta_target: float) -> int | None:
        """Cumulative Q-rollouts when eta first reached eta_target (None: never)."""
        for e, s in zip(self.eta, self.samples):
            if e >= eta_target:
                return s
        return None


def run_cpi(mdp: LayeredMDP, policy: Policy, cfg: CPIConfig, rng: np.random.Generator,
            max_iterations: int, eta_target: float | None = None) -> CPIRun:
    """Iterate `cpi_step` until an iteration is not certified, eta (exact, measured only) reaches
    `eta_target`, or `max_iterations` iterations. Each iteration starts sampling at a quarter of
    the previous iteration's final batch (at least cfg.first_batch)."""
    run = CPIRun(eta=[evaluate(mdp, policy).eta], samples=[0], search=[0])
    batch = cfg.first_batch
    for _ in range(max_iterations):
        if eta_target is not None and run.eta[-1] >= eta_target:
            break
        step = cpi_step(mdp, policy, cfg, rng, first_batch=batch)
        run.steps.append(step)
        if not step.certified:
            break
        policy = step.policy
        batch = max(cfg.first_batch, step.batch // 4)
        run.eta.append(evaluate(mdp, policy).eta)
        run.samples.append(run.samples[-1] + step.samples)
        run.search.append(run.search[-1] + step.search_rollouts)
    return run
