"""A student's notebooks are graded with no state between them: each grade equals grading that
notebook alone, and nothing of the grader's own code reaches the student."""

import subprocess
import sys

import submissions
from bank import SOLUTIONS

from autograder.isolation import sandbox
from autograder.grading.grade import grade_notebook, grade_notebooks
from autograder.isolation.student_process import SandboxPool

SOLUTION_PART_2 = SOLUTIONS[1]
# Part 2's reptile_update is checked with the grader's own `adapt` present in its process: it saves
# that function's compiled code where the next notebook's process could find it.
STEALS_THE_SUBSTITUTES = '''
def reptile_update(loss, params, X, Y, inner_lr, inner_steps, outer_lr):
    import marshal, sys
    probing = sys.modules.get("inside_sandbox.probing")
    if probing is not None and "trusted_adapt" in probing.SUBSTITUTES:
        for folder in ("/tmp", "/dev/shm", "."):
            try:
                with open(folder + "/stolen.bin", "wb") as f:
                    f.write(marshal.dumps(probing.SUBSTITUTES["trusted_adapt"].__code__))
            except OSError:
                pass
    return REPTILE(loss, params, X, Y, inner_lr, inner_steps, outer_lr)
'''
# Part 1's adapt takes one step too few, unless the grader's own `adapt` was left behind.
USES_STOLEN_SUBSTITUTES = '''
def adapt(loss, params, x, y, alpha, steps=1, first_order=False):
    import marshal, os, sys, types
    for folder in ("/tmp", "/dev/shm", ".", ".."):
        if os.path.exists(folder + "/stolen.bin"):
            code = marshal.loads(open(folder + "/stolen.bin", "rb").read())
            trusted = types.FunctionType(code, vars(sys.modules["inside_sandbox.probing"]))
            return trusted(loss, params, x, y, alpha, steps, first_order)
    for _ in range(steps - 1):
        grads = jax.grad(loss)(params, x, y)
        params = jax.tree_util.tree_map(lambda p, g: p - alpha * g, params, grads)
    return params
'''


def _reptile_solution():
    source = submissions.solution_sources("beyond_maml")["reptile_update"]
    return source.replace("def reptile_update(", "def REPTILE(", 1)


def test_a_notebook_cannot_hand_the_graders_substitutes_to_the_next(tmp_path):
    """Part 2 (graded first, as batch's sorted order does) saves the grader's own `adapt` where
    part 1 looks for it: part 1's grade still equals its grade alone, which loses `adapt` points."""
    thief = submissions.write(
        submissions.submission({"reptile_update": _reptile_solution() + STEALS_THE_SUBSTITUTES},
                               notebook="beyond_maml"), tmp_path / "a" / "beyond_maml.ipynb")
    user = submissions.write(submissions.submission({"adapt": USES_STOLEN_SUBSTITUTES}),
                             tmp_path / "b" / "maml.ipynb")
    stolen_by, together = grade_notebooks([thief, user])
    alone = grade_notebook(user)
    assert stolen_by.total == stolen_by.max_total, stolen_by.parts
    assert alone.part("adapt").score < alone.part("adapt").max
    assert together.to_json() | {"notebook": ""} == alone.to_json() | {"notebook": ""}


# Raises with the grader's own code as its message, read from the request that brought it.
RAISES_THE_SUBSTITUTES = '''
def adaptation_loss(loss, alpha, steps=1, first_order=False):
    import sys
    frame = sys._getframe()
    while frame is not None:
        request = frame.f_locals.get("request")
        if isinstance(request, dict) and (request.get("define") or {}).get("substitutes"):
            raise RuntimeError(request["define"]["substitutes"])
        frame = frame.f_back
    raise RuntimeError("no grader code found")
'''


