"""Backend registry: name -> Backend class. ``make_backend`` builds one from plain options."""

from __future__ import annotations

import glob
import shutil
import tempfile
from dataclasses import fields

from . import cgroup
from .base import Backend, Isolation, Launched
from .bwrap import DEV_PREFIX, BwrapBackend, BwrapConfig
from .docker import SOCKDIR_PREFIX, DockerBackend, DockerConfig
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


def leftovers(judge_pid: int) -> list[str]:
    """What the sandboxes of judge ``judge_pid`` keep on the host while they run (a docker
    socket directory until its container connects, bwrap's device nodes, cgroups); a judge that
    is killed cannot remove them itself."""
    tmp = tempfile.gettempdir()
    found = [p for prefix in (SOCKDIR_PREFIX, DEV_PREFIX)
             for p in glob.glob(f"{tmp}/{prefix}{judge_pid}-*")]
    return found + cgroup.leftovers(judge_pid)


def remove_leftovers(judge_pid: int) -> None:
    for path in leftovers(judge_pid):
        if path.startswith(cgroup.V1_ROOT + "/"):
            cgroup.remove_leftovers(judge_pid)
        else:
            shutil.rmtree(path, ignore_errors=True)


__all__ = ["leftovers", "remove_leftovers", "BACKENDS", "STRENGTH", "Backend", "Isolation",
           "Launched", "make_backend",
           "LocalConfig", "BwrapConfig", "DockerConfig"]
