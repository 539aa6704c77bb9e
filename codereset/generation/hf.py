"""Hugging Face backend (CPU and CUDA): our own batched decoding loop on the model's forward.

Why not `model.generate`: in a training step the rows of one call finish at very different
lengths, and `generate` keeps decoding every row until the longest is done (a profiled main-job
step kept only 44% of its decoded row-steps). It also re-encodes a shared prompt once per sample.
This loop (`_decode`):
- groups rows (prefix x sample) into chunks of at most `max_batch_size`, rows of the same prefix
  together (sorted by prefix length when `sort_by_length`);
- prefills each *distinct* prefix of a chunk once (left-padded, explicit position ids) and copies
  its KV cache to that prefix's rows (`batch_select_indices`), so n samples of a prompt cost one
  prompt forward;
- decodes one token per live row per step with the KV cache; a row ends at EOS (not returned),
  at the token completing a stop string (returned: only the last few *generated* tokens are
  decoded to look for it, the prefix is never searched) or after `max_new_tokens`; finished rows
  are dropped from the batch (the cache is compacted once a quarter of the batch is dead), so
  they do not hold the rest hostage;
- reports each finished continuation at once through `generate_streaming`'s `on_done`, so a
  caller can score it while the others still decode;
- given an `EpisodeEnd` (continuous rollouts), asks the caller at each completed thought marker
  and after each thought's token budget whether the row's episode is over, and drops the row
  then ("length"): a rollout that answered in its first thought no longer decodes the rest of
  its call's budget only for the roller to discard it.
- with `HFConfig.fast_decode` (default), keeps the KV cache in preallocated buffers and runs
  one-token attention on the unrepeated KV heads (`hf_cache.py`): the same tokens, without the
  two whole-cache copies per layer per step that transformers' defaults make.
Sampling: temperature, then top-p (the smallest set of most likely tokens whose mass reaches
top_p, as transformers' TopPLogitsWarper), then one exact draw (exponential race); greedy takes the argmax and
runs one row per prefix, copied n times. `Completion.logprobs` are log-softmax(logits / T) of
the sampled tokens over the full vocabulary (before top-p; T = 1 for greedy), in fp32.
`HFConfig.engine="generate"` runs the old path instead (one `model.generate` per chunk, no
log-probs), the measured baseline of benchmarks/step_throughput.py.
`Sampling.seed` makes sampling reproducible for the same inputs, device and `max_batch_size`
through a private generator (the global torch RNG is left untouched); without a seed the global
torch RNG is drawn from. A model whose config says `use_cache: false` is run without a cache
(the whole sequence every step).
"""

from __future__ import annotations

import time
from contextlib import nullcontext
from dataclasses import replace
from typing import Any, Callable, Sequence

import torch
from transformers import StoppingCriteria

from codereset.generation.base import Completion, EpisodeEnd, GenerationBackend, Sampling, as_token_ids
from codereset.generation.hf_cache import decode_attention, preallocate
from codereset.generation.options import HFConfig

DEAD_SHARE = 0.25  # compact the batch once this share of its rows has finished
CACHE_ROOM = 128  # fast_decode: free KV positions allocated at a time (one cache copy per this many steps)


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


def sample_next(logits: torch.Tensor, sampling: Sampling,
                generator: torch.Generator | None) -> tuple[torch.Tensor, torch.Tensor]:
    """(next token per row, its log-prob under logits / T over the full vocabulary) for [rows, vocab]
    logits; greedy (T = 0) takes the argmax and reports log-probs at T = 1."""
    logits = logits.float()
    if sampling.greedy:
        logp = torch.log_softmax(logits, dim=-1)
        token = logp.argmax(dim=-1)
        return token, logp.gather(1, token[:, None])[:, 0]
    logp = torch.log_softmax(logits / sampling.temperature, dim=-1)
    probs = logp.exp()
    if sampling.top_p < 1.0:
        token = _nucleus_draw(probs, sampling.top_p, generator)
    else:
        token = _race(probs, generator)
    return token, logp.gather(1, token[:, None])[:, 0]


