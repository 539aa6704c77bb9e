"""Red-team attacks on the sandbox as plain data, for the tests and the mixed stress benchmark.

Each entry is ``(name, code, tests, must_pass)``: the program, its test spec, and whether a sound
judge passes it (False for every wrong or hostile program; True for the honest controls that sit
next to the attacks, so a judge that fails everything does not look safe).

``JUDGE_ATTACKS`` (judge side, issue 17 items 1-5, 7, 8): wrong programs that older judges scored
as a pass, and answers that crashed or stalled the judge. ``PROCESS_ATTACKS`` (process side) is
kept in its own list below.
"""

from __future__ import annotations

from sandboxes import AssertTests, CallTests, StdioTests

ADD_GOOD = "def add(a, b):\n    return a + b\n"
ADD_ZERO = "def add(a, b):\n    return 0\n"
ADD_FIRST_ONLY = "def add(a, b):\n    return 3\n"  # right for (1, 2) only


def _asserts(body: str, **kw) -> AssertTests:
    lines = "".join(f"    {line}\n" for line in body.strip("\n").split("\n"))
    return AssertTests("def check(candidate):\n" + lines, "add", **kw)


def _frame(obj_source: str) -> str:
    """Source of a statement writing a forged reply frame (JSON of ``obj_source``) to fd 3."""
    return ("import json as _j, os as _o\n"
            f"_b = _j.dumps({obj_source}).encode()\n"
            "_o.write(3, len(_b).to_bytes(4, 'big') + _b)\n")


def _raw_frame(body_source: str) -> str:
    """Source writing a frame whose body is the bytes expression ``body_source`` (built at run
    time, so large frames do not make large programs)."""
    return ("import os as _o\n"
            f"_b = {body_source}\n"
            "_o.write(3, len(_b).to_bytes(4, 'big') + _b)\n")


# 1. Case splitting: failures in helper calls, aliases and later statements count.
HELPER = _asserts("def t(a, b, want):\n    assert candidate(a, b) == want\n"
                  "t(1, 2, 3)\nt(20, 22, 42)")
HELPER_AFTER_CASE = _asserts("assert candidate(1, 2) == 3\n"
                             "def t(a, b, want):\n    assert candidate(a, b) == want\n"
                             "t(20, 22, 42)")
HELPER_LOOP = _asserts("def t(a, b, want):\n    assert candidate(a, b) == want\n"
                       "for a, b, w in [(1, 2, 3), (20, 22, 42)]:\n    t(a, b, w)")
ALIAS = _asserts("assert candidate(1, 2) == 3\nf = candidate\nassert f(20, 22) == 42")
RESULT_ALIAS = _asserts("assert candidate(1, 2) == 3\nr = candidate(20, 22)\nassert r == 42")
LAMBDA_ALIAS = _asserts("assert candidate(1, 2) == 3\ng = lambda *a: candidate(*a)\n"
                        "assert g(20, 22) == 42")
HELPER_THEN_ALIAS = _asserts("def t(f, a, b):\n    return f(a, b)\n"
                             "assert t(candidate, 1, 2) == 3\nassert t(candidate, 20, 22) == 42")

# 3. StopIteration from the candidate must not end the tests' own iteration.
STOP_CODE = ("def add(a, b):\n    if a == 20:\n        raise StopIteration\n    return a + b\n")
STOP_ALL_MAP = _asserts("assert all(map(lambda p: candidate(*p[0]) == p[1],\n"
                        "               [((1, 2), 3), ((20, 22), 42)]))")
STOP_NOT_ANY = _asserts("assert not any(map(lambda p: candidate(*p[0]) != p[1],\n"
                        "                   [((1, 2), 3), ((20, 22), 42)]))")
STOP_GENERATOR = _asserts("assert all(candidate(a, b) == w for a, b, w in "
                          "[(1, 2, 3), (20, 22, 42)])")
STOP_FOR_MAP = _asserts("for ok in map(lambda p: candidate(*p[0]) == p[1], "
                        "[((1, 2), 3), ((20, 22), 42)]):\n    assert ok")

# 4. Element types inside sets, frozensets and dict keys; complex is not a float.
SET12 = CallTests("f", [((), {1, 2})])
FROZEN = CallTests("f", [((), frozenset({1, 2}))])
KEYS = CallTests("f", [((), {1: "a", 2: "b"})])
HALF = CallTests("f", [((), 0.5)])
NESTED_SET = CallTests("f", [((), [{(1, 1)}])])
FLOAT_SET = CallTests("f", [((), {1.0, 2.5})])

# 5. Trusted test code that fails after its last case (or at module level) is never a pass.
AFTER_LAST_RAISE = _asserts("assert candidate(1, 2) == 3\nassert candidate(20, 22) == 42\n1 / 0")
AFTER_LAST_LOOKUP = _asserts("assert candidate(1, 2) == 3\n{}['missing']")
MODULE_RAISE = AssertTests("1 / 0\ndef check(candidate):\n    assert candidate(1, 2) == 3\n", "add")
HELPERS_RAISE = AssertTests("def check(candidate):\n    assert candidate(1, 2) == 3\n", "add",
                            helpers="raise RuntimeError('broken helper')\n")
