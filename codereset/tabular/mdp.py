"""Layered tabular MDPs with 0/1 terminal reward: the model, exact evaluation, and sampling.

Owns `LayeredMDP` (states grouped by depth h = 0..H; every depth-h state has the same K actions,
the thoughts; transitions go from depth h to depth h+1 only; the episode always lasts H steps and
ends with reward 1 with probability `success[s]` of the final state s, else 0), the exact
computations on it (`evaluate`: Q, V, advantages, on-policy occupancy, the optimal values V*;
`improvable`; `reach_probability`) and the samplers used by the tabular CPI and policy-gradient
code (`rollouts`, `sample_q_statistics`).

A policy is a list of H arrays, `policy[h]` of shape (n_h, K), each row a distribution over the
K thoughts. Nothing here knows about thought chains or agents (`codereset.tabular.family` builds
the MDPs; `cpi` and `pg` learn on them). numpy only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

Policy = list[np.ndarray]


@dataclass(frozen=True)
class LayeredMDP:
    """A finite-horizon MDP whose states are grouped by depth.

    start: (n_0,) distribution over the depth-0 states (the prompts).
    trans: H arrays; trans[h] has shape (n_h, K, n_{h+1}), each (s, a) row a distribution over
        the next depth's states (deterministic thoughts have one-hot rows; a row with several
        entries models consequences the thought does not control).
    success: (n_H,) probability in [0, 1] that the episode ends with reward 1 in each final state.
    names: optional state names per depth (H+1 tuples), for messages and tests.
    """

    start: np.ndarray
    trans: tuple[np.ndarray, ...]
    success: np.ndarray
    names: tuple[tuple[str, ...], ...] | None = None

    def __post_init__(self) -> None:
        if not self.trans:
            raise ValueError("an MDP needs at least one step: trans is empty")
        k = self.trans[0].shape[1]
        sizes = [len(self.start)]
        for h, t in enumerate(self.trans):
            if t.ndim != 3 or t.shape[0] != sizes[-1] or t.shape[1] != k:
                raise ValueError(f"trans[{h}] must have shape (n_{h}={sizes[-1]}, K={k}, n_{h + 1}), "
                                 f"got {t.shape}")
            if (t < 0).any() or not np.allclose(t.sum(axis=2), 1.0):
                raise ValueError(f"every row trans[{h}][s, a, :] must be a probability distribution")
            sizes.append(t.shape[2])
        if self.success.shape != (sizes[-1],):
            raise ValueError(f"success must have shape (n_H={sizes[-1]},), got {self.success.shape}")
        if ((self.success < 0) | (self.success > 1)).any():
            raise ValueError("success holds probabilities of reward 1: every entry must lie in [0, 1]")
        if (self.start < 0).any() or not np.isclose(self.start.sum(), 1.0):
            raise ValueError(f"start must be a distribution over the {sizes[0]} depth-0 states")
        if self.names is not None and [len(n) for n in self.names] != sizes:
            raise ValueError(f"names must give {sizes} names per depth")

    @property
    def horizon(self) -> int:
        return len(self.trans)

    @property
    def n_actions(self) -> int:
        return self.trans[0].shape[1]

    @property
    def sizes(self) -> list[int]:
        return [len(self.start)] + [t.shape[2] for t in self.trans]

    def uniform_policy(self) -> Policy:
        """The policy that picks every thought with probability 1/K everywhere."""
        k = self.n_actions
        return [np.full((n, k), 1.0 / k) for n in self.sizes[:-1]]

    def check_policy(self, policy: Policy) -> None:
        """Raise ValueError unless `policy` has one (n_h, K) distribution array per depth."""
        if len(policy) != self.horizon:
            raise ValueError(f"a policy needs {self.horizon} arrays (one per depth), got {len(policy)}")
        for h, (pi, n) in enumerate(zip(policy, self.sizes)):
            if pi.shape != (n, self.n_actions):
                raise ValueError(f"policy[{h}] must have shape ({n}, {self.n_actions}), got {pi.shape}")
            if (pi < -1e-12).any() or not np.allclose(pi.sum(axis=1), 1.0):
                raise ValueError(f"every row of policy[{h}] must be a probability distribution")


@dataclass(frozen=True)
class Values:
    """Exact quantities of one policy on one MDP (lists indexed by depth).

    q[h]: (n_h, K) Q-values; v[h]: (n_h,) values, v[H] = success; adv[h] = q[h] - v[h][:, None];
    occupancy[h]: (n_h,) probability that the policy is in each state at depth h;
    v_star[h]: (n_h,) optimal values (best achievable success probability from each state);
    eta: expected reward from the start distribution.
    """

    q: list[np.ndarray]
    v: list[np.ndarray]
    adv: list[np.ndarray]
    occupancy: list[np.ndarray]
    v_star: list[np.ndarray]
    eta: float


def evaluate(mdp: LayeredMDP, policy: Policy) -> Values:
    """Backward induction for Q, V, V*; forward pass for the occupancy."""
    mdp.check_policy(policy)
    horizon = mdp.horizon
    v: list[np.ndarray] = [np.empty(0)] * (horizon + 1)
    v_star: list[np.ndarray] = [np.empty(0)] * (horizon + 1)
    q: list[np.ndarray] = [np.empty(0)] * horizon
    v[horizon] = mdp.success.astype(float)
    v_star[horizon] = mdp.success.astype(float)
    for h in reversed(range(horizon)):
        q[h] = mdp.trans[h] @ v[h + 1]  # (n_h, K)
        v[h] = (policy[h] * q[h]).sum(axis=1)
        v_star[h] = (mdp.trans[h] @ v_star[h + 1]).max(axis=1)
    occupancy = [mdp.start.astype(float)]
    for h in range(horizon):
        occupancy.append(np.einsum("s,sa,sat->t", occupancy[h], policy[h], mdp.trans[h]))
    adv = [q[h] - v[h][:, None] for h in range(horizon)]
    return Values(q=q, v=v, adv=adv, occupancy=occupancy, v_star=v_star,
                  eta=float(mdp.start @ v[0]))


def improvable(values: Values, tau: float) -> list[np.ndarray]:
    """Per depth, a boolean (n_h,) mask of the improvable states: some thought has advantage > tau."""
    if tau < 0:
        raise ValueError(f"tau must be >= 0 (an advantage threshold), got {tau}")
    return [a.max(axis=1) > tau for a in values.adv]


def reach_probability(mdp: LayeredMDP, policy: Policy, mask: list[np.ndarray]) -> float:
    """Probability that a rollout of `policy` visits at least one state of `mask` (per-depth
    boolean arrays over the H decision depths)."""
    if len(mask) != mdp.horizon:
        raise ValueError(f"mask needs {mdp.horizon} arrays (one per decision depth), got {len(mask)}")
    not_yet = mdp.start.astype(float)
    hit = 0.0
    for h in range(mdp.horizon):
        hit += float(not_yet[mask[h]].sum())
        not_yet = np.where(mask[h], 0.0, not_yet)
        not_yet = np.einsum("s,sa,sat->t", not_yet, policy[h], mdp.trans[h])
    return hit


def max_visits(mdp: LayeredMDP, policy: Policy, mask: list[np.ndarray]) -> int:
    """Largest number of `mask` states on one trajectory that `policy` can produce (transitions
    and thoughts of positive probability only)."""
    best = np.zeros(mdp.sizes[-1], dtype=int)
    for h in reversed(range(mdp.horizon)):
        reachable = (policy[h][:, :, None] > 0) & (mdp.trans[h] > 0)  # (n_h, K, n_{h+1})
        below = np.where(reachable, best[None, None, :], -1).max(axis=(1, 2))
        best = np.maximum(below, 0) + mask[h].astype(int)
    return int(best[mdp.start > 0].max())


def _categorical(probs: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One draw per row of `probs` (N, C) -> (N,) indices."""
    cdf = np.cumsum(probs, axis=1)
    u = rng.random(len(probs))[:, None] * cdf[:, -1:]
    return np.minimum((u > cdf).sum(axis=1), probs.shape[1] - 1)


