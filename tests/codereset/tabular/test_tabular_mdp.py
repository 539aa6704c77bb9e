"""Exact quantities of `codereset.tabular.mdp` and `family` against hand-solved tiny MDPs."""

import numpy as np
import pytest

from codereset.tabular.family import PromptSpec, ThoughtChainSpec, build, critical_chain, first_error, multi_fault
from codereset.tabular.mdp import (LayeredMDP, evaluate, improvable, max_visits, reach_probability, rollouts,
                                   sample_q_statistics)


def fork() -> LayeredMDP:
    """Depth 0: s0. Thought 0 -> A, thought 1 -> B. At A thought 0 -> WIN (reward 1), thought 1 ->
    LOSE (reward 0); at B either thought -> COIN (reward 1 w.p. 1/2)."""
    t0 = np.zeros((1, 2, 2))
    t0[0, 0, 0] = t0[0, 1, 1] = 1.0
    t1 = np.zeros((2, 2, 3))
    t1[0, 0, 0] = t1[0, 1, 1] = 1.0
    t1[1, :, 2] = 1.0
    return LayeredMDP(start=np.array([1.0]), trans=(t0, t1), success=np.array([1.0, 0.0, 0.5]))


def fork_policy() -> list[np.ndarray]:
    return [np.array([[0.5, 0.5]]), np.array([[0.25, 0.75], [0.5, 0.5]])]


def test_exact_values_of_the_fork():
    # Hand-solved: V(A) = 0.25, V(B) = 0.5, Q(s0) = (0.25, 0.5), V(s0) = 0.375.
    v = evaluate(fork(), fork_policy())
    np.testing.assert_allclose(v.q[1], [[1.0, 0.0], [0.5, 0.5]])
    np.testing.assert_allclose(v.v[1], [0.25, 0.5])
    np.testing.assert_allclose(v.q[0], [[0.25, 0.5]])
    assert v.eta == pytest.approx(0.375)
    np.testing.assert_allclose(v.adv[0], [[-0.125, 0.125]])
    np.testing.assert_allclose(v.adv[1], [[0.75, -0.25], [0.0, 0.0]])
    np.testing.assert_allclose(v.occupancy[1], [0.5, 0.5])
    np.testing.assert_allclose(v.occupancy[2], [0.125, 0.375, 0.5])
    np.testing.assert_allclose(v.v_star[0], [1.0])
    np.testing.assert_allclose(v.v_star[1], [1.0, 0.5])


def test_improvable_set_and_reach_probability_of_the_fork():
    mdp, pi = fork(), fork_policy()
    v = evaluate(mdp, pi)
    loose, strict = improvable(v, 0.1), improvable(v, 0.2)
    assert [m.tolist() for m in loose] == [[True], [True, False]]  # s0 (0.125) and A (0.75)
    assert [m.tolist() for m in strict] == [[False], [True, False]]  # only A
    assert reach_probability(mdp, pi, strict) == pytest.approx(0.5)
    assert reach_probability(mdp, pi, loose) == pytest.approx(1.0)
    assert max_visits(mdp, pi, loose) == 2 and max_visits(mdp, pi, strict) == 1
    # A policy that never goes to A never reaches the strict set.
    never = [np.array([[0.0, 1.0]]), pi[1]]
    assert reach_probability(mdp, never, strict) == 0.0
    assert max_visits(mdp, never, strict) == 0


def test_critical_chain_has_one_improvable_state_reached_with_probability_p():
    p, k = 0.1, 3
    mdp = build(critical_chain(p, horizon=3, n_thoughts=k, routine_success=0.5))
    pi = mdp.uniform_policy()
    v = evaluate(mdp, pi)
    assert v.eta == pytest.approx(p / k + (1 - p) * 0.5)
    mask = improvable(v, 0.05)
    hits = [(h, mdp.names[h][s]) for h in range(3) for s in np.flatnonzero(mask[h])]
    assert hits == [(2, "hard/alive@2")]
    assert reach_probability(mdp, pi, mask) == pytest.approx(p)
    s = mdp.names[2].index("hard/alive@2")
    np.testing.assert_allclose(v.adv[2][s], [1 - 1 / k, -1 / k, -1 / k])
    assert float(mdp.start @ v.v_star[0]) == pytest.approx(p + (1 - p) * 0.5)


