"""The policy-gradient update from a step's trained groups: advantages, mini-batches, one loss.

Owns `assign_advantages` (each group normalized on its own with the configured estimator,
`codereset.learn.advantages`, over its verified rollouts only), `split_mini_batches` and
`PolicyUpdater`:

- `PolicyUpdater.step(rollouts, advantages)`: ONE optimizer step. The loss of `codereset.learn.losses`
  over all B trained rollouts, accumulated over micro-batches so that it equals the loss of one
  batch of B rollouts (each micro-batch loss scaled by its size / B), gradient clipping, AdamW,
  and the NaN guard (a non-finite loss or gradient norm skips the update: gradients are dropped,
  weights stay as they were).
- `PolicyUpdater.update(batches)`: `trainer.mini_batches` optimizer steps, one per mini-batch
  (method.md's default is 1; the release does 4), every mini-batch's old log-probs fixed before
  the first step, so mini-batches 2.. are slightly off-policy and `loss.name=clipped` clips
  something. Old log-probs are the sampler's (`Rollout.seg_logprobs`); a rollout without them is
  re-scored under the pre-update weights (only when the loss uses old log-probs).

How rollouts go through the model is `trainer.forward` (`codereset.learn.forwards`: "shared_prefix"
runs each shared prefix once; "plain" whole sequences). Log-probs are taken at
`LossConfig.logprob_temperature` ("sampling": logits / the sampling temperature,
`codereset.learn.logprobs`).

Rollouts whose advantage is exactly 0 (e.g. every rollout of an all-equal group) add exactly 0 to
both the loss and its gradient under every registered loss, so they are counted in B but not run
through the model: the same update, less compute. Per-token advantages: a rollout whose
`token_advantages` is set (one value per generated token, VinePPO's per-thought values) trains
each token with its own value; the loss then gets a (b,T) advantage tensor for that micro-batch.

Infrastructure failures (`codereset.rollouts.infra`): a rollout whose verification still ended in a
sandbox error after its re-verification is left out of its group's normalization and out of B,
and counted (`rollouts_infra_failed`): it never trains as a 0 reward.

Logged per update (`UpdateResult.metrics`, keys in `codereset.run.schema`), over the trained tokens
of the rollouts run through the model (non-zero advantage): token_entropy (of pi_T),
logprob_gap / logprob_gap_max (|trainer - sampler| log-prob on the first mini-batch, where the
weights are the sampler's), ratio_mean / clip_frac / approx_kl (exp(trainer - old), against the
loss's clip range, k3 KL, all mini-batches), forward_tokens; over all B trained rollouts:
advantage_abs_mean, zero_advantage_frac.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Sequence

import torch

from codereset.run import distributed as dist
from codereset.learn.advantages import get_advantage
from codereset.run.distributed import DistInfo
from codereset.learn.forwards import check_forward, make_forward
from codereset.rollouts.infra import infra_failed
from codereset.learn.logprobs import resolve_temperature
from codereset.learn.scored import Scored
from codereset.learn.losses import clip_range, get_loss, ratio_sums


def assign_advantages(groups: Sequence[Any], estimator: str) -> None:
    """Set `group.advantages` for every group from its own rewards, or the rewards an agent
    shaped (`Group.shaped_rewards`, SCoRe's second attempts); a group whose advantages an agent
    already set when it built the group keeps them. Rollouts that failed verification for
    infrastructure reasons (`codereset.rollouts.infra.infra_failed`) are left out of the normalization and
    get advantage 0 (the updater leaves them out of the batch too)."""
    fn = get_advantage(estimator)
    for group in groups:
        if group.advantages is not None:
            continue
        keep = [i for i, r in enumerate(group.rollouts) if not infra_failed(r)]
        advantages = [0.0] * len(group.rollouts)
        if keep:
            scores = group.rewards if group.shaped_rewards is None else group.shaped_rewards  # SCoRe shapes them
            rewards = torch.tensor([scores[i] for i in keep], dtype=torch.float32)  # (G',)
            for i, a in zip(keep, fn(rewards)):
                advantages[i] = float(a)
        group.advantages = advantages


def split_mini_batches(per_prompt: Sequence[Sequence[Any]], n: int) -> list[list[Any]]:
    """Split a step's items, given per prompt, into `n` mini-batches of whole prompts in order:
    sizes differ by at most one prompt (the first ones get the extra). n=1 is everything."""
    if n < 1:
        raise ValueError(f"trainer.mini_batches must be >= 1, got {n}")
    if n > len(per_prompt):
        raise ValueError(f"trainer.mini_batches={n} needs at least {n} prompts per step (per process), "
                         f"got {len(per_prompt)}; lower trainer.mini_batches or raise trainer.prompts_per_step")
    base, extra = divmod(len(per_prompt), n)
    out, s = [], 0
    for k in range(n):
        size = base + (k < extra)
        out.append([item for prompt in per_prompt[s : s + size] for item in prompt])
        s += size
    return out


def sampler_logprobs(rollout: Any) -> list[float | None] | None:
    """The sampler's log-prob of each trained token of `rollout` (its generated segments, then the
    sampled EOS), None entries where unknown; None when the backend gave none at all.

    Read from `Rollout.seg_logprobs` (one list per segment, None when unknown) and
    `Rollout.eos_logprob` (the EOS that ended the episode; the backend drops EOS from token_ids)."""
    segs = getattr(rollout, "seg_logprobs", None) or []
    generated = rollout.segments[rollout.prefix_len :]
    lists = list(segs[rollout.prefix_len :])
    if not any(lps is not None for lps in lists):
        return None
    if len(lists) != len(generated):
        raise ValueError(f"a rollout has sampler log-probs for {len(lists)} of its {len(generated)} generated "
                         "segments; the backend must report one list (or None) per segment")
    values: list[float | None] = []
    for seg, lps in zip(generated, lists):
        if lps is None:
            values.extend([None] * len(seg))
            continue
        if len(lps) != len(seg):
            raise ValueError(f"a rollout's segment has {len(seg)} tokens but {len(lps)} sampler log-probs; "
                             "the backend must give one per returned token")
        values.extend(float(x) for x in lps)
    if rollout.ended_with_eos:
        eos = getattr(rollout, "eos_logprob", None)
        values.append(None if eos is None else float(eos))
    return values


@dataclass
class UpdateResult:
    """What one update (all its mini-batches) did.

    loss: the batch loss, mean over applied mini-batches (None when every one was skipped).
    grad_norm: global gradient norm before clipping, mean over mini-batches (None when not
        computed).
    skipped: the NaN guard dropped every mini-batch's step (no weight changed).
    rollouts: trained rollouts (B, infrastructure failures excluded); backprop_rollouts: those
        with a non-zero advantage (run through the model).
    tokens_trained: trained tokens over all B rollouts.
    stats: mean_logprob and the logged terms (see the module docstring), None when not measured.
    forward_tokens: tokens run through the model (recomputed old log-probs included).
    infra_failed: rollouts left out for an infrastructure failure.
    mini_batches: optimizer steps attempted.
    sums: the raw sums `stats` is derived from (for merging mini-batches).
    """

    loss: float | None
    grad_norm: float | None
    skipped: bool
    rollouts: int
    backprop_rollouts: int
    tokens_trained: int
    stats: dict = field(default_factory=dict)
    forward_tokens: int = 0
    infra_failed: int = 0
    mini_batches: int = 1
    sums: dict = field(default_factory=dict)

    def metrics(self) -> dict:
        """The update's keys of the metrics.jsonl row (declared in `codereset.run.schema`)."""
        s = self.stats
        backprop_tokens = self.sums.get("tok", 0.0)
        return {
            "forward_tokens": self.forward_tokens,
            "forward_tokens_per_trained_token": self.forward_tokens / backprop_tokens if backprop_tokens else None,
            "token_entropy": s.get("token_entropy"),
            "logprob_gap": s.get("logprob_gap"),
            "logprob_gap_max": s.get("logprob_gap_max"),
            "ratio_mean": s.get("ratio_mean"),
            "clip_frac": s.get("clip_frac"),
            "approx_kl": s.get("approx_kl"),
            "advantage_abs_mean": s.get("advantage_abs_mean"),
            "zero_advantage_frac": s.get("zero_advantage_frac"),
            "rollouts_infra_failed": self.infra_failed,
            "mini_batches": self.mini_batches,
        }


