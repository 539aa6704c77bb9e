"""The judge's control connection to one runner server (see ``runner.server``).

It keeps one candidate process forked in advance (the "spare"): a run ends with a ``recycle``
that the judge does not wait for, so cleanup and the next fork happen off the critical path.

Every request has a time limit: a runner that does not answer, answers nonsense, or says it is
poisoned is declared down (``RunnerDown``). With a ``relaunch`` function the link replaces the
whole sandbox itself before its next candidate is spawned (never while one runs), so a runner
that a candidate killed or poisoned costs the next candidate nothing but the start of a fresh
sandbox; a relaunch that fails is the one ``RunnerDown`` no candidate could cause.

The link also sizes the sandbox's cgroup (``budget``) for each run's limits before its candidate
is spawned.
"""

from __future__ import annotations

import json
import os
import select
import socket
from typing import Callable

from .runner import wire


class RunnerDown(RuntimeError):
    """The runner server died, hung or asked to be replaced."""


class RunnerLink:
    """Request/response over the control socket, with file descriptors passed on spawn."""

    def __init__(self, sock: socket.socket, kill: Callable[[], None], start_timeout: float,
                 timeout: float = 10.0, budget=None, relaunch: Callable | None = None,
                 tmp_mb: int = 0):
        self.timeout = timeout
        self.relaunch = relaunch  # () -> backends.base.Launched: a fresh sandbox
        self.tmp_mb = tmp_mb
        self.launches = 0
        self._connect(sock, kill, start_timeout, budget)

    def _connect(self, sock, kill, start_timeout: float, budget) -> None:
        self.sock = sock
        self.kill = kill
        self.budget = budget  # the sandbox's cgroup (backends.cgroup.Cgroup) or None
        self.budget_limits = None  # the Limits it was last sized for
        self.alive = True
        self.spare: tuple | None = None      # (key, fds) of a candidate forked in advance
        self.inflight: tuple | None = None   # key of a recycle whose reply is not read yet
        self.launches += 1
        hello = self._recv(start_timeout)[0]
        if not hello.get("hello"):
            self.close()
            raise RunnerDown(f"runner did not start: {hello}")
        self.hello = hello

    def ensure(self) -> None:
        """Read a pending recycle reply; replace the sandbox if it is down (``relaunch``)."""
        try:
            self.collect()
        except RunnerDown:
            pass
        if self.alive and self.inflight is None and select.select([self.sock], [], [], 0)[0]:
            self.close()  # idle, it can only have closed: it died between runs
        if not self.alive:
            if self.relaunch is None:
                raise RunnerDown("runner server is down")
            launched = self.relaunch()
            self._connect(launched.sock, launched.kill, launched.start_timeout, launched.budget)

    def size(self, limits) -> None:
        """Resize the sandbox's cgroup for a run whose ``Limits`` differ from the last one's."""
        if self.budget is not None and self.budget_limits != limits:
            self.budget.set_limits(limits, self.tmp_mb)
            self.budget_limits = limits

    def _recv(self, timeout: float, with_fds: bool = False):
        ready, _, _ = select.select([self.sock], [], [], timeout)
        if not ready:
            self.close()
            raise RunnerDown(f"runner server did not answer within {timeout:.0f}s")
        try:
            if with_fds:
                return wire.recv(self.sock, with_fds=True)
            return wire.recv(self.sock), []
        except OSError as e:
            self.close()
            raise RunnerDown(f"runner server connection lost: {e}") from None

    def _send(self, msg: dict) -> None:
        if not self.alive:
            raise RunnerDown("runner server is down")
        try:
            wire.send(self.sock, msg)
        except OSError as e:
            self.close()
            raise RunnerDown(f"runner server connection lost: {e}") from None

    def _request(self, msg: dict, with_fds: bool = False):
        self._send(msg)
        reply, fds = self._recv(self.timeout, with_fds)
        if "error" in reply:
            for fd in fds:
                os.close(fd)
            self.close()
            raise RunnerDown(f"runner server: {reply['error']}")
        return reply, fds

    def collect(self) -> None:
        """Read the reply of a recycle sent without waiting: the spare candidate's descriptors."""
        if self.inflight is None or not self.alive:
            return
        key, self.inflight = self.inflight, None
        reply, fds = self._recv(self.timeout, with_fds=True)
        if reply.get("report", {}).get("poisoned") or "error" in reply:
            for fd in fds:
                os.close(fd)
            self.close()
            return
        self._keep_spare(key, reply, fds)

    def _keep_spare(self, key, reply: dict, fds: list[int]) -> None:
        if not reply.get("spawned") or len(fds) < 3:
            for fd in fds:
                os.close(fd)
            self.close()
            raise RunnerDown(f"bad spawn reply {reply}")
        self.spare = (key, fds)

    def _drop_spare(self) -> None:
        if self.spare is not None:
            for fd in self.spare[1]:
                os.close(fd)
            self.spare = None

    def spawn(self, mode: str, limits: dict, sized=None) -> list[int]:
        """A candidate process: the spare forked in advance if it has this mode and these limits,
        else a fresh one (in a fresh sandbox if this one went down: see ``ensure``). ``sized``:
        the run's ``Limits``, for the cgroup. Returns [channel, stdout, stderr(, stdin)]
        descriptors."""
        key = (mode, json.dumps(limits, sort_keys=True))
        self.ensure()
        if sized is not None:
            self.size(sized)
        try:
            return self._spawn(key, mode, limits)
        except RunnerDown:  # it went down between runs: one fresh sandbox, then it is ours
            if self.relaunch is None:
                raise
            self.ensure()
            if sized is not None:
                self.size(sized)
            return self._spawn(key, mode, limits)

    def _spawn(self, key, mode: str, limits: dict) -> list[int]:
        if self.spare is not None and self.spare[0] == key:
            fds = self.spare[1]
            self.spare = None
            return fds
        if self.spare is not None:
            self._drop_spare()
            self._request({"op": "finish"})
        reply, fds = self._request({"op": "spawn", "mode": mode, "limits": limits},
                                   with_fds=True)
        self._keep_spare(key, reply, fds)
        fds = self.spare[1]
        self.spare = None
        return fds

    def recycle(self, mode: str, limits: dict, wait: bool) -> dict | None:
        """Kill everything in the sandbox and fork the next candidate (same mode and limits).
        With ``wait`` returns the report on how this run's candidate ended; else the reply is
        read by the next ``spawn`` and the run's verdict need not wait for the cleanup."""
        self.collect()
        key = (mode, json.dumps(limits, sort_keys=True))
        msg = {"op": "recycle", "mode": mode, "limits": limits}
        if not wait:
            self._send(msg)
            self.inflight = key
            return None
        reply, fds = self._request(msg, with_fds=True)
        report = reply["report"]
        if report.get("poisoned"):
            for fd in fds:
                os.close(fd)
            self.close()
        else:
            self._keep_spare(key, reply, fds)
        return report

    def close(self) -> None:
        self._drop_spare()
        self.inflight = None
        if self.budget is not None:
            self.budget.close_files()
        if self.alive:
            self.alive = False
            try:
                self.sock.close()
            finally:
                self.kill()
