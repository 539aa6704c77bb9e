"""The warm runner server: lives inside the sandbox and forks one candidate process per request.

Started once per worker (by the local namespace launcher, by bwrap, or as a docker container's
main process) and kept warm, so a run costs a fork (milliseconds), not an interpreter start.

Control requests (one at a time, from the trusted judge; see ``wire``):

    {"op": "spawn", "mode": "call"|"stdio", "limits": {...}}
        forks a candidate process with the limits applied and replies ``{"spawned": true}`` with
        the trusted side's ends of its channel and stdout/stderr pipes (passed as file
        descriptors), and for stdio its stdin: a memfd the judge fills before the program starts,
        a regular file to the program (``os.fstat(0).st_size`` is its size).
    {"op": "recycle", "mode", "limits"}
        finish, then spawn: the judge sends it at the end of a run without waiting, so the next
        run finds its candidate process already forked.
    {"op": "finish"}
        kills every process in the sandbox except this server (``kill(-1, SIGKILL)`` as PID 1 of
        the sandbox's PID namespace, so a setsid() grandchild dies too), reaps them, wipes the
        scratch directories and reports how the candidate ended (exit status or signal, CPU
        seconds, peak memory) as ``{"report": {...}}``. Reports ``"poisoned": true`` and exits
        when it cannot restore a clean state (e.g. the candidate changed this server's nice
        value or rlimits), so that the judge replaces the sandbox.

The server holds no test data (it only ever sees limits), makes itself non-dumpable (no ptrace,
no /proc/<pid>/mem from the candidate), and as PID 1 cannot receive SIGKILL or any signal without
a handler from inside its namespace. Without PID 1 (the degraded local mode) it is a child
subreaper and kills the candidate's descendants by walking /proc instead.
"""

from __future__ import annotations

import _sitebuiltins
import builtins
import ctypes
import gc
import importlib
import io
import itertools
import math
import os
import resource
import select
import signal
import socket
import sys
import time

from . import candidate, seccomp, wire

PR_SET_PDEATHSIG, PR_SET_DUMPABLE, PR_SET_CHILD_SUBREAPER, PR_SET_NO_NEW_PRIVS = 1, 4, 36, 38
# Standard-library modules imported before any fork, so candidates importing them pay nothing.
# Kept to the common ones: every preloaded module makes each fork and exit dearer.
PRELOAD = ("typing", "math", "re", "string", "collections", "itertools", "functools", "heapq",
           "bisect", "operator")
CHAN_FD = 3
PROC_OPTIONS = "hidepid=invisible"
"""procfs mount options: every process that a process may not ptrace is invisible to it. The
runner and the candidates are non-dumpable, so a candidate sees no process but its own (not
/proc/1, whose reaped-children CPU times and page faults carried bits from run to run)."""
MS_NOSUID, MS_NODEV, MS_NOEXEC = 2, 4, 8
_libc = ctypes.CDLL(None, use_errno=True)


def prctl(option: int, value: int) -> None:
    if _libc.prctl(option, ctypes.c_ulong(value), 0, 0, 0) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"prctl({option}): {os.strerror(err)}")


def _vm_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[0]) * resource.getpagesize()


def _set_limits(limits: dict, vm_bytes: int) -> None:
    cpu = max(1, math.ceil(limits["cpu_s"]))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    resource.setrlimit(resource.RLIMIT_FSIZE, (limits["max_file_bytes"],) * 2)
    resource.setrlimit(resource.RLIMIT_NOFILE, (limits["max_open_files"],) * 2)
    # The runner itself counts against the per-uid process limit.
    resource.setrlimit(resource.RLIMIT_NPROC, (limits["max_processes"] + 1,) * 2)
    # Address space on top of what the forked interpreter already maps (a limit below the
    # parent's size would fail every run).
    resource.setrlimit(resource.RLIMIT_AS, (vm_bytes + limits["memory_bytes"],) * 2)