@dataclass(frozen=True)
class Rollouts:
    """N trajectories. states: (N, H+1) state index per depth (-1 before the start depth);
    actions: (N, H) thought per depth (-1 before the start depth); rewards: (N,) 0/1;
    start_depth: the depth the rollouts started from (0 = from the prompt)."""

    states: np.ndarray
    actions: np.ndarray
    rewards: np.ndarray
    start_depth: int


def rollouts(mdp: LayeredMDP, policy: Policy, rng: np.random.Generator, n: int,
             depth: int = 0, states: np.ndarray | None = None) -> Rollouts:
    """Sample n rollouts of `policy`. From the start distribution when depth == 0 and `states` is
    None; otherwise from the given depth-`depth` state(s) (a reset: one state, or one per rollout).
    Columns before `depth` are -1 (the caller owns the prefix)."""
    horizon = mdp.horizon
    if not 0 <= depth < horizon:
        raise ValueError(f"depth must be a decision depth in 0..{horizon - 1}, got {depth}")
    if states is None:
        if depth != 0:
            raise ValueError("rollouts from depth > 0 need the reset state(s)")
        cur = _categorical(np.broadcast_to(mdp.start, (n, len(mdp.start))), rng)
    else:
        cur = np.broadcast_to(np.asarray(states, dtype=int), (n,)).copy()
        if ((cur < 0) | (cur >= mdp.sizes[depth])).any():
            raise ValueError(f"reset states must index the {mdp.sizes[depth]} depth-{depth} states")
    out_s = np.full((n, horizon + 1), -1, dtype=int)
    out_a = np.full((n, horizon), -1, dtype=int)
    out_s[:, depth] = cur
    for h in range(depth, horizon):
        a = _categorical(policy[h][cur], rng)
        cur = _categorical(mdp.trans[h][cur, a], rng)
        out_a[:, h] = a
        out_s[:, h + 1] = cur
    rewards = (rng.random(n) < mdp.success[cur]).astype(float)
    return Rollouts(states=out_s, actions=out_a, rewards=rewards, start_depth=depth)


