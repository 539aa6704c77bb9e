"""Each failure has its own status, on every backend, with known small programs."""

from __future__ import annotations

import pytest

from sandboxes import CallTests, Limits, StdioTests

ADD = CallTests("add", [((1, 2), 3), ((2, 2), 4), ((-1, 1), 0)])

PROGRAMS = {
    "ok": "def add(a, b):\n    return a + b\n",
    "wrong_answer": "def add(a, b):\n    return a - b\n",
    "runtime_error": "def add(a, b):\n    return a / 0\n",
    "syntax_error": "def add(a, b)\n    return a + b\n",
    "timeout": "def add(a, b):\n    while True:\n        pass\n",
    "memory_limit": "def add(a, b):\n    x = []\n    while True:\n        x.append(' ' * 10**6)\n",
    "output_limit": "def add(a, b):\n    print('x' * 10**7)\n    return a + b\n",
    "file_limit": ("def add(a, b):\n    with open('big.bin', 'wb') as f:\n"
                   "        f.write(b'0' * (4 << 20))\n    return a + b\n"),
    "process_limit": ("import os\ndef add(a, b):\n    kids = []\n    for _ in range(64):\n"
                      "        pid = os.fork()\n        if pid == 0:\n            import time\n"
                      "            time.sleep(30)\n        kids.append(pid)\n    return a + b\n"),
}
SMALL = Limits(wall_time_s=3.0, memory_mb=128, max_processes=8, max_file_bytes=1 << 20,
               max_output_bytes=1 << 20)


@pytest.mark.parametrize("expected", sorted(PROGRAMS))
def test_status(sandbox, expected):
    v = sandbox.run(PROGRAMS[expected], ADD, limits=SMALL)
    assert v.status == expected, v
    assert v.passed == (expected == "ok")
    assert v.fraction == (1.0 if expected == "ok" else 0.0)
    assert all(r.status == expected for r in v.results)


def test_cpu_limit_has_its_own_status(sandbox):
    v = sandbox.run(PROGRAMS["timeout"], ADD,
                    limits=Limits(wall_time_s=6.0, cpu_time_s=1.0, memory_mb=128))
    assert v.status == "cpu_limit", v


def test_partial_results_before_a_timeout(sandbox):
    code = "def add(a, b):\n    while a == 2:\n        pass\n    return a + b\n"
    v = sandbox.run(code, ADD, limits=Limits(wall_time_s=1.0, memory_mb=128))
    assert [r.status for r in v.results] == ["ok", "timeout", "timeout"]
    assert (v.status, v.fraction) == ("timeout", pytest.approx(1 / 3))


def test_missing_entry_point_and_exception_message(sandbox):
    v = sandbox.run("def other(a, b):\n    return 0\n", ADD)
    assert v.status == "runtime_error" and "add" in v.results[0].message
    v = sandbox.run(PROGRAMS["runtime_error"], ADD)
    assert "ZeroDivisionError" in v.results[0].message


def test_type_aware_comparison(sandbox):
    tests = CallTests("f", [((), (1, 2))], strict_sequences=True)
    assert sandbox.run("def f():\n    return [1, 2]\n", tests).status == "wrong_answer"
    assert sandbox.run("def f():\n    return (1, 2)\n", tests).passed
    loose = CallTests("f", [((), (1, 2))], strict_sequences=False)
    assert sandbox.run("def f():\n    return [1, 2]\n", loose).passed
    assert sandbox.run("def f():\n    return True\n", CallTests("f", [((), 1)])).status == \
        "wrong_answer"
    floats = CallTests("f", [((), 0.3)], rel_tol=1e-9, abs_tol=1e-12)
    assert sandbox.run("def f():\n    return 0.1 + 0.2\n", floats).passed
    assert not sandbox.run("def f():\n    return 0.31\n", floats).passed


def test_stdio_statuses(sandbox):
    tests = StdioTests([("1 2\n", "3\n"), ("2 2\n", "4\n")])
    ok = "a, b = map(int, input().split())\nprint(a + b)\n"
    assert sandbox.run(ok, tests).passed
    v = sandbox.run("a, b = map(int, input().split())\nprint(a * b)\n", tests)
    assert [r.status for r in v.results] == ["wrong_answer", "ok"]
    assert sandbox.run("import sys\nsys.exit(3)\n", tests).status == "runtime_error"
    assert sandbox.run("print(\n", tests).status == "syntax_error"
    assert sandbox.run("while True:\n    pass\n", tests,
                       limits=Limits(wall_time_s=1.0, memory_mb=128)).status == "timeout"
    big = StdioTests([("", "x\n")])
    assert sandbox.run("print('x' * 10**7)\n", big).status == "output_limit"


def test_stdio_large_input_and_output(sandbox):
    n = 100_000  # about 590 kB each way: several pipe buffers, under the 1 MiB output limit
    data = "\n".join(str(i) for i in range(n)) + "\n"
    tests = StdioTests([(data, data)], compare="exact")
    v = sandbox.run("import sys\nsys.stdout.write(sys.stdin.read())\n", tests)
    assert v.passed, v


def test_stdio_token_float_tolerance(sandbox):
    tests = StdioTests([("", "0.333333 2\n")], compare="tokens", float_tol=1e-5)
    assert sandbox.run("print(1/3, 2)\n", tests).passed
    assert not sandbox.run("print(0.34, 2)\n", tests).passed


def test_run_many_preserves_order(sandbox):
    items = [(f"def add(a, b):\n    return a + b + {k}\n", CallTests("add", [((0, 0), k)]))
             for k in range(12)]
    items[5] = (PROGRAMS["wrong_answer"], CallTests("add", [((1, 1), 2)]))
    verdicts = sandbox.run_many(items)
    assert [v.passed for v in verdicts] == [k != 5 for k in range(12)]


def test_looping_test_code_is_stopped(sandbox):
    from sandboxes import AssertTests
    tests = AssertTests("def check(candidate):\n    assert candidate(1, 2) == 3\n"
                        "    while True:\n        pass\n", "add", split_asserts=False)
    v = sandbox.run(PROGRAMS["ok"], tests, limits=Limits(wall_time_s=1.0, memory_mb=128))
    assert v.status == "timeout" and v.attempts == 1, v
    assert sandbox.run(PROGRAMS["ok"], ADD).passed
