"""A seccomp-BPF filter for workers: once installed, the process cannot open files, use the
network, start programs, signal other processes, or change its own privileges.

Installed by the worker on itself, after its imports and before it reads its first frame, with
`no_new_privs` set first (which also stops a worker from gaining privileges through exec).
Refused calls fail with EPERM instead of killing the worker, so a probe gets a clear error.
Built by hand with ctypes (the filter is small and fixed); x86_64 and aarch64 are supported.
Any other architecture runs without the filter and `install()` says so.
"""

from __future__ import annotations

import ctypes
import errno
import platform
import struct

PR_SET_NO_NEW_PRIVS = 38
PR_SET_SECCOMP = 22
SECCOMP_MODE_FILTER = 2
SECCOMP_RET_ALLOW = 0x7FFF0000
SECCOMP_RET_ERRNO = 0x00050000
SECCOMP_RET_KILL_PROCESS = 0x80000000

# classic BPF opcodes
_LD_W_ABS = 0x20
_JEQ_K = 0x15
_JGE_K = 0x35
_RET_K = 0x06

_OFF_NR = 0
_OFF_ARCH = 4
#: x32 syscalls on x86_64 carry this bit; all are refused.
_X32_BIT = 0x40000000

# Syscalls a worker never needs once it is running: files by name, network, processes, privileges,
# kernel interfaces that widen the attack surface. The worker keeps read/write on its pipes,
# memory management, clocks, futex and exit.
_DENY_X86_64 = {
    "open": 2, "socket": 41, "connect": 42, "accept": 43, "sendto": 44, "recvfrom": 45, "sendmsg": 46,
    "recvmsg": 47, "shutdown": 48, "bind": 49, "listen": 50, "getsockname": 51, "getpeername": 52,
    "socketpair": 53, "setsockopt": 54, "getsockopt": 55, "clone": 56, "fork": 57, "vfork": 58,
    "execve": 59, "kill": 62, "truncate": 76, "rename": 82, "mkdir": 83, "rmdir": 84, "creat": 85,
    "link": 86, "unlink": 87, "symlink": 88, "chmod": 90, "fchmod": 91, "chown": 92, "fchown": 93,
    "lchown": 94, "ptrace": 101, "setuid": 105, "setgid": 106, "setreuid": 113, "setregid": 114,
    "setgroups": 116, "setresuid": 117, "setresgid": 119, "capset": 126, "mknod": 133, "personality": 135,
    "pivot_root": 155, "chroot": 161, "acct": 163, "settimeofday": 164, "mount": 165, "umount2": 166,
    "swapon": 167, "swapoff": 168, "reboot": 169, "init_module": 175, "delete_module": 176,
    "quotactl": 179, "tkill": 200, "tgkill": 234, "kexec_load": 246, "add_key": 248, "request_key": 249,
    "keyctl": 250, "openat": 257, "mkdirat": 258, "mknodat": 259, "fchownat": 260, "unlinkat": 263,
    "renameat": 264, "linkat": 265, "symlinkat": 266, "fchmodat": 268, "unshare": 272,
    "perf_event_open": 298, "name_to_handle_at": 303, "open_by_handle_at": 304, "setns": 308,
    "process_vm_readv": 310, "process_vm_writev": 311, "finit_module": 313, "renameat2": 316,
    "memfd_create": 319, "bpf": 321, "execveat": 322, "userfaultfd": 323, "pidfd_send_signal": 424,
    "io_uring_setup": 425, "io_uring_enter": 426, "io_uring_register": 427, "pidfd_open": 434,
    "clone3": 435, "openat2": 437, "pidfd_getfd": 438,
}
_DENY_AARCH64 = {
    "mknodat": 33, "mkdirat": 34, "unlinkat": 35, "symlinkat": 36, "linkat": 37, "renameat": 38,
    "umount2": 39, "mount": 40, "pivot_root": 41, "truncate": 45, "fchmodat": 53, "fchownat": 54,
    "fchmod": 52, "fchown": 55, "chroot": 51, "openat": 56, "acct": 89, "capset": 91, "personality": 92,
    "unshare": 97, "kexec_load": 104, "init_module": 105, "delete_module": 106, "ptrace": 117,
    "kill": 129, "tkill": 130, "tgkill": 131, "reboot": 142, "setregid": 143, "setgid": 144,
    "setreuid": 145, "setuid": 146, "setresuid": 147, "setresgid": 149, "setgroups": 159,
    "settimeofday": 170, "socket": 198, "socketpair": 199, "bind": 200, "listen": 201, "accept": 202,
    "connect": 203, "getsockname": 204, "getpeername": 205, "sendto": 206, "recvfrom": 207,
    "setsockopt": 208, "getsockopt": 209, "shutdown": 210, "sendmsg": 211, "recvmsg": 212,
    "add_key": 217, "request_key": 218, "keyctl": 219, "clone": 220, "execve": 221, "swapon": 224,
    "swapoff": 225, "perf_event_open": 241, "accept4": 242, "name_to_handle_at": 264,
    "open_by_handle_at": 265, "setns": 268, "process_vm_readv": 270, "process_vm_writev": 271,
    "finit_module": 273, "renameat2": 276, "memfd_create": 279, "bpf": 280, "execveat": 281,
    "userfaultfd": 282, "pidfd_send_signal": 424, "io_uring_setup": 425, "io_uring_enter": 426,
    "io_uring_register": 427, "pidfd_open": 434, "clone3": 435, "openat2": 437, "pidfd_getfd": 438,
}
_ARCHES = {
    "x86_64": (0xC000003E, _DENY_X86_64),
    "aarch64": (0xC00000B7, _DENY_AARCH64),
}