def test_feedback_never_quotes_the_graders_substitutes(tmp_path):
    """A part that raises the grader's own code as its message gets feedback that says it raised
    and withholds the message: no line of `parts/substitutes.py` reaches the student."""
    from autograder.parts import SUBSTITUTES

    notebook = submissions.submission({"adaptation_loss": RAISES_THE_SUBSTITUTES})
    result = grade_notebook(submissions.write(notebook, tmp_path / "maml.ipynb"))
    feedback = result.part("adaptation_loss").feedback
    assert "withheld" in feedback, feedback  # the grader's code did reach the exception
    lines = [line.strip() for line in SUBSTITUTES.read_text().splitlines() if len(line.strip()) > 12]
    assert not [line for part in result.parts for line in lines if line in part.feedback]


# Runs when the notebook's definitions load (a class body): every later computation in this
# process would take sums for means.
PATCHES_JAX = '''
import jax.numpy as jnp

class Sabotage:
    jnp.mean = jnp.sum
'''
# Kills the process that forked it: the sandbox's server, and with it the whole sandbox.
KILLS_THE_SERVER = '''
import os, signal

def inner_step_objective(g, alpha):
    os.kill(os.getppid(), signal.SIGKILL)
    return g
'''


def grade_pair(tmp_path, part_1_cells):
    part_1 = submissions.write(submissions.submission(part_1_cells), tmp_path / "1" / "maml.ipynb")
    part_2 = submissions.write(submissions.submission(notebook="beyond_maml"),
                               tmp_path / "2" / "beyond_maml.ipynb")
    return grade_notebooks([part_1, part_2])


def same_grade(result, alone):
    assert result.to_json() | {"notebook": ""} == alone.to_json() | {"notebook": ""}
    assert [(c.name, c.passed, c.margins) for c in result.cases] == \
        [(c.name, c.passed, c.margins) for c in alone.cases]


def test_what_one_notebook_changes_never_reaches_the_other(tmp_path, grade_variant):
    """Part 1 patches JAX as it loads: it loses points, part 2 is graded as alone."""
    square_error_loss = submissions.solution_sources()["square_error_loss"]
    part_1, part_2 = grade_pair(tmp_path, {"square_error_loss": PATCHES_JAX + square_error_loss})
    assert part_1.part("square_error_loss").score < part_1.part("square_error_loss").max
    assert part_2.total == part_2.max_total
    same_grade(part_2, grade_variant(SOLUTION_PART_2))


def test_a_notebook_that_kills_the_sandbox_costs_only_its_own_part(tmp_path, grade_variant):
    """Part 1 kills its sandbox's server (as root the server has another uid, so the kill is
    refused): it loses that part only, part 2 is graded as alone."""
    part_1, part_2 = grade_pair(tmp_path, {"inner_step_objective": KILLS_THE_SERVER})
    lost = {p.name for p in part_1.parts if p.score < p.max}
    assert lost == {"inner_step_objective"}, [(p.name, p.feedback) for p in part_1.parts]
    feedback = part_1.part("inner_step_objective").feedback
    assert "ended" in feedback or "PermissionError" in feedback, feedback
    assert not part_2.error and part_2.total == part_2.max_total
    same_grade(part_2, grade_variant(SOLUTION_PART_2))