def _prepare_process(rundir: str) -> None:
    """Once, in the server: what every candidate inherits unchanged (environment, fresh stdio
    objects bound to fds 0-2, which each candidate re-points with dup2). Doing it here keeps
    the per-fork work, and the pages it copies on write, small."""
    os.environ.clear()
    os.environ.update(HOME=rundir, TMPDIR=rundir, PATH="/usr/bin:/bin", LANG="C.UTF-8")
    sys.argv = ["main.py"]
    # the file objects ``python3 main.py`` has (FastIO templates read .mode, .buffer, fileno())
    sys.stdin = sys.__stdin__ = open(0, "r", encoding="utf-8", errors="replace", closefd=False)
    sys.stdout = sys.__stdout__ = open(1, "w", encoding="utf-8", errors="backslashreplace",
                                       closefd=False)
    sys.stderr = sys.__stderr__ = open(2, "w", encoding="utf-8", errors="backslashreplace",
                                       closefd=False, buffering=1)


def _candidate_main(chan: int, stdio: tuple[int, int, int], rundir: str, limits: dict,
                    vm_bytes: int, pid1: bool) -> None:
    """In the forked child: isolate, limit, then serve the candidate. Never returns."""
    code = 70
    try:
        os.setsid()
        if not pid1:  # as PID 1's child it dies with the namespace anyway
            prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        for target, fd in enumerate(stdio):
            os.dup2(fd, target)
        os.dup2(chan, CHAN_FD)
        os.closerange(CHAN_FD + 1, 1 << 20)
        os.chdir(rundir)
        os.umask(0o077)
        # The candidate stays non-dumpable like the server (no ptrace of it, no /proc/<pid>/mem),
        # and no prctl()/oom_score_adj write here: each would copy ~100 shared pages per fork.
        # Memory bombs hit RLIMIT_AS, set below any container memory limit.
        _set_limits(limits, vm_bytes)
        candidate.serve(CHAN_FD, limits["max_result_bytes"])
    except BaseException:  # noqa: BLE001 - never return into the server's loop
        code = 71
    os._exit(code)


def _threads_of_uid(uid: int) -> int:
    count = 0
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/status") as f:
                    fields = dict(line.split(":", 1) for line in f if ":" in line)
                if int(fields["Uid"].split()[0]) == uid:
                    count += int(fields["Threads"])
            except (OSError, KeyError, ValueError):
                continue
    return count


def _clear_dir(root: int) -> None:
    """Remove everything in the directory open as ``root`` without recursion and without deep
    paths (a candidate may nest directories thousands deep, past Python's stack and PATH_MAX):
    files are unlinked; a directory is entered by descriptor, its files unlinked and its own
    subdirectories moved up into ``root`` (to be emptied in turn), then it is removed. Links are
    never followed. At most two directories are open at a time."""
    hoisted = itertools.count()
    while True:
        with os.scandir(root) as it:
            entries = [(e.name, e.is_dir(follow_symlinks=False)) for e in it]
        if not entries:
            return
        for name, is_dir in entries:
            if not is_dir:
                os.unlink(name, dir_fd=root)
                continue
            os.chmod(name, 0o700, dir_fd=root)  # the candidate may have made it read-only
            fd = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=root)
            try:
                with os.scandir(fd) as it:
                    inner = [(e.name, e.is_dir(follow_symlinks=False)) for e in it]
                for sub, sub_is_dir in inner:
                    if sub_is_dir:
                        os.rename(sub, f".wipe-{next(hoisted)}", src_dir_fd=fd, dst_dir_fd=root)
                    else:
                        os.unlink(sub, dir_fd=fd)
            finally:
                os.close(fd)
            os.rmdir(name, dir_fd=root)


