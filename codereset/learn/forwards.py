"""How the update runs rollouts through the model: the forward registry and the plain forward.

Registry `FORWARDS`, lookup `make_forward(name, ...)`; config `trainer.forward`. Every forward
takes the same inputs - the full token ids of each rollout (`Rollout.sequence()`) and the index
of its first trained token (`Rollout.trained_from`) - and gives the same outputs, so the updater
cannot tell them apart except by cost:

- `chunks`: lists of row indices, at most `micro_batch_size` rows each; the updater scores, takes
  the loss of and back-propagates one chunk at a time.
- `score(chunk) -> Scored`: log pi_T and the entropy of every trained token of those rows.
- `backward_shared()`: after the last chunk's backward, propagates the gradients that reached any
  computation shared between chunks (nothing for "plain").
- `forward_tokens`: tokens run through the model so far (padding not counted).

Forwards:
- "plain": each rollout's whole sequence (prompt, reset prefix, suffix), right-padded, in chunks
  sorted by length. The reference in tests.
- "shared_prefix" (default, `codereset.prefix_forward`): each shared prefix (the few-shot prompt,
  a reset prefix) is run once and its keys/values are reused by every rollout that extends it;
  gradients flow through the prefix, so the loss and its gradient equal the plain forward's up to
  float rounding (tests pin 1e-5 relative in fp32).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Sequence

import torch
from torch import Tensor

from codereset.logprobs import collate, score_tokens


@dataclass
class Scored:
    """Trained-token scores of one chunk, (b,T) tensors; row j is rollout `rows[j]`.

    logprobs: log pi_T(y_t | y_<t) (with grad when scored with grad); entropy: of pi_T at t (no
    grad); mask: 1 exactly at trained tokens; start[j]: column of row j's first trained token
    (the trained tokens of row j are columns start[j] .. start[j] + n_j - 1, in order).
    """

    rows: list[int]
    logprobs: Tensor
    entropy: Tensor
    mask: Tensor
    start: list[int]

    def place(self, values: Sequence[Sequence[float] | None]) -> Tensor:
        """Per-row lists of per-trained-token values (one list per row of the chunk, None when
        unknown) -> a (b,T) float32 tensor aligned with `logprobs`, NaN where unknown."""
        out = torch.full(self.logprobs.shape, float("nan"), dtype=torch.float32, device=self.logprobs.device)
        for j, vals in enumerate(values):
            if vals is not None:
                out[j, self.start[j] : self.start[j] + len(vals)] = torch.tensor(list(vals), dtype=torch.float32)
        return out


def _check_rows(sequences: Sequence[Sequence[int]], trained_from: Sequence[int], micro_batch_size: int) -> None:
    if micro_batch_size < 1:
        raise ValueError(f"micro_batch_size must be >= 1, got {micro_batch_size}")
    if len(sequences) != len(trained_from):
        raise ValueError(f"need one trained_from per sequence, got {len(trained_from)} for {len(sequences)}")
    for i, (seq, start) in enumerate(zip(sequences, trained_from)):
        if not 1 <= start < len(seq):
            raise ValueError(f"row {i}: trained_from={start} must be in [1, len(sequence)={len(seq)}) "
                             "(rows without a trained token are not run through the model)")


class PlainForward:
    """Whole sequences, right-padded, `micro_batch_size` rows per chunk sorted by length."""

    def __init__(self, model: Any, sequences: Sequence[Sequence[int]], trained_from: Sequence[int],
                 micro_batch_size: int, temperature: float, pad_id: int) -> None:
        _check_rows(sequences, trained_from, micro_batch_size)
        self.model, self.temperature, self.pad_id = model, temperature, pad_id
        self.sequences = [list(s) for s in sequences]
        self.trained_from = list(trained_from)
        order = sorted(range(len(sequences)), key=lambda i: len(sequences[i]))
        self.chunks = [order[s : s + micro_batch_size] for s in range(0, len(order), micro_batch_size)]
        self.forward_tokens = 0

    def score(self, chunk: Sequence[int]) -> Scored:
        device = next(self.model.parameters()).device
        batch = collate([self.sequences[i] for i in chunk], [self.trained_from[i] for i in chunk],
                        self.pad_id).to(device)
        scores = score_tokens(self.model, batch.input_ids, batch.attention_mask, self.temperature)  # (b,T)
        self.forward_tokens += int(batch.attention_mask.sum())
        return Scored(list(chunk), scores.logprobs, scores.entropy, batch.loss_mask,
                      [self.trained_from[i] for i in chunk])

    def backward_shared(self) -> None:
        """Nothing is shared between chunks."""


def _shared_prefix(*args: Any) -> Any:
    from codereset.prefix_forward import SharedPrefixForward

    return SharedPrefixForward(*args)


FORWARDS: dict[str, Callable[..., Any]] = {"plain": PlainForward, "shared_prefix": _shared_prefix}


def check_forward(name: str, model: Any) -> None:
    """Raise now (at setup) if `name` is unknown or cannot run `model`."""
    if name not in FORWARDS:
        raise ValueError(f"unknown trainer.forward {name!r}; known: {sorted(FORWARDS)}")
    if name == "shared_prefix" and getattr(model, "is_gradient_checkpointing", False):
        raise ValueError(GRADIENT_CHECKPOINTING)


GRADIENT_CHECKPOINTING = ("trainer.forward=shared_prefix needs the model's KV cache, which transformers turns "
                          "off under gradient checkpointing; set trainer.forward=plain or "
                          "model.gradient_checkpointing=false")


def make_forward(name: str, model: Any, sequences: Sequence[Sequence[int]], trained_from: Sequence[int],
                 micro_batch_size: int, temperature: float, pad_id: int) -> Any:
    """The forward registered under `name` over these rows; unknown names raise listing the known."""
    try:
        factory = FORWARDS[name]
    except KeyError:
        raise ValueError(f"unknown trainer.forward {name!r}; known: {sorted(FORWARDS)}") from None
    return factory(model, sequences, trained_from, micro_batch_size, temperature, pad_id)
