"""One on-policy policy-gradient update from a step's trained groups.

Owns `assign_advantages` (each group normalized on its own with the configured estimator,
`codereset.advantages`) and `PolicyUpdater.step`: the loss of `codereset.losses` over all trained
rollouts, accumulated over micro-batches so that it equals the loss of one batch of B rollouts
(each micro-batch loss is scaled by its size / B), gradient clipping, one AdamW step, and the
NaN guard (a non-finite loss or gradient norm skips the update: gradients are dropped, weights
stay as they were).

Per-token advantages: a rollout whose `token_advantages` is set (one value per generated token,
VinePPO's per-thought values) trains each token with its own value instead of the rollout's one
advantage; the loss gets a (b,T) advantage tensor for that micro-batch (`codereset.losses`).

Rollouts whose advantage is exactly 0 (e.g. every rollout of an all-equal group) add exactly 0 to
both the loss and its gradient under every registered loss, so they are counted in B but not run
through the model: the same update, less compute.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Sequence

import torch

from codereset import distributed as dist
from codereset.advantages import get_advantage
from codereset.distributed import DistInfo
from codereset.logprobs import collate, token_logprobs
from codereset.losses import get_loss


def assign_advantages(groups: Sequence[Any], estimator: str) -> None:
    """Set `group.advantages` for every group from its own rewards (a group whose advantages an
    agent already set when it built the group keeps them)."""
    fn = get_advantage(estimator)
    for group in groups:
        if group.advantages is not None:
            continue
        rewards = torch.tensor(group.rewards, dtype=torch.float32)  # (G,)
        group.advantages = [float(a) for a in fn(rewards)]


@dataclass
class UpdateResult:
    """What one update did.

    loss: the batch loss (None when skipped for being non-finite).
    grad_norm: global gradient norm before clipping (None when not computed).
    skipped: the NaN guard dropped this update.
    rollouts: trained rollouts (B); backprop_rollouts: those with a non-zero advantage.
    tokens_trained: trained tokens over all B rollouts.
    stats: the loss's own statistics, averaged over micro-batches (weighted by size).
    """

    loss: float | None
    grad_norm: float | None
    skipped: bool
    rollouts: int
    backprop_rollouts: int
    tokens_trained: int
    stats: dict = field(default_factory=dict)


class PolicyUpdater:
    """Computes the loss over trained rollouts and applies one optimizer step.

    model/optimizer: the policy and its optimizer; loss_cfg: `LossConfig`; micro_batch_size:
    rollouts per forward/backward; grad_clip: max gradient norm (0 = no clipping); pad_id: padding.
    """

    def __init__(self, model: Any, optimizer: Any, loss_cfg: Any, micro_batch_size: int,
                 grad_clip: float, pad_id: int, dist: DistInfo | None = None) -> None:
        if micro_batch_size < 1:
            raise ValueError(f"trainer.micro_batch_size must be >= 1, got {micro_batch_size}")
        self.model = model
        self.optimizer = optimizer
        self.loss_cfg = loss_cfg
        self.loss_fn = get_loss(loss_cfg.name)
        self.micro_batch_size = micro_batch_size
        self.grad_clip = grad_clip
        self.pad_id = pad_id
        self.dist = dist or DistInfo()
        self.params = [p for p in model.parameters() if p.requires_grad]

    def step(self, rollouts: Sequence[Any], advantages: Sequence[float]) -> UpdateResult:
        """Loss over `rollouts` (Rollout objects) with their advantages; one optimizer step.

        Data parallel (`dist.world_size` > 1): `rollouts` are this rank's share, B and the
        returned counts are global, and gradients are summed over ranks before clipping, so every
        rank applies the same update (see codereset.distributed)."""
        active = [(r, a) for r, a in zip(rollouts, advantages, strict=True)
                  if _any_advantage(r, a) and r.generated_tokens > 0]
        local = [len(rollouts), sum(r.generated_tokens for r in rollouts), len(active)]
        total, tokens, n_active = (int(v) for v in (dist.sum_values(local) if self.dist.enabled else local))
        self.optimizer.zero_grad(set_to_none=True)
        if n_active == 0:
            return UpdateResult(0.0, 0.0, False, total, 0, tokens)
        self.model.train()
        device = next(self.model.parameters()).device
        active.sort(key=lambda ra: len(ra[0].sequence()))
        loss_sum, finite, stat_sums = 0.0, True, {}
        for s in range(0, len(active), self.micro_batch_size):
            chunk = active[s : s + self.micro_batch_size]
            batch = collate([r.sequence() for r, _ in chunk], [r.trained_from for r, _ in chunk],
                            self.pad_id).to(device)
            logprobs = token_logprobs(self.model, batch.input_ids, batch.attention_mask)  # (b,T)
            adv = _advantage_tensor(chunk, batch.loss_mask).to(device)  # (b,) or (b,T)
            loss, mb_stats = self.loss_fn(logprobs, None, adv, batch.loss_mask, self.loss_cfg)
            scaled = loss * (len(chunk) / total)
            if not torch.isfinite(scaled):
                finite = False
                break
            scaled.backward()
            loss_sum += scaled.item()
            for k, v in mb_stats.items():
                stat_sums[k] = stat_sums.get(k, 0.0) + float(v) * len(chunk)
        if self.dist.enabled:
            finite = dist.all_true(finite)
            if finite:
                loss_sum = dist.sum_values([loss_sum])[0]
            stat_sums = _merge_sums(dist.gather(stat_sums))
        stats = {k: v / n_active for k, v in stat_sums.items()}
        grad_norm = None
        if finite:
            if self.dist.enabled:
                dist.all_reduce_grads_(self.params)
            clip = self.grad_clip if self.grad_clip > 0 else math.inf
            grad_norm = float(torch.nn.utils.clip_grad_norm_(self.params, clip))
            finite = math.isfinite(grad_norm)
        if not finite:
            self.optimizer.zero_grad(set_to_none=True)
            return UpdateResult(None, grad_norm if grad_norm is not None and math.isfinite(grad_norm) else None,
                                True, total, n_active, tokens, stats)
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        return UpdateResult(loss_sum, grad_norm, False, total, n_active, tokens, stats)


def _any_advantage(rollout: Any, advantage: float) -> bool:
    """Does this rollout add anything to the loss (a non-zero scalar or per-token advantage)?"""
    per_token = getattr(rollout, "token_advantages", None)
    return any(a != 0.0 for a in per_token) if per_token is not None else advantage != 0.0


def _advantage_tensor(chunk: Sequence[tuple[Any, float]], loss_mask: torch.Tensor) -> torch.Tensor:
    """(b,) scalar advantages, or (b,T) when a rollout of the chunk carries per-token advantages
    (its values on its trained positions, the others' scalar on theirs)."""
    if all(getattr(r, "token_advantages", None) is None for r, _ in chunk):
        return torch.tensor([a for _, a in chunk], dtype=torch.float32)  # (b,)
    out = torch.zeros(loss_mask.shape, dtype=torch.float32)  # (b,T)
    for i, (r, a) in enumerate(chunk):
        start, end = r.trained_from, len(r.sequence())
        values = r.token_advantages
        if values is None:
            out[i, start:end] = float(a)
            continue
        if len(values) != end - start:
            raise ValueError(f"a rollout has {len(values)} token advantages for {end - start} generated "
                             "tokens; set one per generated token (EOS included)")
        out[i, start:end] = torch.tensor(values, dtype=torch.float32)
    return out


def _merge_sums(parts: Sequence[dict]) -> dict:
    out: dict = {}
    for part in parts:
        for k, v in part.items():
            out[k] = out.get(k, 0.0) + v
    return out
