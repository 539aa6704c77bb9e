"""A seccomp denylist the runner installs for itself and every candidate (x86_64).

Candidates in one sandbox run one after another under the same uid, so any kernel object that
outlives a process could carry data from one run to the next (a correct sample storing its
outputs for a later wrong one): SysV IPC, POSIX message queues and the uid's keyrings. Those
system calls fail with EPERM, as do the ones that only widen the kernel's attack surface for
code that needs none of them: new namespaces (unshare, setns, clone with namespace flags;
clone3, whose flags cannot be inspected, gets ENOSYS so libc falls back to clone), mounts,
ptrace and cross-process memory access, bpf, perf events, userfaultfd, io_uring, module and
kexec loading. Calls that can change another process of the same uid (the runner, whose
rlimits, nice value, scheduler, I/O priority and affinity every later candidate would inherit)
are allowed only on the caller itself. Any other architecture or the x32 ABI is refused outright.

Docker adds its own profile on top; elsewhere this is the only syscall filter.
"""

from __future__ import annotations

import ctypes
import errno
import os
import platform
import struct

AUDIT_ARCH_X86_64 = 0xC000003E
X32_BIT = 0x40000000
PR_SET_SECCOMP, SECCOMP_MODE_FILTER = 22, 2
RET_ALLOW = 0x7FFF0000
RET_ERRNO = 0x00050000
LD_ABS, JEQ, JGE, JSET, RET = 0x20, 0x15, 0x35, 0x45, 0x06
NR, ARCH = 0, 4
NAMESPACE_FLAGS = (0x00020000 | 0x02000000 | 0x04000000 | 0x08000000 | 0x10000000 | 0x20000000
                   | 0x40000000)  # NEWNS, NEWCGROUP, NEWUTS, NEWIPC, NEWUSER, NEWPID, NEWNET
CLONE, CLONE3 = 56, 435
DENIED_X86_64 = {
    "ipc": (29, 30, 31, 67, 64, 65, 66, 220, 68, 69, 70, 71),          # shm*, sem*, msg*
    "mqueue": (240, 241, 242, 243, 244, 245),
    "keys": (248, 249, 250),                                          # add_key, request_key, keyctl
    "namespaces": (272, 308),                                         # unshare, setns
    "mounts": (165, 166, 155, 428, 429, 430, 431, 432, 433, 442),
    "debugging": (101, 310, 311, 312),                                # ptrace, process_vm_*, kcmp
    "kernel": (321, 298, 323, 425, 426, 427, 246, 320, 175, 313, 176, 169, 167, 168, 163,
               103, 172, 173, 304, 303),
}
# Calls that may change another process of the same uid -- the runner above all, whose settings
# every later candidate would inherit -- allowed only on the caller itself: each entry is
# (syscall, arguments that must be 0). A process's settings (its own rlimits, nice value,
# scheduler, I/O priority, CPU affinity) stay the candidate's to change.
SELF_ONLY_X86_64 = (
    (141, (0, 1)),  # setpriority(which=PRIO_PROCESS, who=0, ...)
    (142, (0,)),    # sched_setparam(pid=0, ...)
    (144, (0,)),    # sched_setscheduler(pid=0, ...)
    (203, (0,)),    # sched_setaffinity(pid=0, ...)
    (314, (0,)),    # sched_setattr(pid=0, ...)
)
IOPRIO_SET, IOPRIO_WHO_PROCESS = 251, 1  # ioprio_set(which=IOPRIO_WHO_PROCESS, who=0, ...)
PRLIMIT64 = 302                          # prlimit64(pid=0, ...) or one that only reads (new=NULL)


def _arg(i: int, high: bool = False) -> int:
    """Offset of argument ``i``'s low (or high) 32 bits in struct seccomp_data (little endian)."""
    return 16 + 8 * i + (4 if high else 0)


def _insn(code: int, jt: int, jf: int, k: int) -> bytes:
    return struct.pack("HBBI", code, jt, jf, k)


def _assemble(lines: list) -> bytes:
    """BPF from ``("label", name)``, ``("ld", offset)``, ``("ret", value)`` and
    ``(jump, k, if_true, if_false)`` with jump in jeq/jge/jset and targets a label or None (next
    instruction)."""
    labels, at = {}, 0
    for line in lines:
        if line[0] == "label":
            labels[line[1]] = at
        else:
            at += 1
    out, at = [], 0
    for line in lines:
        op = line[0]
        if op == "label":
            continue
        if op == "ld":
            out.append(_insn(LD_ABS, 0, 0, line[1]))
        elif op == "ret":
            out.append(_insn(RET, 0, 0, line[1]))
        else:
            jt, jf = (0 if t is None else labels[t] - at - 1 for t in line[2:4])
            if not (0 <= jt < 256 and 0 <= jf < 256):
                raise ValueError(f"seccomp program: jump from {at} out of range")
            code = {"jeq": JEQ, "jge": JGE, "jset": JSET}[op]
            out.append(_insn(code, jt, jf, line[1]))
        at += 1
    return b"".join(out)


def program() -> bytes:
    """The BPF program (sock_filter array) described in the module docstring."""
    denied = sorted({n for group in DENIED_X86_64.values() for n in group})
    code = [("ld", ARCH), ("jeq", AUDIT_ARCH_X86_64, None, "deny"),
            ("ld", NR), ("jge", X32_BIT, "deny", None),
            ("jeq", CLONE3, "enosys", None)]
    code += [("jeq", n, "deny", None) for n in denied]
    for n, zero_args in SELF_ONLY_X86_64:
        code += [("jeq", n, None, f"not{n}")]
        for i in zero_args:
            code += [("ld", _arg(i)), ("jeq", 0, None, "deny")]
        code += [("ret", RET_ALLOW), ("label", f"not{n}"), ("ld", NR)]
    code += [("jeq", IOPRIO_SET, None, "not_ioprio"),
             ("ld", _arg(0)), ("jeq", IOPRIO_WHO_PROCESS, None, "deny"),
             ("ld", _arg(1)), ("jeq", 0, "allow", "deny"),
             ("label", "not_ioprio"),
             ("jeq", PRLIMIT64, None, "not_prlimit"),
             ("ld", _arg(0)), ("jeq", 0, "allow", None),
             ("ld", _arg(2)), ("jeq", 0, None, "deny"),
             ("ld", _arg(2, high=True)), ("jeq", 0, "allow", "deny"),
             ("label", "not_prlimit"),
             ("jeq", CLONE, None, "allow"),
             ("ld", _arg(0)), ("jset", NAMESPACE_FLAGS, "deny", "allow")]
    code += [("label", "allow"), ("ret", RET_ALLOW),
             ("label", "deny"), ("ret", RET_ERRNO | errno.EPERM),
             ("label", "enosys"), ("ret", RET_ERRNO | errno.ENOSYS)]
    return _assemble(code)


class _Prog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def install() -> bool:
    """Install the filter on this process (inherited by its children). Needs no_new_privs set.
    Returns False where it does not apply (not x86_64)."""
    if platform.machine() != "x86_64":
        return False
    code = program()
    buf = ctypes.create_string_buffer(code, len(code))
    prog = _Prog(len(code) // 8, ctypes.cast(buf, ctypes.c_void_p))
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(prog), 0, 0) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"cannot install the seccomp filter: {os.strerror(err)}")
    return True
