"""Known answers for the statistics, curves and speed-ups (fixture formulas in report_fixtures)."""

import math

import numpy as np
import pytest

from codereset.report import aggregate as agg
from codereset.report.build import group_runs, resolve_baseline
from codereset.report.runs import load_runs
from codereset.report.stats import mean_se, trailing_mean, weighted_mean, wilson_interval
from report_fixtures import SLOPE, write_run, write_sweep


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


def _speedups(groups, baseline="grpo", smooth=1):
    curves = {g: agg.step_curve(g, rs, "pass_rate", smooth) for g, rs in groups.items()}
    return {s.label: s for s in agg.speedups(curves, groups, baseline, "pass_rate")}


def test_speedup_known_answer(groups):
    marks = _speedups(groups)
    # target: grpo's final mean 0.13 + 0.05*10 = 0.63; srpo 0.13 + 0.1 t >= 0.63 at t = 5,
    # rrpo 0.13 + 0.0625 t at t = 8
    assert marks["grpo"].target == pytest.approx(0.63)
    assert (marks["grpo"].step, marks["rrpo"].step, marks["srpo"].step) == (10, 8, 5)
    assert marks["srpo"].speedup == pytest.approx(2.0)
    assert marks["rrpo"].speedup == pytest.approx(1.25)
    assert marks["grpo"].speedup == pytest.approx(1.0)
    # tokens: grpo 10 steps x 1010, srpo 5 steps x 1310 (1010 trained + 200 + 100)
    assert marks["grpo"].tokens == pytest.approx(10100)
    assert marks["srpo"].tokens == pytest.approx(6550)
    assert marks["srpo"].token_speedup == pytest.approx(10100 / 6550)


def test_speedup_on_smoothed_curves(groups):
    marks = _speedups(groups, smooth=2)
    # smoothed over 2 steps: grpo final 0.13 + 0.05*9.5 = 0.605; srpo 0.13 + 0.1 (t - 0.5)
    # reaches it first at t = 6 (5.25 rounded up to a step)
    assert marks["grpo"].target == pytest.approx(0.605)
    assert marks["srpo"].step == 6 and marks["srpo"].speedup == pytest.approx(10 / 6)


def test_target_never_reached(groups):
    marks = _speedups(groups, baseline="srpo")
    assert marks["grpo"].step is None and marks["grpo"].speedup is None
    assert marks["grpo"].tokens is None and marks["srpo"].speedup == pytest.approx(1.0)


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