def _wipe(path: str) -> bool:
    """Remove everything under ``path``; False if something stays (then the sandbox is
    replaced: a failed cleanup never ends the server)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    except OSError:
        return True
    try:
        _clear_dir(fd)
        return not os.listdir(fd)
    except (OSError, RecursionError, MemoryError):
        return False
    finally:
        os.close(fd)


RLIMITS = tuple(sorted(getattr(resource, n) for n in dir(resource) if n.startswith("RLIMIT_")))
SYS_IOPRIO_GET = {"x86_64": 252, "aarch64": 31}.get(os.uname().machine)
DEVICES = tuple(f"/dev/{name}" for name in ("null", "zero", "full", "random", "urandom"))


def _ioprio() -> int | None:
    if SYS_IOPRIO_GET is None:
        return None
    return _libc.syscall(SYS_IOPRIO_GET, 1, 0)  # IOPRIO_WHO_PROCESS, this process


def _device_times() -> tuple:
    times = []
    for path in DEVICES:
        try:
            st = os.stat(path)
        except OSError:
            continue
        times.append((path, st.st_atime_ns, st.st_mtime_ns, st.st_ctime_ns))
    return tuple(times)


def _state() -> tuple:
    """What a candidate might change that later candidates would see: this server's nice value,
    scheduler, I/O priority, every rlimit and its CPU affinity (seccomp already refuses such
    changes to another process; this is the check behind it), and the times of the device files
    (a candidate may set them to now: bits for the next run)."""
    return (os.getpriority(os.PRIO_PROCESS, 0), os.sched_getscheduler(0),
            os.sched_getparam(0).sched_priority, _ioprio(),
            tuple(resource.getrlimit(n) for n in RLIMITS),
            tuple(sorted(os.sched_getaffinity(0))), _device_times())


class Server:
    """One warm runner: spawn a candidate, then finish it, over and over."""

    def __init__(self, sock: socket.socket, scratch: list[str], uid_exclusive: bool,
                 seccomp: bool, oom_fd: int | None = None, pids: PidReset | None = None,
                 hides: dict | None = None):
        self.sock = sock
        self.hides = hides or {}  # what the hello reports hidden from candidates
        self.pids = pids
        self.oom_fd, self.oom_base = oom_fd, "0"
        if oom_fd is not None:
            try:  # raised around each fork, so it must be restorable: writing it back proves it
                self.oom_base = os.pread(oom_fd, 16, 0).decode().strip()
                os.pwrite(oom_fd, self.oom_base.encode(), 0)
            except OSError:
                os.close(oom_fd)
                self.oom_fd = None
        self.seccomp = seccomp
        self.scratch = scratch
        self.uid_exclusive = uid_exclusive
        self.pid1 = os.getpid() == 1
        self.child: int | None = None
        self.child_fd: int | None = None
        self.ended: tuple[int, object] | None = None  # (wait status, rusage) of the candidate
        self.count = 0
        self.rundir = os.path.join(scratch[0], "run")
        _prepare_process(self.rundir)
        self.state = _state()

    def serve(self) -> None:
        wire.send(self.sock, {"hello": True, "pid1": self.pid1, "uid": os.getuid(),
                              **self.hides,
                              "seccomp": self.seccomp, "python": sys.version.split()[0],
                              "cpus": sorted(os.sched_getaffinity(0))})
        while True:
            try:
                msg = wire.recv(self.sock)
            except OSError:
                return
            op = msg.get("op")
            reply, fds = {}, []
            if op in ("finish", "recycle"):
                try:
                    reply["report"] = self.finish()
                except Exception as e:  # noqa: BLE001 - cannot vouch for a clean state
                    reply["report"] = {"poisoned": True, "error": f"{type(e).__name__}: {e}"}
                if reply["report"]["poisoned"]:
                    try:
                        wire.send(self.sock, reply)
                    finally:
                        return
            if op in ("spawn", "recycle"):
                fds = self.spawn(msg, reply)
            if op == "ping":
                reply["pong"] = True
            elif op not in ("spawn", "finish", "recycle"):
                reply["error"] = f"unknown op {op!r}"
            try:
                wire.send(self.sock, reply, fds)
            except OSError:  # the judge is gone: so are we
                return
            for fd in fds:
                os.close(fd)
            if "error" in reply and op != "spawn":
                return

    def spawn(self, msg: dict, reply: dict) -> list[int]:
        """Fork a limited candidate process; returns the trusted side's descriptors."""
        if self.child is not None:
            reply["error"] = "spawn before finish"
            return []
        self.count += 1
        os.mkdir(self.rundir, 0o700)  # wiped by the previous finish
        parent, child = socket.socketpair()
        if msg["mode"] == "stdio":  # a regular file, as under ``python3 main.py < input``: the
            # judge writes it (pwrite) before the program starts; the candidate's descriptor is
            # read-only, with an offset of its own
            stdin_w = os.memfd_create("stdin", os.MFD_CLOEXEC)
            stdin_r = os.open(f"/proc/self/fd/{stdin_w}", os.O_RDONLY | os.O_CLOEXEC)
        else:
            stdin_r, stdin_w = os.open(os.devnull, os.O_RDONLY), -1
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        limits = dict(msg["limits"])
        if not self.uid_exclusive:  # the per-uid limit also counts the user's other processes
            limits["max_processes"] += _threads_of_uid(os.getuid())
        vm_bytes = _vm_bytes()
        if self.pids is not None:
            self.pids.reset()  # the candidate's pid says nothing of the runs before
        self._oom_score("1000")  # inherited by the candidate: the OOM killer's first choice
        try:
            pid = os.fork()
        except OSError as e:
            pid = -1
            reply["error"] = f"fork failed: {e}"
        if pid != 0:
            self._oom_score(self.oom_base)
        if pid == 0:
            parent.close()
            _candidate_main(child.fileno(), (stdin_r, out_w, err_w), self.rundir, limits,
                            vm_bytes, self.pid1)
        child.close()
        for fd in (stdin_r, out_w, err_w):
            os.close(fd)
        if pid < 0:
            parent.close()
            for fd in (out_r, err_r, stdin_w):
                if fd >= 0:
                    os.close(fd)
            return []
        self.child, self.ended = pid, None
        try:
            self.child_fd = os.pidfd_open(pid)
        except (AttributeError, OSError):  # kernels before 5.3: poll instead
            self.child_fd = None
        reply["spawned"] = True
        fds = [os.dup(parent.fileno()), out_r, err_r] + ([stdin_w] if stdin_w >= 0 else [])
        parent.close()
        return fds

    def _oom_score(self, value: str) -> None:
        """Set this server's oom_score_adj (through the descriptor opened before it dropped
        privileges and became non-dumpable: its /proc files are root's now)."""
        if self.oom_fd is not None:
            os.pwrite(self.oom_fd, value.encode(), 0)

    def _reap(self, flags: int) -> bool:
        """Reap what is dead; False once no child is left at all."""
        while True:
            try:
                pid, status, usage = os.wait4(-1, flags)
            except ChildProcessError:
                return False
            if pid == 0:
                return True
            if pid == self.child:
                self.ended = (status, usage)

    def _descendants(self) -> list[int]:
        parents: dict[int, int] = {}
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    with open(f"/proc/{entry}/stat") as f:
                        parents[int(entry)] = int(f.read().rsplit(")", 1)[1].split()[1])
                except (OSError, ValueError, IndexError):
                    continue
        found, frontier = [], [os.getpid()]
        while frontier:
            pid = frontier.pop()
            kids = [p for p, pp in parents.items() if pp == pid]
            found += kids
            frontier += kids
        return found

    def _kill_all(self) -> bool:
        """SIGKILL everything but this server until nothing is left; False if that failed."""
        deadline = time.monotonic() + 5.0
        first = True
        while time.monotonic() < deadline:
            if self.pid1:
                try:
                    os.kill(-1, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            else:
                for pid in self._descendants():
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
            if first and self.ended is None and self.child_fd is not None:
                # usually the candidate is the only process left: wait for it to go
                select.select([self.child_fd], [], [], 1.0)
                first = False
            if not self._reap(os.WNOHANG) or (self.pids and self.pids.only_one_left()):
                return True
            time.sleep(0.0002)
        return False

    def finish(self) -> dict:
        report = {"alive": False, "poisoned": False, "cpu_s": None, "maxrss_kb": None,
                  "exit": None, "signal": None}
        if self.child is None:
            return report
        self._reap(os.WNOHANG)
        alive = self.ended is None
        clean = self._kill_all()
        status, usage = self.ended if self.ended else (None, None)
        self.child = None
        if self.child_fd is not None:
            os.close(self.child_fd)
        report["alive"] = alive
        if status is not None:
            if os.WIFSIGNALED(status):
                report["signal"] = os.WTERMSIG(status)
            else:
                report["exit"] = os.WEXITSTATUS(status)
            report["cpu_s"] = usage.ru_utime + usage.ru_stime
            report["maxrss_kb"] = usage.ru_maxrss
        for path in self.scratch:
            clean = _wipe(path) and clean
        if not clean or _state() != self.state:
            report["poisoned"] = True
        return report


def _open_oom_score() -> int | None:
    """This process's oom_score_adj, opened for writing while it still may (before it drops to
    the candidates' uid and becomes non-dumpable). The launcher set it to -1000 where it could
    (``backends.base.protect_from_oom``); the server raises it to 1000 only around each fork, so
    every candidate process is the OOM killer's first choice and the server never is."""
    try:
        return os.open("/proc/self/oom_score_adj", os.O_RDWR | os.O_CLOEXEC)
    except OSError:
        return None


# What docker hides or makes read-only in its /proc (moby's defaults), done again over ours.
PROC_MASKED = ("asound", "acpi", "kcore", "keys", "latency_stats", "timer_list", "timer_stats",
               "sched_debug", "scsi")
PROC_READ_ONLY = ("bus", "fs", "irq", "sys", "sysrq-trigger")
MS_RDONLY, MS_REMOUNT, MS_BIND = 1, 32, 4096


def _mount(src, dst: str, fstype, flags: int, data=None) -> None:
    enc = lambda x: None if x is None else x.encode()  # noqa: E731
    if _libc.mount(enc(src), dst.encode(), enc(fstype), ctypes.c_ulong(flags), enc(data)) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"mount {dst}: {os.strerror(err)}")


