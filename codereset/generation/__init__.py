"""Generation backends behind one interface (`GenerationBackend.generate`), chosen by name.

Registry `BACKENDS` maps a name to "module:Class"; the module is imported only when that backend
is asked for, so `vllm` is never imported unless `make_backend("vllm", ...)` is called.
Every backend class takes `(model, tokenizer, cfg)` and declares its config dataclass as the
class attribute `Config`.
"""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Mapping
from typing import Any

from codereset.generation.base import (
    Completion,
    GenerationBackend,
    Sampling,
    as_token_ids,
    stop_cut,
)

BACKENDS: dict[str, str] = {
    "hf": "codereset.generation.hf:HFBackend",
    "vllm": "codereset.generation.vllm:VLLMBackend",
}


def backend_class(name: str) -> type[GenerationBackend]:
    """The backend class registered under `name` (imports its module now)."""
    if name not in BACKENDS:
        raise ValueError(f"unknown generation backend {name!r}; known: {sorted(BACKENDS)}")
    module, _, attr = BACKENDS[name].partition(":")
    return getattr(importlib.import_module(module), attr)


def backend_config(cls: type, cfg: Any) -> Any:
    """`cfg` as an instance of `cls.Config`: None gives the defaults; a mapping (e.g. a Hydra
    DictConfig) gives those fields, where a `name` entry (Hydra group configs carry one) is
    ignored; an instance is used as is."""
    config_cls = cls.Config
    if cfg is None:
        return config_cls()
    if isinstance(cfg, config_cls):
        return cfg
    if dataclasses.is_dataclass(cfg):
        cfg = dataclasses.asdict(cfg)
    if not isinstance(cfg, Mapping):
        try:  # OmegaConf DictConfig without importing omegaconf here
            cfg = dict(cfg.items())
        except AttributeError as err:
            raise TypeError(f"backend cfg must be None, a mapping or {config_cls.__name__}, got {type(cfg)}") from err
    known = {f.name for f in dataclasses.fields(config_cls)}
    values = {k: v for k, v in cfg.items() if k != "name"}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ValueError(f"unknown {cls.__name__} option(s) {unknown}; known: {sorted(known)}")
    return config_cls(**values)


def make_backend(name: str, model: Any, tokenizer: Any, cfg: Any = None) -> GenerationBackend:
    """Build the backend `name` ("hf", "vllm") sampling from `model` with `tokenizer`."""
    cls = backend_class(name)
    return cls(model, tokenizer, backend_config(cls, cfg))


__all__ = [
    "BACKENDS",
    "Completion",
    "GenerationBackend",
    "Sampling",
    "as_token_ids",
    "backend_class",
    "backend_config",
    "make_backend",
    "stop_cut",
]
