"""Red team, third round (issue 24), one group per class, each on every backend.

1. A candidate can never cause ``sandbox_error`` (the trainer drops such a rollout instead of
   scoring it 0: a policy that crashes the verifier when wrong would escape every negative
   advantage). The attacks of ``redteam_corpus.CLASS1_ATTACKS`` end in the candidate's own
   status; a runner that dies while a candidate runs is that candidate's failure.
2. Nothing observable survives a run: a candidate sees no process but its own (procfs with
   hidepid, the runner non-dumpable), no cgroup counters, has no capabilities, and every run's
   first pid is the same.
3. Comparison: no tolerance for integer tokens; strings cross the wire losslessly.
4. Limits per run: memory from the cgroup's high-water mark (memfds and tmpfs files count), CPU
   from the cgroup's CPU time (all the run's processes), an inode limit on every tmpfs.
5. A run's cleanup is done before the next run's clock starts.
6. Honest code that failed passes: stdio programs end as under ``python3 main.py < input``
   (threads joined, atexit run, files flushed, ``os._exit(0)`` after the output is a normal end,
   real stdin/stdout file objects, stdin a regular file, a private /dev/shm), the
   competitive-programming set (``redteam_corpus.HONEST_STDIO``), and answers read as a user
   would (400-deep nesting, ``Decimal``, ``dict.values()``, in-place mutation of arguments).
"""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest

from sandboxes import CallTests, Limits, make_sandbox
from sandboxes.compare import STDIO_COMPARERS
from sandboxes.runner import codec

import redteam_corpus as corpus

ADD = CallTests("add", [((1, 2), 3), ((20, 22), 42)])
GOOD = "def add(a, b):\n    return a + b\n"
WRONG = "def add(a, b):\n    return 0\n"


def judged_right(sandbox) -> None:
    verdicts = sandbox.run_many([(GOOD, ADD), (WRONG, ADD)] * 2)
    assert [v.passed for v in verdicts] == [True, False] * 2, verdicts


def _entries(entries):
    return [pytest.param(code, tests, want, id=name) for name, code, tests, want in entries]


# -- 1: no sandbox_error from a candidate ----------------------------------------------------
@pytest.mark.parametrize("code, tests, must_pass", _entries(corpus.CLASS1_ATTACKS))
def test_attack_ends_in_the_candidates_own_status(sandbox, code, tests, must_pass):
    v = sandbox.run(code, tests)
    assert v.status != "sandbox_error" and v.attempts == 1, v
    assert v.passed == must_pass, v
    judged_right(sandbox)


def test_memfd_hog_is_a_memory_limit(sandbox):
    """The OOM killer takes the candidate (oom_score_adj 1000), not the runner, and the
    sandbox's OOM counter names the cause."""
    v = sandbox.run(corpus.MEMFD_HOG, corpus.ADD_ONE_CALL)
    assert v.status == "memory_limit", v


def test_candidates_are_the_oom_killers_first_choice(sandbox):
    code = ("def f():\n    with open('/proc/self/oom_score_adj') as f:\n"
            "        return int(f.read())\n")
    v = sandbox.run(code, CallTests("f", [((), 1000)]))
    assert v.passed, v


def _kill_runners(backend: str, judge_pid: int) -> int:
    """SIGKILL the sandboxes of the judge ``judge_pid`` from outside: every process it started
    (docker: its containers)."""
    if backend == "docker":
        from sandboxes.backends.docker import connect
        client = connect()
        found = [c for c in client.containers.list()
                 if c.name.startswith(f"codereset-sandbox-{os.getpid()}-")]
        for c in found:
            c.kill()
        return len(found)
    parents = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    parents[int(entry)] = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
    killed = 0
    for pid in parents:
        p, chain = pid, set()
        while p in parents and p not in chain:
            chain.add(p)
            p = parents[p]
        if judge_pid in chain and pid != judge_pid:  # launchers, runners, candidates
            try:
                os.kill(pid, signal.SIGKILL)
                killed += 1
            except OSError:
                continue
    return killed


