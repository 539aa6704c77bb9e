"""One candidate process as the judge sees it: requests, replies, output, deadline, verdict causes.

``Session`` spawns the candidate through the runner, then moves bytes in one ``select`` loop:
requests out, reply frames in, stdout/stderr drained continuously (counted against the output
limit, never read only after the process ends); a stdio program's stdin is written whole before
it starts (a regular file to the program). The wall-clock deadline
runs from the spawn; when it passes, or output overflows, the session raises ``Stop`` and
``finish()`` has the runner kill everything in the sandbox. ``Stop`` derives from BaseException so
that test code catching ``Exception`` cannot swallow it.
"""

from __future__ import annotations

import errno
import json
import os
import select
import signal
import socket
import time

from .link import RunnerDown, RunnerLink
from .runner import codec
from .runner.wire import FrameBuffer, WireError
from .specs import MiB, Limits

EAGAIN = (errno.EAGAIN, errno.EWOULDBLOCK)
# Reads of up to 64 KiB: a larger buffer is mmap'ed and trimmed by the allocator on every call,
# which cost more than the message itself (~15 us per read); larger messages take a few reads.
READ_CHUNK = 1 << 16


class Stop(BaseException):
    """The candidate process can answer no more. ``status`` None: it ended on its own (the
    cause is read from the runner's report after ``finish``)."""

    def __init__(self, status: str | None, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


def exception_status(info: dict) -> str:
    """Verdict status of an exception the candidate raised (a limit's own status if it is one)."""
    name, err = info.get("type"), info.get("errno")
    if not info.get("builtin"):
        return "runtime_error"
    if name == "MemoryError":
        return "memory_limit"
    if name == "BlockingIOError" and err == errno.EAGAIN:
        return "process_limit"
    if err == errno.EFBIG:
        return "file_limit"
    return "runtime_error"


def describe_exception(info: dict) -> str:
    where = f" (line {info['line']})" if info.get("line") else ""
    return f"{info.get('type')}: {info.get('msg')}{where}"[:300]


def process_status(report: dict, limits: Limits, oom_killed: bool = False) -> tuple[str, str]:
    """Status of a candidate process that ended before answering, from the runner's report
    (``oom_killed``: the sandbox's cgroup ran out of memory during the run)."""
    sig, cpu, rss = report.get("signal"), report.get("cpu_s") or 0.0, report.get("maxrss_kb")
    if sig == signal.SIGXCPU or (sig == signal.SIGKILL and cpu >= limits.cpu_s - 0.05):
        return "cpu_limit", f"CPU-time limit of {limits.cpu_s}s"
    if sig == signal.SIGKILL and rss and rss * 1024 >= 0.9 * limits.memory_mb * MiB:
        return "memory_limit", f"killed at {rss // 1024} MiB (limit {limits.memory_mb} MiB)"
    if oom_killed:
        return "memory_limit", (f"the run's processes together went past its memory budget "
                                f"({limits.memory_mb} MiB plus the sandbox's own)")
    if sig:
        return "runtime_error", f"killed by {signal.Signals(sig).name} before answering"
    code = report.get("exit")
    return "runtime_error", f"process exited (status {code}) before answering"


class Session:
    """A spawned candidate process; use as a context manager (exit = ``finish``)."""

    def __init__(self, link: RunnerLink, mode: str, limits: Limits, stdin: bytes = b""):
        self.link, self.limits, self.mode = link, limits, mode
        self.done = False
        fds = link.spawn(mode, limits.for_runner(), sized=limits)
        self.budget = link.budget  # this sandbox's cgroup (spawn may have replaced the sandbox)
        self.oom_kills = self.budget.oom_kills() if self.budget is not None else 0
        self.runner_down: str | None = None  # why the runner died while this candidate ran
        # the run's own use, from the cgroup (all its processes, memfds and tmpfs files too)
        self.peak_base = self.budget.reset_peak() if self.budget is not None else None
        self.cpu_base = self.budget.cpu_ns() if self.budget is not None else None
        self.used: tuple[int | None, int | None] = (None, None)  # (peak bytes, CPU ns)
        self.t0 = time.monotonic()
        self.deadline = self.t0 + limits.wall_time_s
        self.chan = socket.socket(fileno=fds[0])
        self.chan.setblocking(False)
        self.pipes = {fds[1]: "stdout", fds[2]: "stderr"}  # open output pipes
        self.output = {"stdout": bytearray(), "stderr": bytearray()}
        for fd in fds[1:3]:
            os.set_blocking(fd, False)
        if len(fds) > 3:  # stdio: the program's stdin, a memfd written before it starts
            self._write_stdin(fds[3], stdin)
        self.frames = FrameBuffer(limits.max_result_bytes + 1024)
        self.outgoing = bytearray()
        self.output_bytes = 0
        self.stop: Stop | None = None
        self.late = False  # the one read past the deadline is done (``_late_read``)
        self.charged: tuple | None = None  # ``fault()`` as ``charge`` read it
        self.report: dict | None = None
        self.chan_open = True

    # -- I/O -------------------------------------------------------------------------------
    def send(self, obj) -> None:
        body = json.dumps(obj, separators=(",", ":")).encode("ascii")
        self.outgoing += len(body).to_bytes(4, "big") + body

    def reply(self) -> dict:
        """The next reply frame; raises Stop when there will be none."""
        while True:
            if self.stop is not None:
                raise self.stop
            try:
                frame = self.frames.pop()
            except WireError as e:
                self._halt("output_limit", f"return value too large ({e})")
                continue
            if frame is not None:
                try:
                    msg = codec.loads(frame)
                except codec.TooComplex as e:
                    self._halt("output_limit", f"return value refused: {e}")
                    continue
                except codec.CodecError:
                    msg = None
                if not isinstance(msg, dict):
                    self._halt("runtime_error", "the candidate process sent a malformed reply")
                    continue
                if "too_big" in msg:
                    self._halt("output_limit", f"return value of {msg['too_big']} bytes exceeds "
                                               f"{self.limits.max_result_bytes}")
                    continue
                return msg
            self._pump()

    def _halt(self, status: str | None, message: str) -> None:
        if self.stop is None:
            self.stop = Stop(status, message)

    @staticmethod
    def _write_stdin(fd: int, data: bytes) -> None:
        try:
            view, done = memoryview(data), 0
            while done < len(view):  # pwrite: the candidate's own descriptor keeps offset 0
                done += os.pwrite(fd, view[done:done + (1 << 24)], done)
        finally:
            os.close(fd)

    def _read_pipe(self, fd: int) -> bool:
        """Drain what is there; False at EOF."""
        while True:
            try:
                data = os.read(fd, READ_CHUNK)
            except OSError as e:
                if e.errno in EAGAIN:
                    return True
                return False
            if not data:
                return False
            self.output_bytes += len(data)
            buf = self.output[self.pipes[fd]]
            room = self.limits.max_output_bytes - len(buf)
            if room > 0:
                buf += data[:room]
            if self.output_bytes > self.limits.max_output_bytes:
                self._halt("output_limit", f"printed more than {self.limits.max_output_bytes} "
                                           "bytes")
                return True

    def _pump(self) -> None:
        timeout = self.deadline - time.monotonic()
        if timeout <= 0:
            if self._late_read():
                return
            self._halt("timeout", f"wall-clock limit of {self.limits.wall_time_s}s")
            return
        readers = [fd for fd in self.pipes] + ([self.chan] if self.chan_open else [])
        writers = [self.chan] if self.outgoing and self.chan_open else []
        readable, writable, _ = select.select(readers, writers, [], timeout)
        for fd in readable:
            if fd is self.chan:
                self._read_chan()
            elif not self._read_pipe(fd):
                del self.pipes[fd]
                os.close(fd)
        if writable:
            self._write_chan()

    def _late_read(self) -> bool:
        """Once, past the deadline: read what the candidate sent before it (a judge starved of
        CPU on a loaded machine may wake up late; a reply already waiting is not a timeout).
        True if something was read."""
        if self.late or not self.chan_open:
            return False
        self.late = True
        got = False
        while self.chan_open and select.select([self.chan], [], [], 0)[0] and \
                len(self.frames.buf) <= self.frames.max_bytes:
            before = len(self.frames.buf)
            self._read_chan()
            got = got or len(self.frames.buf) > before
        return got

    def _read_chan(self) -> None:
        try:
            data = self.chan.recv(READ_CHUNK)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self.chan_open = False
            self._halt(None, "the candidate process ended without answering")
            return
        self.frames.feed(data)
        size = self.frames.pending_size()
        if size is not None and size > self.frames.max_bytes:
            self._halt("output_limit", f"return value of {size} bytes exceeds "
                                       f"{self.limits.max_result_bytes}")

    def _write_chan(self) -> None:
        try:
            sent = self.chan.send(self.outgoing)
        except BlockingIOError:
            return
        except OSError:
            self.chan_open = False
            self._halt(None, "the candidate process ended without answering")
            return
        del self.outgoing[:sent]

    # -- end ---------------------------------------------------------------------------------
    def finish(self, need_report: bool = False) -> dict | None:
        """Have the runner kill everything in the sandbox and fork the next candidate (once);
        then collect the remaining output. Waits for the runner only with ``need_report``."""
        if not self.done:
            self.done = True
            self.seconds = time.monotonic() - self.t0
            if self.budget is not None:  # read before the runner's cleanup adds to them
                self.used = (self.budget.peak(), self.budget.cpu_ns())
            try:
                self.report = self.link.recycle(self.mode, self.limits.for_runner(), need_report)
            except RunnerDown as e:  # the link is closed; the next spawn gets a fresh sandbox
                self.runner_down = str(e)
            for fd in list(self.pipes):
                if self.stop is None or self.stop.status != "output_limit":
                    self._read_pipe(fd)
            self.close_fds()
        return self.report

    def close_fds(self) -> None:
        for fd in list(self.pipes):
            try:
                os.close(fd)
            except OSError:
                pass
        self.pipes.clear()
        self.chan.close()

    def resolve(self, stop: Stop) -> tuple[str, str]:
        """(status, message) for a Stop; for one without status, from the runner's report."""
        if stop.status is not None:
            return stop.status, stop.message
        report = self.finish(need_report=True)
        if report is None:
            return self.fault() or ("runtime_error", stop.message)
        return process_status(report, self.limits, self._oom())

    def _oom(self) -> bool:
        return self.budget is not None and self.budget.oom_kills() > self.oom_kills

    def fault(self) -> tuple[str, str] | None:
        """What this candidate did to its sandbox, read after ``finish``, which no answer makes
        right: the kernel's OOM killer ended a process of its sandbox (every process in it but
        the runner is this candidate's, and candidates are the OOM killer's first choice); its
        processes, files and memfds together went past ``memory_mb`` (the cgroup's high-water
        mark) or used more than ``cpu_s`` of CPU (the cgroup's CPU time: RLIMIT_CPU is per
        process); or the runner died while the candidate ran. None when none happened."""
        if self._oom():
            return "memory_limit", (f"the run's processes together went past its memory budget "
                                    f"({self.limits.memory_mb} MiB plus the sandbox's own)")
        peak, cpu = self.used
        if peak is not None and self.peak_base is not None and \
                peak - self.peak_base > self.limits.memory_mb * MiB:
            return "memory_limit", (f"the run's processes, files and memfds together held "
                                    f"{(peak - self.peak_base) // MiB} MiB (limit "
                                    f"{self.limits.memory_mb} MiB)")
        if cpu is not None and self.cpu_base is not None and \
                cpu - self.cpu_base > self.limits.cpu_s * 1e9:
            return "cpu_limit", (f"the run's processes together used "
                                 f"{(cpu - self.cpu_base) / 1e9:.2f}s of CPU (limit "
                                 f"{self.limits.cpu_s}s)")
        if self.runner_down is not None:
            return "runtime_error", ("the sandbox's runner died while this program ran "
                                     f"({self.runner_down[:120]})")
        return None

    def charge(self, result):
        """``result`` (a ``CaseResult``), unless it is ok and the candidate faulted (``fault``,
        read once per session)."""
        if result.status != "ok":
            return result
        if self.charged is None:
            self.charged = self.fault() or ()
        fault = self.charged
        return result if not fault else type(result)(fault[0], fault[1], result.name)

    @property
    def stdout(self) -> bytes:
        return bytes(self.output["stdout"])

    @property
    def stderr(self) -> bytes:
        return bytes(self.output["stderr"])

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc) -> None:
        if not self.done and self.link.alive:
            self.finish()
        else:
            self.close_fds()
