"""Unprivileged uids for sandbox workers: one exclusive uid per live worker, machine-wide.

The per-uid process limit (RLIMIT_NPROC) counts every process of a uid, so two workers sharing a
uid would share one fork budget (a fork bomb in one would fail honest forks in the other). Each
worker therefore leases its own uid from a fixed range, guarded by an flock() on a lock file that
the kernel releases when the holder dies.
"""

from __future__ import annotations

import fcntl
import os
import tempfile

UID_BASE = 190_000
UID_COUNT = 1_000
LOCK_DIR = os.path.join(tempfile.gettempdir(), "codereset-sandbox-uids")


class UidLease:
    """Holds one uid of [UID_BASE, UID_BASE + UID_COUNT) until ``release()`` or process exit."""

    def __init__(self):
        os.makedirs(LOCK_DIR, exist_ok=True)
        start = os.getpid() % UID_COUNT
        for k in range(UID_COUNT):
            uid = UID_BASE + (start + k) % UID_COUNT
            fd = os.open(os.path.join(LOCK_DIR, f"{uid}.lock"), os.O_CREAT | os.O_RDWR, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                continue
            self.uid, self._fd = uid, fd
            return
        raise RuntimeError(f"all {UID_COUNT} sandbox uids from {UID_BASE} are in use "
                           f"(lock files in {LOCK_DIR})")

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