AFTER_LAST_LOOP = _asserts("assert candidate(1, 2) == 3\nwhile True:\n    pass")
MODULE_LOOP = AssertTests("while True:\n    pass\ndef check(candidate):\n"
                          "    assert candidate(1, 2) == 3\n", "add")

# 7. Hostile answers that killed the judge: each is the candidate's failure, clearly stated.
BIG = CallTests("f", [((), 1)])
BIG_EXPECTED = CallTests("f", [((), 10**5000)])
ADD = CallTests("add", [((1, 2), 3), ((20, 22), 42)])
ADD_ASSERTS = _asserts("assert candidate(1, 2) == 3\nassert candidate(20, 22) == 42")
ECHO_STDIO = StdioTests([("2 3\n", "5\n")])
SUM_STDIO = "a, b = map(int, input().split())\nprint(a + b)\n"

# 8. Decoding bounded in size, depth and hash collisions (forged frames and honest encoders).
M61 = "(2**61 - 1)"
COLLIDE_SET = (f"class S(set):\n    def __iter__(self):\n"
               f"        return iter([1 + k * {M61} for k in range(25000)])\n"
               "def f():\n    return S()\n")
COLLIDE_FRAME = ("def f():\n" + "".join(
    "    " + line + "\n" for line in _frame(
        f"{{'value': {{'s': [{{'i': hex(1 + k * {M61})}} for k in range(25000)]}}}}").split("\n")
    if line) + "    return 0\n")
COLLIDE_KEYS = ("def f():\n" + "".join(
    "    " + line + "\n" for line in _frame(
        f"{{'value': {{'d': [[{{'i': hex(1 + k * {M61})}}, 0] for k in range(25000)]}}}}"
    ).split("\n") if line) + "    return 0\n")
NESTED_FRAMES = ("def f():\n" + "".join(
    "    " + line + "\n" for line in _raw_frame("""b'{"value":[' + b'[],' * 2_000_000 + b'[]]}'""")
    .split("\n") if line) + "    return 0\n")
DEEP_FRAME = ("def f():\n" + "".join(
    "    " + line + "\n" for line in _raw_frame(
        """b'{"value":' + b'[' * 50000 + b']' * 50000 + b'}'""").split("\n") if line) + "    return 0\n")


# Tests that pass objects (MBPP): the setup runs in the candidate's process; its plain values
# are the judge's own, its objects cross as handles.
NODE_CODE = ("class Node:\n    def __init__(self, v):\n        self.v, self.left = v, None\n"
             "def depth(root):\n    return 0 if root is None else 1 + depth(root.left)\n")
NODE_TESTS = AssertTests("def check(candidate):\n    assert candidate(root) == 2\n"
                         "    assert candidate(leaf) == 1\n", "depth",
                         setup="root = Node(1)\nroot.left = Node(2)\nleaf = Node(3)\n")
PAIR_CODE = ("class Pair:\n    def __init__(self, a, b):\n        self.a, self.b = a, b\n"
             "def span(pairs):\n    return max(p.b for p in pairs) - min(p.a for p in pairs)\n")
PAIR_TESTS = AssertTests("def check(candidate):\n    assert candidate([Pair(1, 5), Pair(3, 9)]) == 8\n"
                         "    assert candidate([Pair(0, 1)]) == 1\n", "span")
TYPE_TESTS = AssertTests("def check(candidate):\n    assert candidate((1, 2.5, 'a'), int) == [2.5, 'a']\n"
                         "    assert candidate((1, 2.5, 'a'), str) == [1, 2.5]\n", "drop")
TYPE_CODE = "def drop(t, kind):\n    return [x for x in t if not isinstance(x, kind)]\n"
PLAIN_SETUP = AssertTests("def check(candidate):\n    assert candidate() == want\n", "f",
                          setup="want = sorted([3, 1, 2])\n")
TAMPER_SETUP = ("import builtins\nbuiltins.sorted = lambda xs: 'rigged'\n"
                "def f():\n    return 'rigged'\n")


def _forged(frame_source: str, then: str = "return 0") -> str:
    """A function ``f``/``add`` that writes ``frame_source`` (a statement list) then answers."""
    body = "".join(f"    {line}\n" for line in frame_source.split("\n") if line)
    return f"def add(a, b):\n{body}    {then}\n" + "f = add\n"