def test_runner_killed_mid_run_is_the_candidates_failure_not_a_sandbox_error(backend_name):
    """Whatever killed it, a runner that dies while a candidate runs gives that candidate's
    verdict (runtime_error here: no OOM kill), and the next run gets a fresh sandbox."""
    slow = "import time\ndef add(a, b):\n    time.sleep(1.5)\n    return a + b\n"
    with make_sandbox(backend_name, workers=1, limits=Limits(wall_time_s=5.0)) as sb:
        judged_right(sb)
        judge = sb.workers[0].proc.pid
        timer = threading.Timer(0.7, _kill_runners, (backend_name, judge))
        timer.start()
        v = sb.run(slow, ADD)
        timer.join()
        assert v.status == "runtime_error" and v.attempts == 1, v
        assert "runner died" in v.results[0].message, v
        time.sleep(0.2)
        judged_right(sb)
        assert sb.workers[0].proc.pid == judge  # the judge stayed; only its sandbox was new


# -- 3: comparison -----------------------------------------------------------------------------
@pytest.mark.parametrize("code, tests, must_pass", _entries(corpus.CLASS3_ATTACKS))
def test_comparison(sandbox, code, tests, must_pass):
    v = sandbox.run(code, tests)
    assert v.passed == must_pass, v


@pytest.mark.parametrize("expected, actual, same", [
    ("1000000000000", "1000000999999", False),   # was within 1e-6 relative
    ("1000000000000", "1000000000000.0", False),
    ("3", "+3", True),
    ("0.5", "0.5000001", True),
    ("2.0", "2", True),                          # a float token accepts an integer spelling
    ("1.0", "1_0", False),                       # Python's float() spellings are not tokens
    ("inf", "1e999", False),
])
def test_token_tolerance_never_applies_to_integers(expected, actual, same):
    assert STDIO_COMPARERS["tokens"](expected, actual, 1e-6) is same


@pytest.mark.parametrize("text", ["\ud83d\ude00x", "\ud800", "a\udfffb", "\U0001F600", "é"])
def test_strings_cross_the_wire_losslessly(text):
    back = codec.decode(codec.loads(codec.dumps(codec.encode(text))))
    assert back == text and len(back) == len(text)


# -- 6: honest code passes ---------------------------------------------------------------------
@pytest.mark.parametrize("code, tests, must_pass",
                         _entries(corpus.HONEST_STDIO + corpus.HONEST_VALUES))
def test_honest_program(sandbox, code, tests, must_pass):
    v = sandbox.run(code, tests)
    assert v.passed == must_pass, v


def test_deep_expected_answer_is_read_without_recursion():
    """A 400-deep expected answer crashed the judge (~3 frames per level): decoding and
    comparison are iterative now."""
    from sandboxes import spec_from_dict
    from sandboxes.compare import values_equal
    spec = spec_from_dict(CallTests("f", [((), corpus.DEEP_400)]).to_dict())
    assert values_equal(spec.cases[0][1], corpus.DEEP_400)
    deep = [0]
    for _ in range(20_000):
        deep = [deep, 1.0]
    assert values_equal(deep, deep) and codec.decode([[[[1]]]]) == [[[[1]]]]


# -- 4, 5: limits per run; cleanup before the next clock -----------------------------------------
@pytest.mark.parametrize("code, tests, must_pass", _entries(corpus.CLASS4_ATTACKS))
def test_memory_limit_is_per_run(sandbox, code, tests, must_pass):
    v = sandbox.run(code, tests)
    assert v.passed == must_pass and v.status in ("ok", "memory_limit"), v


def test_cpu_limit_counts_every_process_of_the_run(backend_name):
    limits = Limits(wall_time_s=5.0, cpu_time_s=1.0, memory_mb=256)
    with make_sandbox(backend_name, workers=1, limits=limits) as sb:
        v = sb.run(corpus.CPU_CHILDREN, corpus.ADD_ONE_CALL)
        assert v.status == "cpu_limit", v
        v = sb.run(corpus.CPU_HONEST, corpus.ADD_ONE_CALL)
        assert v.passed, v


