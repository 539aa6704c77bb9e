"""The judge process: trusted, one per worker; owns the worker's sandboxes and judges runs.

Started by ``pool.Worker`` as a fresh interpreter. It launches runners through the backend,
then answers requests from the user's process (stdin/stdout, one JSON object per line):

    argv[1]: {"backend": name, "options": {...}, "limits": {...}, "cpu": int | null}
    -> {"ready": true, "uids": [...], "hello": {...}}  |  {"failed": reason}
    {"code": str, "tests": spec.to_dict(), "limits": limits.to_dict()}
    -> {"verdict": verdict.to_dict()}  |  {"sandbox_error": reason}

Test code and expected answers live here and in no other process. A worker keeps
``SANDBOXES_PER_WORKER`` sandboxes (each its own runner, uid and PID namespace or container) and
alternates between them: the cleanup and re-fork after a run (which must finish before the next
candidate may start in that sandbox) then overlaps the next run instead of delaying it. Runs are
still judged one at a time. A runner that goes down is replaced before its next use; the user's
side retries the request once. With ``cpu`` set, the judge pins itself to that CPU before it
launches anything, so its runners and their candidates inherit it (docker containers get it as
their cpuset).
"""

from __future__ import annotations

import json
import os
import sys
import time

from .backends import Backend, make_backend
from .checkers import CHECKERS
from .link import RunnerDown, RunnerLink
from .specs import Limits, spec_from_dict
from .uids import UidLease
from .verdict import Verdict

SANDBOXES_PER_WORKER = 2


class Judge:
    def __init__(self, backend: Backend, uids: list[int], limits: Limits):
        self.backend, self.uids, self.limits = backend, uids, limits
        self.links: list[RunnerLink | None] = [None] * len(uids)
        self.turn = 0

    def link(self, k: int) -> RunnerLink:
        """Sandbox ``k``, (re)started if it is down or was poisoned by its previous run."""
        link = self.links[k]
        if link is not None:
            link.collect()
        if link is None or not link.alive:
            launched = self.backend.launch(self.uids[k], self.limits)
            link = self.links[k] = RunnerLink(launched.sock, launched.kill,
                                              launched.start_timeout)
        return link

    def run(self, request: dict) -> dict:
        spec = spec_from_dict(request["tests"])
        limits = Limits.from_dict(request["limits"])
        k, self.turn = self.turn, (self.turn + 1) % len(self.links)
        t0 = time.monotonic()
        try:
            link = self.link(k)
            results, out, err = CHECKERS[spec.kind](link, request["code"], spec, limits)
        except (RunnerDown, OSError, RuntimeError) as e:
            if self.links[k] is not None:
                self.links[k].close()
            return {"sandbox_error": f"{type(e).__name__}: {e}"}
        verdict = Verdict.from_results(results, out, err, self.backend.name,
                                       time.monotonic() - t0)
        return {"verdict": verdict.to_dict()}

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
    for line in sys.stdin:
        send(judge.run(json.loads(line)))
    judge.close()
    for lease in leases:
        lease.release()


if __name__ == "__main__":
    main()
