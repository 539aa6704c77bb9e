"""The judge process: trusted, one per worker; owns the worker's sandboxes and judges runs.

Started by ``pool.Worker`` as a fresh interpreter. It launches runners through the backend,
then answers requests from the user's process (stdin/stdout, one JSON object per line):

    argv[1]: {"backend": name, "options": {...}, "limits": {...}, "cpu": int | null}
    -> {"ready": true, "uids": [...], "hello": {...}}  |  {"failed": reason}
    {"id": int, "code": str, "tests": spec.to_dict(), "limits": limits.to_dict()}
    -> {"id", "started": true}  once the run's sandbox is ready, then
    -> {"id", "verdict": verdict.to_dict()(, "retire": true)}  |  {"id", "sandbox_error": reason}

Each run is bounded here too, not only in the candidate: the judge's CPU time per run (trusted
test code, decoding and comparing the answer) by the run's wall limit (ITIMER_PROF), and its
memory growth by ``JUDGE_MEMORY_BYTES`` (a soft RLIMIT_AS set per run); either ends the run with
its own status, and a judge that stays larger than that after a run asks to be retired. What no
signal interrupts (one long C call) is stopped from outside by ``pool`` after the run's bound.

Test code and expected answers live here and in no other process. A worker keeps
``SANDBOXES_PER_WORKER`` sandboxes (each its own runner, uid and PID namespace or container) and
alternates between them: the cleanup and re-fork after a run (which must finish before the next
candidate may start in that sandbox) then overlaps the judge's own work between runs (reading the
next request, preparing its tests) and not the next candidate: each run's clock starts only once
every other sandbox's cleanup is done (``settle``), so a run that leaves 60k files behind cannot
starve the next one. Runs are still judged one at a time. A runner that goes down is replaced before its next candidate (within
a run too: between the cases of a stdio run); only a sandbox that cannot be replaced, or an error
of the judge's own, gives ``sandbox_error``, which the user's side retries once. With ``cpu`` set,
the judge pins itself to that CPU before it launches anything, so its runners and their
candidates inherit it (docker containers get it as their cpuset).
"""

from __future__ import annotations

import functools
import json
import os
import resource
import signal
import sys
import time

from .backends import Backend, make_backend
from .checkers import CHECKERS
from .link import RunnerDown, RunnerLink
from .specs import MiB, Limits, StdioTests, spec_from_dict
from .uids import UidLease
from .verdict import CaseResult, Verdict

SANDBOXES_PER_WORKER = 2
JUDGE_MEMORY_BYTES = 512 * MiB  # what one run may add to the judge (decoding, test code)


class JudgeLimit(BaseException):
    """The judge's own bound for this run was reached (BaseException: test code catching
    ``Exception`` cannot swallow it)."""


def _vm_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[0]) * resource.getpagesize()


def _cpu_budget(spec, limits: Limits) -> float:
    processes = len(spec.cases) if isinstance(spec, StdioTests) else 1
    return processes * limits.wall_time_s


def _over_cpu(signum, frame):
    raise JudgeLimit("timeout")


class Bounds:
    """The judge's CPU and memory bounds around one run (see the module docstring)."""

    def __init__(self, cpu_s: float):
        self.cpu_s = cpu_s
        self.soft, self.hard = resource.getrlimit(resource.RLIMIT_AS)

    def __enter__(self) -> Bounds:
        limit = _vm_bytes() + JUDGE_MEMORY_BYTES
        if self.hard == resource.RLIM_INFINITY or limit < self.hard:
            resource.setrlimit(resource.RLIMIT_AS, (limit, self.hard))
        signal.signal(signal.SIGPROF, _over_cpu)
        signal.setitimer(signal.ITIMER_PROF, self.cpu_s)
        return self

    def __exit__(self, *exc) -> None:
        signal.setitimer(signal.ITIMER_PROF, 0)
        resource.setrlimit(resource.RLIMIT_AS, (self.soft, self.hard))


def _bound_verdict(status: str, spec, limits: Limits, backend: str, seconds: float) -> Verdict:
    if status == "timeout":
        message = (f"judging used more than {_cpu_budget(spec, limits)}s of the judge's CPU: a "
                   "loop in the tests, or an answer too costly to check")
    else:
        message = (f"judging needed more than the judge's {JUDGE_MEMORY_BYTES // MiB} MiB for "
                   "one run: an answer too large to check")
    return Verdict.from_results([CaseResult(status, message, "judge")], backend=backend,
                                seconds=seconds)


