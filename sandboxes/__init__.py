"""Sandboxed verifiers: run untrusted, model-written code against tests, hack-proof and fast.

    from sandboxes import make_sandbox, CallTests, AssertTests, StdioTests
    with make_sandbox("auto") as sb:          # "auto" | "local" | "bwrap" | "docker"
        v = sb.run(code, AssertTests(test_code, entry_point="f"))
        v = sb.run(code, CallTests(entry_point="f", cases=[((1, 2), 3)]))
        v = sb.run(code, StdioTests(cases=[("1 2\\n", "3\\n")]))
        vs = sb.run_many([(code, tests), ...])   # parallel, order preserved
    # v.passed, v.fraction, v.status, v.results (per case), v.stdout / v.stderr excerpts

How: a trusted judge process per worker holds the tests and the expected answers; a warm runner
server inside the sandbox (namespaces built by hand, bubblewrap, or a docker container) forks one
limited candidate process per run, under an unprivileged uid and a seccomp denylist; the judge
talks to the candidate over a socket and only plain data crosses. Assert-style tests run in the
judge and call the candidate through a proxy. Each limit (wall, CPU, memory, processes, file
size, output) has its own status. A worker keeps two sandboxes and uses them in turn, so one is
cleaned and re-forked while the other runs; when the workers fit the CPUs each is pinned to one.

Covers: faked passes (early exit, __eq__ tricks, frame walking, monkeypatching), escapes from
time limits (SIGALRM, setsid grandchildren), fork and memory bombs, output floods, writes
outside a private tmp dir, network access, killing the parent, data carried from one run to the
next (files, the runner's state and counters, pids), limits escaped across processes (memory,
memfds and tmpfs files from the cgroup's high-water mark, CPU from its CPU time), and a
candidate turning its verdict into ``sandbox_error`` (OOM kills, a runner that dies or is
poisoned: the candidate's own status; ``sandbox_error`` is left for a sandbox that cannot be
started and for errors of the judge's own). Does not cover: kernel exploits (no VM: the kernel is shared; docker's seccomp profile is
an allowlist, ours a denylist), side channels, CPU starvation of other workloads beyond the
limits.
"""

from .factory import make_sandbox
from .backends import BACKENDS
from .pool import Sandbox
from .specs import AssertTests, CallTests, Limits, StdioTests, spec_from_dict
from .verdict import STATUSES, CaseResult, Verdict

__all__ = ["make_sandbox", "Sandbox", "BACKENDS", "CallTests", "AssertTests", "StdioTests",
           "Limits", "Verdict", "CaseResult", "STATUSES", "spec_from_dict"]
