"""`codereset.tabular.family`'s LM-shaped pieces: `critical_chain` with every prompt hard (p = 1)
and `start_logits` (a start policy right at a chosen rate where it can go wrong)."""

import numpy as np
import pytest

from codereset.tabular.family import build, critical_chain, start_logits
from codereset.tabular.mdp import evaluate, improvable, reach_probability
from codereset.tabular.pg import softmax


def test_all_hard_chain_has_no_routine_prompt_and_one_improvable_state():
    spec = critical_chain(1.0, horizon=7, n_thoughts=2, critical_depth=4)
    assert [p.name for p in spec.prompts] == ["hard"]
    mdp = build(spec)
    v = evaluate(mdp, mdp.uniform_policy())
    assert v.eta == pytest.approx(0.5)  # one fatal thought of two, at one depth
    mask = improvable(v, 0.1)
    assert [(h, mdp.names[h][s]) for h in range(7) for s in np.flatnonzero(mask[h])] == [(4, "hard/alive@4")]
    assert reach_probability(mdp, mdp.uniform_policy(), mask) == pytest.approx(1.0)


@pytest.mark.parametrize("p, k", [(1.0, 2), (0.3, 3)])
def test_start_logits_set_the_sound_rate_only_where_a_thought_is_fatal(p, k):
    spec = critical_chain(p, horizon=5, n_thoughts=k, critical_depth=2, routine_success=0.5)
    mdp = build(spec)
    pi = softmax(start_logits(spec, 0.42))
    assert pi[2][0, 0] == pytest.approx(0.42)  # hard/alive at the critical depth: thought 0 is the sound one
    np.testing.assert_allclose(pi[2][0, 1:], (1 - 0.42) / (k - 1))
    for h in (0, 1, 3, 4):
        np.testing.assert_allclose(pi[h], 1 / k)  # nothing fatal there: uniform
    np.testing.assert_allclose(pi[2][1:], 1 / k)  # dead and routine states: uniform
    assert evaluate(mdp, pi).eta == pytest.approx(p * 0.42 + (1 - p) * 0.5)
    assert all((t == 0).all() for t in start_logits(spec))  # None: the uniform policy


def test_start_logits_refuse_rates_without_finite_logits():
    with pytest.raises(ValueError, match="strictly between 0 and 1"):
        start_logits(critical_chain(1.0), 1.0)
