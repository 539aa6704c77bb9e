"""Red team, process side (issue 17): attacks on the runner, the judge and the worker protocol,
one class per test group, each on every backend (the ``sandbox`` fixture's parameters).

Each test states the exploit it closes: it fails where the hole is open (the attack passes, the
state is carried, the run stalls or ends in sandbox_error) and passes where it is closed.
"""

from __future__ import annotations

import itertools
import os
import signal
import time
import uuid

import pytest

from sandboxes import AssertTests, CallTests, Limits, make_sandbox
from sandboxes.judge import JUDGE_MEMORY_BYTES
from sandboxes.pool import JUDGE_GRACE_S

import redteam_corpus as corpus


ADD = CallTests("add", [((1, 2), 3), ((20, 22), 42)])
GOOD = "def add(a, b):\n    return a + b\n"
WRONG = "def add(a, b):\n    return 0\n"
LIMITS = Limits(wall_time_s=3.0, memory_mb=256, max_processes=16)  # as conftest's sandbox
SLOW_GOOD = "import time\ndef add(a, b):\n    time.sleep(1.0)\n    return a + b\n"


def judged_right(sandbox) -> None:
    """Both workers (and both sandboxes of each) still judge honest and wrong code right."""
    verdicts = sandbox.run_many([(GOOD, ADD), (WRONG, ADD)] * 4)
    assert [v.passed for v in verdicts] == [True, False] * 4, verdicts
    assert all(v.status in ("ok", "wrong_answer") for v in verdicts), verdicts


# -- 6: a verdict is bound to its run --------------------------------------------------------
class Interrupt(BaseException):
    pass


def _interrupted_run(sandbox, code: str, after_s: float) -> None:
    def ring(signum, frame):
        raise Interrupt

    previous = signal.signal(signal.SIGALRM, ring)
    signal.setitimer(signal.ITIMER_REAL, after_s)
    try:
        with pytest.raises(Interrupt):
            sandbox.run(code, ADD)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def test_verdict_of_an_interrupted_run_is_never_read_by_the_next(sandbox):
    """A KeyboardInterrupt-like exception while run() waits: the passing verdict that arrives
    later must not become the next (wrong) run's verdict."""
    for _ in range(2):
        _interrupted_run(sandbox, SLOW_GOOD, 0.3)
        time.sleep(1.2)  # the interrupted run's verdict is written by now
        for _ in range(2):
            v = sandbox.run(WRONG, ADD)
            assert not v.passed and v.status == "wrong_answer", v
    judged_right(sandbox)


def test_interrupted_worker_is_replaced_not_reused(sandbox):
    """The judge whose exchange was cut off is stopped; a fresh one serves the next run."""
    before = {w.proc.pid for w in sandbox.workers if w.proc is not None}
    _interrupted_run(sandbox, SLOW_GOOD, 0.3)
    after = {w.proc.pid for w in sandbox.workers if w.proc is not None}
    assert len(after) < len(before) or after != before
    judged_right(sandbox)
    assert all(w.proc is not None for w in sandbox.workers)


def test_reply_for_another_run_is_refused(sandbox):
    """A judge that answers out of step (a reply naming another run) is replaced and the run
    retried, never taken as this run's verdict."""
    worker = sandbox.workers[0]
    sandbox.run_many([(GOOD, ADD)] * 2)  # both workers started
    worker.runs = iter([10**6, 10**6 + 1, 10**6 + 2])  # the judge echoes these...
    original = worker._read

    def skewed(timeout):
        reply = original(timeout)
        if "verdict" in reply:
            reply = dict(reply, id=reply["id"] - 1)  # ...but this reply names the run before
        return reply

    worker._read = skewed
    try:
        v = sandbox._attempts(worker, *sandbox._request(WRONG, ADD, None))
    finally:
        del worker._read
        worker.runs = itertools.count(1)
    assert not v.passed and v.status == "sandbox_error", v
    judged_right(sandbox)


# -- 8, 9: the judge's own bounds ------------------------------------------------------------
def _assert_tests(body: str, module: str = "") -> AssertTests:
    return AssertTests(f"{module}def check(candidate):\n{body}", "add")


@pytest.mark.parametrize("where, tests", [
    ("C loop in check", _assert_tests("    sum(range(10 ** 12))\n"
                                      "    assert candidate(1, 2) == 3\n")),
    ("Python loop in check", _assert_tests("    while True:\n        pass\n")),
    ("C loop at module level", _assert_tests("    assert candidate(1, 2) == 3\n",
                                             "sum(range(10 ** 12))\n")),
    ("Python loop at module level", _assert_tests("    assert candidate(1, 2) == 3\n",
                                                  "while True:\n    pass\n")),
    ("sleep at module level", _assert_tests("    assert candidate(1, 2) == 3\n",
                                            "import time\ntime.sleep(10 ** 6)\n")),
])
def test_trusted_test_code_that_loops_is_bounded_by_the_wall_limit(sandbox, where, tests):
    limits = Limits(wall_time_s=2.0, memory_mb=LIMITS.memory_mb,
                    max_processes=LIMITS.max_processes)
    t0 = time.monotonic()
    v = sandbox.run(GOOD, tests, limits)
    took = time.monotonic() - t0
    assert not v.passed and v.status == "timeout", (where, v)
    assert took < limits.wall_time_s + JUDGE_GRACE_S + 3.0, (where, took)
    judged_right(sandbox)