def _remount_proc(mask: bool) -> int | None:
    """A procfs with ``PROC_OPTIONS`` over /proc (needs CAP_SYS_ADMIN, dropped with root); with
    ``mask``, docker's masked and read-only paths are masked and read-only in it too. Returns
    ``_open_last_pid()``'s descriptor, opened before /proc/sys turns read-only."""
    _mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, PROC_OPTIONS)
    last_pid = _open_last_pid()
    if not mask:
        return last_pid
    try:
        _mask_proc()
    except OSError:  # never a /proc less masked than docker's: back to docker's own
        if last_pid is not None:
            os.close(last_pid)
        _libc.umount2(b"/proc", 2)  # MNT_DETACH
        raise
    return last_pid


def _mask_proc() -> None:
    for name in PROC_MASKED:
        path = f"/proc/{name}"
        if os.path.isdir(path):
            _mount("tmpfs", path, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
                   "size=0")
        elif os.path.exists(path):
            _mount("/dev/null", path, None, MS_BIND)
    for name in PROC_READ_ONLY:
        path = f"/proc/{name}"
        if os.path.exists(path):
            _mount(path, path, None, MS_BIND)
            _mount(None, path, None, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV)


def _open_last_pid() -> int | None:
    try:
        return os.open("/proc/sys/kernel/ns_last_pid", os.O_WRONLY | os.O_CLOEXEC)
    except OSError:
        return None


