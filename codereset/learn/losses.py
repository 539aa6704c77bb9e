"""Policy-gradient losses over a batch of rollouts, with their masks.

Registry `LOSSES`, lookup `get_loss(name)`. One signature for all:

    fn(logprobs (B,T), old_logprobs (B,T) | None, advantages (B,) or (B,T), mask (B,T), cfg: LossConfig)
        -> (loss: scalar Tensor, stats: dict[str, float])

Advantages are one per rollout (B,), or one per token (B,T) for per-token credit (VinePPO's
per-thought values): A_i becomes A_it inside the token mean; (B,) is the same as (B,T) with each
row constant.

`logprobs[i, t]` is log pi(y_t | y_<t) of token t of rollout i under the current policy (with
grad); `mask[i, t]` is 1 for the tokens rollout i trains on (its generated suffix: prompt, reset
prefix and padding are 0). Both losses average per rollout first, then over the B rollouts
("sequence-mean of token-means", method.md), so each rollout weighs the same whatever its length;
a rollout with no trained token contributes 0 but still counts in B. When the trainer splits a
batch into mini-batches for gradient accumulation it scales each mini-batch loss by B_mini/B_total.

- "pg" (default, method.md): L = - mean_i [ A_i * mean_{t: mask} log pi(y_t | ...) ].
  No importance ratio, no clipping, no KL. `old_logprobs` is ignored.
- "clipped" (PPO-style ablation): rho_t = exp(logprobs - old_logprobs),
  L = - mean_i mean_{t: mask} min(rho_t A_i, clip(rho_t, 1 - eps_low, 1 + eps_high) A_i).
  With old_logprobs None the step is on-policy: old = logprobs.detach(), so rho = 1 and its
  gradient equals the "pg" gradient exactly (the loss *values* differ: -A vs -A*log pi). In
  training the updater passes the sampler's log-probs (`uses_old_logprobs`), so with
  `trainer.mini_batches` > 1 the later mini-batches see rho != 1 and the clip acts.

`logprobs` are taken at `LossConfig.logprob_temperature` (`codereset.learn.logprobs`). `clip_range` and
`ratio_sums` are the clip bounds and ratio statistics the updater logs for every loss.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
from torch import Tensor


@dataclass
class LossConfig:
    """Which policy loss and its knobs.

    name: registry key in LOSSES ("pg" default, "clipped").
    clip_eps: clipped loss: the ratio is clipped below at 1 - clip_eps.
    clip_eps_high: clipped loss: the ratio is clipped above at 1 + clip_eps_high
        (None: the same as clip_eps).
    logprob_temperature: temperature T of the trained log-probs, log softmax(logits / T):
        "sampling" (default) = the sampling temperature, i.e. the distribution the rollouts were
        drawn from (as TRL, verl, NeMo-RL and torchtune do; greedy sampling gives 1.0), or a
        number > 0 written as text ("1.0" = untempered logits, the behaviour before issue 13).
    """

    name: str = "pg"
    clip_eps: float = 0.2
    clip_eps_high: float | None = None
    logprob_temperature: str = "sampling"


LossFn = Callable[[Tensor, "Tensor | None", Tensor, Tensor, LossConfig], "tuple[Tensor, dict]"]


def _check(logprobs: Tensor, advantages: Tensor, mask: Tensor, old: Tensor | None) -> Tensor:
    if logprobs.dim() != 2:
        raise ValueError(f"logprobs must be (B,T), got shape {tuple(logprobs.shape)}")
    if mask.shape != logprobs.shape:
        raise ValueError(f"mask shape {tuple(mask.shape)} != logprobs shape {tuple(logprobs.shape)}")
    if old is not None and old.shape != logprobs.shape:
        raise ValueError(f"old_logprobs shape {tuple(old.shape)} != logprobs shape {tuple(logprobs.shape)}")
    if advantages.shape not in (logprobs.shape[:1], logprobs.shape):
        raise ValueError(f"advantages must be (B,)={tuple(logprobs.shape[:1])} or (B,T)="
                         f"{tuple(logprobs.shape)}, got {tuple(advantages.shape)}")
    return mask.to(logprobs.dtype)


def _seq_token_mean(x: Tensor, mask: Tensor) -> Tensor:
    """(B,T) -> (B,): mean over each row's masked tokens (0 for a row with none)."""
    return (x * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1.0)


