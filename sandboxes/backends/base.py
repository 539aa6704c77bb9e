"""The backend interface: how a runner server is started inside some isolation.

A backend only launches the warm runner (``runner.server``) and says what isolation it gives;
everything after the launch (spawning candidates, limits, killing, judging) is shared code.
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import socket
import tempfile
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Callable, ClassVar

from ..specs import Limits
from . import cgroup

# Host directories a judge's sandboxes keep while they run, named <prefix><judge pid>-...
SOCKDIR_PREFIX = "codereset-docker-"   # docker: the runner's socket, until it connects
DEV_PREFIX = "codereset-bwrap-dev-"    # bwrap as root: the sandbox's own device nodes


PIDS_CARRY = ("the same first pid every run (without root, a run's first pid shows how many "
              "pids the run before used: bits from one run to the next)")
PIDS_RESET = "the same first pid every run (runner.server.PidReset)"


@dataclass(frozen=True)
class Isolation:
    """What a backend isolates (``has``) and what it does not (``lacks``)."""

    has: tuple[str, ...]
    lacks: tuple[str, ...]

    def line(self) -> str:
        lacks = "; ".join(self.lacks) if self.lacks else "nothing listed"
        return f"isolation: {'; '.join(self.has)} -- lacks: {lacks}"


@dataclass
class Launched:
    """A started runner: the judge's end of the control socket and how to kill the sandbox."""

    sock: socket.socket
    kill: Callable[[], None]
    start_timeout: float
    budget: object | None = None
    """The sandbox's cgroup (``cgroup.Cgroup``: memory, pids, CPU for all its processes), or
    None where the backend has none of its own (docker's container is one)."""


class Backend(ABC):
    """Starts runner servers; constructed from a config dataclass of backend options."""

    name: ClassVar[str]
    config_class: ClassVar[type]

    def __init__(self, config=None):
        self.config = config if config is not None else self.config_class()

    @abstractmethod
    def unavailable(self) -> str | None:
        """None when usable here, else the reason it is not (and how to fix it)."""

    @abstractmethod
    def isolation(self) -> Isolation:
        """What this backend isolates, as configured, on this machine."""

    def prepare(self) -> None:
        """One-time setup before workers start (e.g. building an image). Idempotent."""

    @abstractmethod
    def launch(self, uid: int, limits: Limits) -> Launched:
        """Start one runner server whose candidates run as ``uid`` (when root allows it)."""

    def leftovers(self, judge_pid: int) -> list[str]:
        """What the sandboxes of judge ``judge_pid`` keep on the host while they run (socket
        and device directories, cgroups; containers for docker). A judge removes them itself
        when it closes; for one that was killed, ``pool`` calls ``remove_leftovers``."""
        tmp = tempfile.gettempdir()
        found = [p for prefix in (SOCKDIR_PREFIX, DEV_PREFIX)
                 for p in glob.glob(f"{tmp}/{prefix}{judge_pid}-*")]
        return found + cgroup.leftovers(judge_pid)

    def remove_leftovers(self, judge_pid: int) -> None:
        for path in self.leftovers(judge_pid):
            if path.startswith(tempfile.gettempdir() + "/"):
                shutil.rmtree(path, ignore_errors=True)
        cgroup.remove_leftovers(judge_pid)


# The whole environment a runner starts with: nothing of the host process's (a forked candidate
# could read the initial environment back from its own stack memory, whatever ``os.environ``
# says later).
RUNNER_ENV = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}


def boot_args(python: str, runner_parent: str, entry: str, config: dict) -> list[str]:
    """Command line that starts ``runner.<entry>(config)`` in an isolated interpreter."""
    module, func = entry.rsplit(".", 1)
    code = (f"import sys, json; sys.path.insert(0, {runner_parent!r}); "
            f"from runner.{module} import {func}; {func}(json.loads(sys.argv[1]))")
    # -I: no environment or user site; -S: no site-packages (nor their .pth side effects);
    # -B: no bytecode written (the runner's directory is read-only in most sandboxes).
    return [python, "-I", "-S", "-B", "-c", code, json.dumps(config)]


def protect_from_oom() -> None:
    """Make the calling process (a launcher, just before it executes) and all it starts exempt
    from the OOM killer (oom_score_adj -1000; needs CAP_SYS_RESOURCE, which the sandbox drops
    later). The runner raises the value to 1000 around each fork, so candidates are always the
    OOM killer's first choice and the runner and launcher never are. Without the privilege
    nothing changes (the runner's candidates still go first)."""
    try:
        with open("/proc/self/oom_score_adj", "w") as f:
            f.write("-1000")
    except OSError:
        pass


def launcher_preexec(budget, then: Callable[[], None] | None = None) -> Callable[[], None]:
    """``Popen(preexec_fn=...)`` for a launcher: into the sandbox's cgroup, out of the OOM
    killer's reach (``protect_from_oom``), then ``then()``."""
    def preexec() -> None:
        if budget is not None:
            budget.enter()
        protect_from_oom()
        if then is not None:
            then()
    return preexec


def is_root() -> bool:
    return os.geteuid() == 0


def usable_cpus() -> list[int]:
    """The CPUs this process may run on (empty where affinity is not supported)."""
    try:
        return sorted(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not Linux
        return []
