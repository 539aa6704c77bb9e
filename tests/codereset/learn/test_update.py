"""The policy update: per-group advantages, the loss against a hand computation on a tiny model,
exact equivalence of the zero-advantage shortcut, of micro-batching and of the shared-prefix
forward, the NaN guard, mini-batched optimizer steps, the logged loss terms (logprob_gap against
sampler log-probs, ratios, entropy) and infrastructure failures kept out of the gradient."""

import copy
import math

import pytest
import torch
from scripted_policy import make_task

from codereset.rollouts.buffer import Group
from codereset.learn.logprobs import token_logprobs
from codereset.learn.losses import LossConfig
from codereset.models import ModelConfig, load_model
from codereset.rollouts.rollout import Rollout
from codereset.learn.update import PolicyUpdater, assign_advantages, sampler_logprobs, split_mini_batches
from envs.verify import Outcome


class Scored:
    def __init__(self, reward, status="ok"):
        self.reward = reward
        self.outcome = Outcome(reward, reward == 1.0, status)


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


def delta(model, rs, advs, micro, clip=1.0, forward="shared_prefix"):
    model = copy.deepcopy(model)
    before = [p.detach().clone() for p in model.parameters()]
    opt = torch.optim.SGD(model.parameters(), lr=1.0)
    result = PolicyUpdater(model, opt, LossConfig(), micro, clip, 258, forward=forward).step(rs, advs)
    return [p.detach() - b for p, b in zip(model.parameters(), before)], result


def test_micro_batching_and_zero_advantage_skipping_give_the_reference_update(tiny):
    model, _ = tiny
    rs, advs = rollouts(), [1.5, -0.5, 0.0, -1.0]
    # reference: the whole batch (zero-advantage rollout included) in one pass, clipped to 1.0
    ref = copy.deepcopy(model)
    from codereset.learn.logprobs import collate
    from codereset.learn.losses import pg_loss

    batch = collate([r.sequence() for r in rs], [r.trained_from for r in rs], 258)
    lp = token_logprobs(ref, batch.input_ids, batch.attention_mask)
    loss, _ = pg_loss(lp, None, torch.tensor(advs), batch.loss_mask, LossConfig())
    loss.backward()
    norm = torch.nn.utils.clip_grad_norm_(list(ref.parameters()), 1.0)
    ref_delta = [-p.grad for p in ref.parameters()]
    for micro in (1, 3, 8):
        for forward in ("plain", "shared_prefix"):
            d, result = delta(model, rs, advs, micro, forward=forward)
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


# -- mini-batches, logged terms, infrastructure failures -------------------------------------
def with_sampler_logprobs(model, rs, temperature=1.0, shift=None):
    """Set each rollout's seg_logprobs to the model's own log-probs at `temperature` (what an exact
    sampler with these weights reports); shift: {(rollout, token): delta} perturbs some."""
    for k, r in enumerate(rs):
        ids = torch.tensor([r.sequence()])
        with torch.no_grad():
            lp = token_logprobs(model, ids, torch.ones_like(ids), temperature=temperature)[0, r.trained_from:].tolist()
        for (i, t), d in (shift or {}).items():
            if i == k:
                lp[t] += d
        segs, pos = [], 0
        for seg in r.segments[r.prefix_len:]:
            segs.append(lp[pos : pos + len(seg)])
            pos += len(seg)
        r.seg_logprobs = [None] * r.prefix_len + segs
        r.eos_logprob = lp[pos] if r.ended_with_eos else None
    return rs


def test_split_mini_batches_keeps_prompts_whole_and_in_order():
    prompts = [["a1", "a2"], ["b1"], ["c1", "c2", "c3"], ["d1"], ["e1"]]
    assert split_mini_batches(prompts, 1) == [["a1", "a2", "b1", "c1", "c2", "c3", "d1", "e1"]]
    assert split_mini_batches(prompts, 2) == [["a1", "a2", "b1", "c1", "c2", "c3"], ["d1", "e1"]]
    assert split_mini_batches(prompts, 5) == [["a1", "a2"], ["b1"], ["c1", "c2", "c3"], ["d1"], ["e1"]]
    with pytest.raises(ValueError, match="at least 6 prompts"):
        split_mini_batches(prompts, 6)
    with pytest.raises(ValueError, match=">= 1"):
        split_mini_batches(prompts, 0)


def test_sampler_logprobs_line_up_with_the_trained_tokens(tiny):
    model, _ = tiny
    rs = with_sampler_logprobs(model, rollouts())
    for r in rs:
        assert len(sampler_logprobs(r)) == r.generated_tokens
    eos = rs[2]
    eos.seg_logprobs, eos.eos_logprob = [[-0.5]], None   # the backend gave no value for the EOS
    assert sampler_logprobs(eos) == [-0.5, None]
    eos.seg_logprobs = [[-0.5, -0.25]]                   # more values than tokens: a backend bug
    with pytest.raises(ValueError, match="sampler log-probs"):
        sampler_logprobs(eos)
    assert sampler_logprobs(rollouts()[0]) is None


