"""Backend registry: name -> Backend class. ``make_backend`` builds one from plain options."""

from __future__ import annotations

from dataclasses import fields

from .base import Backend, Isolation, Launched
from .bwrap import BwrapBackend, BwrapConfig
from .docker import DockerBackend, DockerConfig
from .local import LocalBackend, LocalConfig

BACKENDS: dict[str, type[Backend]] = {b.name: b for b in (LocalBackend, BwrapBackend,
                                                           DockerBackend)}
STRENGTH = ("docker", "bwrap", "local")  # strongest first: what ``auto`` tries


def make_backend(name: str, options: dict | None = None) -> Backend:
    if name not in BACKENDS:
        raise ValueError(f"unknown sandbox backend {name!r}; known: {sorted(BACKENDS)} "
                         "(or 'auto')")
    cls = BACKENDS[name]
    allowed = {f.name for f in fields(cls.config_class)}
    unknown = set(options or {}) - allowed
    if unknown:
        raise ValueError(f"unknown option(s) {sorted(unknown)} for backend {name!r}; "
                         f"known: {sorted(allowed)}")
    return cls(cls.config_class(**(options or {})))


__all__ = ["BACKENDS", "STRENGTH", "Backend", "Isolation", "Launched", "make_backend",
           "LocalConfig", "BwrapConfig", "DockerConfig"]
