"""A seccomp denylist the runner installs for itself and every candidate (x86_64).

Candidates in one sandbox run one after another under the same uid, so any kernel object that
outlives a process could carry data from one run to the next (a correct sample storing its
outputs for a later wrong one): SysV IPC, POSIX message queues and the uid's keyrings. Those
system calls fail with EPERM, as do the ones that only widen the kernel's attack surface for
code that needs none of them: new namespaces (unshare, setns, clone with namespace flags;
clone3, whose flags cannot be inspected, gets ENOSYS so libc falls back to clone), mounts,
ptrace and cross-process memory access, bpf, perf events, userfaultfd, io_uring, module and
kexec loading. Any other architecture or the x32 ABI is refused outright.

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


def _insn(code: int, jt: int, jf: int, k: int) -> bytes:
    return struct.pack("HBBI", code, jt, jf, k)


def program() -> bytes:
    """The BPF program (sock_filter array) described in the module docstring."""
    denied = sorted({n for group in DENIED_X86_64.values() for n in group})
    eperm, enosys = RET_ERRNO | errno.EPERM, RET_ERRNO | errno.ENOSYS
    body = [("ld", 4), ("jne_deny", AUDIT_ARCH_X86_64), ("ld", 0), ("jge_deny", X32_BIT),
            ("jeq_enosys", CLONE3)]
    body += [("jeq_deny", n) for n in denied]
    body += [("jne_allow", CLONE), ("ld", 16), ("jset_deny", NAMESPACE_FLAGS), ("allow", 0)]
    n = len(body)
    allow_at, deny_at, enosys_at = n, n + 1, n + 2  # three return instructions at the end
    out = []
    for i, (op, k) in enumerate(body):
        to = lambda target: target - i - 1  # noqa: E731 - relative jump
        if op == "ld":
            out.append(_insn(LD_ABS, 0, 0, k))
        elif op == "jne_deny":
            out.append(_insn(JEQ, 0, to(deny_at), k))
        elif op == "jge_deny":
            out.append(_insn(JGE, to(deny_at), 0, k))
        elif op == "jeq_enosys":
            out.append(_insn(JEQ, to(enosys_at), 0, k))
        elif op == "jeq_deny":
            out.append(_insn(JEQ, to(deny_at), 0, k))
        elif op == "jne_allow":
            out.append(_insn(JEQ, 0, to(allow_at), k))
        elif op == "jset_deny":
            out.append(_insn(JSET, to(deny_at), 0, k))
        else:
            out.append(_insn(RET, 0, 0, RET_ALLOW))
    out += [_insn(RET, 0, 0, RET_ALLOW), _insn(RET, 0, 0, eperm), _insn(RET, 0, 0, enosys)]
    return b"".join(out)


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