JUDGE_ATTACKS: list[tuple[str, str, object, bool]] = [
    # 1. case splitting
    ("split/helper-def-calls/good", ADD_GOOD, HELPER, True),
    ("split/helper-def-calls/wrong", ADD_ZERO, HELPER, False),
    ("split/helper-after-case/wrong", ADD_FIRST_ONLY, HELPER_AFTER_CASE, False),
    ("split/helper-loop/wrong", ADD_ZERO, HELPER_LOOP, False),
    ("split/alias-f/good", ADD_GOOD, ALIAS, True),
    ("split/alias-f/wrong", ADD_FIRST_ONLY, ALIAS, False),
    ("split/alias-result/wrong", ADD_FIRST_ONLY, RESULT_ALIAS, False),
    ("split/alias-lambda/wrong", ADD_FIRST_ONLY, LAMBDA_ALIAS, False),
    ("split/helper-returns/wrong", ADD_FIRST_ONLY, HELPER_THEN_ALIAS, False),
    # 3. StopIteration
    ("stopiteration/all-map/good", ADD_GOOD, STOP_ALL_MAP, True),
    ("stopiteration/all-map/wrong", STOP_CODE, STOP_ALL_MAP, False),
    ("stopiteration/not-any-map/wrong", STOP_CODE, STOP_NOT_ANY, False),
    ("stopiteration/generator/wrong", STOP_CODE, STOP_GENERATOR, False),
    ("stopiteration/for-map/wrong", STOP_CODE, STOP_FOR_MAP, False),
    # 4. type-lax comparison
    ("types/set-bool-float/good", "def f():\n    return {2, 1}\n", SET12, True),
    ("types/set-bool-float/wrong", "def f():\n    return {True, 2.0}\n", SET12, False),
    ("types/frozenset-bool/wrong", "def f():\n    return frozenset({True, 2})\n", FROZEN, False),
    ("types/dict-keys-bool-float/wrong", "def f():\n    return {True: 'a', 2.0: 'b'}\n", KEYS,
     False),
    ("types/complex-for-float/wrong", "def f():\n    return complex(0.5, 0)\n", HALF, False),
    ("types/tuple-in-set/wrong", "def f():\n    return [{(1, True)}]\n", NESTED_SET, False),
    ("types/int-for-float-in-set/good", "def f():\n    return {1, 2.5}\n", FLOAT_SET, True),
    # 5. errors in trusted test code after the last case
    ("tests-fail/raise-after-last/good", ADD_GOOD, AFTER_LAST_RAISE, False),
    ("tests-fail/lookup-after-last/good", ADD_GOOD, AFTER_LAST_LOOKUP, False),
    ("tests-fail/module-raise/good", ADD_GOOD, MODULE_RAISE, False),
    ("tests-fail/helpers-raise/good", ADD_GOOD, HELPERS_RAISE, False),
    ("tests-fail/loop-after-last/good", ADD_GOOD, AFTER_LAST_LOOP, False),
    ("tests-fail/module-loop/good", ADD_GOOD, MODULE_LOOP, False),
    # tests that pass objects (MBPP setup code, objects built by the program's class, types)
    ("objects/setup-node-tree/good", NODE_CODE, NODE_TESTS, True),
    ("objects/setup-node-tree/wrong", NODE_CODE.replace("1 + depth", "2 + depth"), NODE_TESTS,
     False),
    ("objects/pair-from-the-program/good", PAIR_CODE, PAIR_TESTS, True),
    ("objects/pair-from-the-program/wrong", PAIR_CODE.replace("- min", "+ min"), PAIR_TESTS,
     False),
    ("objects/type-argument/good", TYPE_CODE, TYPE_TESTS, True),
    ("objects/setup-plain-value-is-the-judges/good", "def f():\n    return [1, 2, 3]\n",
     PLAIN_SETUP, True),
    ("objects/setup-plain-value-rigged/wrong", TAMPER_SETUP, PLAIN_SETUP, False),
    ("objects/opaque-compared/wrong", "def f():\n    return object()\n", PLAIN_SETUP, False),
    # 7. answers that crashed the judge
    ("crash/int-5000-digits", "def f():\n    return 10**5000\n", BIG, False),
    ("crash/int-5000-digits-in-list", "def f():\n    return [10**5000] * 3\n", BIG, False),
    ("crash/float-overflow", "def f():\n    return 10**400\n", HALF, False),
    ("crash/expected-5000-digits/good", "def f():\n    return 10**5000\n", BIG_EXPECTED, True),
    ("crash/expected-5000-digits/wrong", "def f():\n    return 10**5000 + 1\n", BIG_EXPECTED,
     False),
    ("crash/assert-int-5000-digits", "def add(a, b):\n    return 10**5000\n", ADD_ASSERTS, False),
    ("crash/surrogate-in-exception", "def add(a, b):\n    raise ValueError('\\udc80 x')\n", ADD,
     False),
    ("crash/surrogate-in-exception-asserts",
     "def add(a, b):\n    raise ValueError('\\udc80 x')\n", ADD_ASSERTS, False),
    ("crash/surrogate-exception-type",
     "def add(a, b):\n    raise type('E\\udc80', (Exception,), {})('x')\n", ADD, False),
    ("crash/surrogate-on-stderr/good", "import sys\nprint('\\udc81', file=sys.stderr)\n"
     + SUM_STDIO, ECHO_STDIO, True),
    ("crash/forged-exc-list", _forged(_frame("{'exc': [1, 2]}")), ADD, False),
    ("crash/forged-exc-fields", _forged(_frame(
        "{'exc': {'type': ['ValueError'], 'builtin': 1, 'msg': {'a': 1}, 'line': 'x', "
        "'errno': 2**80}}")), ADD, False),
    ("crash/forged-exc-asserts", _forged(_frame("{'exc': 'boom'}")), ADD_ASSERTS, False),
    ("crash/forged-value-tag", _forged(_frame("{'value': {'zz': 1}}")), ADD, False),
    ("crash/forged-not-object", _forged(_raw_frame("b'[1, 2]'")), ADD, False),
    ("crash/forged-bad-json", _forged(_raw_frame("b'{not json'")), ADD, False),
    ("crash/forged-loaded-list", _frame("{'loaded': [1]}") + ADD_GOOD, ADD, False),
    ("crash/forged-loaded-list-asserts", _frame("{'loaded': [1]}") + ADD_GOOD, ADD_ASSERTS,
     False),
    ("crash/forged-syntax-list", _frame("{'syntax_error': [1]}") + ADD_GOOD, ADD_ASSERTS, False),
    ("crash/forged-stdio-exit", _frame("{'exit': [0]}") + SUM_STDIO, ECHO_STDIO, False),
    ("crash/forged-stdio-exc", _frame("{'exc': 7}") + SUM_STDIO, ECHO_STDIO, False),
    ("forged/stdio-stop-ok", _frame("{'stop': ['ok', '']}") + "import os\nos._exit(1)\n",
     ECHO_STDIO, False),
    ("forged/stdio-stop-ok-then-print", _frame("{'stop': ['ok', '']}") + "print(5)\n",
     StdioTests([("", "6\n")]), False),
    ("forged/stdio-stop-malformed", _frame("{'stop': 'ok'}"), ECHO_STDIO, False),
    # 8. decoding bounds
    ("decode/hash-collision-set", COLLIDE_SET, SET12, False),
    ("decode/hash-collision-frame", COLLIDE_FRAME, SET12, False),
    ("decode/hash-collision-dict-keys", COLLIDE_KEYS, KEYS, False),
    ("decode/two-million-lists", NESTED_FRAMES, SET12, False),
    ("decode/deep-nesting", DEEP_FRAME, SET12, False),
]

