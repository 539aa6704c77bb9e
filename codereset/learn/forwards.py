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
- "shared_prefix" (default, `codereset.learn.prefix_forward`): each shared prefix (the few-shot prompt,
  a reset prefix) is run once and its keys/values are reused by every rollout that extends it;
  gradients flow through the prefix, so the loss and its gradient equal the plain forward's up to
  float rounding (tests pin 1e-5 relative in fp32).
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import torch
from torch import Tensor

from codereset.learn.logprobs import collate, score_tokens
from codereset.learn.prefix_forward import SharedPrefixForward
from codereset.learn.scored import GRADIENT_CHECKPOINTING, Scored, check_rows


class PlainForward:
    """Whole sequences, right-padded, `micro_batch_size` rows per chunk sorted by length."""

    def __init__(self, model: Any, sequences: Sequence[Sequence[int]], trained_from: Sequence[int],
                 micro_batch_size: int, temperature: float, pad_id: int) -> None:
        check_rows(sequences, trained_from, micro_batch_size)
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


FORWARDS: dict[str, Callable[..., Any]] = {"plain": PlainForward, "shared_prefix": SharedPrefixForward}


def check_forward(name: str, model: Any) -> None:
    """Raise now (at setup) if `name` is unknown or cannot run `model`."""
    if name not in FORWARDS:
        raise ValueError(f"unknown trainer.forward {name!r}; known: {sorted(FORWARDS)}")
    if name == "shared_prefix" and getattr(model, "is_gradient_checkpointing", False):
        raise ValueError(GRADIENT_CHECKPOINTING)


def make_forward(name: str, model: Any, sequences: Sequence[Sequence[int]], trained_from: Sequence[int],
                 micro_batch_size: int, temperature: float, pad_id: int) -> Any:
    """The forward registered under `name` over these rows; unknown names raise listing the known."""
    try:
        factory = FORWARDS[name]
    except KeyError:
        raise ValueError(f"unknown trainer.forward {name!r}; known: {sorted(FORWARDS)}") from None
    return factory(model, sequences, trained_from, micro_batch_size, temperature, pad_id)
