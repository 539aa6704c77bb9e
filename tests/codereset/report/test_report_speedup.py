"""The speed-up rule on synthetic curves whose answers follow by hand: crossings, the baseline's
gain check ("no gain to compare"), and known-answer bootstrap intervals (unpaired and paired)."""

import numpy as np
import pytest

from codereset.report import speedup as su

T = np.arange(17.0)  # steps 0..16
RULE = su.SpeedupRule(n_boot=4000)


def linear(*slopes, start=0.0, cap=1.0):
    """Runs y = min(cap, start + a t), one row per slope."""
    return np.stack([np.minimum(cap, start + a * T) for a in slopes])


def test_crossing_interpolates_between_points():
    assert su.crossing([0, 2, 4], [0.0, 0.2, 0.6], 0.4) == pytest.approx(3.0)
    assert su.crossing([1, 2], [0.5, 0.7], 0.4) == 1.0  # already there at the first point
    assert su.crossing([0, 1], [0.1, 0.2], 0.5) is None
    assert su.crossing([0, 1, 2], [0.1, np.nan, 0.5], 0.3) == pytest.approx(1.0)  # NaN skipped


def test_no_speedup_when_the_baseline_does_not_gain():
    rng = np.random.default_rng(0)
    flat = su.CurveSet(T, 0.3 + 0.02 * rng.standard_normal((4, T.size)))  # noise, no trend
    falling = su.CurveSet(T, linear(-0.01, -0.012, start=0.4))
    agent = su.CurveSet(T, linear(0.1, 0.08))
    for base in (flat, falling):
        check = su.gain_check(base, RULE, "grpo")
        assert not check.significant and check.reason.startswith(su.NO_GAIN)
        result = su.speedup(base, agent, RULE, "srpo", "val", gain=check)
        assert result.speedup is None and result.ci95 is None and result.target is None
        assert result.reason == check.reason
    one_seed = su.gain_check(su.CurveSet(T, linear(0.05)), RULE, "grpo")
    assert not one_seed.significant and "1 run(s)" in one_seed.reason
    two_seeds = su.gain_check(su.CurveSet(T, linear(0.05, 0.05)), RULE, "grpo")  # interval = range
    assert not two_seeds.significant and "at least 3 seeds" in two_seeds.reason


def test_known_answer_bootstrap_unpaired():
    # baseline: three identical seeds t/16 -> start 0, final 1, target 0.5 at step 8 in every replicate.
    # agent: slopes 1/8 and 1/16; a replicate's mean slope is 1/8, 3/32 or 1/16 (probabilities
    # 1/4, 1/2, 1/4), crossing 0.5 at 4, 16/3 or 8: speed-up 2, 1.5 or 1. Point estimate 1.5; the
    # 2.5% and 97.5% percentiles fall on the two extremes, each with mass 1/4.
    base = su.CurveSet(T, linear(1 / 16, 1 / 16, 1 / 16))
    agent = su.CurveSet(T, linear(1 / 8, 1 / 16))
    result = su.speedup(base, agent, RULE, "srpo", "val")
    assert result.target == pytest.approx(0.5)
    assert (result.baseline_at, result.at) == pytest.approx((8.0, 16 / 3))
    assert result.speedup == pytest.approx(1.5)
    assert result.ci95 == pytest.approx((1.0, 2.0))
    assert result.left_out == 0.0


def test_paired_bootstrap_cancels_a_shared_seed_effect():
    # seed s adds 0.1 s to both agents' curves; the agent is exactly twice as fast in every seed.
    # Paired: every replicate shifts both curves and the target alike -> speed-up 2 exactly.
    # Unpaired: the shifts differ between the two resamples, so the interval is wide.
    shift = 0.1 * np.arange(3)[:, None]
    base = su.CurveSet(T, linear(1 / 32, 1 / 32, 1 / 32) + shift, seeds=[0, 1, 2])
    agent = su.CurveSet(T, linear(1 / 16, 1 / 16, 1 / 16) + shift, seeds=[2, 1, 0])
    agent.values = agent.values[::-1]  # rows in the order of their seeds [2, 1, 0]
    paired = su.speedup(base, agent, RULE, "srpo", "val", paired=True)
    unpaired = su.speedup(base, agent, RULE, "srpo", "val")
    assert paired.speedup == pytest.approx(2.0) and paired.ci95 == pytest.approx((2.0, 2.0))
    assert unpaired.speedup == pytest.approx(2.0)
    assert unpaired.ci95[0] < 1.9 and unpaired.ci95[1] > 2.1
    seeds = su.paired_seeds(base, agent, paired.target)
    assert [p.seed for p in seeds] == [0, 1, 2]
    assert [p.speedup for p in seeds] == pytest.approx([2.0] * 3)
    assert [p.final_difference for p in seeds] == pytest.approx([0.5] * 3)


def test_agent_that_never_reaches_counts_as_zero():
    base = su.CurveSet(T, linear(1 / 16, 1 / 16, 1 / 16))
    slow = su.CurveSet(T, linear(0.01, 0.01))  # reaches 0.16 at the end, target 0.5
    result = su.speedup(base, slow, RULE, "rrpo", "val")
    assert result.speedup is None and result.at is None and "did not reach" in result.reason


def test_tokens_axis_uses_mean_cumulative_tokens():
    base = su.CurveSet(T, linear(1 / 16, 1 / 16, 1 / 16), tokens=np.stack([100 * T] * 3))
    agent = su.CurveSet(T, linear(1 / 8, 1 / 8), tokens=np.stack([300 * T, 300 * T]))
    result = su.speedup(base, agent, RULE, "srpo", "val", axis="tokens")
    # baseline at 8 steps x 100 = 800 tokens; agent at 4 steps x 300 = 1200 tokens
    assert (result.baseline_at, result.at) == pytest.approx((800, 1200))
    assert result.speedup == pytest.approx(2 / 3) and result.ci95 == pytest.approx((2 / 3, 2 / 3))
    no_tokens = su.speedup(su.CurveSet(T, linear(1 / 16, 1 / 16, 1 / 16)), agent, RULE, "srpo", "val", axis="tokens")
    assert no_tokens.speedup is None and no_tokens.reason == "no generated-token counts"


def test_bad_rule_is_refused():
    with pytest.raises(ValueError, match="fraction"):
        su.SpeedupRule(fraction=0)
    with pytest.raises(ValueError, match="columns"):
        su.CurveSet([0, 1], [[0.0, 1.0, 2.0]])