def test_logprob_gap_measures_the_trainer_sampler_difference(tiny):
    model, _ = tiny
    advs = [1.5, -0.5, 0.7, -1.0]
    for temperature in (1.0, 0.7):
        rs = with_sampler_logprobs(model, rollouts(), temperature)
        opt = torch.optim.SGD(model.parameters(), lr=0.0)
        up = PolicyUpdater(copy.deepcopy(model), opt, LossConfig(), 2, 1.0, 258, sampling_temperature=temperature)
        m = up.step(rs, advs).metrics()
        assert m["logprob_gap"] < 1e-5 and m["logprob_gap_max"] < 1e-5
        assert m["ratio_mean"] == pytest.approx(1.0, abs=1e-5) and m["clip_frac"] == 0.0
    # the sampler at T=1 while the trainer scores at the sampling temperature 0.7: a real gap
    rs = with_sampler_logprobs(model, rollouts(), 1.0)
    up = PolicyUpdater(copy.deepcopy(model), torch.optim.SGD(model.parameters(), lr=0.0), LossConfig(), 2, 1.0,
                       258, sampling_temperature=0.7)
    assert up.step(rs, advs).metrics()["logprob_gap"] > 1e-2
    # one perturbed token out of 17: the mean is delta / 17, the max delta
    rs = with_sampler_logprobs(model, rollouts(), 1.0, shift={(3, 2): 0.25})
    up = PolicyUpdater(copy.deepcopy(model), torch.optim.SGD(model.parameters(), lr=0.0), LossConfig(), 2, 1.0, 258)
    m = up.step(rs, advs).metrics()
    assert m["logprob_gap_max"] == pytest.approx(0.25, abs=1e-5)
    assert m["logprob_gap"] == pytest.approx(0.25 / 17, abs=1e-5)
    assert m["approx_kl"] > 0


def test_logged_terms_against_a_hand_computation(tiny):
    model, _ = tiny
    rs, advs = rollouts(), [1.5, -0.5, 0.0, -1.0]
    up = PolicyUpdater(copy.deepcopy(model), torch.optim.SGD(model.parameters(), lr=0.0), LossConfig(), 2, 1.0,
                       258, sampling_temperature=0.5)
    m = up.step(rs, advs).metrics()
    entropies = []
    for r in (rs[0], rs[1], rs[3]):  # the zero-advantage rollout is not run through the model
        with torch.no_grad():
            logits = model(torch.tensor([r.sequence()])).logits[0, r.trained_from - 1 : -1].double() / 0.5
        p = torch.softmax(logits, -1)
        entropies += (-(p * torch.log(p)).sum(-1)).tolist()
    assert m["token_entropy"] == pytest.approx(sum(entropies) / len(entropies), rel=1e-5)
    assert m["advantage_abs_mean"] == pytest.approx(3.0 / 4) and m["zero_advantage_frac"] == 0.25
    assert m["logprob_gap"] is None and m["ratio_mean"] is None  # no sampler log-probs
    assert m["rollouts_infra_failed"] == 0 and m["mini_batches"] == 1
    seq_tokens = sum(len(r.sequence()) for r in (rs[0], rs[1], rs[3]))
    assert m["forward_tokens"] < seq_tokens   # the prompt [5, 6] of task 0 ran once
    assert m["forward_tokens_per_trained_token"] == pytest.approx(m["forward_tokens"] / (5 + 4 + 6))


def test_tempered_logprobs_train_under_the_sampled_distribution(tiny):
    """'sampling' scores at the sampling temperature; a number overrides it; 1.0 is untempered."""
    model, _ = tiny
    rs, advs = rollouts(), [1.5, -0.5, 0.0, -1.0]
    losses = {}
    for setting, sampling in (("sampling", 0.7), ("0.7", 1.0), ("1.0", 0.7), ("sampling", 1.0)):
        up = PolicyUpdater(copy.deepcopy(model), torch.optim.SGD(model.parameters(), lr=0.0),
                           LossConfig(logprob_temperature=setting), 2, 1.0, 258, sampling_temperature=sampling)
        losses[(setting, sampling)] = up.step(rs, advs).loss
    hand = 0.0
    for r, a in zip(rs, advs):
        with torch.no_grad():
            logits = model(torch.tensor([r.sequence()])).logits[0].double() / 0.7
        lp = torch.log_softmax(logits, -1)
        tail = r.sequence()[r.trained_from:]
        hand += a * sum(lp[r.trained_from - 1 + t, tok].item() for t, tok in enumerate(tail)) / len(tail)
    assert losses[("sampling", 0.7)] == pytest.approx(-hand / 4, abs=1e-6)
    assert losses[("0.7", 1.0)] == pytest.approx(losses[("sampling", 0.7)], abs=1e-7)
    assert losses[("1.0", 0.7)] == pytest.approx(losses[("sampling", 1.0)], abs=1e-7)
    assert losses[("1.0", 0.7)] == pytest.approx(hand_loss(model, rs, advs), abs=1e-6)
    assert abs(losses[("1.0", 0.7)] - losses[("sampling", 0.7)]) > 1e-3


