"""The user-side sandbox: a pool of judge processes, ``run`` and order-preserving ``run_many``.

Each worker is a judge process (``judge.py``) with its own sandbox. A worker that dies or stops
answering is replaced and the run is retried once; a second failure gives a ``sandbox_error``
verdict, never a pass and never the candidate's failure.

CPU pinning: a worker's judge, runners and candidates hand each run along a chain of processes
that wait on one another, so they gain nothing from running on different CPUs and lose a
cross-CPU wake-up (an inter-processor interrupt, dear in a VM) at every hop. When there are no
more workers than usable CPUs, each worker is pinned to a CPU of its own (``pin_cpus``);
consecutive sandboxes in one process continue round the CPUs rather than all starting at the
first.
"""

from __future__ import annotations

import collections
import dataclasses
import itertools
import json
import logging
import os
import queue
import select
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from .backends import Backend
from .backends.base import usable_cpus
from .session import READ_CHUNK
from .specs import AssertTests, Limits, StdioTests, check_spec
from .verdict import CaseResult, Verdict

log = logging.getLogger("sandboxes")
PACKAGE_PARENT = str(Path(__file__).resolve().parent.parent)
JUDGE_BOOT = (f"import sys; sys.path.insert(0, {PACKAGE_PARENT!r}); "
              "from sandboxes.judge import main; main()")
START_TIMEOUT_S = 120.0   # a judge plus its runner (a docker container) must be up by then
SETUP_TIMEOUT_S = 90.0    # until the judge says the run started: replacing a sandbox, a loaded
                          # machine (a docker start may take the runner's own 60 s)
JUDGE_GRACE_S = 3.0       # a started run's verdict is due by its wall limit plus this, else the
                          # judge is stopped (a loop in C or in trusted test code; an answer too
                          # costly to check) and the run reads "timeout"
_next_cpu = itertools.count()  # where the next pinned worker goes, across this process's pools


def assign_cpus(workers: int, pin_cpus: bool | None) -> list[int | None]:
    """One CPU per worker, or None for each when not pinning.

    ``pin_cpus``: True pins (round the usable CPUs, sharing them if there are fewer), False never
    does, None (the default) pins when there are no more workers than usable CPUs."""
    cpus = usable_cpus()
    if not cpus or pin_cpus is False or (pin_cpus is None and workers > len(cpus)):
        return [None] * workers
    return [cpus[next(_next_cpu) % len(cpus)] for _ in range(workers)]


class WorkerDied(RuntimeError):
    """The judge process exited or stopped answering."""


class WorkerSilent(WorkerDied):
    """The judge is there but did not answer in time."""


class JudgeOverran(RuntimeError):
    """A started run's verdict did not come within its bound (``judge_bound``)."""


def judge_bound(tests, limits: Limits) -> float:
    """Seconds a started run may take in the judge: its candidate processes' wall limits plus
    ``JUDGE_GRACE_S``. The judge bounds its own CPU time per run below this (``judge``); this
    outer bound also stops what no signal can interrupt (a loop inside one C call)."""
    processes = len(tests.cases) if isinstance(tests, StdioTests) else 1
    return processes * limits.wall_time_s + JUDGE_GRACE_S