# Process side (issue 17 items 10-13): the programs of tests/sandboxes/test_redteam_process.py.
# State a candidate may try to leave on the runner (PID 1) for the next run; each line runs in
# ``add`` before it answers correctly, so a sound sandbox passes the run and the next runs see
# nothing of it.
RUNNER_STATE = {
    "lowered-rlimit-rss": "resource.prlimit(os.getppid(), resource.RLIMIT_RSS, (4096, 4096))",
    "lowered-rlimit-stack": "resource.prlimit(os.getppid(), resource.RLIMIT_STACK, "
                            "(1 << 20, 1 << 20))",
    "sched-idle": "os.sched_setscheduler(os.getppid(), os.SCHED_IDLE, os.sched_param(0))",
    "ioprio-idle": "ctypes.CDLL(None).syscall(251, 1, os.getppid(), 3 << 13)",
    "nice-of-the-uid": "os.setpriority(os.PRIO_USER, 0, 19)",
    "nice-of-the-group": "os.setpriority(os.PRIO_PGRP, os.getpgid(os.getppid()), 19)",
    "affinity": "os.sched_setaffinity(os.getppid(), {min(os.sched_getaffinity(0))})",
    "mqueue-name": "open('/dev/mqueue/carried-' + str(a), 'w').close()",
    "shm-file": "open('/dev/shm/carried-' + str(a), 'w').close()",
    "utime-dev-null": "os.utime('/dev/null')",
    "utime-dev-urandom": "os.utime('/dev/urandom')",
}


def state_attack(line: str) -> str:
    """``add`` that runs ``line`` (errors ignored), then answers correctly."""
    return ("import os, resource, ctypes\n"
            "def add(a, b):\n"
            "    try:\n"
            f"        {line}\n"
            "    except OSError:\n"
            "        pass\n"
            "    return a + b\n")


