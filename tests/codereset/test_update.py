"""The policy update: per-group advantages, the loss against a hand computation on a tiny model,
exact equivalence of the zero-advantage shortcut and of micro-batching, and the NaN guard."""

import copy
import math

import pytest
import torch
from scripted_policy import make_task

from codereset.buffer import Group
from codereset.logprobs import token_logprobs
from codereset.losses import LossConfig
from codereset.models import ModelConfig, load_model
from codereset.rollout import Rollout
from codereset.update import PolicyUpdater, assign_advantages


class Scored:
    def __init__(self, reward):
        self.reward = reward


@pytest.fixture(scope="module")
def tiny():
    torch.manual_seed(0)
    model, tok = load_model(ModelConfig(name="tiny", tokenizer="bytes"))
    return model, tok


def rollouts():
    """Four rollouts: different prompts, one with a 2-token reset prefix, one EOS-terminated."""
    r = [Rollout(task=make_task(0), prompt_ids=[5, 6, 7], segments=[[10, 11, 12], [13, 14]]),
         Rollout(task=make_task(0), prompt_ids=[5, 6, 7], segments=[[20, 21], [22, 23, 24, 25]], prefix_len=1),
         Rollout(task=make_task(1), prompt_ids=[8, 9], segments=[[30]], finish="eos", eos_id=258),
         Rollout(task=make_task(1), prompt_ids=[8, 9], segments=[[40, 41, 42, 43, 44, 45]])]
    return r


def test_advantages_are_normalized_per_group():
    a = Group("base", [Scored(1.0), Scored(0.0), Scored(0.0), Scored(0.0)])
    b = Group("reset", [Scored(0.5)] * 4)
    c = Group("reset", [Scored(1.0), Scored(0.0)])
    assign_advantages([a, b, c], "group_norm")
    assert a.advantages == pytest.approx([math.sqrt(3), -1 / math.sqrt(3), -1 / math.sqrt(3), -1 / math.sqrt(3)])
    assert b.advantages == [0.0] * 4                   # all-equal rewards: no signal
    assert c.advantages == pytest.approx([1.0, -1.0])
    with pytest.raises(ValueError, match="known"):
        assign_advantages([a], "gae")


def hand_loss(model, rs, advs):
    """-mean_i A_i * mean over i's trained tokens of log pi, one unpadded sequence at a time."""
    total = 0.0
    for r, a in zip(rs, advs):
        ids = torch.tensor([r.sequence()])
        lp = token_logprobs(model, ids, torch.ones_like(ids))[0]
        total += a * lp[r.trained_from:].mean().item()
    return -total / len(rs)


def test_loss_matches_the_hand_computation(tiny):
    model, tok = tiny
    model = copy.deepcopy(model)
    rs, advs = rollouts(), [1.5, -0.5, 0.0, -1.0]
    assert [r.trained_from for r in rs] == [3, 5, 2, 2]
    assert [r.generated_tokens for r in rs] == [5, 4, 2, 6]        # EOS is trained
    expected = hand_loss(model, rs, advs)
    opt = torch.optim.SGD(model.parameters(), lr=0.0)
    result = PolicyUpdater(model, opt, LossConfig(), 2, 1.0, tok.pad_token_id).step(rs, advs)
    assert result.loss == pytest.approx(expected, rel=1e-5)
    assert (result.rollouts, result.backprop_rollouts, result.tokens_trained) == (4, 3, 17)
    assert not result.skipped and result.grad_norm > 0


def delta(model, rs, advs, micro, clip=1.0):
    model = copy.deepcopy(model)
    before = [p.detach().clone() for p in model.parameters()]
    opt = torch.optim.SGD(model.parameters(), lr=1.0)
    result = PolicyUpdater(model, opt, LossConfig(), micro, clip, 258).step(rs, advs)
    return [p.detach() - b for p, b in zip(model.parameters(), before)], result


def test_micro_batching_and_zero_advantage_skipping_give_the_reference_update(tiny):
    model, _ = tiny
    rs, advs = rollouts(), [1.5, -0.5, 0.0, -1.0]
    # reference: the whole batch (zero-advantage rollout included) in one pass, clipped to 1.0
    ref = copy.deepcopy(model)
    from codereset.logprobs import collate
    from codereset.losses import pg_loss

    batch = collate([r.sequence() for r in rs], [r.trained_from for r in rs], 258)
    lp = token_logprobs(ref, batch.input_ids, batch.attention_mask)
    loss, _ = pg_loss(lp, None, torch.tensor(advs), batch.loss_mask, LossConfig())
    loss.backward()
    norm = torch.nn.utils.clip_grad_norm_(list(ref.parameters()), 1.0)
    ref_delta = [-p.grad for p in ref.parameters()]
    for micro in (1, 3, 8):
        d, result = delta(model, rs, advs, micro)
        assert result.grad_norm == pytest.approx(float(norm), rel=1e-4)
        for x, y in zip(d, ref_delta):
            assert torch.allclose(x, y, atol=1e-6, rtol=1e-4)


def test_all_zero_advantages_leave_the_weights_alone(tiny):
    model, _ = tiny
    d, result = delta(model, rollouts(), [0.0] * 4, 4)
    assert all(torch.count_nonzero(x) == 0 for x in d)
    assert (result.loss, result.grad_norm, result.skipped, result.backprop_rollouts) == (0.0, 0.0, False, 0)


def test_non_finite_loss_skips_the_update(tiny):
    model, _ = tiny
    broken = copy.deepcopy(model)
    with torch.no_grad():
        next(broken.parameters())[10].fill_(float("nan"))      # token 10's embedding
    before = [p.detach().clone() for p in broken.parameters()]
    opt = torch.optim.AdamW(broken.parameters(), lr=1e-2)
    result = PolicyUpdater(broken, opt, LossConfig(), 8, 1.0, 258).step(rollouts(), [1.0, -1.0, 0.5, -0.5])
    assert result.skipped and result.loss is None
    assert all(p.grad is None for p in broken.parameters())
    assert opt.state == {} or all(len(s) == 0 for s in opt.state.values())
    for p, b in zip(broken.parameters(), before):
        assert torch.equal(torch.nan_to_num(p, nan=7.0), torch.nan_to_num(b, nan=7.0))