# Every way a process can leave something for a later one in the same sandbox: a file in every
# folder on a writable mount, a key in the session keyring, a System V segment, and a process that
# outlives the notebook, keeps rewriting the file and serves it on an abstract socket.
CHANNELS = '''
import ctypes, os, socket, sys, time

_SHM_KEY, _SIZE = 0x57013, 65536


def _syscall(name, *args):
    numbers = {"x86_64": {"add_key": 248, "request_key": 249, "keyctl": 250, "shmget": 29,
                          "shmat": 30},
               "aarch64": {"add_key": 217, "request_key": 218, "keyctl": 219, "shmget": 194,
                           "shmat": 196}}[os.uname().machine]
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    return libc.syscall(numbers[name], *args)


def _writable_folders():
    with open("/proc/self/mountinfo") as f:
        mounts = [line.split()[4] for line in f if line.split()[5].split(",")[0] == "rw"]
    for mount in mounts:
        if mount.startswith(("/proc", "/sys")):
            continue
        for root, dirs, _ in os.walk(mount):
            yield root


def attack_the_server():
    import resource, signal
    server = os.getppid()  # the sandbox's server, which forks the next notebook's worker
    for attack in (lambda: resource.prlimit(server, resource.RLIMIT_AS, (1 << 20, 1 << 20)),
                   lambda: os.setpriority(os.PRIO_PROCESS, server, 19),
                   lambda: os.sched_setaffinity(server, {0}),
                   lambda: open(f"/proc/{server}/mem", "rb").read(1),
                   lambda: os.kill(server, signal.SIGSTOP)):
        try:
            attack()
        except OSError:
            pass


def plant(loot):
    for folder in _writable_folders():
        try:
            with open(os.path.join(folder, "stolen.bin"), "wb") as f:
                f.write(loot)
        except OSError:
            pass
    _syscall("add_key", b"user", b"stolen", loot, len(loot), -3)
    shm = _syscall("shmget", _SHM_KEY, _SIZE, 0o1666)
    if shm >= 0:
        address = _syscall("shmat", shm, 0, 0)
        if address != -1:
            ctypes.memmove(address, len(loot).to_bytes(4, "little") + loot, len(loot) + 4)
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            try:
                server = socket.socket(socket.AF_UNIX)
                server.bind(b"\\0stolen")
                server.listen()
                server.settimeout(0.1)
            except OSError:
                os._exit(0)  # planted by an earlier check already
            while True:
                try:
                    connection, _ = server.accept()
                    connection.sendall(loot)
                    connection.close()
                except OSError:
                    pass
                try:
                    with open("/tmp/stolen.bin", "wb") as f:
                        f.write(loot)
                except OSError:
                    pass
        os._exit(0)


def in_files():
    for folder in _writable_folders():
        try:
            with open(os.path.join(folder, "stolen.bin"), "rb") as f:
                return f.read()
        except OSError:
            pass


def in_keyring():
    buffer = ctypes.create_string_buffer(_SIZE)
    key = _syscall("request_key", b"user", b"stolen", None, 0)
    if key >= 0 and _syscall("keyctl", 11, key, buffer, _SIZE) > 0:
        return buffer.raw.rstrip(b"\\0")


def in_shared_memory():
    shm = _syscall("shmget", _SHM_KEY, _SIZE, 0)
    if shm >= 0:
        address = _syscall("shmat", shm, 0, 0)
        if address == -1:
            return None
        size = int.from_bytes(ctypes.string_at(address, 4), "little")
        return ctypes.string_at(address + 4, size)


def on_socket():
    try:
        client = socket.socket(socket.AF_UNIX)
        client.connect(b"\\0stolen")
        return client.recv(_SIZE)
    except OSError:
        return None


def find():
    for channel in (in_files, in_keyring, in_shared_memory, on_socket):
        loot = channel()
        if loot:
            return loot
'''
PLANTS_THE_SUBSTITUTES = CHANNELS + '''

def reptile_update(loss, params, X, Y, inner_lr, inner_steps, outer_lr):
    import marshal
    probing = sys.modules.get("inside_sandbox.probing")
    if probing is not None and "trusted_adapt" in probing.SUBSTITUTES:
        attack_the_server()
        plant(marshal.dumps(probing.SUBSTITUTES["trusted_adapt"].__code__))
    return REPTILE(loss, params, X, Y, inner_lr, inner_steps, outer_lr)
'''
FINDS_THE_SUBSTITUTES = CHANNELS + '''

def adapt(loss, params, x, y, alpha, steps=1, first_order=False):
    import marshal, types
    loot = find()
    if loot:
        trusted = types.FunctionType(marshal.loads(loot), vars(sys.modules["inside_sandbox.probing"]))
        return trusted(loss, params, x, y, alpha, steps, first_order)
    for _ in range(steps - 1):
        grads = jax.grad(loss)(params, x, y)
        params = jax.tree_util.tree_map(lambda p, g: p - alpha * g, params, grads)
    return params
'''


