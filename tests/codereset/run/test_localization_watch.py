"""Is the localizer localizing? Known-answer buffers for the watch keys: one-thought seeds left
out and counted, h* spread, agreement beside the constant-1 and uniform localizers on the very
same seeds, empty prefixes as their own row, and the trainer's warning."""

from types import SimpleNamespace

import pytest

from codereset.agents.base import ResetChoice
from codereset.rollouts.buffer import Group
from codereset.rollouts.rollout import Rollout
from codereset.run.metrics import (last_thought_agreement, localization_watch, localizer_warning, oracle_metrics,
                                   reference_agreement)


def rollout(n_thoughts: int, correct: bool = False) -> Rollout:
    return Rollout(task=None, prompt_ids=[1], segments=[[7]] * n_thoughts, texts=["x</thought>"] * n_thoughts,
                   status="terminated", outcome=SimpleNamespace(correct=correct, reward=float(correct)))


def group(h: int, n: int, h_oracle: int | None, n_correct: int = 0) -> Group:
    suffixes = [rollout(n, correct=i < n_correct) for i in range(4)]
    return Group("reset", suffixes, seed=rollout(n), choice=ResetChoice(h=h), oracle=True, h_oracle=h_oracle)


# (h*, n, h_oracle, correct suffixes)
GROUPS = [(1, 1, 1, 0),      # one thought: h* = 1 forced, never judged
          (2, 4, 2, 1),      # exact, clean
          (1, 4, 3, 2),      # empty prefix
          (3, 5, 1, 0),      # erroneous prefix (h* > h_oracle)
          (2, 3, None, 4)]   # no error found: clean, not in the agreement figures


@pytest.fixture
def groups():
    return [group(*g) for g in GROUPS]


def test_watch_counts_one_thought_seeds_and_spreads_the_others(groups):
    row = localization_watch(groups)
    assert row["reset_seeds_one_thought"] == 1
    assert row["reset_h_star"] == [2, 1, 3, 2] and row["reset_n_thoughts"] == [4, 4, 5, 3]
    assert row["h_star_modal_share"] == 0.5
    assert localization_watch([])["h_star_modal_share"] is None


def test_agreement_beside_constant_first_and_uniform_on_the_same_seeds(groups):
    row = oracle_metrics([(g, g.h_oracle) for g in groups])
    assert row["localization_judged"] == [[2, 2, 4], [1, 3, 4], [3, 1, 5]]
    assert row["localization_exact"] == pytest.approx(1 / 3)
    assert row["localization_within_one"] == pytest.approx(1 / 3)
    assert row["localization_exact_first"] == pytest.approx(1 / 3)          # h_oracle == 1
    assert row["localization_within_one_first"] == pytest.approx(2 / 3)     # h_oracle <= 2
    assert row["localization_exact_uniform"] == pytest.approx((1 / 4 + 1 / 4 + 1 / 5) / 3)
    assert row["localization_within_one_uniform"] == pytest.approx((3 / 4 + 3 / 4 + 2 / 5) / 3)


def test_a_localizer_that_always_answers_one_scores_exactly_the_constant_baseline():
    judged = [(1, ref, 6) for ref in (1, 1, 2, 3, 5, 1)]
    row = reference_agreement(judged)
    assert row["localization_exact"] == row["localization_exact_first"] == 0.5
    assert row["localization_within_one"] == row["localization_within_one_first"] == pytest.approx(4 / 6)


def test_empty_prefixes_are_their_own_row(groups):
    row = oracle_metrics([(g, g.h_oracle) for g in groups])
    assert row["reset_groups_empty"] == 2             # the one-thought seed and the h* = 1 reset
    assert row["correction_rate_empty"] == 0.5        # 0 and 2 correct suffixes
    assert row["reset_groups_clean"] == 2 and row["correction_rate_clean"] == 1.0
    assert row["reset_groups_erroneous"] == 1 and row["correction_rate_erroneous"] == 0.0
    assert row["suffix_pass_at_4_erroneous"] == 0.0 and row["suffix_pass_at_4_empty"] == 0.5


def _row(hs, refs):
    return {"reset_h_star": hs, "h_star_modal_share": max(hs.count(h) for h in set(hs)) / len(hs),
            "localization_judged": [[h, r, 6] for h, r in zip(hs, refs)]}


def test_warning_when_one_answer_takes_most_seeds_while_the_first_error_varies():
    message = localizer_warning(_row([1] * 9 + [2], [1, 2, 3, 4, 2, 3, 1, 1, 5, 2]))
    assert message is not None and "h* = 1 for 90% of 10" in message and "not localizing" in message
    assert localizer_warning(_row([1] * 9 + [2], [1] * 10)) is None           # the oracle agrees: fine
    assert localizer_warning(_row([1] * 7 + [2, 3, 4], [1, 2, 3, 4, 2, 3, 1, 1, 5, 2])) is None  # 70%
    assert localizer_warning(_row([1] * 5, [1, 2, 3, 4, 5])) is None          # too few seeds to tell


def test_a_localizer_that_blames_the_last_thought_is_seen():
    judged = [(n, 5, n) for n in (6, 7, 8, 6, 8, 7, 6, 8, 8, 6)]     # oracle: thought 5; answers: the last one
    assert last_thought_agreement(judged) == {"exact_last": 0.0, "answered_last": 1.0}
    row = {"reset_h_star": [h for h, _, _ in judged], "reset_n_thoughts": [n for _, _, n in judged],
           "localization_judged": [list(t) for t in judged]}
    message = localizer_warning(row)
    assert message is not None and "blamed the last thought (h* = n) for 100%" in message
    right = {**row, "localization_judged": [[n, n, n] for _, _, n in judged]}   # the error IS at the end
    assert localizer_warning(right) is None
