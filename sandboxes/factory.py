"""``make_sandbox``: pick a backend by name (or the strongest available), start its workers."""

from __future__ import annotations

import logging
import os

from .backends import BACKENDS, STRENGTH, make_backend
from .pool import Sandbox
from .specs import Limits

log = logging.getLogger("sandboxes")


def make_sandbox(backend: str = "auto", *, workers: int | None = None,
                 limits: Limits | None = None, pin_cpus: bool | None = None,
                 **options) -> Sandbox:
    """Start a sandbox pool.

    ``backend``: "auto" (the strongest available of docker > bwrap > local, logged with what it
    lacks) or one of ``BACKENDS``. ``workers``: parallel runs (default: CPU count). ``limits``:
    default per-run limits (docker also sizes its containers from them). ``pin_cpus``: run each
    worker (judge, runners, candidates) on one CPU of its own; None (default) does so when there
    are no more workers than usable CPUs (see ``pool``). ``options``: the named backend's config
    fields (LocalConfig, BwrapConfig, DockerConfig).
    """
    limits = limits or Limits()
    workers = workers or os.cpu_count() or 2
    if backend == "auto":
        if options:
            raise ValueError("backend options need an explicit backend name, e.g. "
                             "make_sandbox('docker', image=...)")
        for name in STRENGTH:
            candidate = make_backend(name)
            reason = candidate.unavailable()
            if reason is None:
                log.info("sandboxes: auto picked %r backend; %s", name,
                         candidate.isolation().line())
                return Sandbox(candidate, workers, limits, pin_cpus)
            log.warning("sandboxes: auto skips %r: %s", name, reason)
        raise RuntimeError("no sandbox backend is available")  # local always is
    chosen = make_backend(backend, options)
    reason = chosen.unavailable()
    if reason is not None:
        raise RuntimeError(f"sandbox backend {backend!r} is unavailable: {reason}")
    return Sandbox(chosen, workers, limits, pin_cpus)


__all__ = ["make_sandbox", "BACKENDS"]
