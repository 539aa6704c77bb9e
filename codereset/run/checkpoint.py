"""Checkpoints: save atomically, find the latest, restore weights and trainer state.

Layout under `<run>/checkpoints/`:
  step_000012/model/          `save_pretrained` output (full weights, or the LoRA adapter only)
                              plus the tokenizer: loadable by `load_model` / `evaluate`
  step_000012/trainer_state.pt optimizer state, step, random states, counters
  latest                      text file naming the newest complete step directory
A checkpoint is written into a hidden temporary directory and renamed into place, and `latest`
is replaced atomically afterwards, so a run killed at any moment leaves the previous checkpoint
intact. Only the newest `keep` step directories are kept. Saving runs with transformers'
progress bars off ("Writing model shards"), so the training bar is not broken into fragments.
"""

from __future__ import annotations

import json
import random
import shutil
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import torch

from codereset.run.rundir import atomic_write_text

LATEST = "latest"
STATE_FILE = "trainer_state.pt"


def step_dir_name(step: int) -> str:
    return f"step_{step:06d}"


def is_peft(model: Any) -> bool:
    return hasattr(model, "peft_config")


def rng_state() -> dict:
    """The global random states (python, numpy, torch CPU and CUDA)."""
    state = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


@contextmanager
def quiet_hf_progress():
    """transformers' own progress bars off inside the block (restored afterwards)."""
    from transformers.utils import logging as hf_logging

    was_on = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if was_on:
            hf_logging.enable_progress_bar()


def save_checkpoint(root: Path, step: int, model: Any, tokenizer: Any, optimizer: Any,
                    state: dict, keep: int = 1) -> Path:
    """Write checkpoint `step` under `root` and point `latest` at it; returns its directory."""
    root.mkdir(parents=True, exist_ok=True)
    final = root / step_dir_name(step)
    tmp = root / f".tmp-{step_dir_name(step)}"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir()
    with quiet_hf_progress():
        model.save_pretrained(tmp / "model")
        tokenizer.save_pretrained(tmp / "model")
    torch.save({"step": step, "optimizer": optimizer.state_dict(), "rng": rng_state(), **state},
               tmp / STATE_FILE)
    if final.exists():
        shutil.rmtree(final)
    tmp.rename(final)
    atomic_write_text(root / LATEST, final.name + "\n")
    steps = sorted(p for p in root.glob("step_*") if p.is_dir())
    for old in steps[: max(0, len(steps) - max(1, keep))]:
        shutil.rmtree(old, ignore_errors=True)
    return final


def latest_checkpoint(path: str | Path) -> Path | None:
    """The newest complete checkpoint under a run directory, a checkpoints/ directory, or the
    checkpoint directory itself; None when there is none."""
    path = Path(path)
    if (path / STATE_FILE).exists():
        return path
    root = path / "checkpoints" if (path / "checkpoints").is_dir() else path
    pointer = root / LATEST
    if pointer.exists():
        candidate = root / pointer.read_text(encoding="utf-8").strip()
        if (candidate / STATE_FILE).exists():
            return candidate
    steps = sorted(p for p in root.glob("step_*") if (p / STATE_FILE).exists())
    return steps[-1] if steps else None


def _read_weights(model_dir: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    index = next(iter(model_dir.glob("*.safetensors.index.json")), None)
    if index is not None:
        files = sorted(set(json.loads(index.read_text())["weight_map"].values()))
    else:
        files = [p.name for p in model_dir.glob("*.safetensors")]
    if not files:
        raise FileNotFoundError(f"no safetensors weights in {model_dir}")
    weights: dict[str, torch.Tensor] = {}
    for name in files:
        weights.update(load_file(str(model_dir / name)))
    return weights


def load_weights(model: Any, ckpt: Path) -> None:
    """Load a checkpoint's weights into `model` (same architecture; LoRA: the adapter)."""
    weights = _read_weights(Path(ckpt) / "model")
    if is_peft(model):
        from peft import set_peft_model_state_dict

        result = set_peft_model_state_dict(model, weights)
        unexpected = list(getattr(result, "unexpected_keys", []) or [])
        if unexpected:
            raise ValueError(f"checkpoint {ckpt} does not match the LoRA model: unexpected {unexpected[:5]}")
        return
    missing, unexpected = model.load_state_dict(weights, strict=False)
    tied = set(getattr(model, "_tied_weights_keys", None) or [])
    if isinstance(getattr(model, "_tied_weights_keys", None), dict):
        tied = set(model._tied_weights_keys)
    missing = [k for k in missing if k not in tied]
    if missing or unexpected:
        raise ValueError(f"checkpoint {ckpt} does not match the model: missing {missing[:5]}, "
                         f"unexpected {list(unexpected)[:5]} (same model config as the run?)")
    if hasattr(model, "tie_weights"):
        model.tie_weights()


def load_trainer_state(ckpt: Path) -> dict:
    return torch.load(Path(ckpt) / STATE_FILE, map_location="cpu", weights_only=False)
