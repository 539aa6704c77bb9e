"""The tabular Thought-MDP family: prompts that are chains of H thoughts, some thoughts fatal.

Owns `PromptSpec` / `ThoughtChainSpec` (the family's parameters), `build` (spec -> `LayeredMDP`),
`first_error` (the step oracle of this family), `start_logits` (a start policy that is right at a
chosen rate where it can go wrong) and two named members used by the benchmarks:

- `critical_chain(p, ...)`: the theory check's member. A share p of prompts is *hard*: its
  thoughts are all sound except at one critical depth, where only thought 0 is sound and every
  other thought is fatal. The other 1 - p prompts are *routine*: no thought is fatal and the
  final answer is right with probability `routine_success` whatever the thoughts were (their
  outcome is decided by things the thoughts do not control, so none of their states is
  improvable, yet their 0/1 rewards are noisy). Under the uniform policy the only improvable
  state is the hard prompt's critical state, reached with probability exactly p (the knob).
  p = 1 leaves out the routine prompt: every prompt is hard (the language-model `chain` suite's
  shape, where every failure's first error is the hard step; benchmarks/reset_map.py).
- `multi_fault(p, ...)`: the agent comparison's member. Hard prompts have fatal thoughts at
  every depth (drawn per prompt and depth), so a failed rollout can contain several
  errors and where to reset matters; routine prompts as above.

States: at depth h each prompt j has two states, alive (no fatal thought yet; index 2j) and dead
(a fatal thought was taken; index 2j+1). A dead state only leads to dead states and ends with
reward 0; an alive final state ends with reward 1 with probability `success` of its prompt. The
tabular policy is a table over these states: all sound prefixes of a prompt at one depth share
one state, an abstraction of the language-model state (prompt + thoughts so far).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from codereset.tabular.mdp import LayeredMDP


@dataclass(frozen=True)
class PromptSpec:
    """One prompt of the family.

    weight: probability that the prompt is drawn (weights of a spec are normalized to sum 1).
    fatal: per depth h = 0..H-1, the thoughts (0..K-1) that are fatal at that depth; a fatal
        thought makes success unreachable. Must leave at least one sound thought per depth.
    success: probability of reward 1 when no fatal thought was taken (1.0: the sound chain
        always solves the prompt; < 1: the outcome is partly outside the thoughts' control).
    name: label used in state names.
    """

    weight: float
    fatal: tuple[tuple[int, ...], ...]
    success: float = 1.0
    name: str = "prompt"


@dataclass(frozen=True)
class ThoughtChainSpec:
    """A member of the family: H thoughts per episode, K thoughts to choose from at each step.

    horizon: H, the number of thoughts in every episode.
    n_thoughts: K, thoughts available at every step.
    prompts: the prompts and their weights.
    """

    horizon: int
    n_thoughts: int
    prompts: tuple[PromptSpec, ...]


def build(spec: ThoughtChainSpec) -> LayeredMDP:
    """The `LayeredMDP` of a spec (state 2j = prompt j alive, 2j+1 = prompt j dead)."""
    h_max, k = spec.horizon, spec.n_thoughts
    if h_max < 1 or k < 2:
        raise ValueError(f"need horizon >= 1 and n_thoughts >= 2, got {h_max} and {k}")
    if not spec.prompts:
        raise ValueError("a spec needs at least one prompt")
    weights = np.array([p.weight for p in spec.prompts], dtype=float)
    if (weights < 0).any() or weights.sum() <= 0:
        raise ValueError(f"prompt weights must be >= 0 with a positive sum, got {weights.tolist()}")
    n = 2 * len(spec.prompts)
    trans = [np.zeros((n, k, n)) for _ in range(h_max)]
    success = np.zeros(n)
    for j, prompt in enumerate(spec.prompts):
        if len(prompt.fatal) != h_max:
            raise ValueError(f"prompt {prompt.name!r}: fatal needs {h_max} entries (one per depth), "
                             f"got {len(prompt.fatal)}")
        if not 0.0 <= prompt.success <= 1.0:
            raise ValueError(f"prompt {prompt.name!r}: success must lie in [0, 1], got {prompt.success}")
        alive, dead = 2 * j, 2 * j + 1
        for h, fatal in enumerate(prompt.fatal):
            bad = set(fatal)
            if not bad <= set(range(k)) or len(bad) >= k:
                raise ValueError(f"prompt {prompt.name!r}, depth {h}: fatal thoughts {sorted(bad)} must "
                                 f"be a subset of 0..{k - 1} that leaves a sound thought")
            for a in range(k):
                trans[h][alive, a, dead if a in bad else alive] = 1.0
            trans[h][dead, :, dead] = 1.0
        success[alive] = prompt.success
    names = tuple(tuple(f"{p.name}/{state}@{h}" for p in spec.prompts for state in ("alive", "dead"))
                  for h in range(h_max + 1))
    start = np.zeros(n)
    start[0::2] = weights / weights.sum()
    return LayeredMDP(start=start, trans=tuple(trans), success=success, names=names)


def first_error(mdp: LayeredMDP, v_star: list[np.ndarray], states: np.ndarray) -> int | None:
    """The step oracle: 1-based index of the first thought after which the best achievable
    success probability drops (thought h leads from states[h-1] to states[h] with
    V*(states[h]) < V*(states[h-1])), or None when no thought lowered it (the failure came from
    outside the thoughts' control). `states` is one rollout's (H+1,) state row."""
    for h in range(1, mdp.horizon + 1):
        if v_star[h][states[h]] < v_star[h - 1][states[h - 1]] - 1e-12:
            return h
    return None


def critical_chain(p: float, horizon: int = 3, n_thoughts: int = 3, critical_depth: int | None = None,
                   routine_success: float = 0.5) -> ThoughtChainSpec:
    """The theory check's member (module docstring): hard prompts (share p) with one critical
    depth where thoughts 1..K-1 are fatal; routine prompts (share 1 - p) with noisy outcomes.
    critical_depth (0-based) defaults to the last step (H-1): the improvable state ends a chain.
    p = 1: hard prompts only (no routine prompt)."""
    if not 0.0 < p <= 1.0:
        raise ValueError(f"p must lie in (0, 1], got {p}")
    depth = horizon - 1 if critical_depth is None else critical_depth
    if not 0 <= depth < horizon:
        raise ValueError(f"critical_depth must be in 0..{horizon - 1}, got {depth}")
    hard_fatal = tuple(tuple(range(1, n_thoughts)) if h == depth else () for h in range(horizon))
    prompts = [PromptSpec(weight=p, fatal=hard_fatal, success=1.0, name="hard")]
    if p < 1.0:
        prompts.append(PromptSpec(weight=1.0 - p, fatal=((),) * horizon, success=routine_success,
                                  name="routine"))
    return ThoughtChainSpec(horizon=horizon, n_thoughts=n_thoughts, prompts=tuple(prompts))


def start_logits(spec: ThoughtChainSpec, sound_prob: float | None = None) -> list[np.ndarray]:
    """Logits (per depth, (n_h, K), the layout of `build`) of a start policy. None: all zeros (the
    uniform policy). A probability: at every alive state with fatal thoughts, the sound thoughts
    together get `sound_prob` (shared equally) and the fatal ones the rest; every other state stays
    uniform (its thoughts all lead to the same place)."""
    k = spec.n_thoughts
    theta = [np.zeros((2 * len(spec.prompts), k)) for _ in range(spec.horizon)]
    if sound_prob is None:
        return theta
    if not 0.0 < sound_prob < 1.0:
        raise ValueError(f"sound_prob must lie strictly between 0 and 1 (finite logits), got {sound_prob}")
    for j, prompt in enumerate(spec.prompts):
        for h, fatal in enumerate(prompt.fatal):
            if not fatal:
                continue
            bad = np.isin(np.arange(k), fatal)
            theta[h][2 * j] = np.where(bad, np.log((1 - sound_prob) / bad.sum()),
                                       np.log(sound_prob / (k - bad.sum())))
    return theta


def multi_fault(p: float, horizon: int = 5, n_thoughts: int = 4, n_hard: int = 4, fatal_per_step: int = 1,
                routine_success: float = 0.5, layout_seed: int = 0) -> ThoughtChainSpec:
    """The agent comparison's member: `n_hard` hard prompts sharing weight p, each with
    `fatal_per_step` fatal thoughts at every depth (which ones is drawn with `layout_seed`), plus
    one routine prompt of weight 1 - p with noisy outcomes and no fatal thought."""
    if not 0.0 < p <= 1.0:
        raise ValueError(f"p must lie in (0, 1], got {p}")
    if not 1 <= fatal_per_step < n_thoughts:
        raise ValueError(f"fatal_per_step must be in 1..{n_thoughts - 1}, got {fatal_per_step}")
    rng = np.random.default_rng(layout_seed)
    prompts = [PromptSpec(weight=p / n_hard, name=f"hard{j}",
                          fatal=tuple(tuple(sorted(int(a) for a in rng.choice(n_thoughts, fatal_per_step,
                                                                              replace=False)))
                                      for _ in range(horizon)))
               for j in range(n_hard)]
    if p < 1.0:
        prompts.append(PromptSpec(weight=1.0 - p, fatal=((),) * horizon, success=routine_success,
                                  name="routine"))
    return ThoughtChainSpec(horizon=horizon, n_thoughts=n_thoughts, prompts=tuple(prompts))
