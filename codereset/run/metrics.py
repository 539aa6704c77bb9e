"""The per-step metrics row (metrics.jsonl) and the samples.jsonl rows; their keys are declared,
with a doc each, in `codereset.run.schema` (`METRICS`, `SAMPLE_GROUP`, `ROLLOUT`), and every row is
checked against it before it is returned.

Token accounting of a step (every generated token is counted exactly once):
  tokens_trained       generated tokens of the trained rollouts (base, reset suffixes, fallback);
  tokens_seed_search   generated tokens of draws that are not trained (seed search, probes);
  tokens_localization  tokens SRPO's localizer generated;
  tokens_<kind>        tokens an agent generated outside every rollout, by kind
                       (`PromptBuffer.extra_tokens`, e.g. tokens_mc for Monte-Carlo values);
  tokens_generated     the sum of all the above;
  tokens_trained_<kind> the part of tokens_trained from rollouts of an agent's own kind
                       (refinement, second_attempt, tree), one key per kind present;
  tokens_prefix_reused reset-prefix tokens each reset rollout continued from instead of
                       regenerating (counted once per reset rollout).
mean_response_tokens is the mean generated tokens per trained rollout.

Agents that build their own groups add their per-prompt diagnostics (`PromptBuffer.diagnostics`,
each a list over the step's prompts, e.g. refinement_correct, score_improvements, tree_leaves).

Reset diagnostics (null when the step has no reset group): reset_depth is the mean of h*/n over
reset groups (reset_depths the values), reset_groups_with_signal the share with non-zero reward
variance, correction_rate the share with at least one correct suffix. Under a step-level oracle
(tasks with one, e.g. `arith`) also: localization_deviation (mean h* - h_oracle over groups where
the oracle found an error), correction rates and suffix pass@4 (unbiased, k = min(4, group size))
for clean prefixes (h* <= h_oracle, or no error found) and erroneous ones. With
`agent.values.diagnose` the same keys, prefixed mc_, against the Monte-Carlo first error of each
reset seed (`codereset.rollouts.values.record_mc_diagnostics`): localization quality on suites without an
exact oracle (code). One rule (`oracle_metrics`) computes both. Empty-prefix resets (h* = 1, a fresh
resample: clean by construction) are their own row, not counted as clean.

Is the localizer localizing? (`localization_watch`, every reset agent.) Seeds of one thought have
only h* = 1 and are counted (reset_seeds_one_thought), never judged. Over the others: the h* and n
of each (reset_h_star, reset_n_thoughts, from which a report re-derives any histogram) and the
share of the most frequent h* (h_star_modal_share). Under an oracle, the agent's agreement
(exact, within one) is logged beside what two reference localizers score on the very same seeds:
the constant h* = 1 and a uniform h* in 1..n (`reference_agreement`); `localizer_warning` is the
trainer's warning when one h* takes most seeds while the oracle's first error varies.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from codereset.rollouts.buffer import Group, StepBuffer
from codereset.eval.passk import pass_at_k
from codereset.run.schema import METRICS, SAMPLE_GROUP


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def _share(flags: list[bool]) -> float | None:
    return sum(flags) / len(flags) if flags else None


def _suffix_pass_at_4(groups: list[Group]) -> float | None:
    values = [pass_at_k(len(g.rollouts), g.n_correct, min(4, len(g.rollouts))) for g in groups]
    return _mean(values)


def step_metrics(step: int, buf: StepBuffer, update: Any, times: dict[str, float],
                 val_pass_rate: float | None = None) -> dict:
    """The metrics.jsonl row of one step (`val_pass_rate`: the step's validation result, None
    when it did not validate). Its keys are `codereset.run.schema.METRICS`'s (checked)."""
    trained = [r for g in buf.groups for r in g.rollouts]
    untrained = [r for p in buf.prompts for r in p.untrained_draws()]
    sample = [r for p in buf.prompts for r in p.pass_sample]
    resets = [g for g in buf.groups if g.kind == "reset"]
    localization_tokens = sum(g.choice.localization_tokens for g in resets)
    tokens_trained = sum(r.generated_tokens for r in trained)
    tokens_search = sum(r.generated_tokens for r in untrained)
    depths = [g.depth for g in resets]
    extra_tokens: dict[str, int] = {}
    diagnostics: dict[str, list] = {}
    for p in buf.prompts:
        for kind, n in p.extra_tokens.items():
            extra_tokens[kind] = extra_tokens.get(kind, 0) + n
        for key, values in p.diagnostics.items():
            diagnostics.setdefault(key, []).extend(values)
    row: dict[str, Any] = {
        "step": step,
        "pass_rate": _mean([float(r.correct) for r in sample]),
        "reward_mean": _mean([r.reward for r in sample]),
        "loss": update.loss,
        "grad_norm": update.grad_norm,
        "skipped_update": update.skipped,
        "mean_logprob": update.stats.get("mean_logprob"),
        **update.metrics(),  # the update's own terms (codereset.learn.update.UpdateResult.metrics)
        "tokens_trained": tokens_trained,
        "tokens_seed_search": tokens_search,
        "tokens_localization": localization_tokens,
        "tokens_prefix_reused": sum(r.prefix_tokens for g in resets for r in g.rollouts),
        "tokens_generated": tokens_trained + tokens_search + localization_tokens + sum(extra_tokens.values()),
        "mean_response_tokens": _mean([float(r.generated_tokens) for r in trained]),
        "rollouts_trained": len(trained),
        "rollouts_backprop": update.backprop_rollouts,
        "seeds_found": sum(len(p.seeds) for p in buf.prompts),
        "fallback_groups": sum(g.kind == "fallback" for g in buf.groups),
        "reset_depth": _mean(depths),
        "reset_depths": depths,
        "reset_groups_with_signal": _share([g.has_signal for g in resets]),
        "correction_rate": _share([g.n_correct > 0 for g in resets]),
        "localization_parse_failures": sum(g.choice.localization_failed for g in resets),
        "localization_budget_outs": sum(g.choice.localization_budget_out for g in resets),
        "localization_fallback_rate": _share([g.choice.localization_failed for g in resets if g.choice.localized]),
        "localized_groups": sum(g.choice.localized for g in resets),
        **localization_watch(resets),
    }
    when = {"agent"}
    row.update({f"tokens_{kind}": n for kind, n in sorted(extra_tokens.items())})
    for kind in sorted({r.kind for r in trained} - {"base", "reset", "fallback"}):
        row[f"tokens_trained_{kind}"] = sum(r.generated_tokens for r in trained if r.kind == kind)
    row.update(diagnostics)
    if any(_has_oracle(p.task) for p in buf.prompts):
        row.update(oracle_metrics([(g, g.h_oracle) for g in resets if g.oracle]))
        when.add("oracle")
    if any(g.mc_judged for g in resets):
        row.update(oracle_metrics([(g, g.mc_h_oracle) for g in resets if g.mc_judged], prefix="mc_"))
        when.add("mc_oracle")
    row.update({f"time_{name}_s": float(times.get(name, 0.0))
                for name in ("generate", "verify", "localize", "train", "sync", "validate", "step", "build")})
    row.update(time_verify_busy_s=float(times.get("verify_busy", 0.0)), gen_calls=buf.gen_calls,
               gen_rows_per_call=buf.gen_rows_per_call)
    if val_pass_rate is not None:
        row["val_pass_rate"] = val_pass_rate
        when.add("validation")
    METRICS.check(row, when)
    return row


