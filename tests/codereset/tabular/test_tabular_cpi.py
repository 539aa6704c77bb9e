"""CPI-RR and CPI-CARO (`codereset.tabular.cpi`) on hand-solved cases."""

import numpy as np
import pytest

from codereset.tabular.cpi import (CPIConfig, advantage_estimate, cpi_step, greedy_policy, oracle_reset,
                                   random_reset, run_cpi)
from codereset.tabular.family import build, critical_chain
from codereset.tabular.mdp import evaluate, sample_q_flat


def test_greedy_policy_picks_the_best_sampled_thought_and_keeps_unsampled_rows():
    policy = np.array([[0.2, 0.3, 0.5], [0.6, 0.2, 0.2], [1 / 3, 1 / 3, 1 / 3]])
    counts = np.array([[4, 2, 0], [0, 0, 0], [2, 2, 2]])
    wins = np.array([[1, 2, 0], [0, 0, 0], [0, 2, 1]])
    g = greedy_policy(policy, counts, wins, np.random.default_rng(0))
    np.testing.assert_array_equal(g[0], [0, 1, 0])  # 2/2 beats 1/4; the unsampled thought 2 is ignored
    np.testing.assert_array_equal(g[1], policy[1])  # no sample: keep pi
    np.testing.assert_array_equal(g[2], [0, 1, 0])


def test_greedy_ties_are_broken_at_random():
    policy = np.full((1, 2), 0.5)
    picks = {int(greedy_policy(policy, np.array([[3, 3]]), np.array([[1, 1]]), np.random.default_rng(s))[0].argmax())
             for s in range(20)}
    assert picks == {0, 1}


def test_advantage_estimate_by_hand():
    # K=2, pi'-pi = (0.5, -0.5); 10 samples, 3 returned 1 on thought 0 and 1 on thought 1:
    # terms K R (pi'-pi): three of +1, one of -1, six of 0 -> mean 0.2, mean square 0.4.
    adv, se = advantage_estimate(np.array([[0.5, 0.5]]), np.array([[1.0, 0.0]]), np.array([[3, 1]]), 10)
    assert adv == pytest.approx(0.2)
    assert se == pytest.approx(np.sqrt((0.4 - 0.04) / 10))


def test_advantage_estimate_is_unbiased_for_the_policy_advantage():
    mdp = build(critical_chain(0.3))
    pi = mdp.uniform_policy()
    v = evaluate(mdp, pi)
    reset = random_reset(mdp, pi, v, CPIConfig())
    mu, q, pi_s = np.concatenate(reset.weights), np.vstack(v.q), np.vstack(pi)
    greedy = np.zeros_like(pi_s)
    greedy[:, 0] = 1.0  # thought 0 everywhere: sound at the critical state, neutral elsewhere
    exact = float(mu @ ((greedy - pi_s) * q).sum(axis=1))
    assert exact == pytest.approx(0.3 * (2 / 3) / 3)  # p * (1 - 1/K) / H
    _, wins = sample_q_flat(mu, q, 400_000, np.random.default_rng(3))
    adv, se = advantage_estimate(pi_s, greedy, wins, 400_000)
    assert abs(adv - exact) < 5 * se


def test_caro_resets_only_at_the_critical_state_and_fixes_it_in_one_step():
    p, k = 0.1, 3
    mdp = build(critical_chain(p, n_thoughts=k))
    pi = mdp.uniform_policy()
    v = evaluate(mdp, pi)
    reset = oracle_reset(mdp, pi, v, CPIConfig(reset="oracle"))
    crit = mdp.names[2].index("hard/alive@2")
    assert reset.weights[2][crit] == pytest.approx(1.0) and sum(w.sum() for w in reset.weights) == pytest.approx(1.0)
    assert reset.max_updates == 1 and reset.hit_probability == pytest.approx(p)
    step = cpi_step(mdp, pi, CPIConfig(reset="oracle"), np.random.default_rng(0))
    assert step.certified and step.alpha == 1.0
    np.testing.assert_array_equal(step.policy[2][crit], [1.0, 0.0, 0.0])
    assert evaluate(mdp, step.policy).eta - v.eta == pytest.approx(p * (1 - 1 / k))
    assert step.search_rollouts >= step.samples  # finding an improvable state costs extra rollouts


def test_rr_takes_the_conservative_step_of_its_bound():
    p, k, h = 0.2, 3, 3
    mdp = build(critical_chain(p, horizon=h, n_thoughts=k))
    pi = mdp.uniform_policy()
    cfg = CPIConfig(reset="random")
    step = cpi_step(mdp, pi, cfg, np.random.default_rng(1))
    assert step.certified and step.search_rollouts == step.samples
    assert cfg.z * step.adv_se <= cfg.rel_accuracy * step.adv_estimate
    assert step.alpha == pytest.approx((step.adv_estimate - cfg.z * step.adv_se) / (2 * (h - 1)))
    crit = mdp.names[2].index("hard/alive@2")
    assert step.policy[2][crit].argmax() == 0
    # Only the critical state has a non-zero advantage, and it is reached with probability p whatever
    # the other rows are: the exact gain is alpha * p * (1 - 1/K).
    gain = evaluate(mdp, step.policy).eta - evaluate(mdp, pi).eta
    assert gain == pytest.approx(step.alpha * p * (1 - 1 / k))


def test_cpi_stops_when_nothing_is_improvable():
    mdp = build(critical_chain(0.2))
    best = mdp.uniform_policy()
    best[2] = np.tile([1.0, 0.0, 0.0], (len(best[2]), 1))
    step = cpi_step(mdp, best, CPIConfig(reset="oracle"), np.random.default_rng(0))
    assert not step.certified and step.samples == 0 and step.policy is best
    capped = cpi_step(mdp, best, CPIConfig(reset="random", first_batch=64, max_batch=256), np.random.default_rng(0))
    assert not capped.certified and capped.alpha == 0.0 and capped.samples == 512


def test_rr_runs_improve_monotonically():
    mdp = build(critical_chain(0.2))
    run = run_cpi(mdp, mdp.uniform_policy(), CPIConfig(reset="random"), np.random.default_rng(4), 15)
    assert len(run.eta) == 16 and all(b >= a - 1e-12 for a, b in zip(run.eta, run.eta[1:]))
    assert run.samples_to_reach(run.eta[3]) == run.samples[3]
    assert run.samples_to_reach(1.0) is None


def test_unknown_reset_is_refused():
    with pytest.raises(ValueError, match=r"known: \['oracle', 'random'\]"):
        CPIConfig(reset="uniform")
