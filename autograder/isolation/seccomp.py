"""A seccomp filter that refuses nested user namespaces, and state that outlives a process,
inside the sandbox.

The attack: student code creates a user namespace of its own (``unshare(CLONE_NEWUSER)``,
``unshare -Ur``, or ``clone``/``clone3`` with ``CLONE_NEWUSER``), maps its uid to root inside
it, and so holds ``CAP_DAC_OVERRIDE`` over every file its (mapped) uid owns, e.g. reads a
folder of the grader's user with mode 0311. bubblewrap's ``--disable-userns`` needs
``--unshare-user``, which the grader does not use when it runs as root, so the sandbox gets this
filter instead, through ``bwrap --seccomp FD`` (bwrap installs it, with no_new_privs, just
before it executes the command).

The filter is a classic BPF program over ``struct seccomp_data``. It kills the process on any
other architecture than the one it was built for (x86_64 or aarch64), refuses x32 system calls
on x86_64 (EPERM), makes ``unshare`` and ``clone`` fail with EPERM when ``CLONE_NEWUSER`` is in
their flags, makes ``clone3`` fail with ENOSYS (its flags lie in memory, which a filter cannot
read; glibc then falls back to ``clone``, so threads and ``fork`` still work), and allows every
other call but those that create kernel state outliving the process, which it refuses (EPERM):
keys (``add_key``, ``request_key``, ``keyctl``: a session keyring is inherited, so a key would
reach the next notebook a shared sandbox serves) and System V and POSIX IPC objects (``shmget``,
``semget``, ``msgget``, ``mq_open``: they live as long as the IPC namespace). Grading needs none
of them; files in /tmp and /dev/shm, which it does use, are cleared between notebooks
(`inside_sandbox.child`).
"""

import pathlib
import platform
import struct
import sys
import typing

# Instruction classes and fields of classic BPF (linux/bpf_common.h).
BPF_LD, BPF_JMP, BPF_RET = 0x00, 0x05, 0x06
BPF_W, BPF_ABS = 0x00, 0x20
BPF_JEQ, BPF_JSET, BPF_K = 0x10, 0x40, 0x00

SECCOMP_RET_KILL_PROCESS = 0x80000000
SECCOMP_RET_ERRNO = 0x00050000
SECCOMP_RET_ALLOW = 0x7FFF0000

CLONE_NEWUSER = 0x10000000
X32_SYSCALL_BIT = 0x40000000

# Offsets in struct seccomp_data: int nr; __u32 arch; __u64 instruction_pointer; __u64 args[6].
_NR, _ARCH, _ARG0_LOW = 0, 4, 16  # the low half of args[0] (little-endian)


class _Arch(typing.NamedTuple):
    audit: int  # AUDIT_ARCH_* in seccomp_data.arch
    unshare: int  # system call numbers
    clone: int
    clone3: int
    x32: bool  # whether x32 calls (the same arch, X32_SYSCALL_BIT in nr) exist
    # add_key, request_key, keyctl, shmget, semget, msgget, mq_open: state outliving the process
    outliving: tuple[int, ...]


ARCHITECTURES = {
    "x86_64": _Arch(audit=0xC000003E, unshare=272, clone=56, clone3=435, x32=True,
                    outliving=(248, 249, 250, 29, 64, 68, 240)),
    "aarch64": _Arch(audit=0xC00000B7, unshare=97, clone=220, clone3=435, x32=False,
                     outliving=(217, 218, 219, 194, 190, 186, 180)),
}
ARCHITECTURES["amd64"] = ARCHITECTURES["x86_64"]
ARCHITECTURES["arm64"] = ARCHITECTURES["aarch64"]


def _assemble(program: list[tuple]) -> bytes:
    """Encodes ``program``: ``("label", name)`` marks a place, ``(code, k)`` is a plain
    instruction and ``(code, k, true_label, false_label)`` a conditional jump (None: next)."""
    labels: dict[str, int] = {}
    instructions: list[tuple] = []
    for item in program:
        if item[0] == "label":
            labels[item[1]] = len(instructions)
        else:
            instructions.append(item)
    encoded = b""
    for index, (code, k, *targets) in enumerate(instructions):
        jt, jf = (0 if label is None else labels[label] - index - 1
                  for label in targets or (None, None))
        if not (0 <= jt <= 255 and 0 <= jf <= 255):
            raise ValueError("a jump runs backwards or too far")
        encoded += struct.pack("=HBBI", code, jt, jf, k)
    return encoded


def _program(machine: str) -> bytes | None:
    """The filter for ``machine`` (a ``platform.machine()`` value), or None if unsupported."""
    arch = ARCHITECTURES.get(machine)
    if arch is None:
        return None
    jeq, jset = BPF_JMP | BPF_JEQ | BPF_K, BPF_JMP | BPF_JSET | BPF_K
    load, ret = BPF_LD | BPF_W | BPF_ABS, BPF_RET | BPF_K
    program = [
        (load, _ARCH),
        (jeq, arch.audit, "native", None),
        (ret, SECCOMP_RET_KILL_PROCESS),
        ("label", "native"),
        (load, _NR),
        *([(jset, X32_SYSCALL_BIT, "eperm", None)] if arch.x32 else []),
        (jeq, arch.clone3, "enosys", None),
        *[(jeq, number, "eperm", None) for number in arch.outliving],
        (jeq, arch.unshare, "flags", None),
        (jeq, arch.clone, "flags", None),
        (ret, SECCOMP_RET_ALLOW),
        ("label", "flags"),
        (load, _ARG0_LOW),
        (jset, CLONE_NEWUSER, "eperm", None),
        (ret, SECCOMP_RET_ALLOW),
        ("label", "eperm"),
        (ret, SECCOMP_RET_ERRNO | 1),  # EPERM
        ("label", "enosys"),
        (ret, SECCOMP_RET_ERRNO | 38),  # ENOSYS
    ]
    return _assemble(program)


def user_namespace_filter() -> bytes | None:
    """The compiled seccomp program (``struct sock_filter`` array) for this machine.

    Returns:
        The program refusing nested user namespaces, or None on an unsupported machine (only
        64-bit x86_64 and aarch64 are supported).
    """
    if struct.calcsize("P") != 8:  # a 32-bit interpreter's calls would not match the arch
        return None
    return _program(platform.machine())


# Opens the program at the lowest free descriptor (so it takes none the caller passes on), then
# executes bwrap with ``--seccomp FD``.
_OPEN_THEN_EXEC = ("import os, sys; fd = os.open(sys.argv[1], os.O_RDONLY); os.set_inheritable(fd, True); "
                   "os.execv(sys.argv[2], [sys.argv[2], '--seccomp', str(fd), *sys.argv[3:]])")


def launcher(bwrap_command: list[str], folder: str) -> list[str]:
    """``bwrap_command`` with the filter installed: the program is written to a file in
    ``folder``, and a small launcher opens it and executes bwrap with ``--seccomp FD``, so that
    any caller (``subprocess.Popen``, jupyter_client) can start it. Unchanged when this machine
    has no filter."""
    program = user_namespace_filter()
    if program is None:
        return list(bwrap_command)
    path = pathlib.Path(folder) / "user-namespace-filter.bpf"
    path.write_bytes(program)
    return [sys.executable, "-I", "-S", "-c", _OPEN_THEN_EXEC, str(path), *bwrap_command]
