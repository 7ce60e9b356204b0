"""One MLIR context for every program a notebook's worker lowers.

JAX makes a fresh MLIR context for each program it lowers to MLIR
(`jax._src.interpreters.mlir.make_ir_context`), loading and registering its dialects every time:
about 5 ms of a program's lowering on the benchmark machine, and a student's worker lowers about
90 programs per notebook (BENCHMARKS.md, "Where a student's time goes"). A worker lowers one
program at a time, so it can keep one context for all of them; the lowered modules are the same
text, so their compiled programs and compilation-cache keys are too
(`tests/test_lowering.py`).

The context is made at the first lowering, in the worker: the server imports JAX but never lowers
anything, so no MLIR context or thread pool exists before the fork.
"""

from collections.abc import Callable

from jax._src.interpreters import mlir


def share_mlir_context() -> None:
    """Makes JAX lower every later program in one MLIR context (idempotent)."""
    make_context: Callable = mlir.make_ir_context
    if getattr(make_context, "shares_one_context", False):
        return
    contexts = []

    def shared_ir_context():
        if not contexts:
            contexts.append(make_context())
        return contexts[0]

    shared_ir_context.shares_one_context = True
    mlir.make_ir_context = shared_ir_context
