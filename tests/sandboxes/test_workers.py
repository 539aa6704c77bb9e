"""A worker that dies is replaced: the run is retried once, then reported as sandbox_error;
nothing of the dead worker stays behind."""

from __future__ import annotations

import os
import subprocess
import threading
import time

import pytest

from sandboxes import AssertTests, CallTests, Limits, make_sandbox
from sandboxes.judge import SANDBOXES_PER_WORKER

SLOW = "import time\ndef f():\n    time.sleep(1.5)\n    return 7\n"
TESTS = CallTests("f", [((), 7)])


def descendants(pid: int) -> list[int]:
    parents = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    parents[int(entry)] = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError):
                continue
    found, frontier = [], [pid]
    while frontier:
        parent = frontier.pop()
        kids = [p for p, pp in parents.items() if pp == parent]
        found += kids
        frontier += kids
    return found


def containers() -> set[str]:
    done = subprocess.run(["docker", "ps", "-a", "--format", "{{.Names}}"],
                          capture_output=True, text=True)
    return {n for n in done.stdout.split() if n.startswith(f"codereset-sandbox-{os.getpid()}-")}


def alive(pids: list[int]) -> list[int]:
    return [p for p in pids if os.path.exists(f"/proc/{p}")
            and open(f"/proc/{p}/stat").read().rsplit(")", 1)[1].split()[0] != "Z"]


def test_dead_worker_is_replaced_and_the_run_retried(backend_name):
    before = containers() if backend_name == "docker" else set()
    with make_sandbox(backend_name, workers=1, limits=Limits(wall_time_s=5.0)) as sb:
        judge = sb.workers[0].proc.pid
        leftovers = descendants(judge)
        if backend_name == "docker":  # runners live in containers, not below the judge
            assert len(containers() - before) == SANDBOXES_PER_WORKER
        else:
            assert leftovers  # the runner (for local, also its launcher) hangs below the judge

        def kill_once():
            time.sleep(0.5)
            os.kill(judge, 9)

        threading.Thread(target=kill_once).start()
        v = sb.run(SLOW, TESTS)
        assert (v.passed, v.attempts) == (True, 2), v

        stop = threading.Event()

        def keep_killing():
            while not stop.is_set():
                proc = sb.workers[0].proc
                if proc is not None and proc.poll() is None:
                    proc.kill()
                time.sleep(0.2)

        killer = threading.Thread(target=keep_killing)
        killer.start()
        try:
            v = sb.run(SLOW, TESTS)
        finally:
            stop.set()
            killer.join()
        assert (v.status, v.passed, v.attempts) == ("sandbox_error", False, 2), v
        assert sb.run(SLOW, TESTS).passed  # and the worker comes back afterwards
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and (alive(leftovers) or (
            backend_name == "docker" and containers() != before)):
        time.sleep(0.2)
    assert alive(leftovers) == []
    if backend_name == "docker":
        assert containers() == before


def test_unknown_backend_and_options_are_clear_errors():
    with pytest.raises(ValueError, match="known: .*bwrap.*docker.*local"):
        make_sandbox("vm")
    with pytest.raises(ValueError, match="unknown option"):
        make_sandbox("local", image="x")
    with pytest.raises(ValueError, match="explicit backend"):
        make_sandbox("auto", tmp_mb=8)


def test_auto_picks_the_strongest_available_and_says_what_it_lacks(caplog):
    from sandboxes.backends import STRENGTH, make_backend
    expected = next(n for n in STRENGTH if make_backend(n).unavailable() is None)
    with caplog.at_level("INFO", logger="sandboxes"):
        with make_sandbox("auto", workers=1) as sb:
            assert sb.name == expected
            assert sb.run("def f():\n    return 7\n", TESTS).passed
    picked = [r.getMessage() for r in caplog.records if "auto picked" in r.getMessage()]
    assert len(picked) == 1 and repr(expected) in picked[0] and "lacks:" in picked[0]


def test_degraded_local_mode_judges_and_cleans_up(strays):
    import uuid
    marker = f"cr-degraded-{uuid.uuid4().hex}"
    grandchild = (f"import os, sys\ndef f():\n    if os.fork() == 0:\n        os.setsid()\n"
                  f"        os.execv(sys.executable, [sys.executable, '-c', "
                  f"'import time; time.sleep(60)', {marker!r}])\n    return 7\n")
    with make_sandbox("local", namespaces=False, workers=1) as sb:
        assert "PID, mount and network namespaces" in sb.isolation.lacks
        assert sb.run("def f():\n    return 7\n", TESTS).passed
        assert sb.run("def f():\n    return 8\n", TESTS).status == "wrong_answer"
        assert sb.run(grandchild, TESTS).passed
        time.sleep(0.3)
        assert strays(marker) == []
        if os.geteuid() == 0:  # even without namespaces, never as root
            uids = sb.workers[0].info["uids"]
            assert 0 not in uids
            own = AssertTests(f"def check(c):\n    assert c() in {uids}\n", "f")
            for _ in uids:
                assert sb.run("import os\ndef f():\n    return os.getuid()\n", own).passed


