"""The HF decoding loop's two memory savers: a KV cache that does not copy itself every step, and
grouped-query attention for one query token without repeating the key/value heads.

Why: decoding one token per row reads the model's weights once per step, but with transformers'
defaults it also copied the whole KV cache twice per layer per step: `DynamicLayer.update` grows it
with `torch.cat`, and `sdpa_attention_forward`, given a padding mask (the loop always left-pads),
repeats every key/value head `num_key_value_groups` times (`repeat_kv`) before attention. At a
step's sequence lengths (a 260-token prompt plus up to 480 generated) those copies outweighed the
weight reads: measured on SmolLM2-135M (9 query heads, 3 KV heads), 1 CPU thread, 16 rows of 700
tokens: 712 ms a decode step with the defaults, 236 ms with both savers, the same greedy tokens.

- `preallocate(cache, room)`: turns each layer of a filled `DynamicCache` into a `RoomyLayer`,
  which keeps keys/values in a buffer with `room` free positions and returns views of its filled
  part; a full buffer, or one replaced by `batch_select_indices` (finished rows dropped), is
  reallocated with room again (one copy per `room` steps instead of one per step).
- `decode_attention(model)`: while active, the model's attention runs `gqa_attention`: for one
  query token, the query heads of each KV head are folded into the query-length axis
  ([b, h, 1, d] -> [b, kv, h/kv, d]) and attend to the unrepeated keys/values, which is the same
  computation as repeating the KV heads; prompts (more than one query token) go to transformers'
  own sdpa. Only a model running "sdpa" is switched; its setting is restored on exit.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Iterator

import torch
import torch.nn.functional as F
from transformers.cache_utils import DynamicLayer

ATTENTION = "codereset_gqa_decode"


class RoomyLayer(DynamicLayer):
    """A `DynamicLayer` whose keys/values are views of a buffer with free room (module docstring).
    `room`: free positions to allocate beyond the filled ones (set by `preallocate`)."""

    room: int = 64

    def update(self, key_states: torch.Tensor, value_states: torch.Tensor, *args: Any,
               **kwargs: Any) -> tuple[torch.Tensor, torch.Tensor]:
        if not self.is_initialized or self.keys.numel() == 0:
            return super().update(key_states, value_states, *args, **kwargs)
        filled, add = self.keys.shape[-2], key_states.shape[-2]
        buf = self.__dict__.get("_key_buffer")
        if (buf is None or buf.data_ptr() != self.keys.data_ptr() or buf.shape[:-2] != self.keys.shape[:-2]
                or filled + add > buf.shape[-2]):
            shape = (*self.keys.shape[:-2], filled + max(self.room, add), self.keys.shape[-1])
            self._key_buffer, self._value_buffer = self.keys.new_empty(shape), self.values.new_empty(shape)
            self._key_buffer[..., :filled, :] = self.keys
            self._value_buffer[..., :filled, :] = self.values
        self._key_buffer[..., filled:filled + add, :] = key_states
        self._value_buffer[..., filled:filled + add, :] = value_states
        self.keys = self._key_buffer[..., :filled + add, :]
        self.values = self._value_buffer[..., :filled + add, :]
        return self.keys, self.values


def preallocate(cache: Any, room: int) -> bool:
    """Make every plain `DynamicLayer` of `cache` a `RoomyLayer` with `room` free positions;
    False (nothing changed) for a cache without such layers (another cache type)."""
    layers = getattr(cache, "layers", None)
    if not layers or any(type(layer) not in (DynamicLayer, RoomyLayer) for layer in layers):
        return False
    for layer in layers:
        layer.__class__ = RoomyLayer
        layer.room = max(1, int(room))
    return True


def gqa_attention(module: Any, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor,
                  attention_mask: torch.Tensor | None, dropout: float = 0.0, scaling: float | None = None,
                  is_causal: bool | None = None, **kwargs: Any) -> tuple[torch.Tensor, None]:
    """Attention for one query token without repeating KV heads (module docstring); anything
    else goes to transformers' sdpa attention unchanged."""
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    groups = int(getattr(module, "num_key_value_groups", 1))
    b, heads, q_len, dim = query.shape
    if groups == 1 or q_len != 1 or key.shape[1] * groups != heads:
        return sdpa_attention_forward(module, query, key, value, attention_mask, dropout=dropout,
                                      scaling=scaling, is_causal=is_causal, **kwargs)
    # query head k * groups + g uses KV head k (repeat_kv's layout); the mask [b, 1, 1, T]
    # broadcasts over (KV head, group)
    out = F.scaled_dot_product_attention(query.reshape(b, heads // groups, groups, dim), key, value,
                                         attn_mask=attention_mask, scale=scaling)
    return out.reshape(b, heads, 1, dim).transpose(1, 2).contiguous(), None


def _register() -> bool:
    try:
        from transformers import AttentionInterface
        from transformers.masking_utils import AttentionMaskInterface, sdpa_mask
    except ImportError:  # a transformers without attention registries: keep its own attention
        return False
    AttentionInterface.register(ATTENTION, gqa_attention)
    AttentionMaskInterface.register(ATTENTION, sdpa_mask)
    return True


_REGISTERED = _register()


@contextmanager
def decode_attention(model: Any) -> Iterator[bool]:
    """Run `model`'s attention through `gqa_attention` inside the block (yields True), when the
    model runs transformers' "sdpa" attention and the registries exist; else leaves it (False)."""
    config = getattr(model, "config", None)
    before = getattr(config, "_attn_implementation", None)
    if not _REGISTERED or before != "sdpa":
        yield False
        return
    config._attn_implementation = ATTENTION
    try:
        yield True
    finally:
        config._attn_implementation = before
