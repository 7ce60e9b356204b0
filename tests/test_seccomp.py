"""The seccomp filter refuses nested user namespaces in the real bubblewrap sandbox.

Each sandboxed test runs in both of the grader's modes: "root" (the grader is root: bwrap
without a user namespace, the child drops to an unprivileged uid itself) and "user" (the grader
is an ordinary user: bwrap with ``--unshare-all``; under root the test runs bwrap as nobody).
"""

import json
import os
import platform
import shutil
import struct
import subprocess
import sys
import tempfile

import pytest

from autograder.isolation import seccomp

BWRAP = shutil.which("bwrap")
SETPRIV = shutil.which("setpriv")
# The inner scripts need only the standard library; /usr's interpreter is readable by nobody.
PYTHON = "/usr/bin/python3" if os.access("/usr/bin/python3", os.X_OK) else sys.executable
IS_ROOT = os.geteuid() == 0
NOBODY = 65534
SANDBOX_UID = 1 << 20  # the kind of uid the grader's child drops to when started as root
SYSTEM = ["/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/etc"]
MODES = {
    "root": ["--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts", "--cap-drop",
             "ALL", "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"],
    "user": ["--unshare-all", "--cap-drop", "ALL"],
}


def _bwrap_works():
    if BWRAP is None:
        return False
    probe = subprocess.run([BWRAP, "--ro-bind", "/", "/", "--unshare-all", "true"],
                           capture_output=True)
    return probe.returncode == 0


pytestmark = [
    pytest.mark.skipif(not _bwrap_works(), reason="bubblewrap missing or cannot create namespaces"),
]

# Drops to the sandbox's uid as the grader's child does (root mode passes the uid as argv[1]).
PRELUDE = """
import ctypes, errno, json, os, subprocess, sys
CLONE_NEWUSER, SIGCHLD = 0x10000000, 17
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
if len(sys.argv) > 1:
    uid = int(sys.argv[1])
    os.setgroups([])
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)
result = {"uid": os.getuid()}

def outcome(value):
    return 0 if value == 0 else errno.errorcode.get(ctypes.get_errno(), value)
"""

# The attack: a folder of one's own uid that one cannot read (mode 0311), read anyway through a
# nested user namespace that maps that uid to root.
ATTACK = PRELUDE + """
os.mkdir("/tmp/cache")
open("/tmp/cache/entry", "w").close()
os.chmod("/tmp/cache", 0o311)
try:
    os.listdir("/tmp/cache")
    result["listed before"] = True
except PermissionError:
    result["listed before"] = False
tool = subprocess.run(["unshare", "-Ur", "id", "-u"], capture_output=True, text=True)
result["unshare -Ur"] = [tool.returncode, tool.stdout.strip(), tool.stderr.strip()]
me, group = os.getuid(), os.getgid()
result["unshare"] = outcome(libc.unshare(CLONE_NEWUSER))
if result["unshare"] == 0:
    libc.prctl(4, 1, 0, 0, 0)  # PR_SET_DUMPABLE, cleared by setresuid: /proc/self is root's
    maps = [("setgroups", "deny"), ("uid_map", f"0 {me} 1"), ("gid_map", f"0 {group} 1")]
    for name, text in maps:
        with open(f"/proc/self/{name}", "w") as file:
            file.write(text)
    result["listed"] = os.listdir("/tmp/cache")
print(json.dumps(result))
"""

# Other ways in: clone, clone3, x32 calls, os.unshare, and unshare with further flags.
VECTORS = PRELUDE + """
import platform, struct
def child_guard(pid):  # if a call did create a process, its child leaves at once
    if pid == 0:
        os._exit(0)
    if pid > 0:
        os.waitpid(pid, 0)
    return pid
numbers = {"x86_64": (56, 435, 272), "aarch64": (220, 435, 97)}[platform.machine()]
clone, clone3, unshare = numbers
pid = child_guard(libc.syscall(clone, CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0))
result["clone"] = outcome(pid)
pid = child_guard(libc.syscall(clone, 0x00020000 | CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0))
result["clone with CLONE_NEWNS too"] = outcome(pid)
arguments = ctypes.create_string_buffer(struct.pack("=11Q", CLONE_NEWUSER, 0, 0, 0, SIGCHLD,
                                                    0, 0, 0, 0, 0, 0))
pid = child_guard(libc.syscall(clone3, arguments, ctypes.sizeof(arguments)))
result["clone3"] = outcome(pid)
result["unshare with CLONE_NEWNS too"] = outcome(libc.unshare(CLONE_NEWUSER | 0x00020000))
if platform.machine() == "x86_64":
    result["x32 unshare"] = outcome(libc.syscall(0x40000000 | unshare, CLONE_NEWUSER))
if hasattr(os, "unshare"):
    try:
        os.unshare(os.CLONE_NEWUSER)
        result["os.unshare"] = 0
    except OSError as error:
        result["os.unshare"] = errno.errorcode[error.errno]
print(json.dumps(result))
"""

