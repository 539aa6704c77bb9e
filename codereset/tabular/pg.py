"""GRPO / RRPO / SRPO-style policy-gradient updates on a softmax tabular policy.

Owns `PGConfig`, the agent registry `AGENTS`, the optimizer registry `OPTIMIZERS` (`SGD`, `Adam`,
`make_optimizer`), `Split` (the buffer's "1xU" shape), `softmax`, `build_groups` (the prompts'
rollout buffers) and `train_step` (one batch, one optimizer step).

Buffer for one prompt (G = `group_size`, 2G trained slots; `split` = "1xU", U suffixes, as the
trainer's buffer.split with buffer.slots = 2G):
  - "grpo": one group of 2G fresh rollouts from the prompt, trained on every thought.
  - "rrpo" / "srpo": first draws, fresh: a base group of 2G - U rollouts, trained on every thought
    ("1x4" at G = 4: 4), or, when the split leaves no base group ("1x8" at G = 4), an untrained
    probe of `probe_size`. The seed is the first failed first draw, else fresh rollouts are drawn
    one at a time until one fails (`max_seed_attempts` in all, first draws included; these extra
    draws are not trained). The agent picks the reset index h* in the seed's 1..n thoughts
    ("rrpo": uniform; "srpo": the `localizer`, see `codereset.tabular.localizers`), and U
    continuations are drawn from the reset state (the seed's state before thought h*): a
    shared-prefix group trained on its suffix thoughts only. No seed: a fallback group of U fresh
    rollouts trained on every thought (with `reuse_search_draws`, the untrained first and search
    draws first, then new ones for the rest).
So "1x8" (the issue-26 experiment's reset arms) has ONE trained group per prompt: 8 suffixes from
h*, all sharing the seed's prefix up to thought h* - 1, and no trained base group; its probe and
search draws cost generation but carry no gradient.
How this buffer mirrors the trainer's (`codereset.rollouts.buffer.BufferBuilder`): first draws
(base group or untrained probe of probe_size), seed = first failure in draw order, at most
`max_seed_attempts` draws with the first draws, one reset group of U suffixes from x* trained on
its suffix, a fallback of U fresh rollouts when no seed is found (reusing untrained non-seed draws
first, as the trainer does, when `reuse_search_draws`), GRPO = 2G fresh. What it does not mirror,
and why:
  - split: one seed per prompt only ("1xU"); the trainer's "2x4" (two seeds) is not built;
  - pairing: the trainer draws the first `paired` draws of every arm from one seeded call, so two
    arms' first draws coincide; here arms are paired by their random stream's seed only (the
    benchmarks give every arm the same seed; the draws' layouts differ, so the draws do not);
  - seed-search cost: the extra attempts are drawn in one vectorized call but counted only up to
    the first failure, as if drawn one at a time (the trainer, with sampling.batching=step, counts
    every speculative draw it generated as seed-search tokens): here draws cost nothing but the
    count, so the record measures the method's cost, not this implementation's;
  - fallback: `reuse_search_draws` False (the default, which `benchmarks/tabular_agents.py`'s
    committed results used) always draws U new fresh rollouts; the reused draws are i.i.d. fresh
    rollouts of the same policy, so this changes the generation count only, not the law of the
    groups;
  - localization cost: SRPO's localizer is free here (the trainer's self-localization generates
    tokens, counted as localization tokens);
  - a rollout "fails" when its reward is 0 (tabular rewards are 0/1; the trainer: not correct);
    the loss averages over trained thoughts, where the trainer averages over trained tokens
    (a tabular action is one thought); the step is plain gradient descent by default (the
    trainer: AdamW with gradient clipping, which rescales the gradient per parameter); optimizer
    "adam" is Adam without weight decay or clipping (below).
Each group's advantages come from the project's estimator (`codereset.learn.advantages`, default
"group_norm"). Loss (method.md): L = - mean over the batch's rollouts i of
A_i * mean over i's trained thoughts t of log pi(a_t | s_t); its gradient with respect to the
logits of s_t is -A_i / (N n_i) (onehot(a_t) - pi(s_t)) per trained thought (N rollouts in the
batch, n_i trained thoughts of rollout i). One optimizer step per batch (`OPTIMIZERS`, chosen by
`PGConfig.optimizer`):
  - "sgd" (default): the plain gradient step theta -= lr * grad; stateless;
  - "adam": Adam on the logits, every logit its own parameter, betas (0.9, 0.999), eps 1e-8,
    bias-corrected (torch.optim.Adam's rule, no weight decay): theta -= lr * m_hat / (sqrt(v_hat) + eps).
    Its first step moves each logit with a non-zero gradient by about lr * sign(grad), whatever the
    gradient's size, so a constant factor on the loss (such as a suffix's 1 / n_i weight) no longer
    scales the step.
Where the optimizer state lives: `train_step` is a function of the logits (theta in, theta out),
and the caller's run loop holds theta across steps; it holds the optimizer the same way. Make one
per run with `make_optimizer(cfg)` and pass it to every `train_step` of that run (it updates its
moments in place). `train_step` without one is allowed for the stateless "sgd" only; a stateful
optimizer without its state would silently restart every step, so it raises.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import torch

from codereset.learn.advantages import get_advantage
from codereset.tabular.localizers import LocalizerConfig, localize, oracle_index
from codereset.tabular.mdp import LayeredMDP, Rollouts, rollouts


def _uniform_reset(mdp: LayeredMDP, v_star: list[np.ndarray], seed: np.ndarray, cfg: "PGConfig",
                   rng: np.random.Generator) -> tuple[int, int]:
    """RRPO: h* uniform in 1..n; also returns the oracle's index, for the diagnostics."""
    return int(rng.integers(1, mdp.horizon + 1)), oracle_index(mdp, v_star, seed)[0]