NESTED_DIRS = '''
import os
def add(a, b):
    os.chdir("/tmp")
    os.mkdir(f"tree-{a}")                 # one tree per call
    os.chdir(f"tree-{a}")
    for i in range(%d):
        os.mkdir("d" * 60)
        os.chdir("d" * 60)
        %s
    return a + b
'''
# Eight processes of 180 MiB each: ``add`` answers right only if all of them were held at once.
MANY_HOLDERS = '''
import os, time
def add(a, b):
    pipes = []
    for i in range(8):
        r, w = os.pipe()
        if os.fork() == 0:
            os.close(r)
            block = bytearray(180 << 20)
            for j in range(0, len(block), 4096):
                block[j] = 1
            os.write(w, b"x")
            time.sleep(30)
            os._exit(0)
        os.close(w)
        pipes.append(r)
    held = sum(len(os.read(r, 1)) for r in pipes)
    return a + b if held == 8 else -held
'''
SPINNERS = '''
import os, time
def add(a, b):
    try:
        os.sched_setaffinity(0, set(range(os.cpu_count() or 2)))
    except OSError:
        pass
    for i in range(6):
        if os.fork() == 0:
            os.setsid()
            while True:
                pass
    time.sleep(%s)
    return a + b
'''
HONEST_CPU = '''
import time
def add(a, b):
    t = time.process_time()
    while time.process_time() - t < 0.3:
        pass
    return a + b
'''
# Reads its own environment and stack for a planted variable of the host process; answers right
# only when it finds none (and could read its stack).
ENV_HUNT = '''
import ctypes, os, re
def add(a, b):
    found = []
    for path in ("/proc/self/environ", "/proc/1/environ", f"/proc/{os.getppid()}/environ"):
        try:
            with open(path, "rb") as f:
                found.append(f.read())
        except OSError:
            pass
    try:
        with open("/proc/self/maps") as maps:
            regions = [line.split() for line in maps if "[stack]" in line]
    except OSError:
        regions = []
    for fields in regions:                   # the process's own stack, read in place
        lo, hi = (int(x, 16) for x in fields[0].split("-"))
        found.append(ctypes.string_at(lo, hi - lo))
    m = re.search(rb"PLANTED-[0-9a-f]{32}", b"".join(found))
    return m.group().decode() if m else (a + b if regions else -1)
'''
EXIT_FIRST = "import os\nos._exit(0)\n" + ADD_GOOD
SETSID_HOLDER = ("import os, time\ndef add(a, b):\n    if os.fork() == 0:\n"
                 "        os.setsid()\n        time.sleep(60)\n    os._exit(0)\n")
FORK_BOMB = ("import os\ndef add(a, b):\n    while True:\n        try:\n"
             "            os.fork()\n        except OSError:\n            pass\n")
C_LOOP_IN_CHECK = _asserts("sum(range(10 ** 12))\nassert candidate(1, 2) == 3")

PROCESS_ATTACKS: list[tuple[str, str, object, bool]] = [
    *[(f"runner-state/{name}/good", state_attack(line), ADD, True)
      for name, line in sorted(RUNNER_STATE.items())],
    ("cleanup/3000-nested-dirs/good", NESTED_DIRS % (3000, "pass"), ADD, True),
    ("cleanup/nested-dirs-links-files/good",
     NESTED_DIRS % (1500, "open('f', 'w').close(); os.symlink('/', 'up')"), ADD, True),
    ("cleanup/read-only-nested-dirs/good",
     NESTED_DIRS % (500, "os.chmod('..', 0o500) if i % 7 == 0 else None"), ADD, True),
    ("budget/8x180MiB-held-at-once", MANY_HOLDERS, CallTests("add", [((1, 2), 3)]), False),
    ("budget/spinners-widened-affinity/good", SPINNERS % "0.5", ADD, True),
    ("budget/honest-cpu/good", HONEST_CPU, ADD, True),
    ("env/host-environment-in-stack/good", ENV_HUNT, ADD, True),
    ("exit/os-exit-before-tests", EXIT_FIRST, ADD, False),
    ("exit/setsid-grandchild-holds-pipes", SETSID_HOLDER, ADD, False),
    ("limits/fork-bomb", FORK_BOMB, ADD, False),
    ("judge-bound/c-loop-in-check/good", ADD_GOOD, C_LOOP_IN_CHECK, False),
]

# Issue 24 (third red team). Class 1: a wrong program must never buy itself a sandbox_error
# (which the trainer drops instead of scoring 0). Each attack answers wrong; a sound sandbox fails
# it with the candidate's own status and stays usable.
MEMFD_HOG = '''
import os
def add(a, b):
    buf = b"x" * (1 << 20)
    for i in range(900):            # ~900 MiB in memfds: charged to the cgroup, in no RSS
        if i % 15 == 0:
            fd = os.memfd_create("x")
        os.write(fd, buf)
    return 0
'''
MEMFD_HOG_STDIO = '''
import os
buf = b"x" * (1 << 20)
for i in range(900):
    if i % 15 == 0:
        fd = os.memfd_create("x")
    os.write(fd, buf)
print(0)
'''
EMPTY_DIRS = '''
import os
def add(a, b):
    os.chdir("/tmp")
    i = 0
    while True:                     # until the tmpfs refuses: inodes cost kernel memory
        os.mkdir(str(i))
        i += 1
'''
TMP_AND_SHM_FULL = '''
import os
def add(a, b):
    for d in ("/tmp", "/dev/shm"):
        try:
            with open(f"{d}/fill", "wb") as f:
                while True:
                    f.write(b"x" * (1 << 20))
        except OSError:
            pass
    return 0
'''
UTIME_DEV_NULL_STDIO = ("import os\ntry:\n    os.utime('/dev/null')\nexcept OSError:\n    pass\n"
                        + SUM_STDIO)
THREE_CASES = StdioTests([("2 3\n", "5\n"), ("1 1\n", "2\n"), ("4 4\n", "8\n")])
ADD_ONE_CALL = CallTests("add", [((1, 2), 3)])

