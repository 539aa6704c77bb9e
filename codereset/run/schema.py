"""The row schemas of a run directory's JSONL files, declared once: every key, when it is written
and what it means.

The writers (`codereset.run.metrics`, `codereset.eval.eval_tasks`, `codereset.rollouts.rollout.Rollout.to_json`)
check their rows against these schemas, the report (`codereset.report`) reads its keys from them
and the tests compare what a real run wrote with them, so the three cannot drift.

A schema is a tuple of `Key`s. A key's `when` names the condition under which the writer adds it
(``"always"`` or one of the schema's `conditions`); an `optional` key may be absent even then
(e.g. the agent-specific details of a reset choice). `RowSchema.check` raises `SchemaError` for a
row that lacks a required key or holds an undeclared one.

To add a key: append one `Key(...)` line to its schema below (with a doc that says what it
measures and its unit), then write it. A key written but not declared fails the writer's check.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any


class SchemaError(ValueError):
    """A row whose keys do not match its declared schema."""


@dataclass(frozen=True)
class Key:
    """One row key.

    name: the key. doc: what it holds (unit; null when). when: "always" or the name of the
    condition under which it is written. optional: may be absent even when its condition holds.
    """

    name: str
    doc: str
    when: str = "always"
    optional: bool = False


@dataclass(frozen=True)
class RowSchema:
    """The keys of one JSONL file's rows.

    file: the file name in the run directory. conditions: condition name -> when it holds.
    keys: the declared keys, in writing order.
    """

    file: str
    keys: tuple[Key, ...]
    conditions: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        names = [k.name for k in self.keys]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise SchemaError(f"{self.file}: keys declared twice: {dupes}")
        unknown = sorted({k.when for k in self.keys} - {"always"} - set(self.conditions))
        if unknown:
            raise SchemaError(f"{self.file}: keys use undeclared conditions {unknown}; "
                              f"declared: {sorted(self.conditions)}")

    def _active(self, when: Iterable[str]) -> list[Key]:
        when = set(when)
        unknown = sorted(when - set(self.conditions))
        if unknown:
            raise SchemaError(f"{self.file}: unknown conditions {unknown}; known: {sorted(self.conditions)}")
        return [k for k in self.keys if k.when == "always" or k.when in when]

    def names(self, when: Iterable[str] = (), *, required: bool = False) -> tuple[str, ...]:
        """Keys written under the conditions `when` (all of them, or only the required ones)."""
        return tuple(k.name for k in self._active(when) if not (required and k.optional))

    def of(self, when: str) -> tuple[str, ...]:
        """Keys written exactly under condition `when` ("always" for the unconditional ones)."""
        if when != "always" and when not in self.conditions:
            raise SchemaError(f"{self.file}: unknown condition {when!r}; known: {sorted(self.conditions)}")
        return tuple(k.name for k in self.keys if k.when == when)

    def doc(self, name: str) -> str:
        """The doc of key `name`."""
        for k in self.keys:
            if k.name == name:
                return k.doc
        raise SchemaError(f"{self.file} declares no key {name!r}; declared: {[k.name for k in self.keys]}")

    def check(self, row: Mapping[str, Any], when: Iterable[str] = ()) -> Mapping[str, Any]:
        """Return `row` if its keys are exactly those declared under `when`; else raise."""
        active = self._active(when)
        allowed = {k.name for k in active}
        missing = sorted(k.name for k in active if not k.optional and k.name not in row)
        extra = sorted(set(row) - allowed)
        if missing or extra:
            raise SchemaError(
                f"{self.file} row does not match codereset/run/schema.py (conditions {sorted(set(when))}): "
                f"missing {missing}, undeclared {extra}; declare new keys there")
        return row


def _oracle_keys(prefix: str, reference: str, when: str) -> tuple[Key, ...]:
    """The localization-quality keys of one reference for the first error (`codereset.run.metrics.
    oracle_metrics`): the exact step oracle (no prefix) or the Monte-Carlo one ("mc_")."""
    return (
        Key(f"{prefix}h_oracle", f"{reference}: its first erroneous thought of each judged reset "
            "seed (1-based; null: none found) (list)", when=when),
        Key(f"{prefix}localization_deviation", f"mean h* - h_ref over reset groups where {reference} "
            "found an error; null when none", when=when),
        Key(f"{prefix}localization_deviations", "h* - h_ref of each such group (list)", when=when),
        Key(f"{prefix}correction_rate_clean", "correction rate of reset groups with a clean, non-empty "
            f"prefix (1 < h* <= h_ref, or h* > 1 and no error found), against {reference}; null when none",
            when=when),
        Key(f"{prefix}correction_rate_erroneous", "correction rate of reset groups whose prefix holds "
            f"the error of {reference}; null when none", when=when),
        Key(f"{prefix}suffix_pass_at_4_clean", "unbiased suffix pass@4 (k = min(4, group size)) from "
            "clean prefixes; null when none", when=when),
        Key(f"{prefix}suffix_pass_at_4_erroneous", "the same from erroneous prefixes; null when none",
            when=when),
        Key(f"{prefix}reset_groups_clean", "reset groups with a clean, non-empty prefix", when=when),
        Key(f"{prefix}reset_groups_erroneous", "reset groups with an erroneous prefix", when=when),
        Key(f"{prefix}correction_rate_empty", "correction rate of reset groups with an empty prefix (h* = 1: "
            "a fresh resample, clean by construction); null when none", when=when),
        Key(f"{prefix}suffix_pass_at_4_empty", "the same suffix pass@4 from empty prefixes; null when none",
            when=when),
        Key(f"{prefix}reset_groups_empty", "judged reset groups with an empty prefix (h* = 1)", when=when),
        Key(f"{prefix}localization_judged", f"[h*, h_ref, n] of each multi-thought seed where {reference} "
            "found an error (list): what the agreement figures below pool over", when=when),
        Key(f"{prefix}localization_exact", "share of those seeds with h* = h_ref; null when none", when=when),
        Key(f"{prefix}localization_within_one", "share with |h* - h_ref| <= 1; null when none", when=when),
        Key(f"{prefix}localization_exact_first", "what the constant answer h* = 1 scores on the same "
            "seeds (share with h_ref = 1); null when none", when=when),
        Key(f"{prefix}localization_within_one_first", "h* = 1 within one (share with h_ref <= 2); null "
            "when none", when=when),
        Key(f"{prefix}localization_exact_uniform", "what a uniform h* in 1..n scores on the same seeds "
            "(mean 1/n); null when none", when=when),
        Key(f"{prefix}localization_within_one_uniform", "a uniform h* within one (mean of "
            "|{h : |h - h_ref| <= 1}| / n); null when none", when=when),
    )


_TIME = "wall seconds of the step spent in the {} phase (0 when the phase did not run)"

METRICS = RowSchema(
    file="metrics.jsonl",
    conditions={
        "oracle": "the step's batch holds a task with a step-level oracle (envs.oracle.has_oracle)",
        "mc_oracle": "agent.values.diagnose: the step's reset seeds were judged by the Monte-Carlo "
                     "oracle (codereset.rollouts.values.record_mc_diagnostics)",
        "validation": "the step ran validation (validation.every / validation.at_end)",
        "agent": "always checked; the keys an agent records for itself (PromptBuffer.extra_tokens "
                 "as tokens_<kind>, PromptBuffer.diagnostics), declared here one by one as optional",
    },
    keys=(
        Key("step", "training step, 1-based"),
        Key("pass_rate", "share of the base group's rollouts that are correct (all tests / answer right)"),
        Key("reward_mean", "mean reward of the base group's rollouts"),
        Key("loss", "the policy loss of the update; null when the update was skipped"),
        Key("grad_norm", "gradient norm before clipping; null when skipped"),
        Key("skipped_update", "true when the update was skipped (non-finite loss or gradient)"),
        Key("mean_logprob", "mean log-probability of the trained tokens; null when not computed"),
        Key("forward_tokens", "tokens the update ran through the model, all mini-batches (trainer.forward="
            "shared_prefix runs each shared prefix once; plain whole sequences; padding not counted)"),
        Key("forward_tokens_per_trained_token", "forward_tokens / trained tokens of the rollouts run "
            "through the model (non-zero advantage); null when none"),
        Key("token_entropy", "mean per-token entropy (nats) of the tempered policy at the trained tokens "
            "of the rollouts run through the model; null when none"),
        Key("logprob_gap", "mean |trainer - sampler| log-prob over the trained tokens of the first "
            "mini-batch (same weights; numerics, masks and tokenization only); null without sampler log-probs"),
        Key("logprob_gap_max", "max of that gap; null without sampler log-probs"),
        Key("ratio_mean", "mean importance ratio exp(trainer - old log-prob) over trained tokens, all "
            "mini-batches (old = the sampler's); null without old log-probs"),
        Key("clip_frac", "share of those tokens whose ratio lies outside the loss's clip range "
            "[1 - loss.clip_eps, 1 + clip_eps_high]; null without old log-probs"),
        Key("approx_kl", "mean k3 estimate of KL(old || new), (ratio - 1) - log ratio; null without old log-probs"),
        Key("advantage_abs_mean", "mean |advantage| over the trained rollouts (zeros included)"),
        Key("zero_advantage_frac", "share of the trained rollouts with advantage exactly 0 (not run through the model)"),
        Key("rollouts_infra_failed", "rollouts whose verification failed twice for infrastructure reasons "
            "(sandbox_error): left out of their group's normalization and of the update"),
        Key("mini_batches", "optimizer steps of this update (trainer.mini_batches)"),
        Key("tokens_trained", "generated tokens of the trained rollouts (base, reset suffixes, fallback)"),
        Key("tokens_seed_search", "generated tokens of draws that are not trained (seed search, probes)"),
        Key("tokens_localization", "tokens SRPO's localizer generated"),
        Key("tokens_prefix_reused", "reset-prefix tokens reset rollouts continued from (once per rollout)"),
        Key("tokens_generated", "tokens_trained + tokens_seed_search + tokens_localization"),
        Key("mean_response_tokens", "mean generated tokens per trained rollout"),
        Key("rollouts_trained", "rollouts in the trained groups"),
        Key("rollouts_backprop", "rollouts the update back-propagated through (non-zero advantage)"),
        Key("seeds_found", "failed rollouts found as reset seeds"),
        Key("fallback_groups", "groups filled with fresh rollouts because no seed was found"),
        Key("reset_depth", "mean h*/n over reset groups; null without reset groups"),
        Key("reset_depths", "h*/n of each reset group (list)"),
        Key("reset_groups_with_signal", "share of reset groups with non-zero reward variance; null without"),
        Key("correction_rate", "share of reset groups with at least one correct suffix; null without"),
        Key("localization_parse_failures", "localizer answers that were unparseable or out of range"),
        Key("localization_budget_outs", "localizer answers that ran out of their token budget"),
        Key("localization_fallback_rate", "share of localized reset groups whose h* came from the "
            "fallback rule (parse failures / localized_groups); null when no group was localized"),
        Key("localized_groups", "reset groups whose h* a localizer was asked for (SRPO: seeds of more "
            "than one thought; a one-thought seed has only h* = 1)"),
        Key("reset_seeds_one_thought", "reset groups whose seed has one thought (h* = 1 forced): left "
            "out of every localization figure"),
        Key("reset_h_star", "h* of each reset group whose seed has more than one thought (list)"),
        Key("reset_n_thoughts", "n (the seed's thoughts) of each of those groups (list)"),
        Key("h_star_modal_share", "share of the most frequent h* among those groups; null when none "
            "(near 1 while the first error varies: the localizer is not localizing)"),
        *_oracle_keys("", "the oracle", "oracle"),
        *_oracle_keys("mc_", "the Monte-Carlo first error (agent.values.diagnose)", "mc_oracle"),
        Key("time_generate_s", _TIME.format("generate (rollouts)")),
        Key("time_verify_s", _TIME.format("verify (rewards)")),
        Key("time_localize_s", _TIME.format("localize (SRPO)")),
        Key("time_train_s", _TIME.format("train (update and weight sync)")),
        Key("time_validate_s", _TIME.format("validate")),
        Key("time_sync_s", "wall seconds of the step's weight sync into the generation backend (part "
            "of time_train_s; 0 when the update was skipped; absent from runs before issue 28)", optional=True),
        Key("time_step_s", "wall seconds of the whole step (checkpointing excluded)"),
        Key("time_build_s", "wall seconds of building the step's buffer: generation, scoring and "
            "localization; under sampling.batching=graph they overlap, so generate + verify + localize "
            "can exceed it (absent from runs before issue 28 item 2)", optional=True),
        Key("time_verify_busy_s", "seconds spent scoring rollouts in all, most of it overlapped with "
            "generation (sampling.batching=step); time_verify_s is only the part that was not"),
        Key("gen_calls", "generation backend calls while building the buffer (localization included; "
            "summed over ranks under data parallelism); null when the backend does not count them"),
        Key("gen_rows_per_call", "continuations asked per backend call (rows / gen_calls); null when "
            "the backend does not count rows"),
        Key("val_pass_rate", "greedy pass@1 on the validation split", when="validation"),
        # agent-specific keys (when="agent", optional=True) go below, one line each.
        Key("tokens_mc", "vineppo, agent.values.diagnose: tokens of the Monte-Carlo value continuations "
            "(untrained; in tokens_generated)", when="agent", optional=True),
        Key("tokens_trained_refinement", "critique_grpo: the refinements' part of tokens_trained",
            when="agent", optional=True),
        Key("tokens_trained_second_attempt", "score: the second attempts' part of tokens_trained",
            when="agent", optional=True),
        Key("tokens_trained_tree", "spo_tree: all of tokens_trained (every segment once)",
            when="agent", optional=True),
        Key("tokens_aborted", "backend.vllm.engine=async: tokens of seed-search draws aborted once the "
            "draws before them held their prompt's seeds (never scored nor trained; in tokens_generated)",
            when="agent", optional=True),
        Key("aborted_draws", "backend.vllm.engine=async: seed-search draws aborted as surplus, per prompt "
            "(list; written when any was)", when="agent", optional=True),
        Key("mc_start_values", "vineppo: MC value V_0 of each prompt (list)", when="agent", optional=True),
        Key("refinement_correct", "critique_grpo: 1.0/0.0 per refinement of the step (list)",
            when="agent", optional=True),
        Key("score_improvements", "score: r2 - r1 per first/second attempt pair (list)",
            when="agent", optional=True),
        Key("tree_leaves", "spo_tree: leaves (whole episodes) of each prompt's tree (list)",
            when="agent", optional=True),
    ),
)

ROLLOUT = RowSchema(
    file="samples.jsonl (rollouts)",
    conditions={"scored": "the rollout was scored by the verifier"},
    keys=(
        Key("task_id", "the task (reset a gym env with it to replay the rollout)"),
        Key("kind", "what it was drawn for: base, seed_search, reset, fallback or eval; the agents that "
            "build their own groups add refinement (critique_grpo), second_attempt (score), tree (spo_tree)"),
        Key("thoughts", "thought texts in order, the reset prefix first (step them to replay)"),
        Key("prefix_len", "leading thoughts that came from the reset state (not generated)"),
        Key("status", "terminated or truncated (envs.transition.status)"),
        Key("finish", "how the last thought ended: stop, eos or length (envs.transition.FINISHES)"),
        Key("generated_tokens", "tokens generated for this rollout (its suffix, EOS included)"),
        Key("reward", "the verifier's reward", when="scored"),
        Key("correct", "true when the rollout is correct", when="scored"),
        Key("verdict", "the verifier's status (e.g. passed, failed, no_answer)", when="scored"),
    ),
)

SAMPLE_GROUP = RowSchema(
    file="samples.jsonl",
    conditions={
        "reset": "the group continues from a seed's reset state",
        "oracle": "the group's task has a step-level oracle",
        "mc_oracle": "agent.values.diagnose judged the group's seed by the Monte-Carlo oracle",
    },
    keys=(
        Key("step", "training step"),
        Key("task_id", "the prompt's task"),
        Key("group", "base, reset, fallback or seed_search; critique (critique_grpo), first_attempt / "
            "second_attempt (score), tree (spo_tree: one group per set of sibling segments)"),
        Key("reset_index", "h*, 1-based; null for groups that do not reset"),
        Key("rewards", "reward of each rollout (list)"),
        Key("advantages", "advantage of each rollout (list); null for untrained draws"),
        Key("rollouts", "the rollouts (codereset.run.schema.ROLLOUT rows)"),
        Key("seed_thoughts", "the seed's thoughts", when="reset"),
        Key("seed_n_thoughts", "n, the seed's thought count", when="reset"),
        Key("reset_depth", "h*/n", when="reset"),
        Key("localizer_answer", "SRPO: the localizer's raw answer", when="reset", optional=True),
        Key("localizer_parsed", "SRPO: the step number it named (null: none)", when="reset", optional=True),
        Key("localizer_rule", "SRPO: the parsing rule that found it", when="reset", optional=True),
        Key("localizer_failed", "SRPO: true when the fallback chose h*", when="reset", optional=True),
        Key("localizer_budget_out", "SRPO: true when the answer ran out of its token budget",
            when="reset", optional=True),
        Key("localizer_skipped", "SRPO: true for a one-thought seed (h* = 1 is the only reset; "
            "the localizer is not asked)", when="reset", optional=True),
        Key("oracle_found_error", "CARO: whether the oracle found an error", when="reset", optional=True),
        Key("thought_surprisal", "entropy localizer: mean -log p of each seed thought's sampled tokens (list); "
            "h* is its argmax", when="reset", optional=True),
        Key("oracle", "CARO: which oracle chose h*: exact or mc", when="reset", optional=True),
        Key("mc_values", "CARO with the mc oracle: MC values V_0..V_n of the seed", when="reset", optional=True),
        Key("h_oracle", "the oracle's first erroneous thought (1-based; null: none)", when="oracle"),
        Key("mc_h_oracle", "the Monte-Carlo oracle's first erroneous thought (1-based; null: no value "
            "drop)", when="mc_oracle"),
    ),
)

EVAL = RowSchema(
    file="eval.jsonl",
    keys=(
        Key("step", "training step of the evaluation"),
        Key("suite", "task suite"),
        Key("split", "split evaluated"),
        Key("k", "the k of pass@k"),
        Key("pass_at_k", "mean unbiased pass@k over tasks"),
        Key("n_tasks", "tasks evaluated"),
        Key("n_samples", "samples per task"),
        Key("per_task", "per task: task_id, correct, n, pass_at_k (list)"),
    ),
)

EVAL_SAMPLE = RowSchema(
    file="eval_samples.jsonl",
    conditions=ROLLOUT.conditions,
    keys=(Key("step", "training step of the evaluation"), Key("split", "split evaluated")) + ROLLOUT.keys,
)