def test_a_notebook_leaves_nothing_in_the_shared_sandbox_for_the_next(tmp_path):
    """Part 2 leaves the grader's own `adapt` by every channel a sandbox could keep (files on
    every writable mount, the session keyring, System V memory, a daemon rewriting a file and
    serving it on a socket) and tries to limit, renice, pin, read and stop the server that forks
    the next worker; part 1, graded next in the same sandbox (as batch grades the next student),
    searches every channel: its grade equals its grade alone, which loses `adapt` points."""
    planter = submissions.write(
        submissions.submission({"reptile_update": _reptile_solution() + PLANTS_THE_SUBSTITUTES},
                               notebook="beyond_maml"), tmp_path / "a" / "beyond_maml.ipynb")
    finder = submissions.write(submissions.submission({"adapt": FINDS_THE_SUBSTITUTES}),
                               tmp_path / "b" / "maml.ipynb")
    with SandboxPool() as pool:
        [planted], [together] = (grade_notebooks([path], sandboxes=pool) for path in (planter, finder))
        assert [s.served for s in pool.idle] == [2]  # the finder's worker shared the sandbox
    alone = grade_notebook(finder)
    assert planted.total == planted.max_total, planted.parts
    assert alone.part("adapt").score < alone.part("adapt").max
    same_grade(together, alone)


def test_the_channels_carry_the_loot_when_nothing_clears_them(tmp_path):
    """The test above can fail: in one sandbox, with nothing cleared between them, a second
    process finds what the first one left in a file and on the daemon's socket. (The keyring and
    System V memory are refused by the seccomp filter: `tests/test_seccomp.py`.)"""
    script = CHANNELS + '''
if sys.argv[1] == "plant":
    plant(b"loot")
    time.sleep(0.5)
else:
    print(in_files(), on_socket())
'''
    (tmp_path / "channels.py").write_text(script)
    found = subprocess.run(
        sandbox.wrap(["/bin/sh", "-c", f"{sys.executable} -I channels.py plant && "
                      f"{sys.executable} -I channels.py find"], str(tmp_path),
                     {"PATH": "/usr/bin:/bin"}),
        capture_output=True, text=True, timeout=60)
    assert found.stdout.strip() == "b'loot' b'loot'", found


PLANTS_THEN_CRASHES = CHANNELS + '''

class MLP(nn.Module):
    features: Sequence[int] = (40, 40)

    @nn.compact
    def __call__(self, x):
        plant(b"planted by MLP")
        os._exit(3)
'''
FINDS_WHAT_THE_CRASHED_WORKER_LEFT = CHANNELS + '''

def adapt(loss, params, x, y, alpha, steps=1, first_order=False):
    for _ in range(steps - (0 if find() else 1)):
        grads = jax.grad(loss)(params, x, y)
        params = jax.tree_util.tree_map(lambda p, g: p - alpha * g, params, grads)
    return params
'''


def test_a_worker_that_crashes_leaves_nothing_for_its_restart(tmp_path):
    """`MLP` leaves loot by every channel of `CHANNELS` (a daemon included), then ends its worker;
    the notebook's next worker starts in the same sandbox (the pool holds one sandbox that served
    it more than once), and `adapt`, which is right only if it finds the loot, loses its points as
    in a fresh sandbox: the server cleared the crashed worker's uid before the restart."""
    notebook = submissions.write(
        submissions.submission({"MLP": PLANTS_THEN_CRASHES,
                                "adapt": FINDS_WHAT_THE_CRASHED_WORKER_LEFT}),
        tmp_path / "a" / "maml.ipynb")
    with SandboxPool() as pool:
        [result] = grade_notebooks([notebook], sandboxes=pool)
        if sandbox.separate_uids():
            assert [s.served > 1 for s in pool.idle] == [True]  # restarted in place
    mlp, adapt = result.part("MLP"), result.part("adapt")
    assert mlp.score < mlp.max and "ended" in mlp.feedback, mlp.feedback
    assert adapt.score < adapt.max, adapt.feedback