CLASS1_ATTACKS: list[tuple[str, str, object, bool]] = [
    ("no-sandbox-error/memfd-900MiB", MEMFD_HOG, ADD_ONE_CALL, False),
    ("no-sandbox-error/memfd-900MiB-stdio", MEMFD_HOG_STDIO, THREE_CASES, False),
    ("no-sandbox-error/empty-dirs-in-tmp", EMPTY_DIRS, ADD_ONE_CALL, False),
    ("no-sandbox-error/tmp-and-shm-full", TMP_AND_SHM_FULL, ADD_ONE_CALL, False),
    ("no-sandbox-error/utime-dev-null-stdio/good", UTIME_DEV_NULL_STDIO, THREE_CASES, True),
    ("no-sandbox-error/utime-dev-null-stdio/wrong",
     UTIME_DEV_NULL_STDIO.replace("a + b", "a - b"), THREE_CASES, False),
]

# Class 3: comparison false passes.
TOKENS_TOL = StdioTests([("", "1000000000000\n")], compare="tokens", float_tol=1e-6)
FLOAT_TOKENS_TOL = StdioTests([("", "0.333333\n")], compare="tokens", float_tol=1e-5)
EMOJI = CallTests("f", [((), "\U0001F600x")])
CLASS3_ATTACKS: list[tuple[str, str, object, bool]] = [
    ("compare/int-token-with-float-tol/wrong", "print(1000000999999)\n", TOKENS_TOL, False),
    ("compare/int-token-with-float-tol/good", "print(1000000000000)\n", TOKENS_TOL, True),
    ("compare/int-token-as-float/wrong", "print(1000000000000.0)\n", TOKENS_TOL, False),
    ("compare/nan-token/wrong", "print('nan')\n", FLOAT_TOKENS_TOL, False),
    ("compare/float-token-within-tol/good", "print(1 / 3)\n", FLOAT_TOKENS_TOL, True),
    ("compare/lone-surrogate-pair/wrong", "def f():\n    return '\\ud83d\\ude00x'\n", EMOJI, False),
    ("compare/emoji/good", "def f():\n    return '\\U0001F600x'\n", EMOJI, True),
]

# Class 6: honest programs that failed (each passes under ``python3 main.py < input``), and the
# competitive-programming set (LiveCodeBench/CodeContests-style stdio). All must pass.
SUM_CASES = StdioTests([("2 3\n", "5\n"), ("10 -4\n", "6\n")])
THREAD_NO_JOIN = ("import threading\ndef main():\n    a, b = map(int, input().split())\n"
                  "    print(a + b)\nthreading.Thread(target=main).start()\n")
ATEXIT_PRINT = ("import atexit\na, b = map(int, input().split())\n"
                "atexit.register(lambda: print(a + b))\n")
UNCLOSED_FD1 = ("import sys\nout = open(1, 'w')\na, b = map(int, sys.stdin.readline().split())\n"
                "out.write(f'{a + b}\\n')\n")
OS_EXIT_AFTER_FLUSH = ("import os, sys\na, b = map(int, input().split())\nprint(a + b)\n"
                       "sys.stdout.flush()\nos._exit(0)\n")
STDIN_AS_FILE = ("import os\ndata = os.read(0, os.fstat(0).st_size).split()\n"
                 "print(int(data[0]) + int(data[1]))\n")
STDIO_MODES = ("import sys\nassert sys.stdin.mode == 'r' and sys.stdout.mode == 'w'\n"
               "assert sys.stdin.fileno() == 0 and sys.stdout.fileno() == 1\n"
               "a, b = map(int, sys.stdin.buffer.read().split())\n"
               "sys.stdout.buffer.write(str(a + b).encode() + b'\\n')\n")
POOL = ("from multiprocessing import Pool\ndef sq(x):\n    return x * x\n"
        "if __name__ == '__main__':\n    a, b = map(int, input().split())\n"
        "    with Pool(2) as p:\n        print(sum(p.map(sq, [a, b])) - a * a - b * b + a + b)\n")
