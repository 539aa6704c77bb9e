"""Token log-probabilities of sequences under a causal LM, and the padded batch they come in.

- `collate(sequences, trained_from, pad_id)` -> `TokenBatch` of (B,T) tensors: right-padded
  `input_ids`, `attention_mask`, and `loss_mask` with 1 exactly at positions
  trained_from[i] <= t < len(sequences[i]) (a rollout's trained suffix; the prompt and any reset
  prefix before it are 0).
- `token_logprobs(model, input_ids, attention_mask, temperature=1.0)` -> (B,T) float32 where
  out[i, t] = log pi_T(input_ids[i, t] | input_ids[i, :t]) for t >= 1 and out[i, 0] = 0; 0 at
  padding and at a left-padded row's first real token (it has no context either). Position ids are
  recomputed from the attention mask (cumsum - 1), the same rule Hugging Face `generate` uses with
  left padding, so a sequence gets the same log-probs whether it was padded left, right or not at
  all. `score_tokens` returns the same log-probs with each position's entropy.
- `score_logits(logits, targets, temperature)`: the one place logits become log-probs and
  entropies (used by the plain forward here and by `codereset.learn.prefix_forward`).

Temperature (issue 13): pi_T = softmax(logits / T). The trainer scores trained tokens under the
distribution they were sampled from, as TRL's GRPOTrainer, verl's actor, NeMo-RL and torchtune do:
`LossConfig.logprob_temperature` "sampling" (default) divides by the sampling temperature
(`resolve_temperature`), a number fixes T (1.0 = the untempered policy, the behaviour before).
Top-p truncation is not applied: the log-probs are over the full vocabulary.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence

import torch
from torch import Tensor


@dataclass
class TokenBatch:
    """Right-padded (B,T) tensors for one forward pass.

    input_ids: token ids, padded with pad_id.
    attention_mask: 1 on real tokens, 0 on padding.
    loss_mask: 1 on the tokens that are trained (see `collate`).
    """

    input_ids: Tensor
    attention_mask: Tensor
    loss_mask: Tensor

    def to(self, device: Any) -> "TokenBatch":
        return TokenBatch(self.input_ids.to(device), self.attention_mask.to(device), self.loss_mask.to(device))


def collate(sequences: Sequence[Sequence[int]], trained_from: Sequence[int], pad_id: int) -> TokenBatch:
    """Pad `sequences` (full token ids: prompt + prefix + generated suffix) on the right.

    trained_from[i]: index in sequences[i] of its first trained token, i.e. len(prompt ids) plus
    len(reset-prefix ids). Must satisfy 1 <= trained_from[i] <= len(sequences[i]) (position 0 has
    no log-prob; equality means nothing is trained).
    """
    if len(sequences) != len(trained_from) or not sequences:
        raise ValueError(f"need one trained_from per sequence (got {len(sequences)} sequences, "
                         f"{len(trained_from)} trained_from) and at least one sequence")
    width = max(len(s) for s in sequences)
    ids = torch.full((len(sequences), width), int(pad_id), dtype=torch.long)
    attn = torch.zeros((len(sequences), width), dtype=torch.long)
    loss_mask = torch.zeros((len(sequences), width), dtype=torch.float32)
    for i, (seq, start) in enumerate(zip(sequences, trained_from)):
        if not 1 <= start <= len(seq):
            raise ValueError(f"sequence {i}: trained_from={start} must be in [1, len(sequence)={len(seq)}]")
        ids[i, : len(seq)] = torch.as_tensor(list(seq), dtype=torch.long)
        attn[i, : len(seq)] = 1
        loss_mask[i, start : len(seq)] = 1.0
    return TokenBatch(ids, attn, loss_mask)


def position_ids_from_mask(attention_mask: Tensor) -> Tensor:
    """(B,T) -> (B,T): 0,1,2,... over each row's real tokens (padding gets 0 / the last value)."""
    pos = attention_mask.long().cumsum(dim=1) - 1
    return pos.clamp(min=0)