def sample_q_statistics(values: Values, reset: list[np.ndarray], n: int,
                        rng: np.random.Generator) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Sufficient statistics of n independent Q-samples: reset state s ~ `reset` (per-depth
    (n_h,) weights summing to 1 over all depths), thought a uniform over the K thoughts, then one
    rollout of the policy from (s, a) whose 0/1 return has mean Q(s, a).

    Returns (counts, successes), per depth (n_h, K) integer arrays: how many samples hit each
    (s, a) and how many of them returned 1. This has exactly the distribution of running the n
    rollouts one by one (multinomial counts, then binomial successes given Q), at O(|S| K) cost.
    """
    weights = np.concatenate(reset)
    if not np.isclose(weights.sum(), 1.0):
        raise ValueError(f"the reset distribution must sum to 1 over all depths, got {weights.sum()}")
    counts, wins = sample_q_flat(weights, np.vstack(values.q), n, rng)
    bounds = np.cumsum([len(r) for r in reset])[:-1]
    return np.split(counts, bounds), np.split(wins, bounds)


def sample_q_flat(weights: np.ndarray, q: np.ndarray, n: int,
                  rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """`sample_q_statistics` on stacked arrays: weights (S,) over all states of all depths, q (S, K)
    -> (counts, successes), both (S, K)."""
    k = q.shape[1]
    cell = np.repeat(np.clip(weights, 0.0, None), k) / k
    counts = rng.multinomial(n, cell / cell.sum()).reshape(q.shape)
    wins = rng.binomial(counts, np.clip(q, 0.0, 1.0))
    return counts, wins