HASH_COLLISIONS = '''
import sys
def add(a, b):
    m = sys.hash_info.modulus          # every k * m hashes to 0
    return {k * m for k in range(1, 25001)}
'''


def test_answer_costly_to_compare_is_bounded_by_the_wall_limit(sandbox):
    """25k ints with one hash: milliseconds for the candidate to build, minutes for a judge to
    rebuild as a set. The run ends within its bound (whatever status), never a pass."""
    limits = Limits(wall_time_s=2.0, memory_mb=LIMITS.memory_mb,
                    max_processes=LIMITS.max_processes)
    tests = CallTests("add", [((1, 2), {1, 2})])
    t0 = time.monotonic()
    v = sandbox.run(HASH_COLLISIONS, tests, limits)
    assert not v.passed and v.status != "sandbox_error", v
    assert time.monotonic() - t0 < limits.wall_time_s + JUDGE_GRACE_S + 3.0
    judged_right(sandbox)


FORGED_FRAME = '''
import os, struct
def add(a, b):
    body = b'{"value":[' + b'[],' * (%d // 3) + b'[]]}'
    os.write(3, struct.pack(">I", len(body)) + body)   # straight onto the result channel
    import time; time.sleep(10)
'''


def _judge_peak_kb(sandbox) -> list[int]:
    peaks = []
    for w in sandbox.workers:
        with open(f"/proc/{w.proc.pid}/status") as f:
            fields = dict(line.split(":", 1) for line in f)
        peaks.append(int(fields["VmHWM"].split()[0]))
    return peaks


def test_forged_frame_cannot_grow_the_judge_past_its_memory_bound(backend_name):
    """A frame of 30 MiB of ``[],`` decodes to ~800 MiB of lists in the judge: the judge stops
    at its per-run memory bound, the run fails, and the judge is still fine afterwards."""
    size = 30 << 20
    limits = Limits(wall_time_s=3.0, memory_mb=256, max_processes=16,
                    max_result_bytes=size + 1024)
    with make_sandbox(backend_name, workers=1, limits=limits) as sb:
        sb.run(GOOD, ADD)
        before = _judge_peak_kb(sb)[0]
        v = sb.run(FORGED_FRAME % size, ADD)
        assert not v.passed and v.status in ("memory_limit", "output_limit",
                                             "runtime_error"), v
        if sb.workers[0].proc is not None:  # not retired
            grown = (_judge_peak_kb(sb)[0] - before) * 1024
            assert grown < JUDGE_MEMORY_BYTES + (64 << 20), grown
        assert sb.run(GOOD, ADD).passed and not sb.run(WRONG, ADD).passed


# -- 10: nothing a candidate sets on the runner reaches the next run -------------------------
PROBE = '''
import os, resource, ctypes
def add(a, b):
    libc = ctypes.CDLL(None, use_errno=True)
    seen = {"rlimits": [resource.getrlimit(getattr(resource, n)) for n in sorted(dir(resource))
                        if n.startswith("RLIMIT_") and n not in ("RLIMIT_CPU", "RLIMIT_AS",
                        "RLIMIT_NPROC", "RLIMIT_FSIZE", "RLIMIT_NOFILE", "RLIMIT_CORE")],
            "nice": os.getpriority(os.PRIO_PROCESS, 0),
            "sched": os.sched_getscheduler(0),
            "ioprio": libc.syscall(252, 1, 0),
            "affinity": sorted(os.sched_getaffinity(0)),
            "parent_nice": os.getpriority(os.PRIO_PROCESS, os.getppid())}
    for d in ("/tmp", "/dev/shm", "/dev/mqueue", "/dev"):
        try:
            seen[d] = sorted(os.listdir(d))
        except OSError:
            seen[d] = None
    return seen
'''
PROBE_TESTS = CallTests("add", [((1, 2), 0)])

@pytest.mark.parametrize("attack", sorted(corpus.RUNNER_STATE))
def test_settings_on_the_runner_do_not_reach_the_next_run(sandbox, attack):
    before = sandbox.run_many([(PROBE, PROBE_TESTS)] * 4)
    baseline = before[0].results[0].message
    assert all(v.results[0].message == baseline for v in before)
    assert sandbox.run(corpus.state_attack(corpus.RUNNER_STATE[attack]), ADD).passed
    after = sandbox.run_many([(PROBE, PROBE_TESTS)] * 8)
    for v in after:
        assert v.results[0].message == baseline, (attack, v.results[0].message, baseline)
    judged_right(sandbox)