class Worker:
    """One judge process and the pipe to it."""

    def __init__(self, backend: Backend, limits: Limits, cpu: int | None = None):
        self.cpu = cpu
        self.backend = backend
        self.config = json.dumps({"backend": backend.name,
                                  "options": dataclasses.asdict(backend.config),
                                  "limits": limits.to_dict(), "cpu": cpu})
        self.proc: subprocess.Popen | None = None
        self.buf = b""
        self.info: dict = {}
        self.runs = itertools.count(1)  # run ids: each reply must name the run it answers

    def start(self) -> None:
        self.proc = subprocess.Popen([sys.executable, "-I", "-c", JUDGE_BOOT, self.config],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     start_new_session=True)
        self.buf = b""
        try:
            reply = self._read(START_TIMEOUT_S)
        except BaseException:  # noqa: BLE001 - a half-started judge is never used
            self.discard()
            raise
        if not reply.get("ready"):
            self.stop()
            raise RuntimeError(f"sandbox worker failed to start: {reply.get('failed', reply)}")
        self.info = reply

    def _read(self, timeout: float) -> dict:
        end = time.monotonic() + timeout
        fd = self.proc.stdout.fileno()
        while b"\n" not in self.buf:
            left = end - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                raise WorkerSilent(f"sandbox worker did not answer within {timeout:.0f}s")
            chunk = os.read(fd, READ_CHUNK)
            if not chunk:
                raise WorkerDied(f"sandbox worker exited (status {self.proc.poll()})")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line)

    def request(self, request: dict, bound: float) -> dict:
        """Send one run and return the judge's reply to it: ``{"verdict"}`` or
        ``{"sandbox_error"}``. The judge first says ``{"started"}`` (its sandbox is ready), then
        the verdict must come within ``bound`` seconds, else ``JudgeOverran``. Each reply carries
        the run's id; one for another run means the exchange is out of step (``WorkerDied``).
        An exchange left unfinished for any reason (an exception in the caller's thread, e.g.
        KeyboardInterrupt, included) stops the judge, so no later run can read this run's
        verdict; the next run starts a fresh one."""
        run_id = next(self.runs)
        done = False
        try:
            try:
                self.proc.stdin.write(json.dumps({**request, "id": run_id}).encode() + b"\n")
                self.proc.stdin.flush()
            except OSError as e:
                raise WorkerDied(f"sandbox worker gone: {e}") from None
            reply = self._read(SETUP_TIMEOUT_S)
            if reply.get("id") == run_id and reply.get("started"):
                try:
                    reply = self._read(bound)
                except WorkerSilent:  # alive, but no verdict in time (an exit is WorkerDied)
                    raise JudgeOverran(f"no verdict within {bound:.1f}s of the run's start") \
                        from None
            if reply.get("id") != run_id:
                raise WorkerDied(f"reply for run {reply.get('id')} while waiting for run "
                                 f"{run_id}")
            done = True
            return reply
        finally:
            if not done:
                self.discard()

    def discard(self) -> None:
        """Kill the judge (its sandboxes go with it); the next run starts a fresh one."""
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc.stdout.close()
            self.proc.stdin.close()
            self.backend.remove_leftovers(self.proc.pid)
            self.proc = None

    def stop(self) -> None:
        if self.proc is None:
            return
        try:
            self.proc.stdin.close()
            self.proc.wait(timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            self.proc.kill()
            self.proc.wait()
        self.proc.stdout.close()
        self.proc = None

    def restart(self) -> None:
        self.discard()
        self.start()


def _home(tests, index: int, workers: int) -> int:
    """The worker a run goes to first: for assert tests, one chosen by the tests themselves, so
    that their preparation (parsing, rewriting, compiling; cached per judge, ``asserts.prepare``)
    happens in one judge and is reused there; other specs (no preparation) go round-robin."""
    if isinstance(tests, AssertTests):
        key = (tests.test_code, tests.check_name, tests.helpers, tests.split_asserts)
        return hash(key) % workers
    return index % workers


def _overran(message: str, backend: str, attempts: int) -> Verdict:
    result = CaseResult("timeout", f"judging ran past the wall-clock limit ({message}): a "
                                   "loop in the tests, or an answer too costly to check", "judge")
    return Verdict(status="timeout", passed=False, fraction=0.0, results=(result,),
                   backend=backend, attempts=attempts)


class Sandbox:
    """A started pool of sandbox workers. Use ``make_sandbox`` to build one."""

    def __init__(self, backend: Backend, workers: int, limits: Limits,
                 pin_cpus: bool | None = None):
        if workers < 1:
            raise ValueError(f"workers must be >= 1, got {workers}")
        self.backend, self.limits, self.name = backend, limits, backend.name
        self.isolation = backend.isolation()
        backend.prepare()
        self.workers = [Worker(backend, limits, cpu)
                        for cpu in assign_cpus(workers, pin_cpus)]
        errors: list[BaseException] = []

        def start(w: Worker) -> None:
            try:
                w.start()
            except BaseException as e:  # noqa: BLE001 - re-raised below
                errors.append(e)

        threads = [threading.Thread(target=start, args=(w,)) for w in self.workers]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if errors:
            self.close()
            raise errors[0]
        self.idle: queue.Queue[Worker] = queue.Queue()
        for w in self.workers:
            self.idle.put(w)
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="sandbox")

    def _check_limits(self, limits: Limits) -> None:
        if self.name == "docker" and (limits.memory_mb > self.limits.memory_mb or
                                      limits.max_processes > self.limits.max_processes):
            raise ValueError("per-run memory_mb/max_processes above the sandbox's own limits "
                             "(docker sets them per container): create the sandbox with "
                             "make_sandbox(..., limits=Limits(...)) high enough")

    def _request(self, code: str, tests, limits: Limits | None) -> tuple[dict, float]:
        """The judge request for one run and its outer timeout; raises on bad input."""
        check_spec(tests)
        if not isinstance(code, str):
            raise TypeError(f"code must be a str, got {type(code).__name__}")
        limits = limits or self.limits
        self._check_limits(limits)
        request = {"code": code, "tests": tests.to_dict(), "limits": limits.to_dict()}
        return request, judge_bound(tests, limits)

    def run(self, code: str, tests, limits: Limits | None = None) -> Verdict:
        """Judge ``code`` against ``tests`` in one sandbox worker."""
        request, timeout = self._request(code, tests, limits)
        worker = self.idle.get()
        try:
            return self._attempts(worker, request, timeout)
        finally:
            self.idle.put(worker)

    def _attempts(self, worker: Worker, request: dict, bound: float) -> Verdict:
        reason = ""
        for attempt in (1, 2):
            try:
                if worker.proc is None:
                    worker.start()
                reply = worker.request(request, bound)
                if reply.get("retire"):  # the judge grew past its memory bound: the next run
                    worker.discard()        # starts a fresh one
                if "verdict" in reply:
                    verdict = Verdict.from_dict(reply["verdict"])
                    return dataclasses.replace(verdict, attempts=attempt)
                reason = reply.get("sandbox_error", str(reply))
            except JudgeOverran as e:  # not retried: the same run would stall the next judge
                log.warning("sandboxes: %s judge stopped: %s", self.name, e)
                return _overran(str(e), self.name, attempt)
            except (WorkerDied, RuntimeError, OSError) as e:
                reason = str(e)
                try:
                    worker.restart()
                except (WorkerDied, RuntimeError, OSError) as e2:
                    reason += f"; replacing the worker failed: {e2}"
                    worker.proc = None
            log.warning("sandboxes: %s worker failed (attempt %d): %s", self.name, attempt, reason)
        return Verdict.sandbox_error(reason, self.name, attempts=2)

    def run_many(self, items, limits: Limits | None = None) -> list[Verdict]:
        """Judge ``[(code, tests), ...]`` in parallel over the workers; results in input order.

        Runs with the same assert tests go to the same worker first (its judge compiled them
        on their first run: see ``_home``); a worker whose share is done takes runs from the end
        of the longest remaining share, so the load still balances."""
        items = list(items)
        for i, item in enumerate(items):
            if not (isinstance(item, (tuple, list)) and len(item) == 2):
                raise ValueError(f"run_many items must be (code, tests) pairs; item {i} is "
                                 f"{type(item).__name__}")
        requests = [self._request(code, tests, limits) for code, tests in items]
        n = len(self.workers)
        shares: list[collections.deque[int]] = [collections.deque() for _ in range(n)]
        for i, (_code, tests) in enumerate(items):
            shares[_home(tests, i, n)].append(i)
        lock = threading.Lock()
        verdicts: list[Verdict | None] = [None] * len(items)

        def next_run(k: int) -> int | None:
            with lock:
                if shares[k]:
                    return shares[k].popleft()
                longest = max(shares, key=len)
                return longest.pop() if longest else None

        def serve(_slot: int) -> None:
            while True:  # a worker per run, so concurrent callers of run() take turns too
                worker = self.idle.get()
                try:
                    i = next_run(self.workers.index(worker))
                    if i is None:
                        return
                    verdicts[i] = self._attempts(worker, *requests[i])
                finally:
                    self.idle.put(worker)

        list(self.pool.map(serve, range(min(n, len(items)))))
        return verdicts  # type: ignore[return-value]

    def close(self) -> None:
        for w in self.workers:
            w.stop()
        if hasattr(self, "pool"):
            self.pool.shutdown(wait=True)

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        cpus = [w.cpu for w in self.workers]
        pinned = f" on CPUs {cpus}" if cpus and cpus[0] is not None else ""
        return f"<Sandbox {self.name} x{len(self.workers)}{pinned}>"
