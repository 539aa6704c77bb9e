"""``local``: the warm runner in namespaces built by hand, no external tool needed.

As root: new PID, mount, network, IPC and UTS namespaces; a minimal read-only root (see
``runner.nsroot``); an exclusive unprivileged uid; rlimits per candidate; no_new_privs; a cgroup
per sandbox (``cgroup``: one memory, pids and CPU budget for all of a run's processes) where the
kernel offers one. The runner starts with an environment of its own (``RUNNER_ENV``), nothing of
the host process's. Killing the runner (PID 1) tears down the whole PID namespace.

Not as root, where root may not create namespaces (an unprivileged container: no CAP_SYS_ADMIN;
probed once, ``namespaces_refused``), or with ``namespaces=False`` it degrades to a child
subreaper with rlimits in a private scratch directory, and says so: the candidate then shares the
host's filesystem view, network and uid.
"""

from __future__ import annotations

import functools
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from dataclasses import dataclass

from ..layout import RUNNER_DIR, SHM_MB, host_layout, tmpfs_options
from ..runner.nsroot import UNSHARE_FLAGS
from ..specs import MiB, Limits
from .base import (PIDS_CARRY, PIDS_RESET, RUNNER_ENV, Backend, Isolation, Launched,
                   boot_args, is_root, launcher_preexec)
from .cgroup import available as cgroups_unavailable
from .cgroup import sandbox_cgroup

FULL = ("PID, mount, network, IPC and UTS namespaces", "minimal read-only root",
        "private tmpfs /tmp and /dev/shm (size and inode limits)",
        "/proc with hidepid (a candidate sees only its own processes)",
        "exclusive unprivileged uid", PIDS_RESET, "rlimits", "no_new_privs",
        "seccomp denylist (runner.seccomp)")
BUDGET = "cgroup memory/pids/CPU budget per run (backends.cgroup)"
DEGRADED_LACKS = (PIDS_CARRY, "PID, mount and network namespaces", "network isolation",
                  "filesystem isolation (it sees and may write what its uid may)",
                  "a uid apart from the runner's (the candidate can signal the runner)")


# The full mode's unshare (runner.nsroot's flags), tried in a child interpreter (it changes nothing here).
_PROBE = ("import ctypes, sys\nlibc = ctypes.CDLL(None, use_errno=True)\n"
          f"sys.exit(0 if libc.unshare({UNSHARE_FLAGS:#x}) == 0 else ctypes.get_errno())")


@functools.cache
def namespaces_refused() -> str | None:
    """None when this process may create the full mode's namespaces, else why not."""
    done = subprocess.run([sys.executable, "-I", "-S", "-c", _PROBE], capture_output=True,
                          timeout=30)
    if done.returncode == 0:
        return None
    return (f"unshare refused: {os.strerror(done.returncode)} (root without CAP_SYS_ADMIN, "
            f"e.g. in an unprivileged container)")


@dataclass(frozen=True)
class LocalConfig:
    namespaces: bool = True
    """Use namespaces (needs root). False forces the degraded mode."""
    allow_site_packages: bool = False
    """Let candidates see site-packages (then installed test data is readable too)."""
    tmp_mb: int = 64
    """Size of the private tmpfs /tmp."""


class LocalBackend(Backend):
    name = "local"
    config_class = LocalConfig

    def full(self) -> bool:
        return self.config.namespaces and is_root() and namespaces_refused() is None

    def unavailable(self) -> str | None:
        return None

    def isolation(self) -> Isolation:
        if self.full():
            why = cgroups_unavailable()
            if why is None:
                return Isolation(FULL + (BUDGET,), ("a full seccomp allowlist (only a denylist)",))
            return Isolation(FULL, (f"{BUDGET} ({why}: memory and CPU are bounded per process "
                                    "only)", "a full seccomp allowlist (only a denylist)"))
        has = ("rlimits", "separate process", "subreaper kill of all descendants",
               "private scratch directory", "seccomp denylist (runner.seccomp)")
        lacks = DEGRADED_LACKS
        if self.config.namespaces and is_root():
            lacks += (f"namespaces: {namespaces_refused()}",)
        if is_root():
            return Isolation(has + ("exclusive unprivileged uid",), lacks)
        return Isolation(has, lacks + ("a uid apart from yours (the candidate can "
                                       "signal your processes)",))

    def launch(self, uid: int, limits: Limits) -> Launched:
        mine, theirs = socket.socketpair()
        scratch = None
        if self.full():
            config = {"fd": theirs.fileno(), "uid": uid, "uid_exclusive": True,
                      "layout": host_layout(self.config.allow_site_packages),
                      "tmp": tmpfs_options(self.config.tmp_mb * MiB),
                      "shm": tmpfs_options(SHM_MB * MiB)}
            args = boot_args(sys.executable, os.path.dirname(RUNNER_DIR),
                             "nsroot.enter", config)
        else:
            scratch = tempfile.mkdtemp(prefix="codereset-sandbox-")
            config = {"fd": theirs.fileno(), "scratch": [scratch], "uid_exclusive": is_root()}
            if is_root():  # without namespaces, still not as root
                os.chown(scratch, uid, uid)
                config["uid"] = uid
            args = boot_args(sys.executable, os.path.dirname(RUNNER_DIR),
                             "server.main", config)
        budget = sandbox_cgroup(limits, self.config.tmp_mb)
        try:
            proc = subprocess.Popen(args, pass_fds=[theirs.fileno()], stdin=subprocess.DEVNULL,
                                    stdout=subprocess.DEVNULL, cwd=scratch or "/",
                                    env=RUNNER_ENV, start_new_session=True,
                                    preexec_fn=launcher_preexec(budget))
        except BaseException:
            if budget:
                budget.remove()
            raise
        theirs.close()

        def kill() -> None:
            proc.kill()
            proc.wait()
            if scratch:
                shutil.rmtree(scratch, ignore_errors=True)
            if budget:
                budget.remove()

        return Launched(mine, kill, start_timeout=30.0, budget=budget)
