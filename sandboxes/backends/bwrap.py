"""``bwrap``: the warm runner inside bubblewrap (Debian package ``bubblewrap``).

bwrap builds the same minimal root as ``local`` (read-only Python installation and libraries,
hidden site-packages, private tmpfs /tmp, new /proc and /dev) with new PID, network, IPC, UTS and
cgroup namespaces; the runner is PID 1 (``--as-pid-1``), dies with its judge
(``--die-with-parent``) and starts in a new session. As root, bwrap keeps only CAP_SETUID and
CAP_SETGID for the runner, which drops to an exclusive unprivileged uid at once; otherwise bwrap
uses an unprivileged user namespace and the candidate keeps the caller's uid.
"""

from __future__ import annotations

import functools
import os
import shutil
import socket
import subprocess
from dataclasses import dataclass

from ..layout import RUNNER_DIR, RUNNER_MOUNT, host_layout
from ..specs import MiB, Limits
from .base import Backend, Isolation, Launched, boot_args, is_root

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
               "private tmpfs /tmp", "rlimits", "no_new_privs", "no capabilities",
               "seccomp denylist (runner.seccomp)"]
        lacks = ["cgroup memory/pids accounting", "a full seccomp allowlist (only a denylist)"]
        if is_root():
            has.append("exclusive unprivileged uid")
        else:
            has.append("user namespace")
            lacks.append("separate uid (the candidate runs as the caller's uid)")
        return Isolation(tuple(has), tuple(lacks))

    def _args(self, uid: int) -> tuple[list[str], dict]:
        layout = host_layout(self.config.allow_site_packages)
        args = [shutil.which(self.config.bwrap) or self.config.bwrap, *NAMESPACES,
                "--die-with-parent", "--new-session", "--as-pid-1", "--clearenv",
                "--hostname", "sandbox"]
        if is_root():
            args += ["--cap-drop", "ALL", "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
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
        args += ["--proc", "/proc", "--dev", "/dev",
                 "--perms", "1777", "--size", str(self.config.tmp_mb * MiB), "--tmpfs", "/tmp",
                 "--remount-ro", "/", "--chdir", "/tmp"]
        config = {"uid": uid if is_root() else None, "uid_exclusive": is_root(),
                  "scratch": ["/tmp"]}
        return args + ["--"], {"python": layout["python"], **config}

    def launch(self, uid: int, limits: Limits) -> Launched:
        mine, theirs = socket.socketpair()
        args, config = self._args(uid)
        python = config.pop("python")
        config["fd"] = theirs.fileno()
        proc = subprocess.Popen(
            args + boot_args(python, os.path.dirname(RUNNER_MOUNT), "server.main", config),
            pass_fds=[theirs.fileno()], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            start_new_session=True)
        theirs.close()

        def kill() -> None:
            proc.kill()
            proc.wait()

        return Launched(mine, kill, start_timeout=30.0)