def _has_oracle(task: Any) -> bool:
    from envs.oracle import has_oracle

    return has_oracle(task)


def localization_watch(resets: list[Group]) -> dict:
    """How the agents' h* spread over the multi-thought seeds (module docstring)."""
    multi = [g for g in resets if g.seed.n_thoughts > 1]
    counts = Counter(g.choice.h for g in multi)
    return {
        "reset_seeds_one_thought": len(resets) - len(multi),
        "reset_h_star": [g.choice.h for g in multi],
        "reset_n_thoughts": [g.seed.n_thoughts for g in multi],
        "h_star_modal_share": max(counts.values()) / len(multi) if multi else None,
    }


def reference_agreement(judged: list[tuple[int, int, int]]) -> dict:
    """Exact and within-one agreement of (h*, h_ref, n) triples, beside what the constant h* = 1
    and a uniform h* in 1..n score on the same seeds (keys without the reference's prefix)."""
    def uniform_within(ref: int, n: int) -> float:
        return sum(abs(h - ref) <= 1 for h in range(1, n + 1)) / n

    return {
        "localization_exact": _share([h == ref for h, ref, _ in judged]),
        "localization_within_one": _share([abs(h - ref) <= 1 for h, ref, _ in judged]),
        "localization_exact_first": _share([ref == 1 for _, ref, _ in judged]),
        "localization_within_one_first": _share([ref <= 2 for _, ref, _ in judged]),
        "localization_exact_uniform": _mean([1 / n for _, _, n in judged]),
        "localization_within_one_uniform": _mean([uniform_within(ref, n) for _, ref, n in judged]),
    }


def last_thought_agreement(judged: list[tuple[int, int, int]]) -> dict:
    """What the other constant localizer, h* = n (blame the last thought: the symptom, where the
    wrong answer shows), scores on the same triples, and how often the agent answered it."""
    return {"exact_last": _share([ref == n for _, ref, n in judged]),
            "answered_last": _share([h == n for h, _, n in judged])}