def _race(probs: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    """One draw per row with probability proportional to `probs` (argmax of p / E, E ~ Exp(1):
    exact, and much cheaper than torch.multinomial over a 50k vocabulary)."""
    noise = torch.empty_like(probs).exponential_(generator=generator)
    return (probs / noise).argmax(dim=-1)


def _nucleus_draw(probs: torch.Tensor, top_p: float, generator: torch.Generator | None) -> torch.Tensor:
    """Top-p draw: keep the most likely tokens until their mass reaches top_p (a token is dropped
    when the strictly more likely ones already hold top_p), renormalize, draw. The nucleus is
    searched among the top 64, then 1024 tokens, when every row's nucleus lies inside (their
    mass reaches top_p): the same set a full sort gives, without sorting 50k entries per step."""
    vocab = probs.shape[-1]
    for k in (64, 1024, vocab):
        if k < vocab:
            vals, order = probs.topk(k, dim=-1)
            if not bool((vals.sum(dim=-1) >= top_p).all()):
                continue
        else:
            vals, order = probs.sort(dim=-1, descending=True)
        before = vals.cumsum(dim=-1) - vals  # mass of the strictly more likely tokens
        vals = vals.masked_fill(before >= top_p, 0.0)
        return order.gather(1, _race(vals, generator)[:, None])[:, 0]
    raise AssertionError("unreachable")


class HFBackend(GenerationBackend):
    """Generation with our own decoding loop on the model's own device; see the module docstring."""

    Config = HFConfig

    def __init__(self, model: Any, tokenizer: Any, cfg: HFConfig | None = None) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.cfg = cfg or HFConfig()
        if tokenizer.pad_token_id is None:
            raise ValueError("tokenizer has no pad token; load it with codereset.models.load_tokenizer "
                             "(which sets pad = EOS) or set tokenizer.pad_token")
        # rows: continuations asked for; prefill_tokens: prefix tokens actually run (distinct
        # prefixes once per chunk); row_steps: rows x decode steps computed, finished rows included;
        # decode_steps: batched decode steps (row_steps / decode_steps = mean rows per step);
        # prefill_s / decode_s: seconds in the prefill forward / in the decode steps (forward,
        # sampling and bookkeeping); episode_checks / episode_ends: EpisodeEnd questions asked /
        # rows ended by them; the loop engine only
        self.stats = {"calls": 0, "generate_calls": 0, "rows": 0, "prefix_tokens": 0, "prefill_tokens": 0,
                      "generated_tokens": 0, "row_steps": 0, "decode_steps": 0, "prefill_s": 0.0,
                      "decode_s": 0.0, "episode_checks": 0, "episode_ends": 0, "time_s": 0.0}
        self._keep_arg = True  # the model's forward takes logits_to_keep

    def sync_weights(self, model: Any) -> None:
        """The backend samples from the live model object, so syncing is pointing at `model`."""
        self.model = model

    def eos_ids(self) -> list[int]:
        """EOS ids: the model's generation config and the tokenizer's, together."""
        gen = getattr(self.model, "generation_config", None)
        ids = getattr(gen, "eos_token_id", None) if gen is not None else None
        ids = [] if ids is None else ([ids] if isinstance(ids, int) else list(ids))
        if self.tokenizer.eos_token_id is not None and self.tokenizer.eos_token_id not in ids:
            ids.append(self.tokenizer.eos_token_id)
        return ids

    def generate(self, prefixes: Sequence[Sequence[int]] | Sequence[str], n: int, sampling: Sampling,
                 stop: Sequence[str] = ()) -> list[list[Completion]]:
        return self.generate_streaming(prefixes, n, sampling, stop, None)

    def generate_streaming(self, prefixes: Sequence[Sequence[int]] | Sequence[str], n: int | Sequence[int],
                           sampling: Sampling, stop: Sequence[str] = (),
                           on_done: Callable[[int, int, Completion], None] | None = None,
                           max_new: Sequence[int] | None = None,
                           episode_end: EpisodeEnd | None = None) -> list[list[Completion]]:
        started = time.perf_counter()
        ids = as_token_ids(self.tokenizer, prefixes)
        counts = [n] * len(ids) if isinstance(n, int) else [int(k) for k in n]
        budgets = [sampling.max_new_tokens] * len(ids) if max_new is None else [int(b) for b in max_new]
        if isinstance(n, int) and n < 1:
            raise ValueError(f"n must be >= 1, got {n}")
        if len(counts) != len(ids) or len(budgets) != len(ids) or min(counts, default=0) < 0 \
                or min(budgets, default=1) < 1:
            raise ValueError(f"need one count >= 0 and one budget >= 1 per prefix; got {len(ids)} prefixes, "
                             f"counts {counts}, budgets {budgets}")
        greedy = sampling.greedy
        rows = [(p, j) for p in range(len(ids)) for j in range(1 if greedy and counts[p] else counts[p])]
        if self.cfg.sort_by_length:
            rows.sort(key=lambda row: (-len(ids[row[0]]), row[0], row[1]))
        if self.cfg.engine == "generate":  # model.generate needs one budget per chunk
            rows.sort(key=lambda row: budgets[row[0]])
        results: dict[tuple[int, int], Completion] = {}

        def finished(row: tuple[int, int], completion: Completion) -> None:
            results[row] = completion
            if on_done is None:
                return
            if greedy:  # n independent copies of the one continuation
                for j in range(counts[row[0]]):
                    on_done(row[0], j, completion if j == 0 else completion.copy())
            else:
                on_done(row[0], row[1], completion)

        was_training = self.model.training
        self.model.eval()
        device = next(self.model.parameters()).device
        generator = None
        if sampling.seed is not None and not sampling.greedy:
            generator = torch.Generator(device=device)
            generator.manual_seed(sampling.seed)
        try:
            for chunk in self._chunks(rows, budgets):
                report = lambda r, c, chunk=chunk: finished(chunk[r], c)  # noqa: E731
                if self.cfg.engine == "generate":
                    sub = replace(sampling, max_new_tokens=budgets[chunk[0][0]])
                    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else [],
                                               enabled=generator is not None):
                        if generator is not None:
                            torch.manual_seed(int(torch.randint(2**62, (1,), generator=generator)))
                        outs = self._generate_chunk([ids[p] for p, _ in chunk], sub, stop, device)
                    for r, c in enumerate(outs):
                        report(r, c)
                else:
                    watch = None if episode_end is None else replace(
                        episode_end, over=lambda r, got, chunk=chunk: episode_end.over(chunk[r][0], got))
                    self._decode([ids[p] for p, _ in chunk], [budgets[p] for p, _ in chunk], sampling, stop,
                                 device, generator, report, watch)
        finally:
            self.model.train(was_training)
        out = [[results[(p, j if not greedy else 0)] for j in range(counts[p])] for p in range(len(ids))]
        if greedy:  # independent copies of the one continuation
            out = [[c if j == 0 else c.copy() for j, c in enumerate(group)] for group in out]
        self.stats["calls"] += 1
        self.stats["rows"] += len(rows)
        self.stats["prefix_tokens"] += sum(len(ids[p]) for p, _ in rows)
        self.stats["generated_tokens"] += sum(len(c.token_ids) for c in results.values())
        self.stats["time_s"] += time.perf_counter() - started
        return out

    def _chunks(self, rows: list[tuple[int, int]], budgets: list[int]) -> list[list[tuple[int, int]]]:
        """Rows cut into chunks of at most max_batch_size (the generate engine: of one budget)."""
        size, out = self.cfg.max_batch_size, []
        for s in range(0, len(rows), size):
            chunk = rows[s : s + size]
            if self.cfg.engine == "generate":
                for b in sorted({budgets[p] for p, _ in chunk}):
                    out.append([row for row in chunk if budgets[row[0]] == b])
            else:
                out.append(chunk)
        return out

    # -- the decoding loop -------------------------------------------------------------------
    def _forward(self, input_ids: torch.Tensor, attention: torch.Tensor, positions: torch.Tensor,
                 cache: Any, use_cache: bool) -> tuple[torch.Tensor, Any]:
        """Last-position logits [rows, vocab] and the updated cache."""
        kwargs: dict[str, Any] = dict(input_ids=input_ids, attention_mask=attention, position_ids=positions,
                                      use_cache=use_cache)
        if use_cache:
            kwargs["past_key_values"] = cache
        if self._keep_arg:
            try:
                out = self.model(**kwargs, logits_to_keep=1)
            except TypeError:
                self._keep_arg = False
                out = self.model(**kwargs)
        else:
            out = self.model(**kwargs)
        return out.logits[:, -1, :], (getattr(out, "past_key_values", None) if use_cache else None)

    def _decode(self, prefixes: list[list[int]], budgets: list[int], sampling: Sampling, stop: Sequence[str],
                device: torch.device, generator: torch.Generator | None,
                done: Callable[[int, Completion], None], watch: EpisodeEnd | None = None) -> None:
        """`_decode_rows`, with the model's attention switched to `hf_cache.gqa_attention` when
        `fast_decode` is on."""
        with decode_attention(self.model) if self.cfg.fast_decode else nullcontext():
            self._decode_rows(prefixes, budgets, sampling, stop, device, generator, done, watch)

    @torch.no_grad()
    def _decode_rows(self, prefixes: list[list[int]], budgets: list[int], sampling: Sampling, stop: Sequence[str],
                     device: torch.device, generator: torch.Generator | None,
                     done: Callable[[int, Completion], None], watch: EpisodeEnd | None = None) -> None:
        """Decode every row of one chunk to its end, calling done(row, completion) as each ends.
        `watch` (an `EpisodeEnd` whose `over` takes the chunk row) ends a row, "length", once its
        episode is over: asked at the token completing its marker (the marker enters the last
        few generated tokens' text) and after `watch.every` tokens without one."""
        use_cache = bool(getattr(getattr(self.model, "config", None), "use_cache", True))
        pad = self.tokenizer.pad_token_id
        eos = set(self.eos_ids())
        window = max((len(s) for s in stop), default=0) + 2
        distinct: dict[tuple[int, ...], int] = {}
        source = [distinct.setdefault(tuple(p), len(distinct)) for p in prefixes]
        firsts = [list(p) for p in distinct]
        if not use_cache:  # every row runs its own sequence anyway
            firsts, source = [list(p) for p in prefixes], list(range(len(prefixes)))
        width = max(len(p) for p in firsts)
        input_ids = torch.full((len(firsts), width), pad, dtype=torch.long)
        attention = torch.zeros((len(firsts), width), dtype=torch.long)
        for r, p in enumerate(firsts):  # left padding
            input_ids[r, width - len(p):] = torch.as_tensor(p, dtype=torch.long)
            attention[r, width - len(p):] = 1
        input_ids, attention = input_ids.to(device), attention.to(device)
        positions = (attention.cumsum(-1) - 1).clamp(min=0)
        started = time.perf_counter()
        logits, cache = self._forward(input_ids, attention, positions, None, use_cache)
        self.stats["prefill_s"] += time.perf_counter() - started
        started = time.perf_counter()
        if use_cache and cache is None:  # the model keeps no cache: run whole sequences from here on
            use_cache = False
            if source != list(range(len(firsts))):
                input_ids, attention = input_ids[torch.as_tensor(source)], attention[torch.as_tensor(source)]
                positions = positions[torch.as_tensor(source)]
                logits = logits[torch.as_tensor(source)]
                firsts, source = [list(p) for p in prefixes], list(range(len(prefixes)))
        self.stats["generate_calls"] += 1
        self.stats["prefill_tokens"] += sum(len(p) for p in firsts)
        index = torch.as_tensor(source, dtype=torch.long, device=device)
        if source != list(range(len(firsts))):  # copy each distinct prefix's cache to its rows
            if cache is not None:
                cache.batch_select_indices(index)
            logits = logits[index]
        if cache is not None and self.cfg.fast_decode:
            preallocate(cache, min(max(budgets), CACHE_ROOM))
        attention = attention[index]
        sequence = input_ids[index]  # only used without a cache
        positions = positions[index][:, -1]
        rows = list(range(len(prefixes)))  # batch position -> chunk row
        alive = [True] * len(rows)
        tokens: list[list[int]] = [[] for _ in rows]
        logprobs: list[list[float]] = [[] for _ in rows]
        eos_lp: dict[int, float] = {}
        marks = [0] * len(rows)  # watch: each row's token count at its last marker
        asks = [0] * len(rows)  # watch: ... at its last question to watch.over
        marker_window = len(watch.marker) + 2 if watch is not None else 0
        while True:
            nxt, lp = sample_next(logits, sampling, generator)
            self.stats["row_steps"] += len(rows)
            self.stats["decode_steps"] += 1
            nxt_list, lp_list = nxt.tolist(), lp.tolist()
            check = []
            for b, r in enumerate(rows):
                if not alive[b]:
                    continue
                t = nxt_list[b]
                if t in eos:
                    alive[b] = False
                    eos_lp[r] = lp_list[b]
                    self._finish(done, r, tokens[r], logprobs[r], "eos", lp_list[b])
                    continue
                tokens[r].append(t)
                logprobs[r].append(lp_list[b])
                check.append(b)
            if stop and check:
                tails = self.tokenizer.batch_decode([tokens[rows[b]][-window:] for b in check])
                for b, text in zip(check, tails):
                    if any(s in text for s in stop):
                        alive[b] = False
                        self._finish(done, rows[b], tokens[rows[b]], logprobs[rows[b]], "stop")
            for b in check:
                if alive[b] and len(tokens[rows[b]]) >= budgets[rows[b]]:
                    alive[b] = False
                    self._finish(done, rows[b], tokens[rows[b]], logprobs[rows[b]], "length")
            if watch is not None:
                self._watch(watch, [b for b in check if alive[b]], rows, alive, tokens, logprobs, marks, asks,
                            marker_window, done)
            live = [b for b, a in enumerate(alive) if a]
            if not live:
                self.stats["decode_s"] += time.perf_counter() - started
                return
            step_ids = nxt.masked_fill(~torch.as_tensor(alive, device=device), pad)
            if len(rows) - len(live) >= max(1, DEAD_SHARE * len(rows)):  # drop finished rows
                keep = torch.as_tensor(live, dtype=torch.long, device=device)
                if cache is not None:
                    cache.batch_select_indices(keep)
                attention, positions, sequence = attention[keep], positions[keep], sequence[keep]
                step_ids = step_ids[keep]
                rows = [rows[b] for b in live]
                alive = [True] * len(rows)
            attention = torch.cat([attention, attention.new_ones((len(rows), 1))], dim=1)
            positions = positions + 1
            if use_cache:
                logits, cache = self._forward(step_ids[:, None], attention, positions[:, None], cache, True)
            else:
                sequence = torch.cat([sequence, step_ids[:, None]], dim=1)
                full = (attention.cumsum(-1) - 1).clamp(min=0)
                logits, _ = self._forward(sequence, attention, full, None, False)

    def _watch(self, watch: EpisodeEnd, batch: list[int], rows: list[int], alive: list[bool],
               tokens: list[list[int]], logprobs: list[list[float]], marks: list[int], asks: list[int],
               window: int, done: Callable[[int, Completion], None]) -> None:
        """`_decode`'s early end for the live rows `batch` (batch positions): ask `watch.over` for a
        row whose tokens since its last marker now complete one, or that went `watch.every`
        tokens since it was last asked; finish those it says are over. marks[r] / asks[r]: the
        row's token count at its last marker / last ask (only tokens after the last marker are
        searched, so one marker is found once)."""
        if not batch:
            return
        tails = self.tokenizer.batch_decode([tokens[rows[b]][max(marks[rows[b]], len(tokens[rows[b]]) - window):]
                                             for b in batch])
        for b, text in zip(batch, tails):
            r = rows[b]
            count = len(tokens[r])
            if watch.marker in text:
                marks[r] = count
            elif count - asks[r] < watch.every:
                continue
            asks[r] = count
            self.stats["episode_checks"] += 1
            if watch.over(r, list(tokens[r])):
                alive[b] = False
                self.stats["episode_ends"] += 1
                self._finish(done, r, tokens[r], logprobs[r], "length")

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
        self.stats["prefill_tokens"] += sum(len(p) for p in prefixes)
        self.stats["row_steps"] += out.shape[0] * (out.shape[1] - width)
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

    def _finish(self, done: Callable[[int, Completion], None], row: int, token_ids: list[int],
                logprobs: list[float], reason: str, eos_logprob: float | None = None) -> None:
        done(row, Completion(list(token_ids), self.tokenizer.decode(token_ids), reason, list(logprobs),
                             eos_logprob))