class Judge:
    def __init__(self, backend: Backend, uids: list[int], limits: Limits):
        self.backend, self.uids, self.limits = backend, uids, limits
        self.links: list[RunnerLink | None] = [None] * len(uids)
        self.turn = 0
        self.start_vm = _vm_bytes()

    def link(self, k: int) -> RunnerLink:
        """Sandbox ``k``, started on first use; the link replaces it whenever it went down or
        was poisoned by its previous run (``RunnerLink.ensure``)."""
        link = self.links[k]
        if link is None:
            launch = functools.partial(self.backend.launch, self.uids[k], self.limits)
            launched = launch()
            link = self.links[k] = RunnerLink(
                launched.sock, launched.kill, launched.start_timeout, budget=launched.budget,
                relaunch=launch, tmp_mb=getattr(self.backend.config, "tmp_mb", 0))
        link.ensure()
        return link

    def settle(self, k: int) -> None:
        """Wait until the other sandboxes' cleanups are done, so no run's clock starts while a
        previous run's cleanup (wiping up to 2 x SCRATCH_INODES files) shares its CPU."""
        for j, other in enumerate(self.links):
            if j != k and other is not None and other.inflight is not None:
                try:
                    other.collect()
                except RunnerDown:  # replaced before its next use
                    pass

    def run(self, request: dict, started) -> dict:
        """Judge one run; ``started()`` is called once its sandbox is ready.

        ``sandbox_error`` is left only for what no candidate can cause: a sandbox that cannot
        be (re)started, an error of the judge's own (a test spec it cannot read). A runner that
        dies while a candidate runs is that candidate's failure (``Session.fault``)."""
        k, self.turn = self.turn, (self.turn + 1) % len(self.links)
        t0 = time.monotonic()
        try:
            spec = spec_from_dict(request["tests"])
            limits = Limits.from_dict(request["limits"])
        except (ValueError, TypeError, KeyError, RecursionError, MemoryError) as e:
            return {"sandbox_error": f"the judge cannot read the tests: {type(e).__name__}: "
                                     f"{str(e)[:200]}"}
        try:
            link = self.link(k)
            self.settle(k)
            started()
            with Bounds(_cpu_budget(spec, limits)):
                results, out, err = CHECKERS[spec.kind](link, request["code"], spec, limits)
        except (RunnerDown, OSError, RuntimeError) as e:
            if self.links[k] is not None:
                self.links[k].close()
            return {"sandbox_error": f"{type(e).__name__}: {e}"}
        except (JudgeLimit, MemoryError) as e:
            # the exchange with sandbox k may have stopped anywhere: replace that sandbox
            self.links[k].close()
            status = "timeout" if isinstance(e, JudgeLimit) else "memory_limit"
            verdict = _bound_verdict(status, spec, limits, self.backend.name,
                                     time.monotonic() - t0)
            return {"verdict": verdict.to_dict(), "retire": self.too_big()}
        verdict = Verdict.from_results(results, out, err, self.backend.name,
                                       time.monotonic() - t0)
        reply = {"verdict": verdict.to_dict()}
        if self.too_big():
            reply["retire"] = True
        return reply

    def too_big(self) -> bool:
        """Whether this judge grew past its start size plus one run's memory bound."""
        return _vm_bytes() > self.start_vm + JUDGE_MEMORY_BYTES

    def close(self) -> None:
        for link in self.links:
            if link is not None:
                link.close()


def main() -> None:
    config = json.loads(sys.argv[1])
    proto = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)  # prints from trusted test code must not reach the protocol stream
    # No parent-death signal here: it would fire when the thread that started us ends. The
    # judge ends when its stdin closes, i.e. when the user's process closes or dies.

    def send(obj) -> None:
        proto.write(json.dumps(obj) + "\n")
        proto.flush()

    leases: list[UidLease] = []
    try:
        if config.get("cpu") is not None:
            try:
                os.sched_setaffinity(0, {config["cpu"]})
            except OSError:  # the CPU went away: pinning only saves time, run unpinned
                pass
        backend = make_backend(config["backend"], config.get("options"))
        if os.geteuid() == 0:  # only root can run candidates as other uids; one per sandbox
            leases = [UidLease() for _ in range(SANDBOXES_PER_WORKER)]
            uids = [lease.uid for lease in leases]
        else:
            uids = [os.getuid()] * SANDBOXES_PER_WORKER
        judge = Judge(backend, uids, Limits.from_dict(config["limits"]))
        hello = [judge.link(k).hello for k in range(len(uids))]
    except Exception as e:  # noqa: BLE001 - reported to the user's side, which raises it
        send({"failed": f"{type(e).__name__}: {e}"})
        return
    send({"ready": True, "uids": uids, "hello": hello[0]})
    judge.start_vm = _vm_bytes()
    for line in sys.stdin:
        request = json.loads(line)
        run_id = request.get("id")
        reply = judge.run(request, lambda: send({"id": run_id, "started": True}))
        send({"id": run_id, **reply})
        if reply.get("retire"):
            break
    judge.close()
    for lease in leases:
        lease.release()


if __name__ == "__main__":
    main()