ORDINARY = PRELUDE + """
import threading
pid = os.fork()
if pid == 0:
    os._exit(7)
result["fork"] = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
seen = []
threads = [threading.Thread(target=seen.append, args=(n,)) for n in range(8)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
result["threads"] = sorted(seen)
result["subprocess"] = subprocess.run(["/bin/true"]).returncode
result["unshare(CLONE_FILES)"] = outcome(libc.unshare(0x00000400))
print(json.dumps(result))
"""

# Kernel state that outlives the process: a key in the session keyring, System V memory, a
# semaphore set and a message queue, a POSIX message queue.
OUTLIVING = PRELUDE + """
import platform
numbers = {"x86_64": (248, 29, 64, 68, 240), "aarch64": (217, 194, 190, 186, 180)}
add_key, shmget, semget, msgget, mq_open = numbers[platform.machine()]
IPC_CREAT_0600 = 0o1600
result["add_key"] = outcome(min(0, libc.syscall(add_key, b"user", b"loot", b"x", 1, -3)))
result["shmget"] = outcome(min(0, libc.syscall(shmget, 0, 4096, IPC_CREAT_0600)))
result["semget"] = outcome(min(0, libc.syscall(semget, 0, 1, IPC_CREAT_0600)))
result["msgget"] = outcome(min(0, libc.syscall(msgget, 0, IPC_CREAT_0600)))
result["mq_open"] = outcome(min(0, libc.syscall(mq_open, b"loot", 0o100 | 2, 0o600, None)))
print(json.dumps(result))
"""

# A 32-bit (i386) getpid through int 0x80: a foreign architecture in seccomp_data.arch.
I386_GETPID = """
import ctypes, mmap, os
page = mmap.mmap(-1, 4096, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
page.write(bytes.fromhex("b814000000cd80c3"))  # mov eax, 20; int 0x80; ret
address = ctypes.addressof(ctypes.c_char.from_buffer(page))
print(ctypes.CFUNCTYPE(ctypes.c_int)(address)() == os.getpid(), flush=True)
"""


@pytest.fixture(params=list(MODES))
def mode(request):
    """The grader's mode; "user" under root means bwrap run as nobody."""
    if request.param == "root" and not IS_ROOT:
        pytest.skip("the root mode needs root")
    if request.param == "user" and IS_ROOT:
        if SETPRIV is None:
            pytest.skip("setpriv is needed to run bwrap as an ordinary user")
        probe = sandboxed("user", "pass", filtered=False)
        if probe.returncode != 0:
            pytest.skip(f"bwrap as uid {NOBODY} fails here: {probe.stderr.strip()}")
    return request.param


