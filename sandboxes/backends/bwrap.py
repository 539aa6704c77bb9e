"""``bwrap``: the warm runner inside bubblewrap (Debian package ``bubblewrap``).

bwrap builds the same minimal root as ``local`` (read-only Python installation and libraries,
hidden site-packages, private tmpfs /tmp, new /proc and /dev) with new PID, network, IPC, UTS and
cgroup namespaces; the runner is PID 1 (``--as-pid-1``), dies with its judge
(``--die-with-parent``) and starts in a new session. As root, bwrap keeps only CAP_SETUID,
CAP_SETGID and CAP_SYS_ADMIN for the runner, which mounts /proc again with hidepid (a candidate
sees only its own processes), starts the helper that gives every candidate the same first pid
(``runner.server.PidReset``) and drops to an exclusive unprivileged uid, losing them all;
otherwise bwrap uses an unprivileged user namespace and the candidate keeps the caller's uid. As
root, /dev holds device nodes made for this sandbox alone (bwrap's own ``--dev`` binds the
host's, whose times a candidate could set), /tmp and /dev/shm are tmpfs with inode limits
mounted by the launcher (``scratch_mounts``), and the runner starts in a cgroup of its own
(``cgroup``: one memory, pids and CPU budget for all of a run's processes).
"""

from __future__ import annotations

import functools
import os
import shutil
import socket
import stat
import subprocess
import tempfile
from dataclasses import dataclass
from typing import Callable

from ..layout import RUNNER_DIR, RUNNER_MOUNT, SHM_MB, host_layout, tmpfs_options
from ..runner import nsroot
from ..specs import MiB, Limits
from .base import (DEV_PREFIX, PIDS_CARRY, PIDS_RESET, RUNNER_ENV, Backend, Isolation,
                   Launched, boot_args, is_root, launcher_preexec)
from .cgroup import available as cgroups_unavailable
from .cgroup import sandbox_cgroup

NAMESPACES = ["--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts",
              "--unshare-cgroup-try"]


@dataclass(frozen=True)
class BwrapConfig:
    bwrap: str = "bwrap"
    """The bubblewrap executable."""
    allow_site_packages: bool = False
    """Let candidates see site-packages (then installed test data is readable too)."""
    tmp_mb: int = 64
    """Size of the private tmpfs /tmp."""


