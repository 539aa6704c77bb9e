"""Known-answer tests for the policy losses (values and gradients on fixed tensors)."""

import pytest
import torch

from codereset.learn.losses import LOSSES, LossConfig, clipped_loss, get_loss, pg_loss

# two rollouts, three positions; rollout 0 trains positions 1-2, rollout 1 positions 0-1
LOGP = [[-1.0, -2.0, -3.0], [-0.5, -0.5, -4.0]]
MASK = [[0.0, 1.0, 1.0], [1.0, 1.0, 0.0]]
ADV = [2.0, -1.0]


def _inputs():
    logp = torch.tensor(LOGP, requires_grad=True)
    return logp, torch.tensor(MASK), torch.tensor(ADV)


def test_pg_loss_value_hand_computed():
    logp, mask, adv = _inputs()
    loss, stats = pg_loss(logp, None, adv, mask, LossConfig())
    # token means: row0 (-2-3)/2 = -2.5, row1 (-0.5-0.5)/2 = -0.5
    # L = -mean(2 * -2.5, -1 * -0.5) = -(-5 + 0.5)/2 = 2.25
    assert loss.item() == pytest.approx(2.25)
    assert stats["tokens"] == 4
    assert stats["mean_logprob"] == pytest.approx((-2 - 3 - 0.5 - 0.5) / 4)


def test_pg_loss_gradient_hand_computed_and_masked():
    logp, mask, adv = _inputs()
    pg_loss(logp, None, adv, mask, LossConfig())[0].backward()
    # dL/dlogp[i,t] = -A_i / (B * n_i) on trained tokens, 0 elsewhere (B=2, n_i=2)
    expected = [[0.0, -0.5, -0.5], [0.25, 0.25, 0.0]]
    assert torch.allclose(logp.grad, torch.tensor(expected))


def test_pg_loss_ignores_old_logprobs():
    logp, mask, adv = _inputs()
    a, _ = pg_loss(logp, None, adv, mask, LossConfig())
    b, _ = pg_loss(logp, torch.zeros(2, 3), adv, mask, LossConfig())
    assert a.item() == b.item()


def test_rollout_without_trained_tokens_contributes_zero_but_counts():
    logp = torch.tensor([[-1.0, -2.0], [-3.0, -4.0]])
    mask = torch.tensor([[0.0, 1.0], [0.0, 0.0]])
    loss, _ = pg_loss(logp, None, torch.tensor([1.0, 5.0]), mask, LossConfig())
    assert loss.item() == pytest.approx(-(1.0 * -2.0) / 2)


def test_clipped_on_policy_gradient_equals_pg_gradient():
    logp, mask, adv = _inputs()
    pg_loss(logp, None, adv, mask, LossConfig())[0].backward()
    g_pg = logp.grad.clone()
    logp2 = torch.tensor(LOGP, requires_grad=True)
    loss, stats = clipped_loss(logp2, None, adv, mask, LossConfig(name="clipped"))
    loss.backward()
    assert torch.allclose(logp2.grad, g_pg)
    assert loss.item() == pytest.approx(-(2.0 - 1.0) / 2)  # ratio 1: -mean_i A_i
    assert stats["ratio_mean"] == pytest.approx(1.0) and stats["clip_frac"] == 0.0
    assert stats["approx_kl"] == pytest.approx(0.0)


def test_clipped_ratio_clipping_hand_computed():
    # one rollout per sign, one token each, ratio 1.5 (old = logp - ln 1.5), eps 0.2
    logp = torch.tensor([[-1.0], [-1.0]], requires_grad=True)
    old = logp.detach() - torch.log(torch.tensor(1.5))
    adv = torch.tensor([1.0, -1.0])
    loss, stats = clipped_loss(logp, old, adv, torch.ones(2, 1), LossConfig(name="clipped", clip_eps=0.2))
    # A>0: min(1.5, 1.2) = 1.2 (clipped, no grad); A<0: min(-1.5, -1.2) = -1.5 (unclipped)
    assert loss.item() == pytest.approx(-(1.2 - 1.5) / 2)
    loss.backward()
    assert logp.grad[0, 0].item() == pytest.approx(0.0)
    assert logp.grad[1, 0].item() == pytest.approx(-(-1.0 * 1.5) / 2)  # d/dlogp of -(A*ratio)/B
    assert stats["clip_frac"] == pytest.approx(1.0)


def test_clipped_asymmetric_upper_bound():
    logp = torch.tensor([[-1.0]], requires_grad=True)
    old = logp.detach() - torch.log(torch.tensor(1.25))
    cfg = LossConfig(name="clipped", clip_eps=0.2, clip_eps_high=0.3)
    loss, stats = clipped_loss(logp, old, torch.tensor([1.0]), torch.ones(1, 1), cfg)
    assert loss.item() == pytest.approx(-1.25) and stats["clip_frac"] == 0.0  # 1.25 < 1.3


def test_registry_shape_checks_and_unknown_name():
    assert get_loss("pg") is pg_loss and get_loss("clipped") is clipped_loss and set(LOSSES) == {"pg", "clipped"}
    with pytest.raises(ValueError, match="clipped"):
        get_loss("ppo-kl")
    logp, mask, adv = _inputs()
    with pytest.raises(ValueError, match="mask"):
        pg_loss(logp, None, adv, mask[:, :2], LossConfig())
    with pytest.raises(ValueError, match="advantages"):
        pg_loss(logp, None, adv[:1], mask, LossConfig())
