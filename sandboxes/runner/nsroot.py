"""Local backend launcher: namespaces and a minimal read-only root, built by hand (as root).

``enter(config)`` runs in a freshly started interpreter (never a fork of a process that saw test
data). It unshares the mount, PID, network, IPC and UTS namespaces, forks the server as PID 1 of
the new PID namespace, and there builds the root the candidate sees, like bubblewrap does:

    /            empty tmpfs, remounted read-only
    <binds>      read-only, nosuid, nodev bind mounts of the host paths in ``layout["binds"]``
                 (the Python installation and the shared-library directories)
    <hide>       empty read-only tmpfs over each path in ``layout["hide"]`` (site-packages)
    <symlinks>   as on the host (e.g. /lib -> usr/lib)
    /dev         null, zero, full, random, urandom only (read-only binds: no utime on them)
    /proc        a new procfs: it shows this PID namespace only, and to a candidate only its own
                 processes (``hidepid=invisible``: the runner, PID 1, is hidden)
    /tmp         a private tmpfs (``tmp``: its mount options, size and inode limits)
    /dev/shm     a private tmpfs (``shm``); with /tmp the only writable places

The network namespace has no interface up, so no connection can be made. The server then drops to
the worker's unprivileged uid (``server.main``). The launching parent stays outside and exits when
the server does; both die with the judge (parent-death signal).
"""

from __future__ import annotations

import ctypes
import os
import platform
import signal

from . import server

CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC = 0x00020000, 0x04000000, 0x08000000
CLONE_NEWPID, CLONE_NEWNET = 0x20000000, 0x40000000
#: The namespaces `enter` unshares (also what the local backend probes for, `namespaces_refused`).
UNSHARE_FLAGS = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 32, 4096, 16384, 1 << 18
MNT_DETACH = 2
SYS_PIVOT_ROOT = {"x86_64": 155, "aarch64": 41, "riscv64": 41, "ppc64le": 203, "s390x": 217}
DEVICES = ("null", "zero", "full", "random", "urandom")
_libc = ctypes.CDLL(None, use_errno=True)


def _check(result: int, what: str) -> None:
    if result != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def _mount(src, dst, fstype, flags, data=None) -> None:
    enc = lambda s: None if s is None else s.encode()  # noqa: E731
    _check(_libc.mount(enc(src), enc(dst), enc(fstype), ctypes.c_ulong(flags), enc(data)),
           f"mount {src} on {dst}")


def _pivot_root(new: str, old: str) -> None:
    number = SYS_PIVOT_ROOT.get(platform.machine())
    if number is None:
        raise OSError(f"pivot_root: unknown syscall number on {platform.machine()}")
    _check(_libc.syscall(number, new.encode(), old.encode()), f"pivot_root {new}")


def _bind_ro(src: str, dst: str) -> None:
    _mount(src, dst, None, MS_BIND | MS_REC)
    _mount(None, dst, None, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV)


def _mkpoint(path: str, like: str) -> None:
    """Create a mount point at ``path`` shaped like ``like`` (a directory or a file)."""
    if os.path.isdir(like):
        os.makedirs(path, 0o755, exist_ok=True)
    else:
        os.makedirs(os.path.dirname(path), 0o755, exist_ok=True)
        open(path, "a").close()


def build_root(layout: dict, tmp: str, shm: str) -> None:
    """Make the minimal root described in the module docstring the root of this process."""
    _mount(None, "/", None, MS_REC | MS_PRIVATE)
    # Stage 1: move the host root aside (to /old) on a scratch tmpfs, like bubblewrap does, so
    # that bind sources keep their host paths even under /tmp.
    _mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755")
    os.mkdir("/tmp/new")
    os.mkdir("/tmp/old")
    _pivot_root("/tmp", "/tmp/old")
    os.chdir("/")
    _mount("tmpfs", "/new", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755")
    for src, dst in layout["binds"]:
        host = "/old" + src
        if not os.path.exists(host):
            continue
        _mkpoint("/new" + dst, host)
        _bind_ro(host, "/new" + dst)
    for path in layout["hide"]:
        if os.path.isdir("/new" + path):
            _mount("tmpfs", "/new" + path, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV,
                   "size=4k,mode=0755")
    for target, path in layout["symlinks"]:
        os.makedirs(os.path.dirname("/new" + path), 0o755, exist_ok=True)
        os.symlink(target, "/new" + path)
    os.makedirs("/new/dev", 0o755)
    for name in DEVICES:
        _mkpoint(f"/new/dev/{name}", f"/old/dev/{name}")
        _mount(f"/old/dev/{name}", f"/new/dev/{name}", None, MS_BIND)
        # read-only: the node still reads and writes, but its times (the host's) cannot be set
        _mount(None, f"/new/dev/{name}", None,
               MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NOEXEC)
    for name, target in (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"),
                         ("stdout", "/proc/self/fd/1"), ("stderr", "/proc/self/fd/2")):
        os.symlink(target, f"/new/dev/{name}")
    os.makedirs("/new/dev/shm", 0o755)
    _mount("tmpfs", "/new/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, shm)
    os.makedirs("/new/proc", 0o755)
    _mount("proc", "/new/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, server.PROC_OPTIONS)
    os.makedirs("/new/tmp", 0o755)
    _mount("tmpfs", "/new/tmp", "tmpfs", MS_NOSUID | MS_NODEV, tmp)
    os.mkdir("/new/.old")
    _check(_libc.umount2(b"/old", MNT_DETACH), "umount /old")
    # Stage 2: the minimal root becomes the root; the staging tmpfs goes away with it.
    _pivot_root("/new", "/new/.old")
    os.chdir("/")
    _check(_libc.umount2(b"/.old", MNT_DETACH), "umount /.old")
    os.rmdir("/.old")
    _mount(None, "/", None, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV)


def enter(config: dict) -> None:
    """Launch the local sandbox (see the module docstring); never returns."""
    server.prctl(server.PR_SET_PDEATHSIG, signal.SIGKILL)
    _check(_libc.unshare(UNSHARE_FLAGS), "unshare")
    pid = os.fork()
    if pid:
        os.close(config["fd"])
        _, status = os.waitpid(pid, 0)
        os._exit(os.waitstatus_to_exitcode(status) & 0xFF)
    try:
        server.prctl(server.PR_SET_PDEATHSIG, signal.SIGKILL)
        build_root(config["layout"], config["tmp"], config["shm"])
        _libc.sethostname(b"sandbox", 7)
    except BaseException as e:  # noqa: BLE001 - report on stderr, then die
        os.write(2, f"sandboxes local launcher: {e}\n".encode())
        os._exit(72)
    server.main({**config, "scratch": ["/tmp", "/dev/shm"], "proc_hidden": True})
