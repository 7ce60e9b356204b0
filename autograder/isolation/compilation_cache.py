"""A persistent XLA compilation cache that trusted grading fills and student processes only read.

Grading compiles dozens of small XLA programs per notebook, and most of a grading's time was that
compilation (BENCHMARKS.md). A program is the trace of the grader's probe around the student's
function; where a student's code traces to the same program as the reference solution's, JAX's
persistent cache (keyed by the program, the compile options, the XLA flags and the JAX version)
hands the child the executable that the reference grading compiled, bit for bit what compiling it
again would give.

Who writes: only the self-check (`autograder.grading.self_check`), which grades the instructor's
notebooks. Its child writes into a private staging folder, and the trusted parent moves each new
entry into the cache with an atomic rename once the child has ended on its own. Student children
see the entries folder read-only (bubblewrap binds it so) and are told never to write (a minimum
compile time no program reaches): a student cannot plant an executable for another student's
program. Nor can they list it (mode 0311, no read bit, and read-only so no chmod): an entry opens
only by its key, a hash of the program, so a student can load only programs they can trace
themselves, never the compiled reference solutions. The parent keeps the names in an index beside
it.

The cache lives in ``$AUTOGRADER_COMPILATION_CACHE`` (``off`` disables it), else
``$XDG_CACHE_HOME/maml-autograder`` or ``~/.cache/maml-autograder``, in a subfolder per machine
fingerprint (CPU flags, JAX and Python versions, the child's XLA flags): an executable compiled for
one CPU is never loaded on another that shares the folder.

matplotlib's font list rides along: the child's home is a fresh scratch folder, where matplotlib
would rebuild it (0.7 s) in every child that imports it; the self-check's child builds it once into
the cache, and each child gets a copy.
"""

import functools
import hashlib
import os
import pathlib
import platform
import shutil
import sys

SETTING = "AUTOGRADER_COMPILATION_CACHE"
ENTRY_SUFFIX = "-cache"  # JAX's file name for an entry: <key>-cache
ENTRIES = "entries"  # subfolder JAX reads, bound read-only into students' sandboxes
INDEX = "index"  # the entries' names, one per line (the parent's list: the folder is unlistable)
MATPLOTLIB = "matplotlib"  # subfolder with matplotlib's font list
UNLISTABLE = 0o311  # write and search for the owner (the parent), search for everyone


@functools.cache  # read once per process, not per sandbox
def _cpu_flags():
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith(("flags", "Features")):
                    return " ".join(sorted(line.split(":", 1)[1].split()))
    except OSError:
        pass
    return platform.processor()


@functools.cache
def _versions():
    from importlib import metadata

    return [f"{name}=={metadata.version(name)}" for name in ("jax", "jaxlib", "matplotlib")]


def fingerprint(xla_flags: str) -> str:
    """What an executable compiled here depends on, as 16 hex digits."""
    text = "\n".join([platform.machine(), _cpu_flags(), sys.version, *_versions(), xla_flags])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def directory(xla_flags: str) -> pathlib.Path | None:
    """The cache folder for children run with ``xla_flags`` (created), or None when turned off."""
    setting = os.environ.get(SETTING, "")
    if setting.lower() == "off":
        return None
    if setting:
        base = pathlib.Path(setting)
    else:
        base = pathlib.Path(os.environ.get("XDG_CACHE_HOME") or pathlib.Path.home() / ".cache")
        base = base / "maml-autograder"
    folder = base / fingerprint(xla_flags)
    try:
        for sub in (ENTRIES, MATPLOTLIB):
            (folder / sub).mkdir(parents=True, exist_ok=True)
        for path in (base, folder, folder / MATPLOTLIB):  # the sandbox's uid must read them
            path.chmod(path.stat().st_mode | 0o755)
        (folder / ENTRIES).chmod(UNLISTABLE)
        (folder / INDEX).touch()
    except OSError as error:
        print(f"autograder: compilation cache {folder} unusable ({error}); compiling everything",
              file=sys.stderr, flush=True)
        return None
    return folder


def child_env(folder: pathlib.Path, staging: pathlib.Path | None = None) -> dict[str, str]:
    """JAX's settings for a child: read ``folder``'s entries; write new ones to ``staging`` if
    given (then it reads those there instead)."""
    env = {"JAX_COMPILATION_CACHE_DIR": str(staging or folder / ENTRIES),
           "JAX_COMPILATION_CACHE_MAX_SIZE": "-1",  # no eviction: it writes access times
           "JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES": "0",
           # Else JAX puts a GPU cache path (this folder) in the compile options, hence in the key.
           "JAX_PERSISTENT_CACHE_ENABLE_XLA_CACHES": "none",
           # A student's child never writes: no program takes this long to compile.
           "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0" if staging else "1e9"}
    if staging:
        env["MPLCONFIGDIR"] = str(staging / MATPLOTLIB)
    return env


def names(folder: pathlib.Path) -> set[str]:
    """The names of the entries in ``folder`` (from its index)."""
    listed = (folder / INDEX).read_text(encoding="utf-8").split()
    return list(dict.fromkeys(n for n in listed if n.endswith(ENTRY_SUFFIX) and "/" not in n))


def prepare_staging(folder: pathlib.Path, staging: pathlib.Path) -> None:
    """Copies the current entries into ``staging``, so that the filling child reads them too."""
    for name in names(folder):
        try:
            shutil.copyfile(folder / ENTRIES / name, staging / name)
        except FileNotFoundError:
            pass  # deleted by hand: compiled again


def copy_font_list(folder: pathlib.Path, home: pathlib.Path) -> None:
    """Puts the cached matplotlib font list where a child with ``home`` looks for it."""
    for font_list in (folder / MATPLOTLIB).glob("fontlist-*.json"):
        target = home / ".cache" / "matplotlib"
        target.mkdir(parents=True, exist_ok=True)
        for path in (target.parent, target):  # matplotlib wants it writable (the child's uid)
            path.chmod(0o777)
        shutil.copyfile(font_list, target / font_list.name)
        (target / font_list.name).chmod(0o644)


def publish(staging: pathlib.Path, folder: pathlib.Path) -> int:
    """Moves the entries a trusted child wrote in ``staging`` into ``folder``; returns how many.
    Call it only once that child has ended on its own (JAX writes an entry in place).

    Each entry is copied to a temporary name beside its destination and renamed, so a reader never
    sees half a file; an entry already there is kept (same key, same program).
    """
    published = []
    sources = [(source, folder / ENTRIES / source.name)
               for source in staging.glob(f"*{ENTRY_SUFFIX}")]
    sources += [(source, folder / MATPLOTLIB / source.name)
                for source in (staging / MATPLOTLIB).glob("fontlist-*.json")]
    for source, destination in sources:
        if not source.is_file() or source.is_symlink() or destination.exists():
            continue
        temporary = destination.with_name(f".{destination.name}.{os.getpid()}.tmp")
        shutil.copyfile(source, temporary)
        temporary.chmod(0o644)
        os.replace(temporary, destination)
        published.append(destination.name)
    lines = "".join(f"{name}\n" for name in published if name.endswith(ENTRY_SUFFIX))
    index = os.open(folder / INDEX, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:  # one write(2) in append mode: concurrent self-checks never interleave their lines
        os.write(index, lines.encode())
    finally:
        os.close(index)
    return len(published)


def entries(folder: pathlib.Path) -> int:
    """The number of compiled programs in ``folder``."""
    return len(names(folder))
