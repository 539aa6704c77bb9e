"""Known answers for the statistics and curves (fixture formulas in report_fixtures)."""

import math

import numpy as np
import pytest

from codereset.report import aggregate as agg
from codereset.report.build import group_runs, resolve_baseline
from codereset.report.runs import load_runs
from codereset.report.stats import mean_se, trailing_mean, weighted_mean, wilson_interval
from report_fixtures import SLOPE, VAL_START, write_run, write_sweep


@pytest.fixture(scope="module")
def groups(tmp_path_factory):
    sweep = write_sweep(tmp_path_factory.mktemp("agg") / "sweep")
    return group_runs(load_runs([sweep]), "agent.name")


def test_mean_se_known_values():
    stat = mean_se([1, 2, 3, None, float("nan")])
    assert (stat.mean, stat.n) == (2.0, 3)
    assert stat.se == pytest.approx(1 / math.sqrt(3))
    one = mean_se([5])
    assert one.mean == 5 and math.isnan(one.se) and one.n == 1
    assert mean_se([]).n == 0


def test_trailing_mean_and_weighted_mean():
    np.testing.assert_allclose(trailing_mean([1, 2, 3, 4], 2), [1, 1.5, 2.5, 3.5])
    np.testing.assert_allclose(trailing_mean([1, float("nan"), 3], 2), [1, 1, 3])
    np.testing.assert_allclose(trailing_mean([1, 2], 1), [1, 2])
    with pytest.raises(ValueError, match=">= 1"):
        trailing_mean([1], 0)
    assert weighted_mean([1.0, 0.0, None], [3, 1, 5]) == 0.75


def test_wilson_interval_known_value():
    lo, hi = wilson_interval(0.5, 50)  # 25/50: the textbook 95% Wilson interval
    assert (lo, hi) == pytest.approx((0.3664, 0.6336), abs=1e-4)
    assert wilson_interval(0.0, 10)[0] == 0.0


def test_groups_in_paper_order(groups):
    assert list(groups) == ["grpo", "rrpo", "srpo"]
    assert [r.seed for r in groups["srpo"]] == [0, 1, 2]


def test_step_curve_mean_and_se(groups):
    curve = agg.step_curve("grpo", groups["grpo"], "pass_rate")
    np.testing.assert_allclose(curve.x, np.arange(1, 11))
    # seeds add 0, 0.03, 0.06: mean +0.03, sample std 0.03
    np.testing.assert_allclose(curve.mean, 0.13 + SLOPE["grpo"] * np.arange(1, 11))
    np.testing.assert_allclose(curve.se, 0.03 / math.sqrt(3))
    assert set(curve.n) == {3}


def test_validation_curve_uses_only_validation_rows(groups):
    curve = agg.step_curve("srpo", groups["srpo"], "val_pass_rate")
    np.testing.assert_allclose(curve.x, [2, 4, 6, 8, 10])
    np.testing.assert_allclose(curve.mean, 0.13 + 0.1 * curve.x - 0.05)


def test_token_curve_places_steps_at_mean_cumulative_tokens(groups):
    curve = agg.token_curve("rrpo", groups["rrpo"], "pass_rate")
    # rrpo generates 1000 + 10 s trained + 300 seed-search tokens per step: mean 1310
    np.testing.assert_allclose(curve.x, 1310 * np.arange(1, 11))
    np.testing.assert_allclose(curve.mean, 0.13 + 0.0625 * np.arange(1, 11))


def test_validation_curve_starts_at_the_step0_evaluation(tmp_path):
    sweep = write_sweep(tmp_path / "s", agents=("grpo",), seeds=(0, 1), val_at_start=True)
    runs = load_runs([sweep])
    curve = agg.step_curve("grpo", runs, "val_pass_rate")
    np.testing.assert_allclose(curve.x, [0, 2, 4, 6, 8, 10])
    # step 0 from eval.jsonl (VAL_START + 0.03 s), later steps from metrics.jsonl
    np.testing.assert_allclose(curve.mean, VAL_START + 0.015 + SLOPE["grpo"] * curve.x)
    tokens = agg.token_curve("grpo", runs, "val_pass_rate")
    np.testing.assert_allclose(tokens.x, 1005 * curve.x)  # step 0 sits at 0 generated tokens
    # the eval.jsonl rows of the test split (steps 0 and 10) are not validation points
    assert agg.step_curve("grpo", runs, "pass_rate").x[0] == 1


def test_curve_set_rows_are_runs_keyed_by_seed(groups):
    cs = agg.curve_set(groups["rrpo"], "pass_rate")
    assert cs.seeds == [0, 1, 2] and cs.values.shape == (3, 10)
    np.testing.assert_allclose(cs.values[2], 0.16 + 0.0625 * np.arange(1, 11))
    np.testing.assert_allclose(cs.tokens[1], 1310 * np.arange(1, 11))


def test_token_kinds_are_read_generically():
    rows = [{"tokens_trained": 5, "tokens_critique": 3, "tokens_generated": 9,
             "tokens_prefix_reused": 4}, {"tokens_mc_values": 2, "tokens_refinement": None}]
    assert agg.token_kinds(rows) == ["tokens_trained", "tokens_critique", "tokens_mc_values"]
    assert agg.generated_tokens({"tokens_trained": 5, "tokens_critique": 3, "tokens_mc": 1}) == 9


def test_partial_run_drops_out_of_later_steps(tmp_path, groups):
    killed = write_run(tmp_path / "killed", "grpo", 3, steps=10, logged=4, state=None)
    runs = groups["grpo"] + load_runs([killed])
    curve = agg.step_curve("grpo", runs, "pass_rate")
    assert list(curve.n) == [4] * 4 + [3] * 6
    assert curve.mean[0] == pytest.approx(0.15 + 0.03 * 1.5)  # seeds 0..3 at step 1


def test_unknown_baseline_lists_groups(groups):
    with pytest.raises(ValueError, match=r"groups: \['grpo', 'rrpo', 'srpo'\]"):
        resolve_baseline(groups, "ppo")
    assert resolve_baseline(groups, None) == "grpo"
    assert resolve_baseline({"srpo": []}, None) == "srpo"


def test_generated_tokens_fallback_sums_kinds():
    row = {"tokens_trained": 10, "tokens_seed_search": 5, "tokens_localization": 2}
    assert agg.generated_tokens(row) == 17
    assert agg.generated_tokens(row | {"tokens_generated": 30}) == 30
    assert math.isnan(agg.generated_tokens({}))