def test_the_second_mini_batch_sees_ratios_off_one(tiny):
    """Two mini-batches with the sampler's log-probs as old ones: the first step is on-policy
    (ratio 1), the second runs after the first step changed the weights (ratio != 1), and the
    whole update equals the two steps done by hand."""
    model, _ = tiny
    advs = [1.5, -0.5, 0.7, -1.0]
    cfg = LossConfig(name="clipped", clip_eps=0.01)
    rs = with_sampler_logprobs(model, rollouts())
    first, second = (rs[:2], advs[:2]), (rs[2:], advs[2:])

    by_hand = copy.deepcopy(model)
    up = PolicyUpdater(by_hand, torch.optim.SGD(by_hand.parameters(), lr=0.5), cfg, 8, 0.0, 258)
    one = up.step(*first).metrics()
    two = up.step(*second).metrics()
    assert one["ratio_mean"] == pytest.approx(1.0, abs=1e-5) and one["clip_frac"] == 0.0
    assert abs(two["ratio_mean"] - 1.0) > 1e-3 and two["clip_frac"] > 0 and two["approx_kl"] > 0

    merged = copy.deepcopy(model)
    up = PolicyUpdater(merged, torch.optim.SGD(merged.parameters(), lr=0.5), cfg, 8, 0.0, 258)
    result = up.update([first, second])
    for x, y in zip(merged.parameters(), by_hand.parameters()):
        assert torch.allclose(x, y, atol=1e-6)
    m = result.metrics()
    assert m["mini_batches"] == 2 and result.rollouts == 4 and not result.skipped
    assert m["clip_frac"] == pytest.approx((one["clip_frac"] * 9 + two["clip_frac"] * 8) / 17)
    # the gap is measured on the first mini-batch only (the weights that sampled)
    assert m["logprob_gap"] == pytest.approx(one["logprob_gap"])


def test_old_logprobs_are_fixed_before_the_first_step_without_sampler_values(tiny):
    """Without sampler log-probs the clipped loss re-scores every mini-batch under the pre-update
    weights: the same update as with exact sampler log-probs."""
    model, _ = tiny
    advs = [1.5, -0.5, 0.7, -1.0]
    cfg = LossConfig(name="clipped", clip_eps=0.01)
    deltas = []
    for rs in (rollouts(), with_sampler_logprobs(model, rollouts())):
        m = copy.deepcopy(model)
        result = PolicyUpdater(m, torch.optim.SGD(m.parameters(), lr=0.5), cfg, 8, 0.0, 258).update(
            [(rs[:2], advs[:2]), (rs[2:], advs[2:])])
        deltas.append([p.detach().clone() for p in m.parameters()])
        assert result.metrics()["clip_frac"] > 0
    for x, y in zip(*deltas):
        assert torch.allclose(x, y, atol=1e-6)


def test_infrastructure_failures_never_train(tiny):
    """A rollout whose verification is a sandbox error is out of its group's normalization and out
    of the batch: the update is the one without it, and it is counted."""
    model, _ = tiny
    good = Group("base", [Scored(1.0), Scored(0.0), Scored(0.0)])
    broken = Group("base", [Scored(1.0), Scored(0.0), Scored(0.0), Scored(0.0, "sandbox_error")])
    assign_advantages([good, broken], "group_norm")
    assert broken.advantages == pytest.approx(good.advantages + [0.0])

    rs = rollouts()
    for r, reward in zip(rs, (1.0, 0.0, 0.0, 0.5)):
        r.outcome = Outcome(reward, reward == 1.0, "ok")
    rs[1].outcome = Outcome(0.0, False, "sandbox_error")
    advs = [1.0, -1.0, 0.5, -0.5]
    d, result = delta(model, rs, advs, 2)
    ref, ref_result = delta(model, [rs[0], rs[2], rs[3]], [1.0, 0.5, -0.5], 2)
    for x, y in zip(d, ref):
        assert torch.allclose(x, y, atol=1e-7)
    assert (result.rollouts, result.infra_failed) == (3, 1)
    assert result.metrics()["rollouts_infra_failed"] == 1 and result.loss == pytest.approx(ref_result.loss)
