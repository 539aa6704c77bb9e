"""Writing a trainer's model into a directory vLLM can load: full weights or LoRA adapters.

Owns the translation from a live (possibly peft-wrapped) Hugging Face model to files:
- `export_checkpoint(model, tokenizer, out, dtype, merge_lora)`: config.json, generation_config.json,
  tokenizer files and one `model.safetensors` holding the weights under the base model's
  checkpoint names. For a peft LoRA model, `merge_lora=True` writes W + scale * B @ A for every
  adapted layer (computed on the side; the trainer's weights are not touched) and
  `merge_lora=False` writes the untouched base weights (adapters then travel separately).
- `export_weights(...)`: only the safetensors file (what a weight sync rewrites).
- `export_adapter(model, out)`: the peft adapter files (adapter_config.json + weights), for live
  LoRA loading.
- `is_peft_model`, `lora_rank`, `unwrap` (a DDP-wrapped model is exported as its module).

Tied parameters (an output head sharing the input embedding) are written once, under the first
name; vLLM ties them again from the config. Everything here runs in the trainer's process; vLLM
is not imported.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch

WEIGHTS_FILE = "model.safetensors"
PEFT_PREFIX = "base_model.model."


def is_peft_model(model: Any) -> bool:
    """True for a peft-wrapped model (it carries `peft_config`)."""
    return hasattr(model, "peft_config") and hasattr(model, "base_model")


def unwrap(model: Any) -> Any:
    """The model inside data-parallel wrappers (torch DDP, as made by accelerate's `prepare`)."""
    from torch.nn.parallel import DataParallel, DistributedDataParallel

    while isinstance(model, (DataParallel, DistributedDataParallel)):
        model = model.module
    return model


def base_model_of(model: Any) -> Any:
    """The plain transformers model under data-parallel and peft wrappers."""
    model = unwrap(model)
    return model.get_base_model() if is_peft_model(model) else model


def lora_rank(model: Any) -> int:
    """The LoRA rank of the active adapter of a peft model."""
    cfg = model.peft_config[model.active_adapter]
    return int(cfg.r)


def _lora_layers(model: Any) -> dict[str, Any]:
    """peft LoRA layers by their module name in the base model (prefix stripped)."""
    from peft.tuners.lora import LoraLayer

    out = {}
    for name, module in model.named_modules():
        if isinstance(module, LoraLayer):
            out[name[len(PEFT_PREFIX):] if name.startswith(PEFT_PREFIX) else name] = module
    return out


def _checkpoint_name(name: str) -> str:
    """A base-model parameter name from a peft model's parameter name."""
    if name.startswith(PEFT_PREFIX):
        name = name[len(PEFT_PREFIX):]
    return name.replace(".base_layer.", ".")


@torch.no_grad()
def weights_state(model: Any, dtype: torch.dtype, merge_lora: bool) -> dict[str, torch.Tensor]:
    """Checkpoint-named CPU tensors in `dtype` of `model`'s current weights (see module doc)."""
    model = unwrap(model)
    peft = is_peft_model(model)
    if peft and model.peft_config[model.active_adapter].peft_type.value != "LORA":
        kind = model.peft_config[model.active_adapter].peft_type.value
        raise ValueError(f"the vLLM backend syncs LoRA adapters only; this model uses peft {kind!r}")
    lora = _lora_layers(model) if peft else {}
    seen: set[tuple[int, int]] = set()
    out: dict[str, torch.Tensor] = {}
    for name, tensor in model.state_dict(keep_vars=True).items():
        if peft and (".lora_" in name or "modules_to_save" in name):
            if "modules_to_save" in name:
                raise ValueError(f"peft modules_to_save ({name}) cannot be synced to vLLM; "
                                 "train with LoRA on linear layers only")
            continue
        key = (tensor.untyped_storage().data_ptr(), tensor.storage_offset())
        if key in seen:  # tied to an earlier tensor (e.g. lm_head = embed_tokens)
            continue
        seen.add(key)
        ckpt = _checkpoint_name(name) if peft else name
        value = tensor.detach()
        module_name, _, leaf = ckpt.rpartition(".")
        if merge_lora and leaf == "weight" and module_name in lora:
            layer = lora[module_name]
            active = [a for a in layer.active_adapters if a in layer.lora_A]
            if layer.merged:
                raise ValueError(f"{module_name}: adapters are merged into the base weights already; "
                                 "unmerge them before syncing")
            delta = sum((layer.get_delta_weight(a) for a in active), torch.zeros_like(value))
            value = value + delta.to(value.dtype)
        out[ckpt] = value.to(device="cpu", dtype=dtype).contiguous()
    return out


def export_weights(model: Any, out: str | os.PathLike, dtype: torch.dtype, merge_lora: bool) -> Path:
    """Write `model`'s weights to out/model.safetensors atomically (write, then rename)."""
    from safetensors.torch import save_file

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    tmp = out / (WEIGHTS_FILE + ".tmp")
    save_file(weights_state(model, dtype, merge_lora), str(tmp), metadata={"format": "pt"})
    os.replace(tmp, out / WEIGHTS_FILE)
    return out / WEIGHTS_FILE


def export_checkpoint(model: Any, tokenizer: Any, out: str | os.PathLike, dtype: torch.dtype,
                      merge_lora: bool) -> Path:
    """Write a complete loadable checkpoint of `model` (see module doc) into `out`."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    base = base_model_of(model)
    config = base.config.to_dict()
    config.pop("quantization_config", None)
    config["torch_dtype"] = str(dtype).removeprefix("torch.")
    config["dtype"] = config["torch_dtype"]
    (out / "config.json").write_text(json.dumps(config, indent=2, default=str))
    if getattr(base, "generation_config", None) is not None:
        base.generation_config.save_pretrained(out)
    tokenizer.save_pretrained(out)
    export_weights(model, out, dtype, merge_lora)
    return out


def export_adapter(model: Any, out: str | os.PathLike) -> Path:
    """Write the active LoRA adapter of a peft model (adapter_config.json + weights) into `out`."""
    model = unwrap(model)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(out), safe_serialization=True)
    return out