def _localized_reset(mdp: LayeredMDP, v_star: list[np.ndarray], seed: np.ndarray, cfg: "PGConfig",
                     rng: np.random.Generator) -> tuple[int, int]:
    """SRPO: h* from the configured localizer."""
    return localize(cfg.localizer, mdp, v_star, seed, rng)


# Agent name -> how it picks (h*, h_oracle) in a failed seed; None: the agent never resets (GRPO).
AGENTS: dict[str, Callable[..., tuple[int, int]] | None] = {
    "grpo": None,
    "rrpo": _uniform_reset,
    "srpo": _localized_reset,
}


class SGD:
    """The plain gradient step theta - lr * grad (stateless)."""

    name = "sgd"

    def step(self, theta: list[np.ndarray], grad: list[np.ndarray], lr: float) -> list[np.ndarray]:
        return [t - lr * g for t, g in zip(theta, grad)]


class Adam:
    """Adam on a list of logit arrays (module docstring); holds its moments and step count across
    steps, so one instance serves one run."""

    name = "adam"

    def __init__(self, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8) -> None:
        self.betas, self.eps = betas, eps
        self.m: list[np.ndarray] | None = None
        self.v: list[np.ndarray] | None = None
        self.t = 0

    def step(self, theta: list[np.ndarray], grad: list[np.ndarray], lr: float) -> list[np.ndarray]:
        b1, b2 = self.betas
        if self.m is None:
            self.m = [np.zeros_like(g) for g in grad]
            self.v = [np.zeros_like(g) for g in grad]
        self.t += 1
        out = []
        for k, (t, g) in enumerate(zip(theta, grad)):
            self.m[k] = b1 * self.m[k] + (1 - b1) * g
            self.v[k] = b2 * self.v[k] + (1 - b2) * g * g
            m_hat = self.m[k] / (1 - b1 ** self.t)
            v_hat = self.v[k] / (1 - b2 ** self.t)
            out.append(t - lr * m_hat / (np.sqrt(v_hat) + self.eps))
        return out


# Optimizer name -> its class (instances: `make_optimizer`).
OPTIMIZERS: dict[str, type] = {"sgd": SGD, "adam": Adam}
STATELESS = frozenset({"sgd"})


def make_optimizer(cfg: "PGConfig") -> SGD | Adam:
    """A fresh optimizer for one run of `cfg` (its state starts empty)."""
    return OPTIMIZERS[cfg.optimizer]()


@dataclass(frozen=True)
class Split:
    """One seed per prompt with `suffixes` continuations from its reset state ("1xU")."""

    seeds: int
    suffixes: int

    @classmethod
    def parse(cls, text: str) -> "Split":
        match = re.fullmatch(r"\s*(\d+)\s*x\s*(\d+)\s*", str(text))
        if not match or int(match.group(1)) != 1 or int(match.group(2)) < 2:
            raise ValueError(f"split must look like '1x<suffixes>' with suffixes >= 2 (one seed per "
                             f"prompt: 1x4, 1x8), got {text!r}")
        return cls(int(match.group(1)), int(match.group(2)))


