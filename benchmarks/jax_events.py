"""JAX's own events while one notebook is graded: traces, lowerings, cache hits, compiled programs.

The grader's requests to the notebook's worker are recorded in this process (around
`StudentProcess._send`) while it grades the notebook as usual, in its sandbox. Then a fresh
interpreter replays them, outside any sandbox, through the worker's own loop
(`inside_sandbox.child.serve`) with JAX's monitoring listeners on, under the child's XLA flags and
reading (never writing) the same compilation cache. A notebook whose worker was started more than
once (a hang, a crash) is replayed once per start.

    python benchmarks/jax_events.py NOTEBOOK [NOTEBOOK ...]

It prints one JSON line per notebook: ``{"path", "starts", "traces", "lowerings", "programs",
"cache_hits", "compiled", "trace_seconds", "lowering_seconds", "backend_seconds"}``, where
``programs`` counts every lowered program handed to XLA, ``compiled`` those the cache did not
have, and ``backend_seconds`` is their compiling and cache reading. Replays that outlive
`REPLAY_SECONDS` are cut off and marked ``"cut_off": true``.

    python benchmarks/jax_events.py --by-probe NOTEBOOK [NOTEBOOK ...]

prints instead one line per probe, summed over the notebooks: its requests, wall seconds, and the
same events, those of loading the notebook's definitions under ``load``.
"""

import collections
import json
import os
import pathlib
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

REPLAY_SECONDS = 300  # a busy-loop hang replays until here (the grader ends it at 20 s)
EVENTS = {  # JAX's event name: our name (durations add up into "<name>_seconds" where timed)
    "/jax/core/compile/jaxpr_trace_duration": "traces",
    "/jax/core/compile/jaxpr_to_mlir_module_duration": "lowerings",
    "/jax/compilation_cache/cache_hits": "cache_hits",
    # Every lowered program, compiled or read from the cache (its duration includes either).
    "/jax/core/compile/backend_compile_duration": "programs",
}
SECONDS = {"traces": "trace_seconds", "lowerings": "lowering_seconds",
           "programs": "backend_seconds"}


def recorded_requests(path: pathlib.Path) -> list[list[bytes]]:
    """The grader's request lines to ``path``'s worker, one list per start of a worker."""
    from autograder.grading import grade
    from autograder.isolation import student_process

    starts = []
    original = student_process.StudentProcess._send

    def recording_send(process, data, deadline):
        if data.startswith(b'{"statements"'):
            starts.append([])
        starts[-1].append(data)
        return original(process, data, deadline)

    student_process.StudentProcess._send = recording_send
    try:
        grade.grade_notebook(path)
    finally:
        student_process.StudentProcess._send = original
    return starts


def replay_environment() -> dict[str, str]:
    """The child's JAX settings: its XLA flags, the compilation cache read-only."""
    from autograder.isolation import compilation_cache, student_process

    xla_flags = student_process.sandbox_settings()[0]
    env = {**os.environ, **student_process.child_settings(xla_flags)}
    cache = compilation_cache.directory(xla_flags)
    if cache is not None:
        env.update(compilation_cache.child_env(cache))
    return env


def replay(requests: list[bytes], env: dict[str, str]) -> dict:
    """The events of one worker's requests, replayed in a fresh interpreter with ``env``."""
    with tempfile.TemporaryDirectory() as folder:
        request_file = pathlib.Path(folder, "requests")
        request_file.write_bytes(b"".join(requests))
        try:
            completed = subprocess.run(
                [sys.executable, __file__, "--replay", str(request_file)], cwd=folder,
                env=env, capture_output=True, text=True, timeout=REPLAY_SECONDS)
        except subprocess.TimeoutExpired:
            return {"cut_off": True}
    lines = completed.stdout.strip().splitlines()
    if completed.returncode != 0 or not lines:
        return {"cut_off": True}
    return json.loads(lines[-1])


def serve_counting(request_file: str) -> None:
    """In the replaying interpreter: the worker's loop on the recorded requests, counting by
    probe (``load`` before the first)."""
    import jax

    from inside_sandbox import child, probing

    by_probe = collections.defaultdict(collections.Counter)
    current = ["load"]
    run_probe = probing.run

    def timed_run(name, namespace, args):
        current[0], started = name, time.perf_counter()
        try:
            return run_probe(name, namespace, args)
        finally:
            by_probe[name]["requests"] += 1
            by_probe[name]["seconds"] += time.perf_counter() - started

    probing.run = timed_run

    def on_event(event, **_):
        if event in EVENTS:
            by_probe[current[0]][EVENTS[event]] += 1

    def on_duration(event, duration, **_):
        if event in EVENTS:
            by_probe[current[0]][EVENTS[event]] += 1
            by_probe[current[0]][SECONDS[EVENTS[event]]] += duration

    jax.monitoring.register_event_listener(on_event)
    jax.monitoring.register_event_duration_secs_listener(on_duration)
    requests = os.open(request_file, os.O_RDONLY)
    responses = os.open(os.devnull, os.O_WRONLY)
    stdout = os.dup(1)
    os.dup2(os.open(os.devnull, os.O_WRONLY), 1)  # the student's prints
    child.serve(requests, responses, probing)
    os.write(stdout, (json.dumps({"by_probe": by_probe}) + "\n").encode())


def events(path: pathlib.Path) -> dict:
    """The summed events of grading ``path`` (see the module's docstring), and by probe."""
    total, by_probe = collections.Counter(), collections.defaultdict(collections.Counter)
    starts = recorded_requests(path)
    env, cut_off = replay_environment(), False
    for requests in starts:
        found = replay(requests, env)
        cut_off |= found.pop("cut_off", False)
        for name, counts in found.get("by_probe", {}).items():
            by_probe[name].update(counts)
            total.update({key: value for key, value in counts.items()
                          if key not in ("requests", "seconds")})
    total["compiled"] = total["programs"] - total["cache_hits"]
    return {"path": str(path), "starts": len(starts), **dict(total), "cut_off": cut_off,
            "by_probe": by_probe}


def main(argv: list[str]) -> int:
    if argv[:1] == ["--replay"]:
        serve_counting(argv[1])
        return 0
    if argv[:1] != ["--by-probe"]:
        for path in argv:
            found = events(pathlib.Path(path))
            found.pop("by_probe")
            print(json.dumps(found), flush=True)
        return 0
    summed = collections.defaultdict(collections.Counter)
    for path in argv[1:]:
        for name, counts in events(pathlib.Path(path))["by_probe"].items():
            summed[name].update(counts)
    for name, counts in sorted(summed.items(), key=lambda item: -item[1]["seconds"]):
        print(json.dumps({"probe": name, **{key: round(value, 3) if isinstance(value, float)
                                             else value for key, value in counts.items()}}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