# PyRival's FastIO template, as contestants paste it.
FASTIO = '''
import os, sys
from io import BytesIO, IOBase
BUFSIZE = 8192
class FastIO(IOBase):
    newlines = 0
    def __init__(self, file):
        self._fd = file.fileno()
        self.buffer = BytesIO()
        self.writable = "x" in file.mode or "r" not in file.mode
        self.write = self.buffer.write if self.writable else None
    def read(self):
        while True:
            b = os.read(self._fd, max(os.fstat(self._fd).st_size, BUFSIZE))
            if not b:
                break
            ptr = self.buffer.tell()
            self.buffer.seek(0, 2), self.buffer.write(b), self.buffer.seek(ptr)
        self.newlines = 0
        return self.buffer.read()
    def readline(self):
        while self.newlines == 0:
            b = os.read(self._fd, max(os.fstat(self._fd).st_size, BUFSIZE))
            self.newlines = b.count(b"\\n") + (not b)
            ptr = self.buffer.tell()
            self.buffer.seek(0, 2), self.buffer.write(b), self.buffer.seek(ptr)
        self.newlines -= 1
        return self.buffer.readline()
    def flush(self):
        if self.writable:
            os.write(self._fd, self.buffer.getvalue())
            self.buffer.truncate(0), self.buffer.seek(0)
class IOWrapper(IOBase):
    def __init__(self, file):
        self.buffer = FastIO(file)
        self.flush = self.buffer.flush
        self.writable = self.buffer.writable
        self.write = lambda s: self.buffer.write(s.encode("ascii"))
        self.read = lambda: self.buffer.read().decode("ascii")
        self.readline = lambda: self.buffer.readline().decode("ascii")
sys.stdin, sys.stdout = IOWrapper(sys.stdin), IOWrapper(sys.stdout)
input = lambda: sys.stdin.readline().rstrip("\\r\\n")
def main():
    a, b = map(int, input().split())
    print(a + b)
if __name__ == "__main__":
    main()
'''
THREAD_BIG_STACK = '''
import sys, threading
sys.setrecursionlimit(1 << 20)
threading.stack_size(1 << 26)
def depth(n):
    return 0 if n == 0 else 1 + depth(n - 1)
def main():
    a, b = map(int, sys.stdin.readline().split())
    print(depth(100000) - 100000 + a + b)
t = threading.Thread(target=main)
t.start()
t.join()
'''
RECURSION_LIMIT = '''
import sys
sys.setrecursionlimit(10000)
def depth(n):
    return 0 if n == 0 else 1 + depth(n - 1)
a, b = map(int, input().split())
print(depth(5000) - 5000 + a + b)
'''
READ_ALL = ("import sys\ndata = sys.stdin.buffer.read().split()\n"
            "print(sum(map(int, data)))\n")
HEAVY_OUTPUT = ("import sys\nn = int(input())\n"
                "sys.stdout.write('\\n'.join(map(str, range(n))) + '\\n')\n")
N_OUT = 100_000
HEAVY_CASE = StdioTests([(f"{N_OUT}\n", "".join(f"{i}\n" for i in range(N_OUT)))])
BIG_INPUT = " ".join(["1"] * 200_000) + "\n"
READ_ALL_CASE = StdioTests([(BIG_INPUT, "200000\n"), ("2 3\n", "5\n")])

HONEST_STDIO: list[tuple[str, str, object, bool]] = [
    ("honest/thread-without-join", THREAD_NO_JOIN, SUM_CASES, True),
    ("honest/atexit-print", ATEXIT_PRINT, SUM_CASES, True),
    ("honest/unclosed-open-fd-1", UNCLOSED_FD1, SUM_CASES, True),
    ("honest/os-exit-0-after-flush", OS_EXIT_AFTER_FLUSH, SUM_CASES, True),
    ("honest/os-exit-0-after-flush/wrong", OS_EXIT_AFTER_FLUSH.replace("a + b", "a - b"),
     SUM_CASES, False),
    ("honest/stdin-is-a-regular-file", STDIN_AS_FILE, SUM_CASES, True),
    ("honest/stdio-file-objects", STDIO_MODES, SUM_CASES, True),
    ("honest/multiprocessing-pool", POOL, SUM_CASES, True),
    ("cp/pyrival-fastio", FASTIO, SUM_CASES, True),
    ("cp/thread-raised-stack", THREAD_BIG_STACK, SUM_CASES, True),
    ("cp/setrecursionlimit", RECURSION_LIMIT, SUM_CASES, True),
    ("cp/read-all-stdin", READ_ALL, READ_ALL_CASE, True),
    ("cp/heavy-output", HEAVY_OUTPUT, HEAVY_CASE, True),
]

# Class 6, call and assert tests: answers the judge must read as a user would.
DEEP_400 = [0]
for _ in range(400):
    DEEP_400 = (DEEP_400, 1)
DEEP_CODE = "def f():\n    v = [0]\n    for _ in range(400):\n        v = (v, 1)\n    return v\n"
IN_PLACE = AssertTests("def check(candidate):\n    xs = [3, 1, 2]\n    candidate(xs)\n"
                       "    assert xs == [1, 2, 3]\n    d = {}\n    candidate2 = candidate\n"
                       "    ys = [2, 1]\n    assert candidate2(ys) is None and ys == [1, 2]\n",
                       "sort_in_place")
VALUES_LEN = AssertTests("def check(candidate):\n    v = candidate({'a': 1, 'b': 2})\n"
                         "    assert len(v) == 2 and sorted(v) == [1, 2]\n", "vals")
VALUES_EQ_LIST = AssertTests("def check(candidate):\n"
                             "    assert candidate({'a': 1, 'b': 2}) == [1, 2]\n", "vals")
DECIMAL_TESTS = AssertTests("def check(candidate):\n    assert candidate(1, 2) == 3\n"
                            "    assert float(candidate(0.1, 0.2)) == 0.3\n", "add")
DECIMAL_CALL = CallTests("add", [((1, 2), 3), ((0.5, 0.25), 0.75)])
DECIMAL_CODE = ("from decimal import Decimal\ndef add(a, b):\n"
                "    return Decimal(str(a)) + Decimal(str(b))\n")