@dataclass(frozen=True)
class PGConfig:
    """agent: one of `AGENTS`.
    localizer: SRPO's localizer (ignored by the other agents).
    group_size: G; every agent trains 2G slots per prompt (GRPO: one group of 2G).
    split: "1xU": the reset agents' U suffixes from one seed; the other 2G - U slots are a trained
        base group ("1x4" at G = 4: 4 + 4, method.md's default; "1x8": no base group).
    probe_size: untrained first draws when the split leaves no base group (the trainer's
        buffer.probe_size).
    max_seed_attempts: most rollouts drawn from a prompt to find a failed seed, first draws included.
    reuse_search_draws: a prompt without a seed fills its fallback group with its untrained draws
        first, as the trainer does (False: U new fresh rollouts; module docstring).
    prompts_per_step: prompts drawn (from the start distribution) per batch.
    lr: step size of the optimizer step on the logits (5.0: the agent benchmark's value, for sgd).
    optimizer: one of `OPTIMIZERS` ("sgd": the plain gradient step; "adam"; module docstring).
    advantage: name of the group advantage estimator in `codereset.learn.advantages`.
    """

    agent: str = "srpo"
    localizer: LocalizerConfig = field(default_factory=LocalizerConfig)
    group_size: int = 4
    split: str = "1x4"
    probe_size: int = 4
    max_seed_attempts: int = 12
    reuse_search_draws: bool = False
    prompts_per_step: int = 8
    lr: float = 5.0
    advantage: str = "group_norm"
    optimizer: str = "sgd"

    def __post_init__(self) -> None:
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"unknown optimizer {self.optimizer!r}; known: {sorted(OPTIMIZERS)}")
        if self.agent not in AGENTS:
            raise ValueError(f"unknown agent {self.agent!r}; known: {sorted(AGENTS)}")
        if self.group_size < 2 or self.prompts_per_step < 1 or self.lr <= 0 or self.probe_size < 1:
            raise ValueError("need group_size >= 2, probe_size >= 1, prompts_per_step >= 1 and lr > 0")
        suffixes = Split.parse(self.split).suffixes
        if suffixes > 2 * self.group_size:
            raise ValueError(f"split {self.split} needs {suffixes} reset slots but there are "
                             f"{2 * self.group_size} (2 x group_size)")
        if self.max_seed_attempts < self.first_draws:
            raise ValueError(f"max_seed_attempts ({self.max_seed_attempts}) counts the first draws, so it "
                             f"must be >= {self.first_draws}")
        get_advantage(self.advantage)

    @property
    def suffixes(self) -> int:
        """U: continuations per reset group (and rollouts per fallback group)."""
        return Split.parse(self.split).suffixes

    @property
    def base_size(self) -> int:
        """Trained fresh rollouts per prompt besides the reset group (0: none, a probe instead)."""
        return 2 * self.group_size - self.suffixes

    @property
    def first_draws(self) -> int:
        """Fresh draws per prompt before the seed search: the base group, or the probe."""
        return self.base_size if self.base_size > 0 else self.probe_size


def softmax(theta: list[np.ndarray]) -> list[np.ndarray]:
    """Per depth, row-wise softmax of the logits (n_h, K)."""
    out = []
    for t in theta:
        e = np.exp(t - t.max(axis=1, keepdims=True))
        out.append(e / e.sum(axis=1, keepdims=True))
    return out


@dataclass(frozen=True)
class Group:
    """One normalization group: its rollouts (full state/action rows; a shared-prefix group's
    rows hold the seed's prefix before `first_trained`) and the first trained depth."""

    rollouts: Rollouts
    first_trained: int


@dataclass
class PromptRecord:
    """What one prompt's buffer cost and showed. generated_thoughts counts trained and seed-search
    thoughts (a continuation from h* generates H - h* + 1); for a reset: h_star, h_oracle,
    error_found (the oracle found an error in the seed; else h_oracle = n by convention),
    reset_has_variance (some but not all continuations correct), reset_corrected (any correct)."""

    base_pass: float
    generated_rollouts: int
    generated_thoughts: int
    seed_found: bool = False
    h_star: int | None = None
    h_oracle: int | None = None
    error_found: bool = False
    reset_has_variance: bool = False
    reset_corrected: bool = False