def pg_loss(logprobs: Tensor, old_logprobs: Tensor | None, advantages: Tensor, mask: Tensor,
            cfg: LossConfig) -> tuple[Tensor, dict]:
    """- mean_i [A_i * mean_{t in mask_i} logprobs[i, t]]; shapes (B,T), -, (B,), (B,T)."""
    m = _check(logprobs, advantages, mask, old_logprobs)
    adv = advantages.to(logprobs.dtype).detach()
    if adv.dim() == 1:
        seq_logp = _seq_token_mean(logprobs, m)  # (B,)
        loss = -(adv * seq_logp).mean()
        adv_abs = adv.abs().mean()
    else:  # per-token advantages (B,T)
        loss = -_seq_token_mean(adv * logprobs, m).mean()
        adv_abs = _seq_token_mean(adv.abs(), m).mean()
    n_tok = m.sum()
    stats = {
        "loss": loss.item(),
        "mean_logprob": ((logprobs.detach() * m).sum() / n_tok.clamp(min=1.0)).item(),
        "tokens": int(n_tok.item()),
        "advantage_abs_mean": adv_abs.item(),
    }
    return loss, stats


def clip_range(cfg: LossConfig) -> tuple[float, float]:
    """(1 - clip_eps, 1 + clip_eps_high) of `cfg` (clip_eps_high None: clip_eps)."""
    return 1.0 - cfg.clip_eps, 1.0 + (cfg.clip_eps if cfg.clip_eps_high is None else cfg.clip_eps_high)


def ratio_sums(logprobs: Tensor, old: Tensor, mask: Tensor, lo: float, hi: float) -> dict[str, Tensor]:
    """Sums over `mask` (bool (B,T)) of rho = exp(logprobs - old), of the clipped indicator
    (rho outside [lo, hi]) and of the k3 estimate of KL(old || new), (rho - 1) - log rho; with the
    count `ratio_n`. Positions outside the mask may hold anything (NaN included)."""
    log_ratio = torch.where(mask, logprobs.detach() - torch.nan_to_num(old, nan=0.0), torch.zeros_like(logprobs))
    ratio = torch.exp(log_ratio)
    m = mask.to(ratio.dtype)
    return {"ratio_n": m.sum(), "ratio_sum": (ratio * m).sum(),
            "clip_sum": (((ratio < lo) | (ratio > hi)).to(m.dtype) * m).sum(),
            "kl_sum": (((ratio - 1.0) - log_ratio) * m).sum()}


def clipped_loss(logprobs: Tensor, old_logprobs: Tensor | None, advantages: Tensor, mask: Tensor,
                 cfg: LossConfig) -> tuple[Tensor, dict]:
    """PPO clipped surrogate, sequence-mean of token-means; shapes (B,T), (B,T)|None, (B,), (B,T)."""
    m = _check(logprobs, advantages, mask, old_logprobs)
    old = logprobs.detach() if old_logprobs is None else old_logprobs.detach().to(logprobs.dtype)
    lo, hi = clip_range(cfg)
    adv = advantages.to(logprobs.dtype).detach()
    adv = adv[:, None] if adv.dim() == 1 else adv  # (B,1) or (B,T)
    log_ratio = (logprobs - old) * m  # (B,T); 0 outside the mask so exp stays finite
    ratio = torch.exp(log_ratio)
    surrogate = torch.minimum(ratio * adv, ratio.clamp(lo, hi) * adv)  # (B,T)
    loss = -_seq_token_mean(surrogate, m).mean()
    with torch.no_grad():
        n_tok = m.sum().clamp(min=1.0)
        clipped = ((ratio < lo) | (ratio > hi)).to(m.dtype) * m
        approx_kl = ((ratio - 1.0) - log_ratio) * m  # k3 estimator of KL(old || new)
        stats = {
            "loss": loss.item(),
            "mean_logprob": ((logprobs.detach() * m).sum() / n_tok).item(),
            "tokens": int(m.sum().item()),
            "advantage_abs_mean": (adv.abs().mean() if adv.shape[1] == 1
                                   else _seq_token_mean(adv.abs(), m).mean()).item(),
            "ratio_mean": ((ratio * m).sum() / n_tok).item(),
            "clip_frac": (clipped.sum() / n_tok).item(),
            "approx_kl": (approx_kl.sum() / n_tok).item(),
        }
    return loss, stats


clipped_loss.uses_old_logprobs = True  # the updater supplies old log-probs (sampler's or re-scored)

LOSSES: dict[str, LossFn] = {"pg": pg_loss, "clipped": clipped_loss}


def get_loss(name: str) -> LossFn:
    """The loss registered under `name`; unknown names raise listing the known ones."""
    try:
        return LOSSES[name]
    except KeyError:
        raise ValueError(f"unknown loss {name!r}; known: {sorted(LOSSES)}") from None