def localizer_warning(row: dict, min_seeds: int = 8, share: float = 0.8) -> str | None:
    """A warning when, over at least `min_seeds` multi-thought seeds, one h* or the last thought
    (h* = n, the symptom) takes more than `share` of them while the oracle's first error (where
    it found one) varies, or sits elsewhere; None otherwise."""
    hs, ns = row.get("reset_h_star") or [], row.get("reset_n_thoughts") or []
    judged = row.get("localization_judged") or []
    refs = {ref for _, ref, _ in judged}
    if len(hs) < min_seeds or not judged:
        return None
    h, count = Counter(hs).most_common(1)[0]
    if count / len(hs) > share and len(refs) >= 2:
        return (f"the localizer answered h* = {h} for {100 * count / len(hs):.0f}% of {len(hs)} multi-thought "
                f"seeds while the oracle's first error took {len(refs)} values ({sorted(refs)}): it is not "
                "localizing; check its prompt against what the model was taught (agent.localize, the model preset)")
    last = sum(a == n for a, n in zip(hs, ns)) / len(hs) if len(ns) == len(hs) else 0.0
    if last > share and last_thought_agreement([tuple(t) for t in judged])["exact_last"] < 0.5:
        return (f"the localizer blamed the last thought (h* = n) for {100 * last:.0f}% of {len(hs)} multi-thought "
                "seeds, where the wrong answer shows, while the oracle's first error is mostly earlier: it names "
                "the symptom, not the origin")
    return None


def oracle_metrics(judged: list[tuple[Group, int | None]], prefix: str = "") -> dict:
    """Localization quality against a reference first error (see the module docstring):
    `judged` pairs each judged reset group with that reference's first erroneous thought
    (1-based; None: none found); keys are prefixed `prefix` ("" exact oracle, "mc_" Monte-Carlo).
    Empty prefixes (h* = 1) are their own row; clean and erroneous are over the others."""
    with_error = [(g, h) for g, h in judged if h is not None]
    deviations = [g.choice.h - h for g, h in with_error]
    empty = [g for g, _ in judged if g.choice.h == 1]
    clean = [g for g, h in judged if g.choice.h > 1 and g.clean_against(h)]
    erroneous = [g for g, h in judged if not g.clean_against(h)]
    triples = [[g.choice.h, h, g.seed.n_thoughts] for g, h in with_error if g.seed.n_thoughts > 1]
    agreement = reference_agreement([tuple(t) for t in triples])
    return {f"{prefix}{key}": value for key, value in {
        "h_oracle": [h for _, h in judged],
        "localization_deviation": _mean([float(d) for d in deviations]),
        "localization_deviations": deviations,
        "correction_rate_clean": _share([g.n_correct > 0 for g in clean]),
        "correction_rate_erroneous": _share([g.n_correct > 0 for g in erroneous]),
        "suffix_pass_at_4_clean": _suffix_pass_at_4(clean),
        "suffix_pass_at_4_erroneous": _suffix_pass_at_4(erroneous),
        "reset_groups_clean": len(clean),
        "reset_groups_erroneous": len(erroneous),
        "correction_rate_empty": _share([g.n_correct > 0 for g in empty]),
        "suffix_pass_at_4_empty": _suffix_pass_at_4(empty),
        "reset_groups_empty": len(empty),
        "localization_judged": triples,
        **agreement,
    }.items()}


def sample_rows(step: int, buf: StepBuffer, limit: int | None = None) -> list[dict]:
    """samples.jsonl rows: one per group (trained groups, then each prompt's untrained draws)."""
    rows = []
    for p in buf.prompts:
        for g in p.groups:
            row = {"step": step, "task_id": p.task.task_id, "group": g.kind,
                   "reset_index": g.h, "rewards": g.rewards, "advantages": g.advantages,
                   "rollouts": [r.to_json() for r in g.rollouts]}
            when = set()
            if g.seed is not None:
                when.add("reset")
                row.update(seed_thoughts=list(g.seed.thoughts), seed_n_thoughts=g.seed.n_thoughts,
                           reset_depth=g.depth, **g.choice.info)
            if g.oracle:
                row["h_oracle"] = g.h_oracle
                when.add("oracle")
            if g.mc_judged:
                row["mc_h_oracle"] = g.mc_h_oracle
                when.add("mc_oracle")
            rows.append(SAMPLE_GROUP.check(row, when))
        search = p.untrained_draws()
        if search:
            rows.append(SAMPLE_GROUP.check({
                "step": step, "task_id": p.task.task_id, "group": "seed_search", "reset_index": None,
                "rewards": [r.reward for r in search], "advantages": None,
                "rollouts": [r.to_json() for r in search]}))
    return rows if limit is None else rows[:limit]