class SeccompUnavailable(Exception):
    """The filter cannot be installed here (architecture or kernel)."""


def _insn(code: int, jt: int, jf: int, k: int) -> bytes:
    return struct.pack("HBBI", code, jt, jf, k)


def build_filter(machine: str | None = None) -> bytes:
    """The BPF program for this machine's architecture, as bytes of `struct sock_filter`."""
    machine = machine or platform.machine()
    if machine not in _ARCHES:
        raise SeccompUnavailable(f"no seccomp filter for architecture {machine!r}")
    arch, deny = _ARCHES[machine]
    eperm = SECCOMP_RET_ERRNO | errno.EPERM
    prog = [
        _insn(_LD_W_ABS, 0, 0, _OFF_ARCH),
        _insn(_JEQ_K, 1, 0, arch),
        _insn(_RET_K, 0, 0, SECCOMP_RET_KILL_PROCESS),  # a foreign ABI: never legitimate here
        _insn(_LD_W_ABS, 0, 0, _OFF_NR),
    ]
    if machine == "x86_64":
        prog += [_insn(_JGE_K, 0, 1, _X32_BIT), _insn(_RET_K, 0, 0, eperm)]
    for nr in sorted(set(deny.values())):
        prog += [_insn(_JEQ_K, 0, 1, nr), _insn(_RET_K, 0, 0, eperm)]
    prog.append(_insn(_RET_K, 0, 0, SECCOMP_RET_ALLOW))
    return b"".join(prog)


def install() -> None:
    """Set no_new_privs and install the filter on the calling process (and its threads)."""
    program = build_filter()
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        raise SeccompUnavailable(f"prctl(NO_NEW_PRIVS) failed: errno {ctypes.get_errno()}")
    count = len(program) // 8
    buf = ctypes.create_string_buffer(program)

    class SockFprog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]

    fprog = SockFprog(count, ctypes.cast(buf, ctypes.c_void_p))
    if libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(fprog), 0, 0) != 0:
        raise SeccompUnavailable(f"prctl(SECCOMP) failed: errno {ctypes.get_errno()}")
