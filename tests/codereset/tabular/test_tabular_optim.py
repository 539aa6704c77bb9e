"""The tabular PG agents' optimizer choice (`codereset.tabular.pg`: `PGConfig.optimizer`,
`OPTIMIZERS`): "sgd" is the plain gradient step it always was, "adam" is Adam with its state
carried across steps."""

import numpy as np
import pytest
import torch

from codereset.tabular.family import build, critical_chain, start_logits
from codereset.tabular.mdp import evaluate
from codereset.tabular.pg import (OPTIMIZERS, Adam, PGConfig, build_groups, make_optimizer, policy_gradient,
                                  softmax, train_step)
from codereset.tabular.localizers import LocalizerConfig


def lm_chain(depth=3):
    spec = critical_chain(1.0, 5, 2, critical_depth=depth - 1)
    mdp = build(spec)
    theta = start_logits(spec, 0.42)
    return mdp, theta, evaluate(mdp, softmax(theta)).v_star


@pytest.mark.parametrize("agent, split", [("grpo", "1x4"), ("srpo", "1x8"), ("srpo", "1x4")])
def test_sgd_is_the_plain_gradient_step_bit_for_bit(agent, split):
    """The known answer: theta - lr * the loss's gradient (`policy_gradient`, checked against
    autograd in test_tabular_pg.py) on the groups the same random stream builds; with or without
    an explicit optimizer, and the default config is sgd."""
    mdp, theta, v_star = lm_chain()
    cfg = PGConfig(agent=agent, split=split, localizer=LocalizerConfig("perfect"), lr=0.25)
    assert cfg.optimizer == "sgd"
    rng = np.random.default_rng(11)
    policy = softmax(theta)
    prompts = rng.choice(len(mdp.start), size=cfg.prompts_per_step, p=mdp.start)
    groups, _ = build_groups(mdp, policy, v_star, prompts, cfg, rng)
    grad = policy_gradient(theta, policy, groups, cfg.advantage)
    assert any(np.abs(g).max() > 0 for g in grad)  # the step moves something
    expected = [t - 0.25 * g for t, g in zip(theta, grad)]
    for optimizer in (None, make_optimizer(cfg)):
        got, _ = train_step(mdp, theta, v_star, cfg, np.random.default_rng(11), optimizer)
        for a, b in zip(got, expected):
            assert np.array_equal(a, b)


@pytest.mark.parametrize("scale", [1.0, 1e-3, 7.0])
def test_adam_first_step_moves_each_logit_by_lr_times_sign(scale):
    theta = [np.array([[0.3, -0.2], [1.0, 0.0]]), np.array([[0.5, 0.5, -1.0]])]
    grad = [scale * np.array([[0.02, -0.5], [0.0, 3.0]]), scale * np.array([[-1e-2, 0.0, 4.0]])]
    lr = 0.03
    new = Adam().step(theta, grad, lr)
    for t, g, n in zip(theta, grad, new):
        np.testing.assert_allclose(n - t, -lr * np.sign(g), rtol=1e-3, atol=1e-12)  # eps / |g| <= 5e-4; zero gradient: no move


def test_adam_carries_its_state_and_matches_torch():
    rng = np.random.default_rng(0)
    theta = [rng.normal(size=(2, 2)), rng.normal(size=(3, 2))]
    params = [torch.tensor(t, requires_grad=True) for t in theta]
    ref = torch.optim.Adam(params, lr=0.05, betas=(0.9, 0.999), eps=1e-8)
    ours = Adam()
    for _ in range(6):
        grad = [rng.normal(size=t.shape) * rng.uniform(0.01, 3.0) for t in theta]
        theta = ours.step(theta, grad, 0.05)
        for p, g in zip(params, grad):
            p.grad = torch.tensor(g)
        ref.step()
    assert ours.t == 6
    for t, p in zip(theta, params):
        np.testing.assert_allclose(t, p.detach().numpy(), rtol=1e-10, atol=1e-12)
    # a fresh Adam every step would be sign descent: not the same trajectory
    fresh = Adam().step(theta, grad, 0.05)
    again = ours.step(theta, grad, 0.05)
    assert not np.allclose(fresh[0], again[0])


def test_adam_needs_its_state_and_a_matching_config():
    mdp, theta, v_star = lm_chain()
    cfg = PGConfig(agent="grpo", optimizer="adam", lr=0.02)
    with pytest.raises(ValueError, match="carries state across steps"):
        train_step(mdp, theta, v_star, cfg, np.random.default_rng(0))
    with pytest.raises(ValueError, match="names 'sgd'"):
        train_step(mdp, theta, v_star, PGConfig(agent="grpo"), np.random.default_rng(0), make_optimizer(cfg))
    with pytest.raises(ValueError, match=r"known: \['adam', 'sgd'\]"):
        PGConfig(optimizer="rmsprop")
    assert sorted(OPTIMIZERS) == ["adam", "sgd"]


def test_adam_run_learns_the_hard_thought():
    mdp, theta, v_star = lm_chain()
    cfg = PGConfig(agent="srpo", split="1x8", localizer=LocalizerConfig("perfect"), optimizer="adam", lr=0.05)
    opt = make_optimizer(cfg)
    start = evaluate(mdp, softmax(theta)).eta
    for step in range(30):
        theta, _ = train_step(mdp, theta, v_star, cfg, np.random.default_rng([0, step]), opt)
    assert opt.t == 30 and evaluate(mdp, softmax(theta)).eta > start + 0.2
