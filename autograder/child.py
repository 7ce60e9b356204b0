"""The child process: runs the student's definitions and answers probe requests.

Everything here runs beside untrusted code, so nothing it says is believed: the parent only
takes the plain numbers it returns and compares them with its own expected values.

Usage (by `autograder.student_process` only):
  python -I -m autograder.child SUBMISSION_JSON REQUEST_FD RESPONSE_FD
"""

import json
import os
import sys


def _plain(value):
    """Converts arrays and scalars to JSON-ready lists and floats."""
    import numpy as np

    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (str, bool, int)) or value is None:
        return value
    array = np.asarray(value, dtype=np.float64)
    return array.tolist() if array.ndim else float(array)


def _load(statements, namespace):
    errors = []
    for statement in statements:
        try:
            exec(compile(statement["source"], f"<cell {statement['cell']}>", "exec"), namespace)
        except BaseException as error:  # noqa: BLE001 - a failing statement costs only itself
            errors.append(f"cell {statement['cell']}: {type(error).__name__}: {error}"[:300])
    return errors


def main():
    from autograder.sandbox import drop_privileges, limit_resources

    limit_resources()  # before any student code; the sandbox has no capability to raise them
    submission_path, request_fd, response_fd = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    requests = os.fdopen(request_fd, "r", encoding="utf-8")
    responses = os.fdopen(response_fd, "w", encoding="utf-8")

    def send(message):
        responses.write(json.dumps(message, allow_nan=True) + "\n")
        responses.flush()

    os.environ.setdefault("JAX_PLATFORMS", "cpu")
    from autograder import probes  # imports jax before the student's code runs

    probes.jax.jit(lambda x: x + 1)(probes.jnp.zeros(2)).block_until_ready()  # XLA works
    send({"up": True})  # before any student code: a failure until here is the grader's
    with open(submission_path, encoding="utf-8") as f:
        statements = json.load(f)
    drop_privileges()
    if "MPLCONFIGDIR" in os.environ:  # only the self-check's child: matplotlib's font list
        import matplotlib.font_manager  # noqa: F401 - builds it there, for the cache
    namespace = {"__name__": "__submission__"}
    send({"ready": True, "load_errors": _load(statements, namespace)})

    for line in requests:
        request = json.loads(line)
        try:
            if "install" in request:
                probes.install(request["install"])
            value = getattr(probes, request["probe"])(namespace, **request["args"])
            send({"id": request["id"], "ok": True, "value": _plain(value)})
        except BaseException as error:  # noqa: BLE001 - report, then serve the next request
            message = f"{type(error).__name__}: {error}".strip()
            send({"id": request["id"], "ok": False, "error": message[:400]})


if __name__ == "__main__":
    main()
