"""The "1x8" split of `codereset.tabular.pg` (the issue-26 reset arms): one seed per prompt, one
reset group of 8 suffixes from h*, an untrained probe instead of a trained base group; fallbacks
that reuse the untrained draws as the trainer's buffer does. Known answers on hand-built chains."""

import numpy as np
import pytest

from codereset.tabular.family import PromptSpec, ThoughtChainSpec, build
from codereset.tabular.localizers import LocalizerConfig
from codereset.tabular.mdp import evaluate
from codereset.tabular.pg import PGConfig, build_groups

ALIVE = 0
H = 4


def chain(fatal=((1,),) * H, success=1.0):
    mdp = build(ThoughtChainSpec(horizon=len(fatal), n_thoughts=2, prompts=(PromptSpec(1.0, fatal, success),)))
    return mdp, evaluate(mdp, mdp.uniform_policy()).v_star


def fatal_at_two() -> list[np.ndarray]:
    """A hand-set policy: the sound thought (0) always, except the fatal one (1) always at depth 1
    (the second thought): every rollout fails and its first error is thought 2."""
    pi = [np.array([[1.0, 0.0], [1.0, 0.0]]) for _ in range(H)]
    pi[1] = np.array([[0.0, 1.0], [1.0, 0.0]])
    return pi


def cfg(split="1x8", **kw) -> PGConfig:
    return PGConfig(agent="srpo", split=split, localizer=LocalizerConfig("perfect"), **kw)


def test_1x8_is_one_group_of_8_suffixes_sharing_the_seeds_prefix_and_no_base_group():
    mdp, v_star = chain()
    groups, records = build_groups(mdp, mdp.uniform_policy(), v_star, np.zeros(6, dtype=int),
                                   cfg(reuse_search_draws=True), np.random.default_rng(3))
    assert len(groups) == 6 and all(r.seed_found for r in records)  # one trained group per prompt
    assert sorted(g.first_trained for g in groups) == sorted(r.h_star - 1 for r in records)
    for g in groups:
        d = g.first_trained
        assert len(g.rollouts.rewards) == 8
        assert (g.rollouts.states[:, :d + 1] == g.rollouts.states[0, :d + 1]).all()  # the seed's prefix up to h*
        assert (g.rollouts.states[:, d] == ALIVE).all()  # perfect localizer: the reset state is clean
        assert (g.rollouts.actions[:, :d] == -1).all() and (g.rollouts.actions[:, d:] >= 0).all()  # suffix only


def test_1x8_counts_on_a_chain_where_every_rollout_fails_at_thought_two():
    mdp, v_star = chain()
    groups, records = build_groups(mdp, fatal_at_two(), v_star, np.zeros(2, dtype=int), cfg(),
                                   np.random.default_rng(0))
    assert [(len(g.rollouts.rewards), g.first_trained) for g in groups] == [(8, 1), (8, 1)]
    for r in records:
        assert (r.h_star, r.h_oracle, r.error_found, r.base_pass) == (2, 2, True, 0.0)
        # probe of 4 (the seed is its first draw; no search) + 8 suffixes of H - h* + 1 = 3 thoughts
        assert (r.generated_rollouts, r.generated_thoughts) == (4 + 8, 4 * H + 8 * 3)
        assert not r.reset_has_variance and not r.reset_corrected  # the fatal thought is always taken again


@pytest.mark.parametrize("split, reuse, groups_expected, generated", [
    ("1x8", True, [(8, 0)], 12),            # probe 4 + search 8, all correct: 8 of them reused
    ("1x8", False, [(8, 0)], 12 + 8),
    ("1x4", True, [(4, 0), (4, 0)], 12),    # trained base 4 + search 8: fallback reuses 4 of the 8
    ("1x4", False, [(4, 0), (4, 0)], 12 + 4),
])
def test_no_seed_fallback_reuses_the_untrained_draws(split, reuse, groups_expected, generated):
    mdp, v_star = chain(fatal=((),) * H)  # nothing ever fails
    groups, records = build_groups(mdp, mdp.uniform_policy(), v_star, np.array([0]),
                                   cfg(split, reuse_search_draws=reuse), np.random.default_rng(0))
    assert [(len(g.rollouts.rewards), g.first_trained) for g in groups] == groups_expected
    assert records[0].generated_rollouts == generated and not records[0].seed_found
    assert all((g.rollouts.rewards == 1).all() for g in groups)


def test_probe_and_search_respect_the_attempt_cap():
    mdp, v_star = chain(fatal=((),) * H)
    _, records = build_groups(mdp, mdp.uniform_policy(), v_star, np.array([0]),
                              cfg(max_seed_attempts=5, probe_size=4, reuse_search_draws=True), np.random.default_rng(0))
    assert records[0].generated_rollouts == 5 + 3  # 5 untrained draws reused, 3 fresh for the 8 slots


def test_grpo_is_unchanged_by_the_split():
    mdp, v_star = chain()
    groups, _ = build_groups(mdp, mdp.uniform_policy(), v_star, np.array([0]), PGConfig(agent="grpo", split="1x8"),
                             np.random.default_rng(0))
    assert [(len(g.rollouts.rewards), g.first_trained) for g in groups] == [(8, 0)]


def test_bad_splits_are_refused():
    with pytest.raises(ValueError, match="one seed per prompt"):
        PGConfig(split="2x4")
    with pytest.raises(ValueError, match="needs 10 reset slots but there are 8"):
        PGConfig(split="1x10")
    with pytest.raises(ValueError, match="must be >= 4"):
        PGConfig(split="1x8", max_seed_attempts=3)
