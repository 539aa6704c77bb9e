"""What the entry points do with the schemas: register them with Hydra's ConfigStore, find the YAML
configs (`conf_dir`), reject keys the schema does not have (`check_keys`), apply `torch_threads`.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Optional

from omegaconf import DictConfig, OmegaConf

from codereset.config.evaluate import EvaluateConfig
from codereset.config.train import TrainConfig


def apply_torch_threads(threads: Optional[int]) -> None:
    """torch.set_num_threads(threads) unless None (then torch's default stays)."""
    if threads is None:
        return
    if threads < 1:
        raise ValueError(f"torch_threads must be >= 1 or null, got {threads}")
    import torch

    torch.set_num_threads(threads)


def unknown_keys(cfg: DictConfig, prefix: str = "") -> list[tuple[str, list[str]]]:
    """Keys of a composed config that its schema does not declare, as (dotted key, the valid keys
    at that level). Hydra's `+group.key=value` adds a key even to a structured config, and
    `OmegaConf.to_object` then drops it silently; this finds it. Open mappings (fields typed
    `dict`, e.g. env.suite_options) hold any key."""
    schema = OmegaConf.get_type(cfg)
    if not (isinstance(schema, type) and dataclasses.is_dataclass(schema)):
        return []
    fields = [f.name for f in dataclasses.fields(schema)]
    found = []
    for key in cfg.keys():
        path = f"{prefix}{key}"
        if key not in fields:
            found.append((path, sorted(fields)))
            continue
        child = cfg._get_node(key)
        if isinstance(child, DictConfig) and not child._is_missing() and not child._is_none():
            found += unknown_keys(child, f"{path}.")
    return found


def check_keys(cfg: DictConfig) -> None:
    """Raise ValueError naming each key the schema does not have, with the valid keys beside it."""
    bad = unknown_keys(cfg)
    if bad:
        raise ValueError("; ".join(f"unknown config key {k!r} (valid keys here: {', '.join(valid)})"
                                   for k, valid in bad))


def conf_dir() -> str:
    """The directory of the YAML configs: codereset/conf inside an installed wheel (pyproject maps
    the checkout's conf/ there), else conf/ beside the package in a checkout."""
    here = Path(__file__).resolve().parent.parent  # the codereset package (this file is codereset/config/store.py)
    packaged = here / "conf"
    return str(packaged if (packaged / "train.yaml").is_file() else here.parent / "conf")


def register_configs() -> None:
    """Register the schemas with Hydra's ConfigStore (called by the entry points, not on import)."""
    from hydra.core.config_store import ConfigStore

    cs = ConfigStore.instance()
    cs.store(name="train_schema", node=TrainConfig)
    cs.store(name="evaluate_schema", node=EvaluateConfig)
