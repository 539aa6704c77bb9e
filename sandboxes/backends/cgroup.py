"""Per-sandbox cgroups for ``local`` and ``bwrap``: one budget for all of a run's processes.

rlimits bound each process on its own (eight processes of 180 MiB each fit under a 200 MiB
RLIMIT_AS), and CPU affinity is the candidate's to widen. So, where the kernel lets us (root, with
the memory, pids and cpu controllers of cgroup v1 or v2), each sandbox's runner starts inside a
cgroup of its own, and everything it forks stays there:

    memory   Limits.memory_mb + the tmpfs /tmp and /dev/shm + RUNNER_HEADROOM_MB, swap off: every
             process of the run (and its files there) together; the kernel's OOM killer ends a
             candidate process first (the runner raises each to oom_score_adj 1000)
    pids     Limits.max_processes + PIDS_HEADROOM (the runner and the launcher count too)
    cpu      one CPU's worth of time (CFS quota = period): spinners in many processes or sessions,
             on any CPUs, share one CPU and cannot starve other workers
    cpuacct  (v1, where mounted apart from cpu) the run's CPU time, for the cpu_limit verdict

The judge reads each run's counters (``Session.fault``): OOM kills, the memory high-water mark
(v1: ``memory.max_usage_in_bytes``, reset when the run starts) and CPU time, all of the run's
processes together, so limits hold per run and not per process.

A sandbox runs one candidate at a time (the runner kills everything before the next fork), so the
sandbox's budget is the run's. ``available()`` says why not where it does not apply; the backend
then lists "cgroup memory/pids/CPU budget per run" among what it lacks. Cgroups are named after
the judge's pid (``remove_leftovers`` clears those of a judge that was killed).
"""

from __future__ import annotations

import functools
import os
import time
import uuid

from ..layout import SHM_MB
from ..specs import MiB, Limits

V1_ROOT = "/sys/fs/cgroup"
V2_ROOT = "/sys/fs/cgroup"
GROUP = "codereset-sandbox"
CONTROLLERS = ("memory", "pids", "cpu")
RUNNER_HEADROOM_MB = 64
PIDS_HEADROOM = 8
CPU_PERIOD_US = 100_000


def _write(path: str, value: str) -> None:
    with open(path, "w") as f:
        f.write(value)


def _read(path: str) -> str:
    with open(path) as f:
        return f.read()


def _rmdir_when_empty(path: str, wait_s: float) -> None:
    """Remove a cgroup directory once its processes are gone (they are being killed)."""
    deadline = time.monotonic() + wait_s
    while True:
        try:
            os.rmdir(path)
            return
        except FileNotFoundError:
            return
        except OSError:  # EBUSY: a process is still exiting
            if time.monotonic() > deadline:
                return
            time.sleep(0.01)


def _v1() -> bool:
    return all(os.path.isfile(f"{V1_ROOT}/{c}/cgroup.procs") for c in CONTROLLERS)


def _v1_controllers() -> tuple[str, ...]:
    """v1 hierarchies a sandbox's cgroup lives in: CONTROLLERS, and cpuacct (the run's CPU
    time) where it is mounted apart from cpu."""
    apart = (os.path.isfile(f"{V1_ROOT}/cpuacct/cgroup.procs")
             and not os.path.isfile(f"{V1_ROOT}/cpu/cpuacct.usage"))
    return CONTROLLERS + (("cpuacct",) if apart else ())


def _v2() -> bool:
    try:
        with open(f"{V2_ROOT}/cgroup.controllers") as f:
            return set(CONTROLLERS) <= set(f.read().split())
    except OSError:
        return False


@functools.lru_cache(maxsize=1)
def available() -> str | None:
    """None when per-sandbox cgroups can be made here, else why not."""
    if os.geteuid() != 0:
        return "not root"
    if not (_v1() or _v2()):
        return "no cgroup v1 or v2 hierarchy with the memory, pids and cpu controllers"
    try:
        probe = Cgroup.create(f"probe-{os.getpid()}", Limits(), tmp_mb=0)
        probe.remove()
    except OSError as e:
        return f"cannot create cgroups: {e}"
    return None