HONEST_VALUES: list[tuple[str, str, object, bool]] = [
    ("honest/answer-nested-400-deep", DEEP_CODE, CallTests("f", [((), DEEP_400)]), True),
    ("honest/answer-nested-400-deep/wrong", DEEP_CODE.replace("(v, 1)", "(v, 2)"),
     CallTests("f", [((), DEEP_400)]), False),
    ("honest/in-place-mutation", "def sort_in_place(xs):\n    xs.sort()\n", IN_PLACE, True),
    ("honest/in-place-mutation/wrong", "def sort_in_place(xs):\n    xs.reverse()\n", IN_PLACE,
     False),
    ("honest/dict-values-len", "def vals(d):\n    return d.values()\n", VALUES_LEN, True),
    ("honest/dict-values-is-not-a-list", "def vals(d):\n    return d.values()\n",
     VALUES_EQ_LIST, False),  # False in Python too
    ("honest/decimal-asserts", DECIMAL_CODE, DECIMAL_TESTS, True),
    ("honest/decimal-call", DECIMAL_CODE, DECIMAL_CALL, True),
    ("honest/decimal-call/wrong", DECIMAL_CODE.replace("+ Decimal", "- Decimal"), DECIMAL_CALL,
     False),
]

# Class 4: limits per run, not per process (memory_mb=256 in the stress run and the fixtures).
MEMFD_HELD = '''
import os
def add(a, b):
    fds = []
    for i in range(20):             # 320 MiB held in memfds (16 MiB each: RLIMIT_FSIZE)
        fd = os.memfd_create("x")
        os.write(fd, b"x" * (16 << 20))
        fds.append(fd)
    return a + b
'''
HONEST_200MIB = ("def add(a, b):\n    block = bytearray(200 << 20)\n"
                 "    block[::4096] = b'x' * len(block[::4096])\n    return a + b\n")
HONEST_TMP_AND_HEAP = ("def add(a, b):\n    for i in range(3):\n"
                       "        with open(f'/tmp/f{i}', 'wb') as f:\n"
                       "            f.write(b'x' * (13 << 20))\n    block = bytearray(120 << 20)\n"
                       "    block[::4096] = b'x' * len(block[::4096])\n    return a + b\n")
CLASS4_ATTACKS: list[tuple[str, str, object, bool]] = [
    ("limits/memfd-320MiB-held-under-256", MEMFD_HELD, ADD_ONE_CALL, False),
    ("limits/honest-200MiB-under-256/good", HONEST_200MIB, ADD_ONE_CALL, True),
    ("limits/honest-40MiB-file-and-120MiB/good", HONEST_TMP_AND_HEAP, ADD_ONE_CALL, True),
]
# Run with Limits(cpu_time_s=1): three children of 0.8 s each pass RLIMIT_CPU (per process).
CPU_CHILDREN = '''
import os, time
def add(a, b):
    pids = []
    for i in range(3):
        pid = os.fork()
        if pid == 0:
            t = time.process_time()
            while time.process_time() - t < 0.8:
                pass
            os._exit(0)
        pids.append(pid)
    for pid in pids:
        os.waitpid(pid, 0)
    return a + b
'''
CPU_HONEST = ("import time\ndef add(a, b):\n    t = time.process_time()\n"
              "    while time.process_time() - t < 0.5:\n        pass\n    return a + b\n")
# Class 5: fills both scratch tmpfs with empty directories up to their inode limits (answering
# right); the next honest run on the same worker must not pay for their cleanup.
FILL_INODES = '''
import os
def add(a, b):
    for d in ("/tmp", "/dev/shm"):
        os.chdir(d)
        i = 0
        try:
            while True:
                os.mkdir(str(i))
                i += 1
        except OSError:
            pass
    return a + b
'''

# Everything of issue 24 that runs under the stress run's limits (CPU_CHILDREN needs
# cpu_time_s=1: test_redteam_third.py runs it).
THIRD_ROUND: list[tuple[str, str, object, bool]] = [
    *CLASS1_ATTACKS, *CLASS3_ATTACKS, *CLASS4_ATTACKS, *HONEST_STDIO, *HONEST_VALUES,
    ("cleanup/fill-inodes-of-both-tmpfs/good", FILL_INODES, ADD_ONE_CALL, True),
]

# Class 2: nothing observable survives a run. A candidate sees no process but its own (the
# runner's /proc/1/stat carried reaped children's CPU times and page faults), and on docker no
# cgroup counters (memory.max_usage_in_bytes carried a run's peak).
SEES_ONLY_ITSELF = ('import os\ndef f():\n'
                    '    pids = [d for d in os.listdir("/proc") if d.isdigit()]\n'
                    '    return pids == [str(os.getpid())] and not os.path.exists("/proc/1/stat")'
                    ' and not os.path.exists("/sys/fs/cgroup/memory")\n')
CLASS2_ATTACKS: list[tuple[str, str, object, bool]] = [
    ("carry/sees-no-process-but-its-own/good", SEES_ONLY_ITSELF, CallTests("f", [((), True)]),
     True),
]
THIRD_ROUND += CLASS2_ATTACKS
