"""Sandboxed verifiers: run untrusted, model-written code against tests, hack-proof and fast.

    from sandboxes import make_sandbox, CallTests, AssertTests, StdioTests
    with make_sandbox("auto") as sb:          # "auto" | "local" | "bwrap" | "docker"
        v = sb.run(code, AssertTests(test_code, entry_point="f"))
        v = sb.run(code, CallTests(entry_point="f", cases=[((1, 2), 3)]))
        v = sb.run(code, StdioTests(cases=[("1 2\\n", "3\\n")]))
        vs = sb.run_many([(code, tests), ...])   # parallel, order preserved
    # v.passed, v.fraction, v.status, v.results (per case), v.stdout / v.stderr excerpts

How (see docs/sandbox threat model): a trusted judge process per worker holds the tests and the
expected answers; a warm runner server inside the sandbox (namespaces, bubblewrap or a docker
container) forks one limited candidate process per run; the judge talks to the candidate over a
socket and only plain data crosses. Assert-style tests run in the judge and call the candidate
through a proxy. Limits (wall, CPU, memory, processes, file size, output) each have a status.

Covers: faked passes (early exit, __eq__ tricks, frame walking, monkeypatching), escapes from
time limits (SIGALRM, setsid grandchildren), fork and memory bombs, output floods, writes
outside a private tmp dir, network access, killing the parent. Does not cover: kernel exploits
(no VM; docker adds seccomp, local/bwrap do not), side channels, CPU starvation of other
workloads beyond the limits.
"""

from .factory import make_sandbox
from .backends import BACKENDS
from .pool import Sandbox
from .specs import AssertTests, CallTests, Limits, StdioTests, spec_from_dict
from .verdict import STATUSES, CaseResult, Verdict

__all__ = ["make_sandbox", "Sandbox", "BACKENDS", "CallTests", "AssertTests", "StdioTests",
           "Limits", "Verdict", "CaseResult", "STATUSES", "spec_from_dict"]
