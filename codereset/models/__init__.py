"""Model loading: configs (`ModelConfig`, `LoRAConfig`, `RandomInitConfig`), `load_model`,
`load_tokenizer`, and the one-time GGUF conversion of the default model (`prepare`).

Command line: `python -m codereset.models prepare [NAME]` converts/caches NAME (default
smollm2-135m-instruct) and prints where it lives.
"""

from codereset.models.config import (
    CACHE_ENV,
    DEFAULT_MODEL,
    LoRAConfig,
    ModelConfig,
    RandomInitConfig,
    resolve_cache_dir,
)
from codereset.models.load import (
    NAMED_MODELS,
    apply_lora,
    checkpoint_path,
    default_checkpoint,
    load_model,
    load_tokenizer,
    resolve_device,
    resolve_dtype,
)

__all__ = [
    "CACHE_ENV", "DEFAULT_MODEL", "LoRAConfig", "ModelConfig", "NAMED_MODELS", "RandomInitConfig",
    "apply_lora", "checkpoint_path", "default_checkpoint", "load_model", "load_tokenizer",
    "resolve_cache_dir", "resolve_device", "resolve_dtype",
]