def test_local_degrades_where_root_may_not_create_namespaces(monkeypatch):
    # an unprivileged container's root (no CAP_SYS_ADMIN): the full mode's unshare fails there
    from sandboxes.backends import local
    if os.geteuid() != 0:
        pytest.skip("the full local mode needs root")
    assert local.namespaces_refused() is None  # this machine's root may
    reason = "unshare refused: Operation not permitted (root without CAP_SYS_ADMIN, ...)"
    monkeypatch.setattr(local, "namespaces_refused", lambda: reason)
    with make_sandbox("local", workers=1) as sb:
        assert f"namespaces: {reason}" in sb.isolation.lacks
        assert "PID, mount and network namespaces" in sb.isolation.lacks
        assert sb.run("def f():\n    return 7\n", TESTS).passed


def test_assign_cpus_policy(monkeypatch):
    import itertools

    from sandboxes import pool

    monkeypatch.setattr(pool, "usable_cpus", lambda: [2, 5, 7])
    monkeypatch.setattr(pool, "_next_cpu", itertools.count())
    assert pool.assign_cpus(2, None) == [2, 5]           # fits: pinned, one CPU each
    assert pool.assign_cpus(2, None) == [7, 2]           # the next pool continues round the CPUs
    assert pool.assign_cpus(4, None) == [None] * 4       # more workers than CPUs: not pinned
    assert pool.assign_cpus(4, True) == [5, 7, 2, 5]     # forced: CPUs shared round-robin
    assert pool.assign_cpus(1, False) == [None]
    monkeypatch.setattr(pool, "usable_cpus", lambda: [])
    assert pool.assign_cpus(1, True) == [None]           # no affinity support: nothing to pin


def test_pinned_workers_run_everything_on_their_cpu(backend_name):
    from sandboxes.pool import usable_cpus

    n = min(2, len(usable_cpus()))
    with make_sandbox(backend_name, workers=n, limits=Limits(wall_time_s=5.0)) as sb:
        cpus = [w.cpu for w in sb.workers]
        assert None not in cpus and len(set(cpus)) == n
        assert [w.info["hello"]["cpus"] for w in sb.workers] == [[c] for c in cpus]
        code = "import os\ndef where():\n    return sorted(os.sched_getaffinity(0))\n"
        test = f"def check(f):\n    assert len(f()) == 1 and f()[0] in {set(cpus)!r}\n"
        verdicts = sb.run_many([(code, AssertTests(test, "where"))] * (2 * n))
        assert all(v.passed for v in verdicts), [v.results[0].message for v in verdicts]


def test_unpinned_workers_keep_every_cpu(backend_name):
    from sandboxes.pool import usable_cpus

    with make_sandbox(backend_name, workers=1, pin_cpus=False) as sb:
        assert sb.workers[0].cpu is None
        assert sb.workers[0].info["hello"]["cpus"] == usable_cpus()


def test_home_worker_follows_the_assert_tests():
    from sandboxes.pool import _home

    a = AssertTests("def check(f):\n    assert f() == 1\n", "f")
    b = AssertTests("def check(f):\n    assert f() == 1\n", "f")  # equal tests, other object
    assert len({_home(a, i, 2) for i in range(5)} | {_home(b, i, 2) for i in range(5)}) == 1
    call = CallTests("f", [((), 1)])
    assert [_home(call, i, 3) for i in range(6)] == [0, 1, 2, 0, 1, 2]  # no preparation: spread


def test_runs_sharing_a_home_still_spread_over_the_workers():
    from sandboxes.pool import _home, usable_cpus

    if len(usable_cpus()) < 2:
        pytest.skip("needs two CPUs to tell the workers apart")
    code = ("import os, time\ndef where():\n    time.sleep(0.3)\n"
            "    return sorted(os.sched_getaffinity(0))\n")
    with make_sandbox("local", workers=2, pin_cpus=True) as sb:
        first = sb.workers[0].cpu
        # one test for all four runs (one home worker): it passes only on the first worker's CPU
        tests = AssertTests(f"def check(f):\n    assert f() == [{first}]\n", "where")
        assert _home(tests, 0, 2) == _home(tests, 3, 2)
        verdicts = sb.run_many([(code, tests)] * 4)
        assert 0 < sum(v.passed for v in verdicts) < 4  # the idle worker took some of them


@pytest.mark.docker
def test_docker_starts_unpinned_when_the_daemon_refuses_the_cpu(monkeypatch):
    from sandboxes.backends import make_backend
    from sandboxes.link import RunnerLink
    from sandboxes.uids import UidLease

    backend = make_backend("docker")
    reason = backend.unavailable()
    if reason is not None:
        pytest.skip(f"docker backend unavailable here: {reason}")
    backend.prepare()
    # as if this judge were pinned to a CPU the daemon cannot give: docker run refuses it
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {4095})
    assert "cpuset_cpus" in backend._run_kwargs("probe", 0, Limits(), "/tmp")
    lease = UidLease()
    launched = backend.launch(lease.uid, Limits())
    try:
        link = RunnerLink(launched.sock, launched.kill, launched.start_timeout)
        assert link.hello["hello"] and len(link.hello["cpus"]) >= 1
        link.close()
    finally:
        launched.kill()
        lease.release()
