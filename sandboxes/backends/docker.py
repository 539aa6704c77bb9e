"""``docker``: long-lived containers, each holding one warm runner as its PID 1.

Driven through the Docker SDK for Python (the ``docker`` package: container lifecycle, limits,
health and errors through the engine's API, no CLI output parsed). Each worker runs one container
per sandbox with no network, a read-only root, ``no-new-privileges``, a pids limit, a memory limit
(swap off) and one CPU's worth of time (``nano_cpus``), tmpfs /tmp and /dev/shm with size and inode
limits, and /sys/fs/cgroup masked. The runner starts as root with CAP_SETUID, CAP_SETGID and
CAP_SYS_ADMIN only, mounts a /proc of its own with hidepid (docker's masked and read-only /proc
paths done again over it) and drops root and every capability for an exclusive non-root uid
before it forks any candidate. The runner connects back to its judge through a unix socket in a
directory mounted read-only (the judge removes the socket and the directory once connected, so
a judge that dies leaves nothing in the host's /tmp), and candidate channels travel over it as
passed file descriptors, so a run costs a fork inside the container, not a container start.
Without ``image``, the offline image (``dockerimage``) is imported on first use and the host's
Python is mounted read-only; with ``image`` (built from ``sandboxes/Dockerfile``) nothing of the
host is mounted but the socket directory. A container started by a judge pinned to a CPU
(``pool``) gets that CPU as its cpuset, or starts unpinned if the engine refuses it.

An engine that cannot be reached makes ``unavailable()`` say where it looked and how to fix it;
``make_sandbox("auto")`` then falls back to the next backend and logs why.
"""

from __future__ import annotations

import functools
import os
import shutil
import socket
import tempfile
import uuid
from dataclasses import dataclass

from ..dockerimage import ensure_offline_image
from ..layout import RUNNER_DIR, RUNNER_MOUNT, SHM_MB, host_layout, tmpfs_options
from ..specs import MiB, Limits
from .base import (PIDS_RESET, SOCKDIR_PREFIX, Backend, Isolation, Launched, boot_args,
                   usable_cpus)
from .cgroup import Cgroup

SOCKET_DIR = "/run/codereset"
API_TIMEOUT_S = 60
JUDGE_LABEL = "codereset.judge"  # the pid of the judge that started the container


@dataclass(frozen=True)
class DockerConfig:
    image: str = ""
    """"": the offline image with the host's Python mounted (built on first use); else a tag
    built from sandboxes/Dockerfile."""
    python: str = "/usr/local/bin/python3"
    """The interpreter inside ``image`` (unused for the offline image)."""
    base_url: str = ""
    """The engine's address (e.g. "unix:///var/run/docker.sock", "tcp://host:2375"); "": from the
    environment (DOCKER_HOST), else the default socket."""
    memory_headroom_mb: int = 256
    """Container memory on top of Limits.memory_mb (the runner, tmpfs, page cache)."""
    tmp_mb: int = 64
    """Size of the tmpfs /tmp."""
    allow_site_packages: bool = False
    """Offline image only: let candidates see site-packages."""
    start_timeout_s: float = 60.0
    """How long a container may take to start and connect."""


class EngineUnreachable(RuntimeError):
    """The docker engine cannot be reached (or the SDK is missing)."""


def _where(base_url: str) -> str:
    return base_url or os.environ.get("DOCKER_HOST") or "the default socket"


def connect(base_url: str = "", timeout: float = API_TIMEOUT_S):
    """A ``docker.DockerClient`` that has answered a ping; raises ``EngineUnreachable`` saying
    where it looked and how to fix it."""
    try:
        import docker
    except ImportError:
        raise EngineUnreachable("the Docker SDK for Python is not installed (pip install "
                                "docker)") from None
    try:
        client = (docker.DockerClient(base_url=base_url, timeout=timeout) if base_url
                  else docker.from_env(timeout=timeout))
        client.ping()
    except Exception as e:  # noqa: BLE001 - DockerException, requests' errors, bad URLs
        raise EngineUnreachable(
            f"docker engine not reachable at {_where(base_url)}: {str(e)[:200]} -- start it "
            "(sudo systemctl start docker, or dockerd &) or point DOCKER_HOST (or "
            "make_sandbox('docker', base_url=...)) at a running one") from None
    return client