class PidReset:
    """Every candidate gets the same pid: a helper process, forked while the server is still
    root (it stays root, so no candidate may signal or inspect it, and holds nothing but its
    pipes), sets this PID namespace's last pid back to its own before each fork. Without it a
    run's first pid would show how many pids the run before used (12 bits per run). Needs
    CAP_SYS_ADMIN over the namespace; where the server never had it there is no helper."""

    def __init__(self, last_pid_fd: int):
        req_r, self.req = os.pipe()
        self.ack, ack_w = os.pipe()
        pid = os.fork()
        if pid == 0:  # the helper
            code = 0
            try:
                prctl(PR_SET_DUMPABLE, 0)
                keep = {last_pid_fd, req_r, ack_w}
                for fd in map(int, os.listdir("/proc/self/fd")):
                    if fd > 2 and fd not in keep:
                        try:
                            os.close(fd)
                        except OSError:
                            pass
                base = str(os.getpid()).encode()
                while os.read(req_r, 1):
                    os.pwrite(last_pid_fd, base, 0)
                    os.write(ack_w, b"k")
            except BaseException:  # noqa: BLE001 - the server sees the pipe close
                code = 1
            os._exit(code)
        os.close(req_r)
        os.close(ack_w)
        os.close(last_pid_fd)
        self.pid = pid
        self.children = f"/proc/self/task/{os.getpid()}/children"

    def reset(self) -> None:
        """Before a fork: the next pid is the helper's + 1. OSError if the helper is gone."""
        os.write(self.req, b"r")
        if os.read(self.ack, 1) != b"k":
            raise OSError("the pid helper is gone")

    def only_one_left(self) -> bool:
        """Whether the helper is the server's only child (the rest of the sandbox is gone)."""
        try:
            with open(self.children) as f:
                return f.read().split() == [str(self.pid)]
        except OSError:
            return False


