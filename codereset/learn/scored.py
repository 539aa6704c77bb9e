"""What every update forward (`codereset.learn.forwards`) shares: its output `Scored`, the check of
its input rows, and the gradient-checkpointing message.

Kept apart from both forwards so `forwards.py` (the registry and the plain forward) and
`prefix_forward.py` (the shared-prefix forward) each import it and neither imports the other's
internals: the registry imports the shared-prefix forward, never the other way round.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch
from torch import Tensor


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


def check_rows(sequences: Sequence[Sequence[int]], trained_from: Sequence[int], micro_batch_size: int) -> None:
    """Raise unless every row has a trained token and `micro_batch_size` >= 1 (every forward's input check)."""
    if micro_batch_size < 1:
        raise ValueError(f"micro_batch_size must be >= 1, got {micro_batch_size}")
    if len(sequences) != len(trained_from):
        raise ValueError(f"need one trained_from per sequence, got {len(trained_from)} for {len(sequences)}")
    for i, (seq, start) in enumerate(zip(sequences, trained_from)):
        if not 1 <= start < len(seq):
            raise ValueError(f"row {i}: trained_from={start} must be in [1, len(sequence)={len(seq)}) "
                             "(rows without a trained token are not run through the model)")


GRADIENT_CHECKPOINTING = ("trainer.forward=shared_prefix needs the model's KV cache, which transformers turns "
                          "off under gradient checkpointing; set trainer.forward=plain or "
                          "model.gradient_checkpointing=false")
