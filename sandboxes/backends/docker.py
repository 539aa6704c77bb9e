"""``docker``: long-lived containers, each holding one warm runner as its PID 1.

Each worker runs one container with ``--network none --read-only --cap-drop ALL
--security-opt no-new-privileges --pids-limit --memory`` (swap off), an exclusive non-root uid,
and a tmpfs /tmp. The runner connects back to its judge through a unix socket in a directory
mounted read-only (the judge removes the listening socket once connected), and candidate
channels travel over it as passed file descriptors, so a run costs a fork inside the container,
not a ``docker run``. Without ``image``, the offline image (``dockerimage``) is built on first use
and the host's Python is mounted read-only; with ``image`` (built from ``sandboxes/Dockerfile``)
nothing of the host is mounted but the socket directory. A container started by a judge pinned to
a CPU (``pool``) gets that CPU as its ``--cpuset-cpus``, or starts unpinned if the daemon refuses
it.
"""

from __future__ import annotations

import functools
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from dataclasses import dataclass

from ..dockerimage import ensure_offline_image
from ..layout import RUNNER_DIR, RUNNER_MOUNT, host_layout
from ..specs import Limits
from .base import Backend, Isolation, Launched, boot_args, usable_cpus

SOCKET_DIR = "/run/codereset"


@dataclass(frozen=True)
class DockerConfig:
    image: str = ""
    """"": the offline image with the host's Python mounted (built on first use); else a tag
    built from sandboxes/Dockerfile."""
    python: str = "/usr/local/bin/python3"
    """The interpreter inside ``image`` (unused for the offline image)."""
    docker: str = "docker"
    """The docker CLI."""
    memory_headroom_mb: int = 256
    """Container memory on top of Limits.memory_mb (the runner, tmpfs, page cache)."""
    tmp_mb: int = 64
    """Size of the tmpfs /tmp."""
    allow_site_packages: bool = False
    """Offline image only: let candidates see site-packages."""
    start_timeout_s: float = 60.0
    """How long a container may take to start and connect."""


@functools.lru_cache(maxsize=8)
def _probe(docker: str) -> str | None:
    if shutil.which(docker) is None:
        return f"{docker!r} not found (install docker.io and start dockerd)"
    try:
        done = subprocess.run([docker, "info", "--format", "{{.ServerVersion}}"],
                              capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"docker engine not reachable: {e}"
    if done.returncode != 0:
        return f"docker engine not reachable (is dockerd running?): {done.stderr.strip()[:200]}"
    return None


class DockerBackend(Backend):
    name = "docker"
    config_class = DockerConfig

    def unavailable(self) -> str | None:
        return _probe(self.config.docker)

    def isolation(self) -> Isolation:
        return Isolation(
            ("container: PID, mount, network (none), IPC, UTS namespaces",
             "read-only root", "tmpfs /tmp", "no capabilities", "no_new_privs",
             "docker's seccomp profile plus runner.seccomp's denylist",
             "cgroup memory and pids limits",
             "exclusive non-root uid", "rlimits"),
            ("host kernel shared (no VM)",) + (
                () if self.config.image else ("host Python installation mounted read-only",)))

    def prepare(self) -> None:
        if not self.config.image:
            ensure_offline_image(self.config.docker, host_layout(self.config.allow_site_packages))

    def _run_args(self, name: str, uid: int, limits: Limits, sockdir: str,
                  pin: bool = True) -> list[str]:
        c = self.config
        memory = f"{limits.memory_mb + c.memory_headroom_mb}m"
        args = [c.docker, "run", "-d", "--rm", "--name", name, "--network", "none",
                "--read-only", "--cap-drop", "ALL", "--security-opt", "no-new-privileges",
                "--pids-limit", str(limits.max_processes + 8), "--memory", memory,
                "--memory-swap", memory, "--user", f"{uid}:{uid}", "--hostname", "sandbox",
                "--log-driver", "none", "--workdir", "/tmp",
                "--tmpfs", f"/tmp:rw,nosuid,nodev,size={c.tmp_mb}m,mode=1777",
                "-v", f"{sockdir}:{SOCKET_DIR}:ro"]
        cpus = usable_cpus()
        if pin and cpus and len(cpus) < (os.cpu_count() or len(cpus)):  # a pinned judge's container
            args += ["--cpuset-cpus", ",".join(map(str, cpus))]
        if c.image:
            image, python = c.image, c.python
        else:
            layout = host_layout(c.allow_site_packages)
            image, python = ensure_offline_image(c.docker, layout), layout["python"]
            for src, dst in layout["binds"]:
                args += ["-v", f"{src}:{dst}:ro"]
            for path in layout["hide"]:
                args += ["--tmpfs", f"{path}:ro,size=4k"]
            args += ["-v", f"{RUNNER_DIR}:{RUNNER_MOUNT}:ro"]
        config = {"connect": f"{SOCKET_DIR}/ctl.sock", "scratch": ["/tmp", "/dev/shm"],
                  "uid_exclusive": True, "seccomp": "try"}
        boot = boot_args(python, os.path.dirname(RUNNER_MOUNT), "server.main", config)
        return args + ["--entrypoint", boot[0], image] + boot[1:]

    def launch(self, uid: int, limits: Limits) -> Launched:
        c = self.config
        sockdir = tempfile.mkdtemp(prefix="codereset-docker-")
        os.chmod(sockdir, 0o755)
        path = os.path.join(sockdir, "ctl.sock")
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(path)
        os.chmod(path, 0o666)
        listener.listen(1)
        # Named after the user process (the judge's parent), so its containers are easy to find.
        name = f"codereset-sandbox-{os.getppid()}-{uid}-{uuid.uuid4().hex[:8]}"

        def kill() -> None:
            subprocess.run([c.docker, "rm", "-f", name], capture_output=True, timeout=60)
            shutil.rmtree(sockdir, ignore_errors=True)

        try:
            args = self._run_args(name, uid, limits, sockdir)
            done = subprocess.run(args, capture_output=True, text=True, timeout=c.start_timeout_s)
            if done.returncode != 0 and "--cpuset-cpus" in args:
                # the daemon's cgroup may not offer this CPU: pinning only saves time, so unpinned
                subprocess.run([c.docker, "rm", "-f", name], capture_output=True, timeout=60)
                done = subprocess.run(self._run_args(name, uid, limits, sockdir, pin=False),
                                      capture_output=True, text=True, timeout=c.start_timeout_s)
            if done.returncode != 0:
                raise RuntimeError(f"docker run failed: {done.stderr.strip()[:300]}")
            listener.settimeout(c.start_timeout_s)
            conn, _ = listener.accept()
        except BaseException:
            listener.close()
            kill()
            raise
        listener.close()
        os.unlink(path)  # nothing else can connect now
        conn.settimeout(None)
        return Launched(conn, kill, start_timeout=c.start_timeout_s)