@functools.lru_cache(maxsize=8)
def _probe(base_url: str, docker_host: str | None) -> str | None:
    """``connect``'s error or None (cached per address: ``docker_host`` is DOCKER_HOST)."""
    try:
        connect(base_url, timeout=20).close()
    except EngineUnreachable as e:
        return str(e)
    return None


class DockerBackend(Backend):
    name = "docker"
    config_class = DockerConfig

    def __init__(self, config=None):
        super().__init__(config)
        self._client = None

    @property
    def client(self):
        """The engine client (connected on first use, then kept)."""
        if self._client is None:
            self._client = connect(self.config.base_url)
        return self._client

    def unavailable(self) -> str | None:
        return _probe(self.config.base_url, os.environ.get("DOCKER_HOST"))

    def isolation(self) -> Isolation:
        return Isolation(
            ("container: PID, mount, network (none), IPC, UTS namespaces",
             "read-only root", "tmpfs /tmp and /dev/shm (size and inode limits)",
             "/proc with hidepid (a candidate sees only its own processes)",
             "/sys/fs/cgroup masked", PIDS_RESET, "no capabilities for candidates",
             "no_new_privs",
             "docker's seccomp profile plus runner.seccomp's denylist",
             "cgroup memory and pids limits per run", "one CPU per run (cgroup CPU quota)",
             "exclusive non-root uid", "rlimits"),
            ("host kernel shared (no VM)",) + (
                () if self.config.image else ("host Python installation mounted read-only",)))

    def prepare(self) -> None:
        if not self.config.image:
            ensure_offline_image(self.client, host_layout(self.config.allow_site_packages))

    def _run_kwargs(self, name: str, uid: int, limits: Limits, sockdir: str,
                    pin: bool = True) -> dict:
        """Keyword arguments of ``client.containers.create`` for one sandbox's container."""
        import docker

        c = self.config
        memory = f"{limits.memory_mb + c.memory_headroom_mb}m"
        tmpfs = {"/tmp": f"rw,nosuid,nodev,{tmpfs_options(c.tmp_mb * MiB)}",
                 "/dev/shm": f"rw,nosuid,nodev,noexec,{tmpfs_options(SHM_MB * MiB)}",
                 # the container's own cgroup counters (its memory high-water mark) were bits
                 # from one run to the next; the judge reads them from the host instead
                 "/sys/fs/cgroup": "ro,nosuid,nodev,noexec,size=4k"}
        volumes = {sockdir: {"bind": SOCKET_DIR, "mode": "ro"}}
        # Started as root with three capabilities, which the runner drops (with root) once it has
        # mounted /proc with hidepid (runner.server.PROC_OPTIONS) and become ``uid``.
        kwargs = dict(name=name, auto_remove=True, network_mode="none",
                      read_only=True, cap_drop=["ALL"], cap_add=["SETUID", "SETGID", "SYS_ADMIN"],
                      security_opt=["no-new-privileges"],
                      pids_limit=limits.max_processes + 8, mem_limit=memory,
                      memswap_limit=memory, nano_cpus=10**9, user="0:0",
                      hostname="sandbox", working_dir="/tmp", tmpfs=tmpfs, volumes=volumes,
                      log_config=docker.types.LogConfig(type="none"), stdin_open=False,
                      labels={JUDGE_LABEL: str(os.getpid())})
        cpus = usable_cpus()
        if pin and cpus and len(cpus) < (os.cpu_count() or len(cpus)):  # a pinned judge's
            kwargs["cpuset_cpus"] = ",".join(map(str, cpus))
        if c.image:
            image, python = c.image, c.python
        else:
            layout = host_layout(c.allow_site_packages)
            image, python = ensure_offline_image(self.client, layout), layout["python"]
            for src, dst in layout["binds"]:
                volumes[src] = {"bind": dst, "mode": "ro"}
            for path in layout["hide"]:
                tmpfs[path] = "ro,size=4k"
            volumes[RUNNER_DIR] = {"bind": RUNNER_MOUNT, "mode": "ro"}
        config = {"connect": f"{SOCKET_DIR}/ctl.sock",
                  "scratch": ["/tmp", "/dev/shm", "/dev/mqueue"], "uid": uid,
                  "uid_exclusive": True, "seccomp": "try", "remount_proc": True,
                  "mask_proc": True}
        boot = boot_args(python, os.path.dirname(RUNNER_MOUNT), "server.main", config)
        return dict(kwargs, image=image, entrypoint=[boot[0]], command=boot[1:])

    def _start(self, kwargs: dict) -> None:
        import docker

        kwargs = dict(kwargs)
        image = kwargs.pop("image")
        try:  # create + start, not run: run would try to pull a missing image
            self.client.containers.create(image, **kwargs).start()
        except docker.errors.APIError as e:
            if "cpuset_cpus" not in kwargs:
                raise RuntimeError(f"docker could not start the sandbox container: "
                                   f"{e.explanation or e}"[:400]) from None
            # the engine's cgroup may not offer this CPU: pinning only saves time, so unpinned
            self._remove(kwargs["name"])
            del kwargs["cpuset_cpus"]
            self._start(dict(kwargs, image=image))
        except docker.errors.DockerException as e:
            raise RuntimeError(f"docker could not start the sandbox container: {e}"[:400]) \
                from None

    def _remove(self, name: str) -> None:
        import docker

        try:
            self.client.api.remove_container(name, force=True)
        except docker.errors.NotFound:
            pass
        except docker.errors.APIError as e:
            if e.status_code != 409:  # 409: its auto-removal is already under way
                raise

    def _containers(self, judge_pid: int) -> list:
        try:
            return self.client.containers.list(
                all=True, filters={"label": f"{JUDGE_LABEL}={judge_pid}"})
        except Exception:  # noqa: BLE001 - no engine: no containers
            return []

    def leftovers(self, judge_pid: int) -> list[str]:
        """Also the judge's containers: one created but never started (the judge was killed
        between the two calls) would stay forever; a started one ends with its runner."""
        return super().leftovers(judge_pid) + [f"container {c.name}"
                                               for c in self._containers(judge_pid)]

    def remove_leftovers(self, judge_pid: int) -> None:
        super().remove_leftovers(judge_pid)
        for c in self._containers(judge_pid):
            self._remove(c.name)

    def _state(self, name: str) -> str:
        """How a container that did not connect ended, for the error message."""
        try:
            state = self.client.api.inspect_container(name)["State"]
        except Exception as e:  # noqa: BLE001 - gone (auto-removed) or the engine went away
            return f"it is gone ({str(e)[:100]})"
        return (f"status {state.get('Status')}, exit code {state.get('ExitCode')}"
                f"{', ' + state['Error'] if state.get('Error') else ''}")

    def launch(self, uid: int, limits: Limits) -> Launched:
        c = self.config
        sockdir = tempfile.mkdtemp(prefix=f"{SOCKDIR_PREFIX}{os.getpid()}-")  # the judge's pid
        os.chmod(sockdir, 0o755)
        path = os.path.join(sockdir, "ctl.sock")
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(path)
        os.chmod(path, 0o666)
        listener.listen(1)
        # Named after the user process (the judge's parent), so its containers are easy to find.
        name = f"codereset-sandbox-{os.getppid()}-{uid}-{uuid.uuid4().hex[:8]}"

        def kill() -> None:
            try:
                self._remove(name)
            finally:
                shutil.rmtree(sockdir, ignore_errors=True)

        try:
            self._start(self._run_kwargs(name, uid, limits, sockdir))
            listener.settimeout(c.start_timeout_s)
            try:
                conn, _ = listener.accept()
            except socket.timeout:
                raise RuntimeError(f"the sandbox container did not connect within "
                                   f"{c.start_timeout_s:.0f}s: {self._state(name)}") from None
        except BaseException:
            listener.close()
            kill()
            raise
        listener.close()
        os.unlink(path)  # nothing else can connect now; the container keeps its mount
        os.rmdir(sockdir)
        conn.settimeout(None)
        return Launched(conn, kill, start_timeout=c.start_timeout_s, budget=self._cgroup(name))

    def _cgroup(self, name: str) -> Cgroup | None:
        """The container's cgroup on this host, read (never written) for its OOM-kill counter;
        None for a remote engine or where it cannot be found."""
        try:
            pid = self.client.api.inspect_container(name)["State"]["Pid"]
        except Exception:  # noqa: BLE001 - the engine went away: no counters
            return None
        return Cgroup.of_process(pid) if pid else None