class Cgroup:
    """One sandbox's cgroup (a directory per controller on v1, one directory on v2)."""

    owned = True  # made (and sized, and removed) here

    def __init__(self, dirs: list[str], v2: bool):
        self.dirs, self.v2 = dirs, v2
        self.controllers = CONTROLLERS if v2 else _v1_controllers()[:len(dirs)]
        self._fds: dict[str, int] = {}  # counter files kept open: a pread costs ~1 us

    @classmethod
    def of_process(cls, pid: int) -> Cgroup | None:
        """The cgroup another manager made for process ``pid`` (a docker container's), to read
        its counters only; None where it cannot be found."""
        try:
            with open(f"/proc/{pid}/cgroup") as f:
                lines = [line.rstrip("\n").split(":", 2) for line in f]
        except OSError:
            return None
        v2 = not _v1()
        controllers = CONTROLLERS if v2 else _v1_controllers()
        paths = {c: path for _, names, path in lines for c in names.split(",")} if not v2 \
            else {c: path for _, names, path in lines if names == "" for c in CONTROLLERS}
        dirs = [f"{V2_ROOT}{paths.get(c, '')}" if v2 else f"{V1_ROOT}/{c}{paths.get(c, '')}"
                for c in (CONTROLLERS[:1] if v2 else controllers)]
        if any(c not in paths for c in CONTROLLERS) or not all(map(os.path.isdir, dirs)):
            return None
        group = cls(dirs, v2)
        group.owned = False
        return group

    @classmethod
    def create(cls, name: str, limits: Limits, tmp_mb: int) -> Cgroup:
        v2 = not _v1()
        if v2:
            parent = f"{V2_ROOT}/{GROUP}"
            os.makedirs(parent, exist_ok=True)
            _write(f"{parent}/cgroup.subtree_control", " ".join(f"+{c}" for c in CONTROLLERS))
            dirs = [f"{parent}/{name}"]
        else:
            dirs = [f"{V1_ROOT}/{c}/{GROUP}/{name}" for c in _v1_controllers()]
        made = []
        try:
            for d in dirs:
                os.makedirs(d)
                made.append(d)
            group = cls(dirs, v2)
            group.set_limits(limits, tmp_mb)
        except OSError:
            for d in made:
                os.rmdir(d)
            raise
        return group

    def _file(self, controller: str, name: str) -> str:
        if not self.v2 and controller not in self.controllers:
            controller = "cpu"  # cpuacct mounted with cpu
        return f"{self.dirs[0 if self.v2 else self.controllers.index(controller)]}/{name}"

    def _counter(self, controller: str, name: str) -> bytes:
        key = f"{controller}/{name}"
        fd = self._fds.get(key)
        if fd is None:
            fd = self._fds[key] = os.open(self._file(controller, name), os.O_RDWR
                                          if name == "memory.max_usage_in_bytes" else os.O_RDONLY)
        return os.pread(fd, 4096, 0)

    def cpu_ns(self) -> int | None:
        """CPU time all processes of this cgroup have used, in ns (None if unreadable)."""
        try:
            if self.v2:
                for line in self._counter("cpu", "cpu.stat").split(b"\n"):
                    if line.startswith(b"usage_usec "):
                        return int(line.split()[1]) * 1000
                return None
            return int(self._counter("cpuacct", "cpuacct.usage"))
        except (OSError, ValueError):
            return None

    def reset_peak(self) -> int | None:
        """Restart the memory high-water mark at the current usage; returns it (v1; None where
        the kernel offers no resettable peak)."""
        if self.v2:
            return None
        try:
            self._counter("memory", "memory.max_usage_in_bytes")
            os.pwrite(self._fds["memory/memory.max_usage_in_bytes"], b"0", 0)
            return int(self._counter("memory", "memory.max_usage_in_bytes"))
        except (OSError, ValueError):
            return None

    def peak(self) -> int | None:
        """Memory high-water mark since ``reset_peak`` (bytes; None where unavailable)."""
        if self.v2:
            return None
        try:
            return int(self._counter("memory", "memory.max_usage_in_bytes"))
        except (OSError, ValueError):
            return None

    def close_files(self) -> None:
        for fd in self._fds.values():
            os.close(fd)
        self._fds.clear()

    def set_limits(self, limits: Limits, tmp_mb: int) -> None:
        if not self.owned:  # its manager sized it (docker: per container)
            return
        memory = (limits.memory_mb + tmp_mb + SHM_MB + RUNNER_HEADROOM_MB) * MiB
        pids = limits.max_processes + PIDS_HEADROOM
        if self.v2:
            _write(self._file("memory", "memory.max"), str(memory))
            _write(self._file("memory", "memory.swap.max"), "0")
            _write(self._file("pids", "pids.max"), str(pids))
            _write(self._file("cpu", "cpu.max"), f"{CPU_PERIOD_US} {CPU_PERIOD_US}")
            return
        limit = self._file("memory", "memory.limit_in_bytes")
        memsw = self._file("memory", "memory.memsw.limit_in_bytes")
        # memory+swap may never be below memory: order the writes so that it never is
        current = int(_read(limit))
        order = [(limit, memory), (memsw, memory)] if memory < current else \
            [(memsw, memory), (limit, memory)]
        for path, value in order:
            if os.path.exists(path):
                _write(path, str(value))
        _write(self._file("pids", "pids.max"), str(pids))
        _write(self._file("cpu", "cpu.cfs_period_us"), str(CPU_PERIOD_US))
        _write(self._file("cpu", "cpu.cfs_quota_us"), str(CPU_PERIOD_US))

    def enter(self) -> None:
        """Move the calling process into this cgroup (``Popen(preexec_fn=...)``: in the child,
        before it executes the launcher, so all it forks starts inside)."""
        for d in self.dirs:
            _write(f"{d}/cgroup.procs", "0")

    def oom_kills(self) -> int:
        """Processes the kernel's OOM killer has ended in this cgroup so far."""
        name = "memory.events" if self.v2 else "memory.oom_control"
        try:
            for line in self._counter("memory", name).split(b"\n"):
                key, _, value = line.partition(b" ")
                if key == b"oom_kill":
                    return int(value)
        except (OSError, ValueError):
            pass
        return 0

    def remove(self, wait_s: float = 5.0) -> None:
        self.close_files()
        if not self.owned:
            return
        for d in self.dirs:
            _rmdir_when_empty(d, wait_s)


def sandbox_cgroup(limits: Limits, tmp_mb: int) -> Cgroup | None:
    """A new cgroup for one sandbox of this judge, or None where ``available()`` says no."""
    if available() is not None:
        return None
    return Cgroup.create(f"{os.getpid()}-{uuid.uuid4().hex[:12]}", limits, tmp_mb)


def leftovers(judge_pid: int) -> list[str]:
    """Cgroup directories of sandboxes of the judge ``judge_pid``."""
    parents = [f"{V2_ROOT}/{GROUP}"] if not _v1() else [f"{V1_ROOT}/{c}/{GROUP}"
                                                         for c in _v1_controllers()]
    found = []
    for parent in parents:
        try:
            found += [f"{parent}/{n}" for n in os.listdir(parent)
                      if n.startswith(f"{judge_pid}-")]
        except OSError:
            continue
    return found


def remove_leftovers(judge_pid: int) -> None:
    for d in leftovers(judge_pid):
        _rmdir_when_empty(d, wait_s=2.0)
