"""Fixtures: one warm sandbox per backend for the whole session (docker and bwrap included).

A backend is skipped only when it truly cannot run here (its ``unavailable()`` reason is shown);
CI installs bubblewrap and starts dockerd, so all three run there.
"""

from __future__ import annotations

import os

import pytest

from sandboxes import Limits, make_sandbox
from sandboxes.backends import make_backend

BACKENDS = [
    pytest.param("local", id="local"),
    pytest.param("bwrap", id="bwrap", marks=pytest.mark.bwrap),
    pytest.param("docker", id="docker", marks=pytest.mark.docker),
]
LIMITS = Limits(wall_time_s=3.0, memory_mb=256, max_processes=16)


def stray_processes(marker: str) -> list[int]:
    """Host PIDs whose command line contains ``marker`` (sandboxed processes included)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) != os.getpid():
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as f:
                    if marker.encode() in f.read():
                        found.append(int(entry))
            except OSError:
                continue
    return found


@pytest.fixture
def strays():
    """``strays(marker)``: host PIDs whose command line contains the marker."""
    return stray_processes


@pytest.fixture(scope="session", params=BACKENDS)
def backend_name(request) -> str:
    reason = make_backend(request.param).unavailable()
    if reason is not None:
        pytest.skip(f"{request.param} backend unavailable here: {reason}")
    return request.param


@pytest.fixture(scope="session")
def sandbox(backend_name):
    with make_sandbox(backend_name, workers=2, limits=LIMITS) as sb:
        yield sb