@functools.lru_cache(maxsize=8)
def _probe(bwrap: str, root: bool) -> str | None:
    path = shutil.which(bwrap)
    if path is None:
        return f"{bwrap!r} not found (install it: apt-get install -y bubblewrap)"
    args = [path, *NAMESPACES, "--ro-bind", "/", "/", "--die-with-parent", "true"]
    if not root:
        args.insert(1, "--unshare-user")
    try:
        done = subprocess.run(args, capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"bwrap does not run here: {e}"
    if done.returncode != 0:
        return f"bwrap cannot create namespaces here: {done.stderr.strip()[:200]}"
    return None


DEVICES = {"null": (1, 3), "zero": (1, 5), "full": (1, 7), "random": (1, 8), "urandom": (1, 9)}


def make_devices() -> str:
    """A private host directory holding this sandbox's own device nodes (root only): bwrap's
    ``--dev`` binds the host's nodes, whose times a candidate could set (bits seen by every
    other sandbox and the next run). The runner replaces its sandbox when these change."""
    path = tempfile.mkdtemp(prefix=f"{DEV_PREFIX}{os.getpid()}-")  # the judge's pid
    os.chmod(path, 0o755)
    for scratch in ("tmp", "shm"):
        os.mkdir(os.path.join(path, scratch), 0o755)
    for name, (major, minor) in DEVICES.items():
        os.mknod(os.path.join(path, name), 0o666 | stat.S_IFCHR, os.makedev(major, minor))
        os.chmod(os.path.join(path, name), 0o666)
    return path


def scratch_mounts(devdir: str, tmp_mb: int) -> Callable[[], None]:
    """In the launcher (as root, just before it executes bwrap): a mount namespace of its own
    holding the sandbox's /tmp and /dev/shm, tmpfs with size and inode limits (bwrap's
    ``--tmpfs`` sets no inode limit), mounted on ``devdir``/tmp and /shm for bwrap to bind. The
    host never sees them; they go when the sandbox's last process does."""
    def mount() -> None:
        nsroot._check(nsroot._libc.unshare(nsroot.CLONE_NEWNS), "unshare")
        nsroot._mount(None, "/", None, nsroot.MS_REC | nsroot.MS_PRIVATE)
        flags = nsroot.MS_NOSUID | nsroot.MS_NODEV
        nsroot._mount("tmpfs", os.path.join(devdir, "tmp"), "tmpfs", flags,
                      tmpfs_options(tmp_mb * MiB))
        nsroot._mount("tmpfs", os.path.join(devdir, "shm"), "tmpfs", flags,
                      tmpfs_options(SHM_MB * MiB))
    return mount


def _private_dev(devdir: str) -> list[str]:
    args = ["--perms", "0755", "--tmpfs", "/dev"]
    for name in DEVICES:
        args += ["--dev-bind", os.path.join(devdir, name), f"/dev/{name}"]
    args += ["--bind", os.path.join(devdir, "shm"), "/dev/shm"]
    for name, target in (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"),
                         ("stdout", "/proc/self/fd/1"), ("stderr", "/proc/self/fd/2")):
        args += ["--symlink", target, f"/dev/{name}"]
    return args + ["--remount-ro", "/dev"]


def _dirs(path: str, made: set[str]) -> list[str]:
    """bwrap arguments creating every missing ancestor of ``path`` world-traversable."""
    out, parts = [], path.strip("/").split("/")[:-1]
    for i in range(1, len(parts) + 1):
        d = "/" + "/".join(parts[:i])
        if d not in made:
            made.add(d)
            out += ["--perms", "0755", "--dir", d]
    return out


class BwrapBackend(Backend):
    name = "bwrap"
    config_class = BwrapConfig

    def unavailable(self) -> str | None:
        return _probe(self.config.bwrap, is_root())

    def isolation(self) -> Isolation:
        has = ["PID, network, IPC, UTS, cgroup namespaces (bubblewrap)", "minimal read-only root",
               "private tmpfs /tmp and /dev/shm", "rlimits", "no_new_privs",
               "no capabilities for candidates",
               "seccomp denylist (runner.seccomp)"]
        lacks = ["a full seccomp allowlist (only a denylist)"]
        budget = "cgroup memory/pids/CPU budget per run (backends.cgroup)"
        why = cgroups_unavailable()
        if why is None:
            has.append(budget)
        else:
            lacks.append(f"{budget} ({why}: memory and CPU are bounded per process only)")
        if is_root():
            has += ["exclusive unprivileged uid", "private device nodes",
                    "/proc with hidepid (a candidate sees only its own processes)",
                    "size and inode limits on /tmp and /dev/shm", PIDS_RESET]
        else:
            has.append("user namespace")
            lacks += ["separate uid (the candidate runs as the caller's uid)", PIDS_CARRY]
        return Isolation(tuple(has), tuple(lacks))

    def _args(self, uid: int, devdir: str | None = None) -> tuple[list[str], dict]:
        layout = host_layout(self.config.allow_site_packages)
        args = [shutil.which(self.config.bwrap) or self.config.bwrap, *NAMESPACES,
                "--die-with-parent", "--new-session", "--as-pid-1", "--clearenv",
                "--hostname", "sandbox"]
        if is_root():  # CAP_SYS_ADMIN: to mount /proc with hidepid (runner.server.PROC_OPTIONS)
            args += ["--cap-drop", "ALL", "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID",
                     "--cap-add", "CAP_SYS_ADMIN"]
        else:
            args += ["--unshare-user"]
        made: set[str] = set()
        for src, dst in layout["binds"] + [[RUNNER_DIR, RUNNER_MOUNT]]:
            if os.path.exists(src):
                args += _dirs(dst, made) + ["--ro-bind", src, dst]
        for path in layout["hide"]:
            args += ["--perms", "0755", "--tmpfs", path, "--remount-ro", path]
        for target, path in layout["symlinks"]:
            args += ["--symlink", target, path]
        args += ["--proc", "/proc"]
        if devdir:  # as root: scratch tmpfs with inode limits, mounted by ``scratch_mounts``
            args += _private_dev(devdir) + ["--bind", os.path.join(devdir, "tmp"), "/tmp"]
        else:
            args += ["--dev", "/dev", "--perms", "1777", "--size", str(SHM_MB * MiB),
                     "--tmpfs", "/dev/shm", "--perms", "1777",
                     "--size", str(self.config.tmp_mb * MiB), "--tmpfs", "/tmp"]
        args += ["--remount-ro", "/", "--chdir", "/tmp"]
        config = {"uid": uid if is_root() else None, "uid_exclusive": is_root(),
                  "scratch": ["/tmp", "/dev/shm"], "remount_proc": is_root()}
        return args + ["--"], {"python": layout["python"], **config}

    def launch(self, uid: int, limits: Limits) -> Launched:
        mine, theirs = socket.socketpair()
        devdir = make_devices() if is_root() else None
        args, config = self._args(uid, devdir)
        python = config.pop("python")
        config["fd"] = theirs.fileno()
        budget = sandbox_cgroup(limits, self.config.tmp_mb)
        try:
            proc = subprocess.Popen(
                args + boot_args(python, os.path.dirname(RUNNER_MOUNT), "server.main", config),
                pass_fds=[theirs.fileno()], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                env=RUNNER_ENV, start_new_session=True,
                preexec_fn=launcher_preexec(
                    budget, scratch_mounts(devdir, self.config.tmp_mb) if devdir else None))
        except BaseException:
            if budget:
                budget.remove()
            if devdir:
                shutil.rmtree(devdir, ignore_errors=True)
            raise
        theirs.close()

        def kill() -> None:
            proc.kill()
            proc.wait()
            if devdir:
                shutil.rmtree(devdir, ignore_errors=True)
            if budget:
                budget.remove()

        return Launched(mine, kill, start_timeout=30.0, budget=budget)