def test_scratch_tmpfs_have_inode_limits(sandbox):
    code = ("import os\ndef f():\n"
            "    return [os.statvfs(d).f_files for d in ('/tmp', '/dev/shm')]\n")
    from sandboxes.layout import SCRATCH_INODES
    v = sandbox.run(code, CallTests("f", [((), [SCRATCH_INODES] * 2)]))
    assert v.passed, v


def test_next_run_does_not_pay_for_the_previous_runs_cleanup(backend_name):
    """Both scratch tmpfs filled with empty directories (~65k inodes), then an honest run of
    1 s of CPU under a 3 s wall limit on the same worker (the other sandbox, same CPU)."""
    honest = corpus.CPU_HONEST.replace("0.5", "1.0")
    with make_sandbox(backend_name, workers=1, limits=Limits(wall_time_s=3.0)) as sb:
        for _ in range(2):
            assert sb.run(corpus.FILL_INODES, corpus.ADD_ONE_CALL).passed
            v = sb.run(honest, corpus.ADD_ONE_CALL)
            assert v.passed, v


# -- 2: nothing observable survives a run --------------------------------------------------------
@pytest.mark.parametrize("code, tests, must_pass", _entries(corpus.CLASS2_ATTACKS))
def test_candidate_sees_no_process_but_its_own(sandbox, code, tests, must_pass):
    assert sandbox.run(code, tests).passed == must_pass


def test_runner_counters_do_not_reach_the_next_run(sandbox):
    """A run burns CPU in reaped children (the runner's cutime, cminflt grew with it); the next
    run finds no /proc/1 to read them from."""
    burn = ("import os\ndef add(a, b):\n    for _ in range(3):\n        if os.fork() == 0:\n"
            "            sum(range(3 * 10 ** 6))\n            os._exit(0)\n        os.wait()\n"
            "    return a + b\n")
    assert sandbox.run(burn, ADD).passed
    read = ("def f():\n    try:\n        return open('/proc/1/stat').read()\n"
            "    except OSError as e:\n        return e.errno\n")
    v = sandbox.run(read, CallTests("f", [((), 2)]))
    assert v.passed, v


def test_every_run_gets_the_same_pid_whatever_the_run_before_used(backend_name):
    """The pid counter carried 12 bits per run: a run burned N thread ids and the next run read
    N off its own pid. The runner's helper resets the namespace's last pid before each fork."""
    code = ("import os, threading\ndef f(n):\n    me = os.getpid()\n"
            "    ts = [threading.Thread(target=int) for _ in range(n)]\n"
            "    [t.start() for t in ts]\n    [t.join() for t in ts]\n    return me\n")
    with make_sandbox(backend_name, workers=1) as sb:  # runs alternate between its 2 sandboxes
        pids = []
        for n in (0, 37, 5, 100, 0, 60):
            v = sb.run(code, CallTests("f", [((n,), -1)]))
            pids.append(v.results[0].message.rsplit("got ", 1)[-1])
        assert len(set(pids[0::2])) == 1 and len(set(pids[1::2])) == 1, pids
        judged_right(sb)


def test_runner_says_what_it_hides(sandbox):
    """Where a security module refuses the runner's /proc mount, the runner keeps the engine's
    own /proc (masks included) and its hello says so; as root here, all is hidden."""
    hello = sandbox.workers[0].info["hello"]
    assert hello["proc_hidden"] is True and hello["same_pids"] is True, hello


def test_candidate_has_no_capabilities_and_docker_masks_stay(sandbox):
    code = ("import os\ndef f():\n    with open('/proc/self/status') as s:\n"
            "        caps = [l.split()[1] for l in s if l.startswith(('CapEff', 'CapPrm'))]\n"
            "    try:\n        open('/proc/sys/kernel/hostname', 'w').write('x')\n"
            "        wrote = True\n    except OSError:\n        wrote = False\n"
            "    kcore = os.path.exists('/proc/kcore') and os.path.getsize('/proc/kcore') > 0\n"
            "    return [caps, os.getuid() != 0, wrote, kcore]\n")
    v = sandbox.run(code, CallTests("f", [((), [["0000000000000000"] * 2, True, False, False])]))
    assert v.passed, v