def _stats(sums: dict) -> dict:
    def ratio(num: str, den: str) -> float | None:
        return sums[num] / sums[den] if sums.get(den) else None

    return {
        "mean_logprob": ratio("logprob_sum", "tok"),
        "token_entropy": ratio("entropy_sum", "tok"),
        "logprob_gap": ratio("gap_sum", "gap_n"),
        "logprob_gap_max": sums.get("gap_max") if sums.get("gap_n") else None,
        "ratio_mean": ratio("ratio_sum", "ratio_n"),
        "clip_frac": ratio("clip_sum", "ratio_n"),
        "approx_kl": ratio("kl_sum", "ratio_n"),
        "advantage_abs_mean": ratio("adv_abs_sum", "rollouts"),
        "zero_advantage_frac": ratio("zero_adv", "rollouts"),
    }


def _merge(parts: Sequence[dict]) -> dict:
    """Sum dicts of sums; keys ending in _max take the max."""
    out: dict = {}
    for part in parts:
        for k, v in part.items():
            out[k] = max(out.get(k, v), v) if k.endswith("_max") else out.get(k, 0.0) + v
    return out


class PolicyUpdater:
    """Computes the loss over trained rollouts and applies the optimizer step(s).

    model/optimizer: the policy and its optimizer; loss_cfg: `LossConfig`; micro_batch_size:
    rollouts per forward/backward; grad_clip: max gradient norm (0 = no clipping); pad_id: padding;
    forward: `codereset.learn.forwards.FORWARDS` key; sampling_temperature: the temperature rollouts
    were sampled at (what `loss.logprob_temperature: sampling` resolves to).
    """

    def __init__(self, model: Any, optimizer: Any, loss_cfg: Any, micro_batch_size: int,
                 grad_clip: float, pad_id: int, dist: DistInfo | None = None,
                 forward: str = "shared_prefix", sampling_temperature: float = 1.0) -> None:
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
        self.forward = forward
        check_forward(forward, model)
        self.temperature = resolve_temperature(getattr(loss_cfg, "logprob_temperature", "sampling"),
                                               sampling_temperature)
        self.params = [p for p in model.parameters() if p.requires_grad]

    @property
    def uses_old_logprobs(self) -> bool:
        return getattr(self.loss_fn, "uses_old_logprobs", False)

    def update(self, batches: Sequence[tuple[Sequence[Any], Sequence[float]]]) -> UpdateResult:
        """One optimizer step per (rollouts, advantages) mini-batch, in order (see the module
        docstring); the result merges them."""
        if len(batches) == 1:
            rollouts, advantages = batches[0]
            return self.step(rollouts, advantages)
        everything = [(r, a) for rs, advs in batches for r, a in zip(rs, advs, strict=True)]
        old, extra_tokens = self._old_logprobs(everything) if self.uses_old_logprobs else ({}, 0)
        results = [self.step(rs, advs, old=old, measure_gap=k == 0) for k, (rs, advs) in enumerate(batches)]
        applied = [r for r in results if not r.skipped]
        sums = _merge([r.sums for r in results])
        return UpdateResult(
            loss=sum(r.loss for r in applied) / len(applied) if applied else None,
            grad_norm=_mean_or_none([r.grad_norm for r in results if r.grad_norm is not None]),
            skipped=not applied, rollouts=sum(r.rollouts for r in results),
            backprop_rollouts=sum(r.backprop_rollouts for r in results),
            tokens_trained=sum(r.tokens_trained for r in results), stats=_stats(sums),
            forward_tokens=extra_tokens + sum(r.forward_tokens for r in results),
            infra_failed=sum(r.infra_failed for r in results), mini_batches=len(batches), sums=sums)

    def _old_logprobs(self, pairs: Sequence[tuple[Any, float]]) -> tuple[dict[int, list[float]], int]:
        """id(rollout) -> old log-prob per trained token: the sampler's where it gave all of them,
        else re-scored now under the current (pre-update) weights, without grad."""
        old: dict[int, list[float]] = {}
        rescore = []
        for r, a in pairs:
            if infra_failed(r) or r.generated_tokens == 0 or not _any_advantage(r, a):
                continue
            values = sampler_logprobs(r)
            if values is not None and all(v is not None for v in values):
                old[id(r)] = values
            else:
                rescore.append(r)
        if not rescore:
            return old, 0
        fw = make_forward(self.forward, self.model, [r.sequence() for r in rescore],
                          [r.trained_from for r in rescore], self.micro_batch_size, self.temperature, self.pad_id)
        with torch.no_grad():
            for chunk in fw.chunks:
                sc = fw.score(chunk)
                for j, i in enumerate(chunk):
                    n = rescore[i].generated_tokens
                    old[id(rescore[i])] = sc.logprobs[j, sc.start[j] : sc.start[j] + n].tolist()
        return old, fw.forward_tokens

    def step(self, rollouts: Sequence[Any], advantages: Sequence[float],
             old: dict[int, list[float]] | None = None, measure_gap: bool = True) -> UpdateResult:
        """Loss over `rollouts` (Rollout objects) with their advantages; one optimizer step.

        old: id(rollout) -> old log-probs per trained token (`update` fixes them before the first
        mini-batch); missing ones are the sampler's, or re-scored now if the loss needs them.
        measure_gap: log the sampler/trainer gap (the weights are still the sampler's).

        Data parallel (`dist.world_size` > 1): `rollouts` are this rank's share, B and the
        returned counts are global, and gradients are summed over ranks before clipping, so every
        rank applies the same update (see codereset.run.distributed)."""
        pairs = list(zip(rollouts, advantages, strict=True))
        trained = [(r, a) for r, a in pairs if not infra_failed(r)]
        active = [(r, a) for r, a in trained if _any_advantage(r, a) and r.generated_tokens > 0]
        local = [len(trained), sum(r.generated_tokens for r, _ in trained), len(active), len(pairs) - len(trained)]
        total, tokens, n_active, n_infra = (int(v) for v in (dist.sum_values(local) if self.dist.enabled else local))
        sums = {"rollouts": float(len(trained)), "zero_adv": float(sum(not _any_advantage(r, a) for r, a in trained)),
                "adv_abs_sum": sum(_abs_advantage(r, a) for r, a in trained)}
        self.optimizer.zero_grad(set_to_none=True)
        if n_active == 0:
            sums = _merge(dist.gather(sums)) if self.dist.enabled else sums
            return UpdateResult(0.0, 0.0, False, total, 0, tokens, _stats(sums), 0, n_infra, 1, sums)
        old = dict(old or {})
        extra_tokens = 0
        if self.uses_old_logprobs and any(id(r) not in old for r, _ in active):
            more, extra_tokens = self._old_logprobs([(r, a) for r, a in active if id(r) not in old])
            old.update(more)
        self.model.train()
        device = next(self.model.parameters()).device
        fw = make_forward(self.forward, self.model, [r.sequence() for r, _ in active],
                          [r.trained_from for r, _ in active], self.micro_batch_size, self.temperature, self.pad_id)
        lo, hi = clip_range(self.loss_cfg)
        loss_sum, finite = 0.0, True
        for chunk in fw.chunks:
            rows = [active[i] for i in chunk]
            sc = fw.score(chunk)  # (b,T) trained-token log-probs, entropies, mask
            adv = _advantage_tensor(rows, sc).to(device)  # (b,) or (b,T)
            sampled = sc.place([sampler_logprobs(r) for r, _ in rows])  # (b,T), NaN where unknown
            old_t = sc.place([old.get(id(r)) for r, _ in rows])
            old_t = torch.where(torch.isnan(old_t), sampled, old_t)
            old_in = torch.where(torch.isnan(old_t), sc.logprobs.detach(), old_t) if self.uses_old_logprobs else None
            loss, _ = self.loss_fn(sc.logprobs, old_in, adv, sc.mask, self.loss_cfg)
            scaled = loss * (len(chunk) / total)
            if not torch.isfinite(scaled):
                finite = False
                break
            scaled.backward()
            loss_sum += scaled.item()
            _add_token_sums(sums, sc, old_t, sampled if measure_gap else None, lo, hi)
        if finite:
            fw.backward_shared()
        sums["forward"] = float(fw.forward_tokens + extra_tokens)
        if self.dist.enabled:
            finite = dist.all_true(finite)
            if finite:
                loss_sum = dist.sum_values([loss_sum])[0]
            sums = _merge(dist.gather(sums))
        grad_norm = None
        if finite:
            if self.dist.enabled:
                dist.all_reduce_grads_(self.params)
            clip = self.grad_clip if self.grad_clip > 0 else math.inf
            grad_norm = float(torch.nn.utils.clip_grad_norm_(self.params, clip))
            finite = math.isfinite(grad_norm)
        result = UpdateResult(loss_sum, grad_norm, False, total, n_active, tokens, _stats(sums),
                              int(sums["forward"]), n_infra, 1, sums)
        if not finite:
            self.optimizer.zero_grad(set_to_none=True)
            result.loss, result.skipped = None, True
            result.grad_norm = grad_norm if grad_norm is not None and math.isfinite(grad_norm) else None
            return result
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        return result