SAMPLING = "sampling"


def resolve_temperature(setting: str | float, sampling_temperature: float) -> float:
    """The temperature log-probs are taken at: `setting` "sampling" -> the sampling temperature
    (greedy sampling, T=0, has no tempered distribution: 1.0), else `setting` as a number > 0."""
    if str(setting).strip().lower() == SAMPLING:
        return float(sampling_temperature) if sampling_temperature > 0 else 1.0
    try:
        value = float(setting)
    except (TypeError, ValueError):
        value = math.nan
    if not value > 0 or not math.isfinite(value):
        raise ValueError(f"loss.logprob_temperature must be 'sampling' or a number > 0 (1.0 = untempered "
                         f"logits), got {setting!r}")
    return value


@dataclass
class TokenScores:
    """Per-position scores of one forward pass, (B,T) float32 each.

    logprobs: log pi_T of each target token (with grad when computed with grad).
    entropy: entropy of pi_T at the position that predicts it (no grad).
    """

    logprobs: Tensor
    entropy: Tensor


def score_logits(logits: Tensor, targets: Tensor, temperature: float = 1.0, chunk_rows: int = 4) -> TokenScores:
    """(B,T,V) logits, (B,T) targets -> log pi_T(targets) and entropies, (B,T) float32.

    logits[:, t] is the prediction for targets[:, t]. The log-softmax is taken `chunk_rows` rows at
    a time in float32 so no second (B,T,V) float32 copy of the logits is held at once.
    """
    logps, ents = [], []
    for s in range(0, logits.shape[0], chunk_rows):
        lg = logits[s : s + chunk_rows].float()  # (b,T,V)
        if temperature != 1.0:
            lg = lg / temperature
        norm = torch.logsumexp(lg, dim=-1)  # (b,T)
        logps.append(lg.gather(-1, targets[s : s + chunk_rows, :, None]).squeeze(-1) - norm)
        with torch.no_grad():
            ents.append(norm - (torch.softmax(lg, dim=-1) * lg).sum(dim=-1))
    return TokenScores(torch.cat(logps, dim=0), torch.cat(ents, dim=0))


def score_tokens(model: Any, input_ids: Tensor, attention_mask: Tensor, temperature: float = 1.0,
                 chunk_rows: int = 4) -> TokenScores:
    """(B,T), (B,T) -> log-probs (as `token_logprobs`) and entropies, (B,T) each, 0 where a
    position has no context (position 0, padding)."""
    if input_ids.shape != attention_mask.shape or input_ids.dim() != 2:
        raise ValueError(f"input_ids {tuple(input_ids.shape)} and attention_mask "
                         f"{tuple(attention_mask.shape)} must be the same (B,T) shape")
    logits = model(
        input_ids=input_ids,
        attention_mask=attention_mask,
        position_ids=position_ids_from_mask(attention_mask),
        use_cache=False,
    ).logits  # (B,T,V)
    scores = score_logits(logits[:, :-1], input_ids[:, 1:], temperature, chunk_rows)  # (B,T-1)
    real = attention_mask.to(torch.float32)
    has_context = torch.cat([torch.zeros_like(real[:, :1]), real[:, :-1]], dim=1) * real  # (B,T)

    def shift(x: Tensor) -> Tensor:  # (B,T-1) -> (B,T); position 0 -> 0
        return torch.cat([torch.zeros_like(x[:, :1]), x], dim=1) * has_context

    return TokenScores(shift(scores.logprobs), shift(scores.entropy))


def token_logprobs(model: Any, input_ids: Tensor, attention_mask: Tensor, chunk_rows: int = 4,
                   temperature: float = 1.0) -> Tensor:
    """(B,T), (B,T) -> (B,T) float32 log-probs of each token given the previous ones, under
    softmax(logits / temperature). Gradients flow when called with grad enabled."""
    return score_tokens(model, input_ids, attention_mask, temperature, chunk_rows).logprobs