def _rows(ro: Rollouts, rows: np.ndarray | slice) -> Rollouts:
    return Rollouts(ro.states[rows], ro.actions[rows], ro.rewards[rows], ro.start_depth)


def _concat(parts: list[Rollouts]) -> Rollouts:
    return Rollouts(np.concatenate([p.states for p in parts]), np.concatenate([p.actions for p in parts]),
                    np.concatenate([p.rewards for p in parts]), parts[0].start_depth)


def build_groups(mdp: LayeredMDP, policy: list[np.ndarray], v_star: list[np.ndarray], prompts: np.ndarray,
                 cfg: PGConfig, rng: np.random.Generator) -> tuple[list[Group], list[PromptRecord]]:
    """The trained groups of a batch of prompts (module docstring; all prompts' rollouts of a
    kind are drawn in one vectorized call) and one record per prompt."""
    g, h_max, n_prompts = cfg.group_size, mdp.horizon, len(prompts)
    choose_reset = AGENTS[cfg.agent]
    if choose_reset is None:
        fresh = rollouts(mdp, policy, rng, 2 * g * n_prompts, states=np.repeat(prompts, 2 * g))
        groups = [Group(_rows(fresh, slice(2 * g * i, 2 * g * (i + 1))), 0) for i in range(n_prompts)]
        return groups, [PromptRecord(float(gr.rollouts.rewards.mean()), 2 * g, 2 * g * h_max) for gr in groups]
    first, u = cfg.first_draws, cfg.suffixes
    base = rollouts(mdp, policy, rng, first * n_prompts, states=np.repeat(prompts, first))
    records = [PromptRecord(float(base.rewards[first * i:first * (i + 1)].mean()), first, first * h_max)
               for i in range(n_prompts)]
    groups = ([Group(_rows(base, slice(first * i, first * (i + 1))), 0) for i in range(n_prompts)]
              if cfg.base_size > 0 else [])
    untrained: list[list[Rollouts]] = [[] if cfg.base_size > 0 else [_rows(base, slice(first * i, first * (i + 1)))]
                                       for i in range(n_prompts)]  # draws in no trained group, in draw order
    seeds: list[np.ndarray | None] = []
    for i in range(n_prompts):
        failed = np.flatnonzero(base.rewards[first * i:first * (i + 1)] == 0)
        seeds.append(base.states[first * i + failed[0]] if len(failed) else None)
    searching = [i for i in range(n_prompts) if seeds[i] is None]
    extra_n = cfg.max_seed_attempts - first
    if searching and extra_n > 0:
        extra = rollouts(mdp, policy, rng, extra_n * len(searching), states=np.repeat(prompts[searching], extra_n))
        for j, i in enumerate(searching):
            failed = np.flatnonzero(extra.rewards[extra_n * j:extra_n * (j + 1)] == 0)
            used = failed[0] + 1 if len(failed) else extra_n  # drawn one at a time: stop at the first failure
            records[i].generated_rollouts += used
            records[i].generated_thoughts += used * h_max
            untrained[i].append(_rows(extra, slice(extra_n * j, extra_n * j + used)))
            if len(failed):
                seeds[i] = extra.states[extra_n * j + failed[0]]
    no_seed = [i for i in range(n_prompts) if seeds[i] is None]
    if no_seed:  # no failure among the draws: every untrained draw is reusable (none is a seed)
        reuse = {i: (_rows(_concat(untrained[i]), slice(0, u)) if cfg.reuse_search_draws and untrained[i] else None)
                 for i in no_seed}
        need = {i: u - (0 if reuse[i] is None else len(reuse[i].rewards)) for i in no_seed}
        drawn = [i for i in no_seed if need[i] > 0]
        fresh = (rollouts(mdp, policy, rng, sum(need[i] for i in drawn),
                          states=np.repeat(prompts[drawn], [need[i] for i in drawn])) if drawn else None)
        at = 0
        for i in no_seed:
            parts = [] if reuse[i] is None else [reuse[i]]
            if need[i] > 0:
                parts.append(_rows(fresh, slice(at, at + need[i])))
                at += need[i]
            groups.append(Group(_concat(parts), 0))
            records[i].generated_rollouts += need[i]
            records[i].generated_thoughts += need[i] * h_max
    h_star = {}
    for i in range(n_prompts):
        if seeds[i] is None:
            continue
        h_star[i], h_oracle = choose_reset(mdp, v_star, seeds[i], cfg, rng)
        records[i].seed_found, records[i].h_star, records[i].h_oracle = True, h_star[i], h_oracle
        records[i].error_found = oracle_index(mdp, v_star, seeds[i])[1]
    for depth in sorted({h - 1 for h in h_star.values()}):
        at = [i for i, h in h_star.items() if h - 1 == depth]
        starts = np.repeat([seeds[i][depth] for i in at], u)
        cont = rollouts(mdp, policy, rng, u * len(at), depth=depth, states=starts)
        for j, i in enumerate(at):
            part = _rows(cont, slice(u * j, u * (j + 1)))
            part.states[:, :depth] = seeds[i][:depth]
            groups.append(Group(part, depth))
            n_right = int(part.rewards.sum())
            records[i].generated_rollouts += u
            records[i].generated_thoughts += u * (h_max - depth)
            records[i].reset_has_variance = 0 < n_right < u
            records[i].reset_corrected = n_right > 0
    return groups, records


