"""Localizers and the GRPO/RRPO/SRPO-style tabular updates (`codereset.tabular.localizers`, `pg`)."""

import numpy as np
import pytest
import torch

from codereset.learn.advantages import get_advantage
from codereset.tabular.family import PromptSpec, ThoughtChainSpec, build, multi_fault
from codereset.tabular.localizers import LocalizerConfig, localize, oracle_index
from codereset.tabular.mdp import Rollouts, evaluate
from codereset.tabular.pg import Group, PGConfig, build_groups, policy_gradient, softmax, train_step


def chain(fatal=((1,), (1,), (1,), (1,)), success=1.0):
    mdp = build(ThoughtChainSpec(horizon=len(fatal), n_thoughts=2, prompts=(PromptSpec(1.0, fatal, success),)))
    return mdp, evaluate(mdp, mdp.uniform_policy()).v_star


ALIVE, DEAD = 0, 1
SEED = np.array([ALIVE, ALIVE, ALIVE, DEAD, DEAD])  # the third thought was fatal: h_oracle = 3


@pytest.mark.parametrize("deviation, expected", [(((0, 1.0),), 3), (((1, 1.0),), 4), (((5, 1.0),), 4),
                                                 (((-9, 1.0),), 1)])
def test_noisy_localizer_shifts_and_clips(deviation, expected):
    mdp, v_star = chain()
    h, h_oracle = localize(LocalizerConfig("noisy", deviation), mdp, v_star, SEED, np.random.default_rng(0))
    assert (h, h_oracle) == (expected, 3)


def test_perfect_and_random_localizers():
    mdp, v_star = chain()
    assert localize(LocalizerConfig("perfect"), mdp, v_star, SEED, np.random.default_rng(0)) == (3, 3)
    draws = {localize(LocalizerConfig("random"), mdp, v_star, SEED, np.random.default_rng(s))[0] for s in range(60)}
    assert draws == {1, 2, 3, 4}


def test_oracle_without_error_points_at_the_last_thought():
    mdp, v_star = chain(fatal=((),) * 4, success=0.5)
    assert oracle_index(mdp, v_star, np.zeros(5, dtype=int)) == (4, False)


def test_bad_localizer_configs_are_refused():
    with pytest.raises(ValueError, match=r"known: \['mixed', 'noisy', 'perfect', 'random', 'symptom'\]"):
        LocalizerConfig("psychic")
    with pytest.raises(ValueError, match="summing to 1"):
        LocalizerConfig("noisy", ((0, 0.5),))
    with pytest.raises(ValueError, match=r"known: \['grpo', 'rrpo', 'srpo'\]"):
        PGConfig(agent="ppo")


def test_gradient_matches_autograd_of_the_loss():
    mdp, _ = chain(fatal=((1,), (1,), (1,)))
    rng = np.random.default_rng(5)
    theta = [rng.normal(size=(2, 2)) for _ in range(3)]
    policy = softmax(theta)
    base = Rollouts(states=np.array([[0, 0, 0, 0], [0, 1, 1, 1], [0, 0, 1, 1]]),
                    actions=np.array([[0, 0, 0], [1, 0, 1], [0, 1, 0]]), rewards=np.array([1.0, 0.0, 0.0]),
                    start_depth=0)
    reset = Rollouts(states=np.array([[0, 0, 0, 0], [0, 0, 0, 1]]), actions=np.array([[-1, 0, 0], [-1, 0, 1]]),
                     rewards=np.array([1.0, 0.0]), start_depth=1)
    groups = [Group(base, 0), Group(reset, 1)]
    ours = policy_gradient(theta, policy, groups, "group_norm")
    # The loss written out: L = - mean_i A_i * mean over i's trained thoughts of log pi(a_t | s_t).
    logits = [torch.tensor(t, requires_grad=True) for t in theta]
    adv = get_advantage("group_norm")
    terms = []
    for gr in groups:
        a = adv(torch.tensor(gr.rollouts.rewards))
        for i in range(len(gr.rollouts.rewards)):
            logps = [torch.log_softmax(logits[h][gr.rollouts.states[i, h]], 0)[gr.rollouts.actions[i, h]]
                     for h in range(gr.first_trained, 3)]
            terms.append(a[i] * torch.stack(logps).mean())
    (-torch.stack(terms).mean()).backward()
    for h in range(3):
        np.testing.assert_allclose(ours[h], logits[h].grad.numpy(), atol=1e-6)