def sandboxed(mode, script, filtered, timeout=30):
    """``script`` run by Python inside bwrap as the grader's ``mode`` calls it."""
    command = [SETPRIV, f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", "--"] \
        if mode == "user" and IS_ROOT else []
    command += [BWRAP, "--die-with-parent", "--new-session", "--clearenv",
                "--setenv", "PATH", "/usr/bin:/bin", "--proc", "/proc", "--dev", "/dev",
                "--perms", "1777", "--tmpfs", "/tmp", "--chdir", "/tmp", *MODES[mode]]
    for path in SYSTEM:
        command += ["--ro-bind-try", path, path]
    if not PYTHON.startswith("/usr/"):
        for path in sorted({os.path.realpath(p) for p in (sys.base_prefix, sys.prefix)}):
            command += ["--ro-bind-try", path, path]
    arguments = [str(SANDBOX_UID)] if mode == "root" else []
    bwrap = [BWRAP, *command[command.index(BWRAP) + 1:], PYTHON, "-c", script, *arguments]
    prefix = command[:command.index(BWRAP)]
    with tempfile.TemporaryDirectory() as folder:
        os.chmod(folder, 0o755)  # the ordinary user's shell opens the filter file
        if filtered:
            assert seccomp.user_namespace_filter() is not None, "no filter for this machine"
            bwrap = seccomp.launcher(bwrap, folder)
        return subprocess.run([*prefix, *bwrap], capture_output=True, text=True, timeout=timeout)


def results(mode, script, filtered):
    completed = sandboxed(mode, script, filtered)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    return json.loads(completed.stdout)


needs_filter = pytest.mark.skipif(seccomp.user_namespace_filter() is None,
                                  reason=f"no filter for {platform.machine()}")


def test_attack_works_without_the_filter(mode):
    """Control: unfiltered, the sandboxed process creates a user namespace (``unshare`` and
    ``unshare -Ur``), maps its uid to root and lists a folder of its own uid with mode 0311 that
    it could not list before."""
    result = results(mode, ATTACK, filtered=False)
    assert result["uid"] == (SANDBOX_UID if mode == "root" else os.geteuid() if not IS_ROOT
                             else NOBODY)
    assert result["listed before"] is False
    if result["unshare"] != 0:
        pytest.skip(f"this kernel refuses unprivileged user namespaces anyway: {result}")
    assert result["unshare -Ur"][:2] == [0, "0"], result
    assert result["listed"] == ["entry"], result


@needs_filter
def test_filter_refuses_unshare_of_a_user_namespace(mode):
    """Filtered, ``unshare(CLONE_NEWUSER)`` fails with EPERM and ``unshare -Ur`` fails, so the
    0311 folder stays unreadable."""
    result = results(mode, ATTACK, filtered=True)
    assert result["listed before"] is False
    assert result["unshare"] == "EPERM", result
    assert "listed" not in result
    status, _, error = result["unshare -Ur"]
    assert status != 0 and "Operation not permitted" in error, result


@needs_filter
def test_filter_refuses_the_other_ways_to_a_user_namespace(mode):
    """Filtered, ``clone`` with CLONE_NEWUSER (alone or with other flags), ``unshare`` with further
    flags, x32 calls and ``os.unshare`` (Python 3.12+) fail with EPERM; ``clone3``, whose flags the
    filter cannot read, fails with ENOSYS."""
    result = results(mode, VECTORS, filtered=True)
    expected = {"clone": "EPERM", "clone with CLONE_NEWNS too": "EPERM", "clone3": "ENOSYS",
                "unshare with CLONE_NEWNS too": "EPERM"}
    if platform.machine() == "x86_64":
        expected["x32 unshare"] = "EPERM"
    if "os.unshare" in result:
        expected["os.unshare"] = "EPERM"
    assert {key: result[key] for key in expected} == expected, result


@needs_filter
def test_ordinary_work_runs_under_the_filter(mode):
    """Filtered, ``fork``, threads (glibc falls back from ``clone3`` to ``clone``), a subprocess
    and ``unshare`` without CLONE_NEWUSER still work."""
    result = results(mode, ORDINARY, filtered=True)
    assert result["fork"] == 7
    assert result["threads"] == list(range(8))
    assert result["subprocess"] == 0
    assert result["unshare(CLONE_FILES)"] == 0


@needs_filter
@pytest.mark.skipif(platform.machine() != "x86_64", reason="i386 calls exist on x86_64 only")
def test_filter_kills_calls_of_another_architecture(mode):
    """Filtered, an i386 system call (``int 0x80``), whose numbers the filter does not know,
    kills the process with SIGSYS; unfiltered, the same call works (the control)."""
    control = sandboxed(mode, I386_GETPID, filtered=False)
    if control.stdout.strip() != "True":
        pytest.skip(f"no i386 system calls here: {control.returncode} {control.stderr.strip()}")
    completed = sandboxed(mode, I386_GETPID, filtered=True)
    assert completed.stdout == "" and completed.returncode == 128 + 31, completed  # SIGSYS


# A classic BPF interpreter for the instructions the filter uses, to check both architectures.
def evaluate(program, nr, arch, arg0=0):
    data = struct.pack("=iIQ6Q", nr, arch, 0, arg0, 0, 0, 0, 0, 0)
    instructions = [struct.unpack_from("=HBBI", program, at) for at in range(0, len(program), 8)]
    pc, accumulator = 0, 0
    while True:
        code, jt, jf, k = instructions[pc]
        if code == seccomp.BPF_LD | seccomp.BPF_W | seccomp.BPF_ABS:
            accumulator = struct.unpack_from("=I", data, k)[0]
            pc += 1
        elif code == seccomp.BPF_JMP | seccomp.BPF_JEQ | seccomp.BPF_K:
            pc += 1 + (jt if accumulator == k else jf)
        elif code == seccomp.BPF_JMP | seccomp.BPF_JSET | seccomp.BPF_K:
            pc += 1 + (jt if accumulator & k else jf)
        elif code == seccomp.BPF_RET | seccomp.BPF_K:
            return k
        else:
            raise AssertionError(f"unexpected instruction {code:#x}")


@needs_filter
def test_filter_refuses_keys_and_ipc_objects(mode):
    """Filtered, the sandboxed process can make no key and no System V or POSIX IPC object (each
    call fails with EPERM); unfiltered (the control), it makes the IPC objects."""
    unfiltered = results(mode, OUTLIVING, filtered=False)
    assert {unfiltered[call] for call in ("shmget", "semget", "msgget", "mq_open")} == {0}, \
        unfiltered
    filtered = results(mode, OUTLIVING, filtered=True)
    assert {filtered[call] for call in ("add_key", "shmget", "semget", "msgget", "mq_open")} == \
        {"EPERM"}, filtered


@pytest.mark.parametrize("machine", ["x86_64", "aarch64"])
def test_program_decides_each_call(machine):
    """For each supported architecture, the program allows ordinary calls and ``unshare``/``clone``
    without CLONE_NEWUSER, refuses them with it (EPERM), answers ``clone3`` with ENOSYS, refuses
    the calls that make keys and IPC objects (EPERM), refuses x32 calls on x86_64 and kills on
    any other architecture."""
    arch = seccomp.ARCHITECTURES[machine]
    program = seccomp._program(machine)
    allow, kill = seccomp.SECCOMP_RET_ALLOW, seccomp.SECCOMP_RET_KILL_PROCESS
    eperm, enosys = seccomp.SECCOMP_RET_ERRNO | 1, seccomp.SECCOMP_RET_ERRNO | 38
    newuser = seccomp.CLONE_NEWUSER
    assert len(program) % 8 == 0 and len(program) // 8 < 64
    cases = [
        (0, arch.audit, 0, allow),
        (arch.unshare, arch.audit, 0x00020000, allow),
        (arch.unshare, arch.audit, newuser, eperm),
        (arch.unshare, arch.audit, newuser | 0x00020000 | (1 << 40), eperm),
        (arch.clone, arch.audit, 0x11 | 0x01000000, allow),  # fork's flags
        (arch.clone, arch.audit, newuser | 0x11, eperm),
        (arch.clone3, arch.audit, 0, enosys),
        *[(number, arch.audit, 0, eperm) for number in arch.outliving],
        (arch.outliving[0] + 100, arch.audit, 0, allow),
        (arch.unshare, 0x40000003, newuser, kill),  # i386
        (arch.unshare, seccomp.ARCHITECTURES["aarch64" if machine == "x86_64" else "x86_64"].audit,
         newuser, kill),
    ]
    if arch.x32:
        cases += [(0x40000000 | arch.unshare, arch.audit, newuser, eperm),
                  (0x40000000, arch.audit, 0, eperm)]
    for nr, audit, arg0, expected in cases:
        assert evaluate(program, nr, audit, arg0) == expected, (nr, hex(audit), hex(arg0))


def test_unsupported_machine_has_no_filter():
    """An architecture without known system call numbers gets no filter."""
    assert seccomp._program("riscv64") is None


@needs_filter
def test_launcher_hands_bwrap_the_whole_program(tmp_path):
    """The launcher opens the written program at the lowest free descriptor, leaving the ones
    its caller passes alone, and gives bwrap ``--seccomp FD``: here a stand-in for bwrap reads
    exactly the program from it, then end of file, and finds the caller's descriptor intact."""
    reader = tmp_path / "reader"
    reader.write_text(f"#!{sys.executable}\nimport os, sys\n"
                      "assert sys.argv[1] == '--seccomp'\n"
                      "fd = int(sys.argv[2]); passed = int(sys.argv[3])\n"
                      "assert os.read(passed, 5) == b'still'\n"
                      "sys.stdout.buffer.write(os.read(fd, 65536) + b'|' + os.read(fd, 65536))\n")
    reader.chmod(0o755)
    read, write = os.pipe()
    os.write(write, b"still")
    os.close(write)
    try:
        completed = subprocess.run(seccomp.launcher([str(reader), str(read)], str(tmp_path)),
                                   capture_output=True, pass_fds=[read])
    finally:
        os.close(read)
    assert completed.stdout == seccomp.user_namespace_filter() + b"|", completed.stderr