def policy_gradient(theta: list[np.ndarray], policy: list[np.ndarray], groups: list[Group],
                    advantage: str) -> list[np.ndarray]:
    """Gradient of the loss (module docstring) with respect to the logits, per depth (n_h, K)."""
    adv_fn = get_advantage(advantage)
    h_max = len(theta)
    n_total = sum(len(gr.rollouts.rewards) for gr in groups)
    coefs, states, actions, masks = [], [], [], []
    for gr in groups:
        ro = gr.rollouts
        adv = adv_fn(torch.as_tensor(ro.rewards, dtype=torch.float32)).numpy().astype(float)  # (G,)
        coefs.append(-adv / (n_total * (h_max - gr.first_trained)))  # (G,) dL/dlogit = coef (onehot - pi)
        states.append(ro.states[:, :h_max])
        actions.append(ro.actions)
        masks.append(np.broadcast_to(np.arange(h_max) >= gr.first_trained, ro.actions.shape))
    coef, st, act, mask = (np.concatenate(x) for x in (coefs, states, actions, masks))  # (N,), (N, H) x3
    offsets = np.concatenate([[0], np.cumsum([len(t) for t in theta])[:-1]])  # (H,)
    rows, cols = np.nonzero(mask)  # trained (rollout, depth) pairs
    flat_state = offsets[cols] + st[rows, cols]  # (T,) row of the stacked logits
    c = coef[rows]  # (T,)
    pi_flat = np.vstack(policy)  # (S, K)
    grad = np.zeros_like(pi_flat)
    np.add.at(grad, (flat_state, act[rows, cols]), c)
    np.add.at(grad, flat_state, -c[:, None] * pi_flat[flat_state])
    return np.split(grad, offsets[1:])


def train_step(mdp: LayeredMDP, theta: list[np.ndarray], v_star: list[np.ndarray], cfg: PGConfig,
               rng: np.random.Generator, optimizer: SGD | Adam | None = None
               ) -> tuple[list[np.ndarray], list[PromptRecord]]:
    """One batch: draw prompts, build their groups, take one optimizer step. Returns the new logits
    and one record per prompt. `optimizer`: this run's `make_optimizer(cfg)` (updated in place);
    None only for a stateless optimizer (module docstring)."""
    if optimizer is None:
        if cfg.optimizer not in STATELESS:
            raise ValueError(f"optimizer {cfg.optimizer!r} carries state across steps: make one per run with "
                             f"make_optimizer(cfg) and pass it to every train_step")
        optimizer = make_optimizer(cfg)
    elif optimizer.name != cfg.optimizer:
        raise ValueError(f"train_step got a {optimizer.name!r} optimizer for a config that names {cfg.optimizer!r}")
    policy = softmax(theta)
    prompts = rng.choice(len(mdp.start), size=cfg.prompts_per_step, p=mdp.start)
    groups, records = build_groups(mdp, policy, v_star, prompts, cfg, rng)
    grad = policy_gradient(theta, policy, groups, cfg.advantage)
    return optimizer.step(theta, grad, cfg.lr), records