DEVICE_TOUCH = '''
import os
def add(a, b):
    try:
        os.utime("/dev/%s")
        touched = True
    except OSError:
        touched = False
    st = os.stat("/dev/%s")
    return [touched, st.st_atime_ns, st.st_mtime_ns]
'''
DEVICE_READ = '''
import os
def add(a, b):
    st = os.stat("/dev/%s")
    return [True, st.st_atime_ns, st.st_mtime_ns]
'''


def _returned(sandbox, code: str) -> list:
    tests = CallTests("add", [((1, 2), "?")])
    message = sandbox.run(code, tests).results[0].message
    return eval(message.split("got ", 1)[1])  # the judge's own message quotes the value


@pytest.mark.parametrize("device", ["null", "zero", "full", "random", "urandom"])
def test_device_file_times_carry_nothing(sandbox, device):
    """utime() on /dev/<device>: refused, or the times stay in a sandbox that is then replaced;
    never the host's device file, never visible to a later run."""
    host = os.stat(f"/dev/{device}")
    touched, atime, mtime = _returned(sandbox, DEVICE_TOUCH % (device, device))
    for _ in range(6):
        _, a2, m2 = _returned(sandbox, DEVICE_READ % device)
        assert not touched or (a2, m2) != (atime, mtime), device
    now = os.stat(f"/dev/{device}")
    assert (now.st_atime_ns, now.st_mtime_ns) == (host.st_atime_ns, host.st_mtime_ns)


# -- 11: cleanup of whatever the candidate left ---------------------------------------------
@pytest.mark.parametrize("depth, extra", [
    (3000, "pass"),
    (3000, "open('f', 'w').close(); os.symlink('/', 'up')"),
    (1000, "os.chmod('..', 0o500) if i % 7 == 0 else None"),
])
def test_deep_trees_in_tmp_do_not_break_the_next_run(sandbox, depth, extra):
    v = sandbox.run(corpus.NESTED_DIRS % (depth, extra), ADD)
    assert v.passed, v
    for _ in range(3):
        judged_right(sandbox)


# -- 12: one memory and CPU budget per run -------------------------------------------------
def test_memory_budget_is_per_run_not_per_process(backend_name):
    """Eight processes of 180 MiB each under memory_mb=200 must not all be held at once (the
    program answers right only if they were)."""
    limits = Limits(wall_time_s=5.0, memory_mb=200, max_processes=16)
    with make_sandbox(backend_name, workers=1, limits=limits) as sb:
        v = sb.run(corpus.MANY_HOLDERS, CallTests("add", [((1, 2), 3)]))
        assert not v.passed, v
        assert v.status in ("wrong_answer", "memory_limit", "timeout", "runtime_error"), v
        assert sb.run(GOOD, ADD).passed


def test_spinners_on_every_cpu_do_not_starve_the_other_worker(sandbox):
    """Six setsid() spinners with widened affinity in one run; an honest 0.3 s CPU run in the
    other worker at the same time still finishes within its 3 s limit."""
    for _ in range(2):
        verdicts = sandbox.run_many([(corpus.SPINNERS % "2.5", ADD), (corpus.HONEST_CPU, ADD)])
        assert verdicts[1].passed, verdicts[1]
        assert verdicts[0].status in ("ok", "timeout"), verdicts[0]


# -- 13: the host's environment ------------------------------------------------------------
def test_host_environment_is_not_in_the_candidates_memory(backend_name, monkeypatch):
    secret = f"PLANTED-{uuid.uuid4().hex}"
    monkeypatch.setenv("CODERESET_PLANTED", secret)
    with make_sandbox(backend_name, workers=1, limits=LIMITS) as sb:
        v = sb.run(corpus.ENV_HUNT, ADD)
    assert secret not in v.results[0].message
    assert v.passed, v


# -- leftovers of a judge that dies ----------------------------------------------------------
def test_a_killed_judge_leaves_nothing_on_the_host(backend_name):
    with make_sandbox(backend_name, workers=1, limits=LIMITS) as sb:
        for _ in range(3):
            pid = sb.workers[0].proc.pid
            os.kill(pid, signal.SIGKILL)
            v = sb.run(GOOD, ADD)
            assert v.passed and v.attempts == 2, v
            deadline = time.monotonic() + 10
            while sb.backend.leftovers(pid) and time.monotonic() < deadline:
                time.sleep(0.1)
            assert sb.backend.leftovers(pid) == [], sb.backend.leftovers(pid)
        pids = [w.proc.pid for w in sb.workers]
    for pid in pids:
        assert sb.backend.leftovers(pid) == []
