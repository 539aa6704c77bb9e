"""The judge process: trusted, one per worker; owns one sandbox and judges runs in it.

Started by ``pool.Worker`` as a fresh interpreter. It launches the runner through the backend,
then answers requests from the user's process (stdin/stdout, one JSON object per line):

    argv[1]: {"backend": name, "options": {...}, "limits": {...}}
    -> {"ready": true, "uid": ..., "hello": {...}}  |  {"failed": reason}
    {"code": str, "tests": spec.to_dict(), "limits": limits.to_dict()}
    -> {"verdict": verdict.to_dict()}  |  {"sandbox_error": reason}

Test code and expected answers live here and in no other process. A runner that goes down is
replaced before the next request; the user's side retries the request once.
"""

from __future__ import annotations

import json
import os
import sys
import time

from .backends import make_backend
from .checkers import CHECKERS
from .link import RunnerDown, RunnerLink
from .specs import Limits, spec_from_dict
from .uids import UidLease
from .verdict import Verdict


class Judge:
    def __init__(self, backend, uid: int, limits: Limits):
        self.backend, self.uid, self.limits = backend, uid, limits
        self.link: RunnerLink | None = None

    def start(self) -> None:
        if self.link is not None:
            self.link.close()
        launched = self.backend.launch(self.uid, self.limits)
        self.link = RunnerLink(launched.sock, launched.kill, launched.start_timeout)

    def run(self, request: dict) -> dict:
        spec = spec_from_dict(request["tests"])
        limits = Limits.from_dict(request["limits"])
        t0 = time.monotonic()
        try:
            if self.link is not None:
                self.link.collect()  # may find the runner poisoned by the previous run
            if self.link is None or not self.link.alive:
                self.start()
            results, out, err = CHECKERS[spec.kind](self.link, request["code"], spec, limits)
        except (RunnerDown, OSError, RuntimeError) as e:
            if self.link is not None:
                self.link.close()
            return {"sandbox_error": f"{type(e).__name__}: {e}"}
        verdict = Verdict.from_results(results, out, err, self.backend.name,
                                       time.monotonic() - t0)
        return {"verdict": verdict.to_dict()}


def main() -> None:
    config = json.loads(sys.argv[1])
    proto = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)  # prints from trusted test code must not reach the protocol stream
    # No parent-death signal here: it would fire when the thread that started us ends. The
    # judge ends when its stdin closes, i.e. when the user's process closes or dies.

    def send(obj) -> None:
        proto.write(json.dumps(obj) + "\n")
        proto.flush()

    try:
        backend = make_backend(config["backend"], config.get("options"))
        # Only root can run candidates as another uid; others keep their own.
        lease = UidLease() if os.geteuid() == 0 else None
        uid = lease.uid if lease else os.getuid()
        judge = Judge(backend, uid, Limits.from_dict(config["limits"]))
        judge.start()
    except Exception as e:  # noqa: BLE001 - reported to the user's side, which raises it
        send({"failed": f"{type(e).__name__}: {e}"})
        return
    send({"ready": True, "uid": uid, "hello": judge.link.hello})
    for line in sys.stdin:
        send(judge.run(json.loads(line)))
    judge.link.close()
    if lease:
        lease.release()


if __name__ == "__main__":
    main()