def _drop_privileges(uid: int) -> None:
    os.setgroups([])
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)


def main(config: dict) -> None:
    """Entry point inside the sandbox.

    ``config``: ``fd`` (inherited control socket) or ``connect`` (its path); ``uid`` to drop to
    when started as root; ``remount_proc``: mount /proc with ``PROC_OPTIONS`` first (bwrap, docker;
    ``mask_proc``: with docker's masked paths); ``scratch``: directories the candidate may write,
    wiped after each run (required: never a directory shared with anything else); ``uid_exclusive``: no other process
    runs under this uid, so the per-uid process limit counts only this sandbox; ``seccomp``:
    "require" (default) or "try" (docker, which has its own profile); ``preload``.
    """
    for name in config.get("preload", PRELOAD):
        importlib.import_module(name)
    # Started with -S (no site-packages .pth side effects): give programs exit() and quit().
    builtins.exit = _sitebuiltins.Quitter("exit", "Ctrl-D (i.e. EOF)")
    builtins.quit = _sitebuiltins.Quitter("quit", "Ctrl-D (i.e. EOF)")
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGUSR1, signal.SIGUSR2):
        signal.signal(signum, signal.SIG_DFL)
    if config.get("connect"):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.connect(config["connect"])
    else:
        sock = socket.socket(fileno=config["fd"])
    oom_fd = _open_oom_score()
    last_pid = None
    proc_hidden = os.getpid() == 1 and config.get("proc_hidden", False)  # local: nsroot's /proc
    if config.get("remount_proc"):  # bwrap, docker: their /proc has no options; ours, while
        try:  # still allowed (a security module such as AppArmor may refuse the mount: then
            last_pid = _remount_proc(config.get("mask_proc", False))  # /proc stays theirs)
            proc_hidden = True
        except OSError:
            pass
    elif os.getuid() == 0 and os.getpid() == 1:
        last_pid = _open_last_pid()
    pids = None
    if last_pid is not None and os.getpid() == 1:
        try:
            pids = PidReset(last_pid)
            pids.reset()
        except OSError:
            pids = None
    if config.get("uid") is not None and os.getuid() == 0:
        _drop_privileges(config["uid"])
    prctl(PR_SET_NO_NEW_PRIVS, 1)
    prctl(PR_SET_DUMPABLE, 0)
    try:
        filtered = seccomp.install()
    except OSError:
        if config.get("seccomp", "require") == "require":
            raise
        filtered = False
    if os.getpid() != 1:
        prctl(PR_SET_CHILD_SUBREAPER, 1)
    for path in config["scratch"]:
        _wipe(path)
    gc.collect()
    gc.freeze()  # forked candidates then do not copy-on-write the server's objects in a GC pass
    Server(sock, config["scratch"], config.get("uid_exclusive", True), filtered, oom_fd, pids,
           {"proc_hidden": proc_hidden, "same_pids": pids is not None}).serve()
    os._exit(0)
