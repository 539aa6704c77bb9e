"""Token log-probs, the trained-token mask at the exact prefix boundary, and the loss on a tiny model."""

import pytest
import torch

from codereset.learn.logprobs import collate, position_ids_from_mask, resolve_temperature, score_tokens, token_logprobs
from codereset.learn.losses import LossConfig, pg_loss
from codereset.models import ModelConfig, load_model


@pytest.fixture(scope="module")
def tiny():
    model, tok = load_model(ModelConfig(name="tiny", tokenizer="bytes", device="cpu"))
    return model, tok


def _reference_logprobs(model, seq):
    """log pi(seq[t] | seq[:t]) for t >= 1 from one unpadded forward, as a python list."""
    with torch.no_grad():
        logits = model(torch.tensor([seq])).logits[0]
    logp = torch.log_softmax(logits.double(), dim=-1)
    return [0.0] + [logp[t - 1, seq[t]].item() for t in range(1, len(seq))]


def test_collate_mask_is_exactly_the_suffix():
    batch = collate([[5, 6, 7, 8, 9], [1, 2, 3]], trained_from=[3, 1], pad_id=0)
    assert batch.input_ids.tolist() == [[5, 6, 7, 8, 9], [1, 2, 3, 0, 0]]
    assert batch.attention_mask.tolist() == [[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]]
    assert batch.loss_mask.tolist() == [[0, 0, 0, 1, 1], [0, 1, 1, 0, 0]]


def test_collate_nothing_trained_and_bad_boundaries():
    assert collate([[1, 2]], trained_from=[2], pad_id=0).loss_mask.tolist() == [[0, 0]]
    with pytest.raises(ValueError, match="trained_from"):
        collate([[1, 2]], trained_from=[0], pad_id=0)
    with pytest.raises(ValueError, match="trained_from"):
        collate([[1, 2]], trained_from=[3], pad_id=0)
    with pytest.raises(ValueError):
        collate([[1, 2]], trained_from=[1, 1], pad_id=0)


def test_position_ids_follow_the_mask():
    mask = torch.tensor([[0, 0, 1, 1, 1], [1, 1, 1, 0, 0]])
    assert position_ids_from_mask(mask).tolist() == [[0, 0, 0, 1, 2], [0, 1, 2, 2, 2]]


def test_token_logprobs_match_unpadded_reference(tiny):
    model, _ = tiny
    seqs = [[10, 20, 30, 40, 50, 60], [7, 8, 9]]
    batch = collate(seqs, trained_from=[1, 1], pad_id=258)
    out = token_logprobs(model, batch.input_ids, batch.attention_mask)
    assert out.shape == (2, 6) and out.dtype == torch.float32
    for i, seq in enumerate(seqs):
        assert out[i, : len(seq)].tolist() == pytest.approx(_reference_logprobs(model, seq), abs=1e-5)
    assert out[1, 3:].tolist() == [0.0, 0.0, 0.0]  # padding


def test_token_logprobs_same_with_left_padding(tiny):
    model, _ = tiny
    seq = [3, 1, 4, 1, 5, 9, 2, 6]
    ids = torch.tensor([[258, 258, 258] + seq])
    mask = torch.tensor([[0, 0, 0] + [1] * len(seq)])
    out = token_logprobs(model, ids, mask)[0, 3:]
    assert out.tolist() == pytest.approx(_reference_logprobs(model, seq), abs=1e-5)


def test_pg_loss_on_tiny_model_against_hand_computation(tiny):
    """Prompt+prefix tokens are masked; only the suffix after the boundary is trained."""
    model, _ = tiny
    seqs = [[11, 12, 13, 14, 15, 16, 17], [21, 22, 23, 24]]
    trained_from = [4, 2]  # e.g. prompt(3)+reset prefix(1) | prompt(2)
    adv = torch.tensor([1.5, -0.5])
    batch = collate(seqs, trained_from, pad_id=258)
    logp = token_logprobs(model, batch.input_ids, batch.attention_mask)
    loss, stats = pg_loss(logp, None, adv, batch.loss_mask, LossConfig())
    expected = 0.0
    for seq, start, a in zip(seqs, trained_from, adv.tolist()):
        ref = _reference_logprobs(model, seq)
        suffix = ref[start:]
        expected += a * sum(suffix) / len(suffix)
    expected = -expected / len(seqs)
    assert loss.item() == pytest.approx(expected, abs=1e-5)
    assert stats["tokens"] == (7 - 4) + (4 - 2)


def test_gradient_stops_exactly_at_the_boundary(tiny):
    model, _ = tiny
    batch = collate([[11, 12, 13, 14, 15, 16]], trained_from=[3], pad_id=258)
    logp = token_logprobs(model, batch.input_ids, batch.attention_mask)
    logp.retain_grad()
    loss, _ = pg_loss(logp, None, torch.tensor([1.0]), batch.loss_mask, LossConfig())
    loss.backward()
    grad = logp.grad[0].tolist()
    assert grad[:3] == [0.0, 0.0, 0.0]  # prompt/prefix tokens, up to and including index 2
    assert all(g == pytest.approx(-1 / 3) for g in grad[3:])  # first trained token is index 3
    params = [p for p in model.parameters() if p.grad is not None]
    assert params and any(p.grad.abs().sum() > 0 for p in params)
    model.zero_grad(set_to_none=True)


def test_shape_mismatch_raises(tiny):
    model, _ = tiny
    with pytest.raises(ValueError, match="same"):
        token_logprobs(model, torch.ones(2, 3, dtype=torch.long), torch.ones(2, 4, dtype=torch.long))


def test_tempered_logprobs_are_the_log_softmax_of_scaled_logits(tiny):
    model, _ = tiny
    seq = [3, 1, 4, 1, 5, 9, 2, 6]
    ids = torch.tensor([seq])
    with torch.no_grad():
        logits = model(ids).logits[0].double()
        for t in (0.5, 0.7, 2.0):
            ref = torch.log_softmax(logits / t, dim=-1)
            want = [0.0] + [ref[i - 1, seq[i]].item() for i in range(1, len(seq))]
            assert token_logprobs(model, ids, torch.ones_like(ids), temperature=t)[0].tolist() == \
                pytest.approx(want, abs=1e-5)
            p = torch.softmax(logits / t, dim=-1)
            ent = score_tokens(model, ids, torch.ones_like(ids), temperature=t).entropy[0, 1:]
            assert ent.tolist() == pytest.approx((-(p * p.log()).sum(-1))[:-1].tolist(), abs=1e-5)


def test_resolve_temperature():
    assert resolve_temperature("sampling", 0.7) == 0.7
    assert resolve_temperature("sampling", 0.0) == 1.0   # greedy sampling: untempered
    assert resolve_temperature("1.0", 0.7) == 1.0 and resolve_temperature(0.5, 0.7) == 0.5
    for bad in ("hot", "0", "-1", "nan"):
        with pytest.raises(ValueError, match="logprob_temperature"):
            resolve_temperature(bad, 0.7)
