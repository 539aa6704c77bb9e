"""Localizers: where a reset agent resets a failed seed. Registry `LOCALIZERS`, one signature.

A localizer takes the step's seeds (failed, scored rollouts) and returns one `ResetChoice` per
seed: h* in 1..n, the reset state keeps thoughts 1..h*-1 and the shared-prefix group regenerates
from thought h* on. RRPO, SRPO, CARO and the entropy agent differ only in their default
localizer; `agent.localizer=NAME` gives any reset agent another one (its arm is then labelled
`agent[localizer]`, `codereset.agents.arm_label`).

- "uniform": h* uniform in 1..n (RRPO; h* = 1 is the empty prefix).
- "self": the policy is asked for the first erroneous thought (SRPO; the prompt, lenient parsing
  and fallback live in `codereset.rollouts.localize`). A one-thought seed is not asked (h* = 1).
- "oracle": the oracle's first error (CARO): exact `envs.oracle.first_error` where the task has
  step-level truth, Monte-Carlo values (`codereset.rollouts.values`) otherwise (`agent.oracle`).
  No error found: h* = n, only the last thought is redrawn.
- "entropy": the thought where the policy was least sure of what it wrote: the highest mean
  surprisal, mean over the thought's sampled tokens of -log p (the sampler's log-probs, which
  every rollout keeps: no model call, no tokens). Ties go to the earliest thought. A one-thought
  seed has h* = 1. (Branching at uncertain positions is the idea of FR3E and AttnRL; here it is
  one more reset rule, measured beside self-localization and the oracle on the same engine.)

Every localizer has the signature ``choose(agent, seeds) -> list[ResetChoice]``; `check(cfg)`
validates its settings when the agent is built and `check_tasks(cfg, tasks)` whether it can
serve a suite.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Sequence

from codereset.agents.base import ResetChoice

ORACLES = ("auto", "exact", "mc")


@dataclass(frozen=True)
class Localizer:
    """A registered localizer: how it chooses h*, and the checks of its settings and tasks."""

    name: str
    choose: Callable[[Any, Sequence[Any]], list[ResetChoice]]
    check: Callable[[Any], None] = lambda cfg: None
    check_tasks: Callable[[Any, Sequence[Any]], None] = lambda cfg, tasks: None


# -- uniform (RRPO) ----------------------------------------------------------------------------
def choose_uniform(agent: Any, seeds: Sequence[Any]) -> list[ResetChoice]:
    rng = agent.ctx.current_rng()
    return [ResetChoice(h=rng.randint(1, seed.n_thoughts)) for seed in seeds]


# -- self (SRPO) ---------------------------------------------------------------------------------
def choose_self(agent: Any, seeds: Sequence[Any]) -> list[ResetChoice]:
    """A seed of one thought has one reset state (h* = 1, the prompt): it is not asked about
    (no tokens, never a parse failure). The others are localized in one batched call."""
    from codereset.generation.base import Sampling
    from codereset.rollouts.localize import localize_many

    loc = agent.cfg.localize
    sampling = Sampling(temperature=loc.temperature, top_p=loc.top_p, max_new_tokens=loc.max_new_tokens)
    asked = [s for s in seeds if len(s.thoughts) > 1]
    results = iter(localize_many(asked, agent.ctx.backend, sampling, loc, agent.ctx.current_rng(),
                                        agent.ctx.rules))
    choices = []
    for seed in seeds:
        if len(seed.thoughts) <= 1:
            choices.append(ResetChoice(h=1, info={"localizer_skipped": True}))
            continue
        r = next(results)
        choices.append(ResetChoice(
            h=r.h, localization_failed=r.failed, localization_tokens=r.generated_tokens,
            localization_budget_out=r.budget_out, localized=True,
            info={"localizer_answer": r.text, "localizer_parsed": r.parsed, "localizer_rule": r.rule,
                  "localizer_failed": r.failed, "localizer_budget_out": r.budget_out}))
    return choices


def check_self(cfg: Any) -> None:
    from codereset.rollouts.localize import VARIANTS, get_fallback

    get_fallback(cfg.localize.fallback)
    if cfg.localize.variant not in VARIANTS:
        raise ValueError(f"unknown localization variant {cfg.localize.variant!r}; known: {sorted(VARIANTS)}")


# -- oracle (CARO) -------------------------------------------------------------------------------
def _uses_mc(cfg: Any, task: Any) -> bool:
    from envs.oracle import has_oracle

    return cfg.oracle == "mc" or (cfg.oracle == "auto" and not has_oracle(task))


def choose_oracle(agent: Any, seeds: Sequence[Any]) -> list[ResetChoice]:
    """The mc oracle's continuations are the cost of choosing h*: they count as localization
    tokens (tokens_localization)."""
    from codereset.rollouts.values import mc_first_error, mc_values
    from envs.oracle import first_error

    mc_seeds = [s for s in seeds if _uses_mc(agent.cfg, s.task)]
    found: dict[int, tuple[int | None, dict, int]] = {}
    if mc_seeds:
        if agent.roller is None:
            raise RuntimeError("the mc oracle generates continuations: attach a roller and verifier first "
                               "(BufferBuilder does)")
        mc = mc_values(mc_seeds, agent.roller, agent.verifier, agent.cfg.values.k)
        for seed, v in zip(mc_seeds, mc.per_rollout):
            i = mc_first_error(v.values, agent.cfg.values.drop_threshold)
            found[id(seed)] = (i, {"oracle": "mc", "mc_values": v.values}, v.tokens)
    choices = []
    for seed in seeds:
        if id(seed) in found:
            i, info, tokens = found[id(seed)]
        else:
            i, info, tokens = first_error(seed.task, seed.thoughts, agent.ctx.rules), {"oracle": "exact"}, 0
        h = seed.n_thoughts if i is None else i + 1
        choices.append(ResetChoice(h=h, localization_tokens=tokens,
                                   info={"oracle_found_error": i is not None, **info}))
    return choices


def check_oracle(cfg: Any) -> None:
    if cfg.oracle not in ORACLES:
        raise ValueError(f"unknown agent.oracle={cfg.oracle!r}; known: {list(ORACLES)}")


def check_oracle_tasks(cfg: Any, tasks: Sequence[Any]) -> None:
    from envs.oracle import has_oracle

    missing = sorted({t.suite for t in tasks if not has_oracle(t)})
    if missing and cfg.oracle == "exact":
        raise ValueError(f"the oracle localizer with agent.oracle=exact needs tasks with a step-level oracle, "
                         f"but suite(s) {missing} have none; use agent.oracle=mc (Monte-Carlo values) or "
                         "agent.oracle=auto, or a suite that has one, e.g. env=math_arith")


# -- entropy ---------------------------------------------------------------------------------------
def thought_surprisals(seed: Any) -> list[float]:
    """Mean -log p of each thought's sampled tokens (the sampler's log-probs). Raises ValueError
    when a thought has none (a backend that reports no log-probs)."""
    out = []
    for i, lps in enumerate(seed.seg_logprobs):
        if lps is None:
            raise ValueError(f"the entropy localizer needs the sampler's log-probs, but thought {i + 1} of a "
                             f"seed of task {seed.task.task_id!r} has none (backend without log-probs)")
        out.append(-sum(lps) / len(lps) if lps else 0.0)
    return out


def choose_entropy(agent: Any, seeds: Sequence[Any]) -> list[ResetChoice]:
    choices = []
    for seed in seeds:
        if seed.n_thoughts <= 1:
            choices.append(ResetChoice(h=1, info={"localizer_skipped": True}))
            continue
        surprisal = thought_surprisals(seed)
        h = 1 + max(range(len(surprisal)), key=lambda i: (surprisal[i], -i))
        choices.append(ResetChoice(h=h, localized=True,
                                   info={"thought_surprisal": [round(s, 4) for s in surprisal]}))
    return choices


LOCALIZERS: dict[str, Localizer] = {loc.name: loc for loc in (
    Localizer("uniform", choose_uniform),
    Localizer("self", choose_self, check=check_self),
    Localizer("oracle", choose_oracle, check=check_oracle, check_tasks=check_oracle_tasks),
    Localizer("entropy", choose_entropy),
)}


def get_localizer(name: str) -> Localizer:
    """The localizer registered under `name`; unknown names raise listing the known ones."""
    try:
        return LOCALIZERS[name]
    except KeyError:
        raise ValueError(f"unknown localizer {name!r}; known localizers: {sorted(LOCALIZERS)}") from None