def test_multi_fault_success_of_the_uniform_policy():
    spec = multi_fault(0.5, horizon=4, n_thoughts=4, n_hard=2, fatal_per_step=1)
    v = evaluate(build(spec), build(spec).uniform_policy())
    assert v.eta == pytest.approx(0.5 * 0.75 ** 4 + 0.5 * 0.5)


def test_first_error_is_the_first_fatal_thought():
    spec = ThoughtChainSpec(horizon=3, n_thoughts=2, prompts=(PromptSpec(1.0, fatal=((1,), (1,), (1,))),))
    mdp = build(spec)
    v_star = evaluate(mdp, mdp.uniform_policy()).v_star
    alive, dead = 0, 1
    assert first_error(mdp, v_star, np.array([alive, alive, dead, dead])) == 2
    assert first_error(mdp, v_star, np.array([alive, dead, dead, dead])) == 1
    assert first_error(mdp, v_star, np.array([alive, alive, alive, alive])) is None


def test_bad_specs_are_refused_with_a_reason():
    with pytest.raises(ValueError, match="leaves a sound thought"):
        build(ThoughtChainSpec(horizon=1, n_thoughts=2, prompts=(PromptSpec(1.0, fatal=((0, 1),)),)))
    with pytest.raises(ValueError, match="one per depth"):
        build(ThoughtChainSpec(horizon=2, n_thoughts=2, prompts=(PromptSpec(1.0, fatal=((),)),)))
    with pytest.raises(ValueError, match=r"p must lie in \(0, 1\]"):
        critical_chain(0.0)
    with pytest.raises(ValueError, match="probability distribution"):
        evaluate(fork(), [np.array([[0.5, 0.6]]), fork_policy()[1]])


def test_rollouts_follow_the_exact_law():
    mdp, pi = fork(), fork_policy()
    ro = rollouts(mdp, pi, np.random.default_rng(0), 40_000)
    v = evaluate(mdp, pi)
    assert abs(ro.rewards.mean() - v.eta) < 5 * np.sqrt(0.25 / 40_000)
    freq = np.bincount(ro.states[:, 2], minlength=3) / 40_000
    np.testing.assert_allclose(freq, v.occupancy[2], atol=0.01)
    # From the reset state A (depth 1) the return has mean V(A) = 0.25, and the prefix column is -1.
    ra = rollouts(mdp, pi, np.random.default_rng(1), 20_000, depth=1, states=np.array([0]))
    assert (ra.states[:, 0] == -1).all() and (ra.states[:, 1] == 0).all()
    assert abs(ra.rewards.mean() - 0.25) < 5 * np.sqrt(0.25 * 0.75 / 20_000)


def test_q_statistics_have_the_law_of_one_by_one_rollouts():
    mdp, pi = fork(), fork_policy()
    v = evaluate(mdp, pi)
    reset = [np.array([0.5]), np.array([0.25, 0.25])]
    n = 80_000
    counts, wins = sample_q_statistics(v, reset, n, np.random.default_rng(2))
    assert sum(int(c.sum()) for c in counts) == n
    # Each (s, a) is hit with probability reset(s) / K, and returns 1 with probability Q(s, a).
    np.testing.assert_allclose(counts[0] / n, [[0.25, 0.25]], atol=0.01)
    np.testing.assert_allclose(counts[1] / n, [[0.125, 0.125], [0.125, 0.125]], atol=0.01)
    np.testing.assert_allclose(wins[1] / counts[1], v.q[1], atol=0.02)
    np.testing.assert_allclose(wins[0] / counts[0], v.q[0], atol=0.02)