def _add_token_sums(sums: dict, sc: Scored, old: torch.Tensor, sampled: torch.Tensor | None,
                    lo: float, hi: float) -> None:
    """Add one chunk's token-level sums (entropy, log-prob, ratio terms, sampler gap)."""
    with torch.no_grad():
        m = sc.mask > 0  # (b,T)
        logp = sc.logprobs.detach()
        add = {"tok": m.sum(), "logprob_sum": logp[m].sum(), "entropy_sum": sc.entropy[m].sum()}
        add.update(ratio_sums(logp, old, m & ~torch.isnan(old), lo, hi))
        if sampled is not None:
            known = m & ~torch.isnan(sampled)
            gap = (logp - sampled)[known].abs()
            add.update(gap_n=known.sum(), gap_sum=gap.sum())
            if gap.numel():
                sums["gap_max"] = max(sums.get("gap_max", 0.0), float(gap.max()))
    for k, v in add.items():
        sums[k] = sums.get(k, 0.0) + float(v)


def _mean_or_none(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def _any_advantage(rollout: Any, advantage: float) -> bool:
    """Does this rollout add anything to the loss (a non-zero scalar or per-token advantage)?"""
    per_token = getattr(rollout, "token_advantages", None)
    return any(a != 0.0 for a in per_token) if per_token is not None else advantage != 0.0


def _abs_advantage(rollout: Any, advantage: float) -> float:
    """|A_i|, or the token mean of |A_it| for per-token advantages."""
    per_token = getattr(rollout, "token_advantages", None)
    if per_token is None:
        return abs(float(advantage))
    return sum(abs(a) for a in per_token) / len(per_token) if per_token else 0.0


def _advantage_tensor(rows: Sequence[tuple[Any, float]], sc: Scored) -> torch.Tensor:
    """(b,) scalar advantages, or (b,T) when a rollout of the chunk carries per-token advantages
    (its values on its trained positions, the others' scalar on theirs)."""
    if all(getattr(r, "token_advantages", None) is None for r, _ in rows):
        return torch.tensor([a for _, a in rows], dtype=torch.float32)  # (b,)
    values = []
    for r, a in rows:
        per_token = r.token_advantages
        if per_token is not None and len(per_token) != r.generated_tokens:
            raise ValueError(f"a rollout has {len(per_token)} token advantages for {r.generated_tokens} "
                             "generated tokens; set one per generated token (EOS included)")
        values.append(per_token if per_token is not None else [float(a)] * r.generated_tokens)
    return torch.nan_to_num(sc.place(values), nan=0.0)  # (b,T)
