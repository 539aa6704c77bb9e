"""The HF loop's KV cache with room and its one-token grouped-query attention (`hf_cache`): the
same numbers as transformers' own cache and sdpa attention, and the same tokens end to end."""

import pytest
import torch
from transformers.cache_utils import DynamicLayer
from transformers.integrations.sdpa_attention import sdpa_attention_forward

from codereset.generation import Sampling
from codereset.generation.hf import HFBackend, HFConfig
from codereset.generation.hf_cache import RoomyLayer, decode_attention, gqa_attention, preallocate
from codereset.models import ModelConfig, load_model


def _kv(rows, length, seed):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(rows, 2, length, 8, generator=g), torch.randn(rows, 2, length, 8, generator=g)


def test_a_roomy_layer_holds_what_a_dynamic_layer_holds_through_growth_and_row_drops():
    plain, roomy = DynamicLayer(), DynamicLayer()
    k, v = _kv(3, 5, 0)
    plain.update(k, v)
    roomy.update(k, v)
    roomy.__class__ = RoomyLayer
    roomy.room = 2  # reallocates every 2 steps
    for step in range(7):
        if step == 3:  # finished rows leave the batch (DynamicCache.batch_select_indices)
            for layer in (plain, roomy):
                layer.batch_select_indices(torch.tensor([0, 2]))
        k, v = _kv(plain.keys.shape[0], 1, step + 1)
        want, got = plain.update(k, v), roomy.update(k, v)
        assert torch.equal(want[0], got[0]) and torch.equal(want[1], got[1])
        assert roomy.get_seq_length() == plain.get_seq_length() == 6 + step
    assert roomy._key_buffer.shape[-2] >= roomy.keys.shape[-2]


def test_preallocate_leaves_other_cache_types_alone():
    class Other:
        layers = [object()]

    assert preallocate(Other(), 8) is False
    assert preallocate(object(), 8) is False


class _Attention(torch.nn.Module):
    num_key_value_groups = 3


@pytest.mark.parametrize("masked", [True, False])
def test_one_token_gqa_attention_equals_sdpa_with_repeated_heads(masked):
    g = torch.Generator().manual_seed(0)
    q = torch.randn(4, 6, 1, 16, generator=g)
    k, v = torch.randn(4, 2, 9, 16, generator=g), torch.randn(4, 2, 9, 16, generator=g)
    mask = None
    if masked:  # left padding: row r ignores its first r positions
        mask = (torch.arange(9)[None, :] >= torch.arange(4)[:, None])[:, None, None, :]
    want, _ = sdpa_attention_forward(_Attention(), q, k, v, mask, scaling=0.25)
    got, _ = gqa_attention(_Attention(), q, k, v, mask, scaling=0.25)
    assert got.shape == want.shape == (4, 1, 6, 16)
    assert torch.allclose(got, want, atol=1e-6)


@pytest.fixture(scope="module")
def tiny():
    return load_model(ModelConfig(name="tiny", device="cpu"))


def test_fast_decode_gives_the_same_continuations_and_restores_the_attention(tiny):
    model, tk = tiny
    assert model.config.num_key_value_heads < model.config.num_attention_heads  # grouped-query
    prefixes = [tk(t, add_special_tokens=False)["input_ids"] for t in ("Hi", "A longer prompt than the first one")]
    out = {}
    for fast in (False, True):
        be = HFBackend(model, tk, HFConfig(fast_decode=fast))
        greedy = be.generate(prefixes, 2, Sampling(temperature=0.0, max_new_tokens=40))
        sampled = be.generate(prefixes, 3, Sampling(temperature=1.0, top_p=0.9, max_new_tokens=30, seed=5),
                              stop=["e"])
        out[fast] = (greedy, sampled)
        assert model.config._attn_implementation == "sdpa"
    for slow_group, fast_group in zip(out[False][0] + out[False][1], out[True][0] + out[True][1], strict=True):
        for a, b in zip(slow_group, fast_group, strict=True):
            assert (a.token_ids, a.finish_reason) == (b.token_ids, b.finish_reason)
            assert a.logprobs == pytest.approx(b.logprobs, abs=1e-5)


def test_decode_attention_is_restored_after_an_error(tiny):
    model, _ = tiny
    with pytest.raises(RuntimeError, match="boom"):
        with decode_attention(model) as switched:
            assert switched and model.config._attn_implementation != "sdpa"
            raise RuntimeError("boom")
    assert model.config._attn_implementation == "sdpa"
