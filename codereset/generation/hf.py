"""Hugging Face `generate` backend (CPU and CUDA), batched across prefixes and samples.

Every (prefix, sample) pair is one row; rows are sorted by prefix length, cut into chunks of at
most `max_batch_size`, left-padded, and each chunk is one `model.generate` call. Stop strings are
watched by `StopStrings`, a stopping criterion that decodes only the last few *generated* tokens
of each live row (the prefix is never searched), and records the exact step at which a row's stop
string was completed, so the returned ids end with that token. Greedy decoding (temperature 0)
runs one row per prefix and copies it n times. `Sampling.seed` makes sampling reproducible for
the same inputs, device and `max_batch_size` (the global torch RNG is left untouched).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Sequence

import torch
from transformers import StoppingCriteria

from codereset.generation.base import Completion, GenerationBackend, Sampling, as_token_ids


@dataclass
class HFConfig:
    """Options of the Hugging Face backend.

    max_batch_size: most rows (prefix x sample) in one `generate` call; lower it when memory is
        short, raise it on a GPU.
    sort_by_length: put rows of similar prefix length in the same chunk (less padding).
    """

    max_batch_size: int = 64
    sort_by_length: bool = True

    def __post_init__(self) -> None:
        if self.max_batch_size < 1:
            raise ValueError(f"max_batch_size must be >= 1, got {self.max_batch_size}")


class StopStrings(StoppingCriteria):
    """Stopping criterion: row r is done once its generated text contains one of `stops`.

    `stopped_at[r]` = number of generated tokens when the stop string was completed (None while
    it has not been). Only the last `window` generated tokens are decoded per step; a stop string
    of c characters spans at most c tokens, so window = longest stop + 2 never misses one.
    """

    def __init__(self, tokenizer: Any, stops: Sequence[str], prompt_len: int, rows: int) -> None:
        self.tokenizer = tokenizer
        self.stops = tuple(stops)
        self.prompt_len = prompt_len
        self.window = max(len(s) for s in self.stops) + 2
        self.stopped_at: list[int | None] = [None] * rows

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor, **kwargs: Any) -> torch.Tensor:
        generated = input_ids.shape[1] - self.prompt_len
        live = [r for r, k in enumerate(self.stopped_at) if k is None]
        if generated > 0 and live:
            start = input_ids.shape[1] - min(generated, self.window)
            tails = self.tokenizer.batch_decode(input_ids[live, start:].tolist())
            for r, text in zip(live, tails):
                if any(s in text for s in self.stops):
                    self.stopped_at[r] = generated
        done = [k is not None for k in self.stopped_at]
        return torch.tensor(done, dtype=torch.bool, device=input_ids.device)


class HFBackend(GenerationBackend):
    """Generation with `model.generate` on the model's own device; see the module docstring."""

    Config = HFConfig

    def __init__(self, model: Any, tokenizer: Any, cfg: HFConfig | None = None) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.cfg = cfg or HFConfig()
        if tokenizer.pad_token_id is None:
            raise ValueError("tokenizer has no pad token; load it with codereset.models.load_tokenizer "
                             "(which sets pad = EOS) or set tokenizer.pad_token")
        self.stats = {"calls": 0, "generate_calls": 0, "rows": 0, "prefix_tokens": 0,
                      "generated_tokens": 0, "time_s": 0.0}

    def sync_weights(self, model: Any) -> None:
        """The backend samples from the live model object, so syncing is pointing at `model`."""
        self.model = model

    def eos_ids(self) -> list[int]:
        """EOS ids: the model's generation config and the tokenizer's, together."""
        ids = self.model.generation_config.eos_token_id
        ids = [] if ids is None else ([ids] if isinstance(ids, int) else list(ids))
        if self.tokenizer.eos_token_id is not None and self.tokenizer.eos_token_id not in ids:
            ids.append(self.tokenizer.eos_token_id)
        return ids

    def generate(self, prefixes: Sequence[Sequence[int]] | Sequence[str], n: int, sampling: Sampling,
                 stop: Sequence[str] = ()) -> list[list[Completion]]:
        if n < 1:
            raise ValueError(f"n must be >= 1, got {n}")
        started = time.perf_counter()
        ids = as_token_ids(self.tokenizer, prefixes)
        draws = 1 if sampling.greedy else n
        rows = [(p, j) for p in range(len(ids)) for j in range(draws)]
        if self.cfg.sort_by_length:
            rows.sort(key=lambda row: -len(ids[row[0]]))
        results: dict[tuple[int, int], Completion] = {}
        was_training = self.model.training
        self.model.eval()
        device = next(self.model.parameters()).device
        rng_devices = [device] if device.type == "cuda" else []
        try:
            with torch.random.fork_rng(devices=rng_devices, enabled=sampling.seed is not None):
                if sampling.seed is not None:
                    torch.manual_seed(sampling.seed)
                size = self.cfg.max_batch_size
                for s in range(0, len(rows), size):
                    chunk = rows[s : s + size]
                    outs = self._generate_chunk([ids[p] for p, _ in chunk], sampling, stop, device)
                    results.update(zip(chunk, outs))
        finally:
            self.model.train(was_training)
        out = [[results[(p, j if draws > 1 else 0)] for j in range(n)] for p in range(len(ids))]
        if draws == 1 and n > 1:  # greedy: independent copies of the one continuation
            out = [[Completion(list(c.token_ids), c.text, c.finish_reason) for c in group] for group in out]
        self.stats["calls"] += 1
        self.stats["rows"] += len(rows)
        self.stats["prefix_tokens"] += sum(len(ids[p]) for p, _ in rows)
        self.stats["generated_tokens"] += sum(len(c.token_ids) for c in results.values())
        self.stats["time_s"] += time.perf_counter() - started
        return out

    def _generate_chunk(self, prefixes: list[list[int]], sampling: Sampling, stop: Sequence[str],
                        device: torch.device) -> list[Completion]:
        from transformers import GenerationConfig, StoppingCriteriaList

        width = max(len(p) for p in prefixes)
        pad = self.tokenizer.pad_token_id
        input_ids = torch.full((len(prefixes), width), pad, dtype=torch.long)
        attention = torch.zeros((len(prefixes), width), dtype=torch.long)
        for r, p in enumerate(prefixes):  # left padding
            input_ids[r, width - len(p):] = torch.as_tensor(p, dtype=torch.long)
            attention[r, width - len(p):] = 1
        eos = self.eos_ids()
        gen_cfg = GenerationConfig(
            max_new_tokens=sampling.max_new_tokens,
            do_sample=not sampling.greedy,
            temperature=None if sampling.greedy else sampling.temperature,
            top_p=None if sampling.greedy else sampling.top_p,
            top_k=None if sampling.greedy else 0,
            pad_token_id=pad,
            eos_token_id=eos or None,
            bos_token_id=self.tokenizer.bos_token_id,
            use_cache=bool(getattr(self.model.config, "use_cache", True)),
        )
        watcher = StopStrings(self.tokenizer, stop, width, len(prefixes)) if stop else None
        criteria = StoppingCriteriaList([watcher] if watcher else [])
        out = self.model.generate(
            input_ids=input_ids.to(device), attention_mask=attention.to(device),
            generation_config=gen_cfg, stopping_criteria=criteria,
        )
        self.stats["generate_calls"] += 1
        generated = out[:, width:].tolist()
        eos_set = set(eos)
        completions = []
        for r, row in enumerate(generated):
            end = next((k for k, t in enumerate(row) if t in eos_set), None)
            stop_k = watcher.stopped_at[r] if watcher else None
            if stop_k is not None and (end is None or stop_k <= end):
                token_ids, reason = row[:stop_k], "stop"
            elif end is not None:
                token_ids, reason = row[:end], "eos"
            else:
                token_ids, reason = row, "length"
            completions.append(Completion(token_ids, self.tokenizer.decode(token_ids), reason))
        return completions