def test_grpo_buffer_is_one_group_of_all_slots():
    mdp, v_star = chain()
    groups, records = build_groups(mdp, mdp.uniform_policy(), v_star, np.array([0, 0]), PGConfig(agent="grpo"),
                                   np.random.default_rng(0))
    assert [(len(g.rollouts.rewards), g.first_trained) for g in groups] == [(8, 0), (8, 0)]
    assert [(r.generated_rollouts, r.generated_thoughts, r.seed_found) for r in records] == [(8, 32, False)] * 2


def test_srpo_resets_before_the_first_error_and_trains_the_suffix():
    mdp, v_star = chain()
    rng = np.random.default_rng(1)
    groups, records = build_groups(mdp, mdp.uniform_policy(), v_star, np.zeros(6, dtype=int),
                                   PGConfig(agent="srpo"), rng)
    for rec in records:
        assert rec.seed_found and rec.h_star == rec.h_oracle  # a fatal thought is the only way to fail
    assert len(groups) == 12  # a base group and a reset group per prompt
    assert sorted(g.first_trained for g in groups[6:]) == sorted(r.h_star - 1 for r in records)
    for g in groups[6:]:
        d = g.first_trained
        assert (g.rollouts.states[:, d] == ALIVE).all()  # the reset state is clean
        assert (g.rollouts.states[:, :d + 1] == g.rollouts.states[0, :d + 1]).all()  # shared prefix


def test_no_seed_fills_the_slots_with_fresh_rollouts():
    mdp, v_star = chain(fatal=((),) * 4, success=1.0)  # nothing ever fails
    groups, records = build_groups(mdp, mdp.uniform_policy(), v_star, np.array([0]), PGConfig(agent="rrpo"),
                                   np.random.default_rng(0))
    assert [(len(g.rollouts.rewards), g.first_trained) for g in groups] == [(4, 0), (4, 0)]
    assert records[0].generated_rollouts == 4 + 8 + 4 and not records[0].seed_found


def test_srpo_with_the_perfect_localizer_learns_the_hard_prompts():
    mdp = build(multi_fault(1.0, horizon=4, n_thoughts=3, n_hard=2))
    theta = [np.zeros((n, 3)) for n in mdp.sizes[:-1]]
    v_star = evaluate(mdp, softmax(theta)).v_star
    start = evaluate(mdp, softmax(theta)).eta
    rng = np.random.default_rng(0)
    for _ in range(40):
        theta, _ = train_step(mdp, theta, v_star, PGConfig(agent="srpo", lr=5.0), rng)
    assert evaluate(mdp, softmax(theta)).eta > start + 0.2


@pytest.mark.parametrize("p", [0.05, 0.4])
def test_improvable_share_of_trained_thoughts_is_p_free(p):
    """The premise of benchmarks/tabular_agents.py's prediction (slope 0): on critical_chain(p),
    GRPO trains p / H of its thoughts at the improvable state and SRPO-perfect 2p / (H + 1): on a
    hard prompt all 2G critical thoughts of GRPO's group, and G base + G one-thought continuations
    of SRPO's; routine prompts have none. Checked exactly on batches of hard and routine prompts."""
    from codereset.tabular.family import critical_chain

    h, g = 3, 4
    mdp = build(critical_chain(p, horizon=h, n_thoughts=3))
    v_star = evaluate(mdp, mdp.uniform_policy()).v_star
    hard, routine = 0, 2  # start states: prompt 0 (hard) and prompt 1 (routine), alive

    def counts(agent: str, prompts: np.ndarray) -> tuple[int, int]:
        groups, records = build_groups(mdp, mdp.uniform_policy(), v_star, prompts,
                                       PGConfig(agent=agent, localizer=LocalizerConfig("perfect"), group_size=g),
                                       np.random.default_rng(0))
        assert all(r.seed_found for r in records) or agent == "grpo"
        trained = improvable = 0
        for gr in groups:
            n = len(gr.rollouts.rewards)
            trained += n * (h - gr.first_trained)
            critical = gr.rollouts.states[:, h - 1] == hard  # alive hard prompt at the last depth
            improvable += int(critical.sum())
        return trained, improvable

    prompts = np.array([hard] * 6 + [routine] * 2)
    assert counts("grpo", prompts) == (8 * 2 * g * h, 6 * 2 * g)
    assert counts("srpo", prompts) == (8 * g * (h + 1), 6 * 2 * g)
    # share ratio SRPO / GRPO = 2H / (H + 1), whatever the share of hard prompts (p)
    (tg, ig), (ts, is_) = counts("grpo", prompts), counts("srpo", prompts)
    assert (is_ / ts) / (ig / tg) == pytest.approx(2 * h / (h + 1))
