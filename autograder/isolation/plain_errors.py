"""An exception of the student's code in plain words: the likely cause first, the inputs the check
gave (their shapes), then Python's own message without the grader's internals.

Runs in the trusted parent, on the ``Type: message`` text the child reports.
"""

import re

import numpy as np

# (pattern of Python's or JAX's message, what it most likely means for this assignment's code
# [, what it means where the check's inputs have no task axis])
READINGS = [
    (r"vmap was requested to map its argument along axis \d+, which implies that its rank should "
     r"be at least \d+, but is only 0",
     "jax.vmap mapped an argument that has no task axis, such as the shared parameters: give "
     "in_axes=(None, 0, 0, 0, 0)"),
    (r"vmap got inconsistent sizes for array axes to be mapped",
     "jax.vmap mapped arguments whose axes differ in size: map the task axis 0 of the data and "
     "share the parameters (in_axes=None)"),
    (r"dot_general requires contracting dimensions to have the same shape|"
     r"Incompatible shapes for broadcasting|incompatible shapes",
     "shapes that do not line up: one array seems mapped over the wrong axis, not mapped at all, "
     "or merged into K; map axis 0 of every (T, K, 1) array",
     "shapes that do not line up: print the .shape of the arrays in that line"),
    (r"unsupported operand type\(s\) for .*'dict'|unsupported operand type\(s\) for .*FrozenDict",
     "arithmetic on a whole pytree (a dict of parameters): apply it leaf by leaf with "
     "jax.tree_util.tree_map"),
    (r"TracerBoolConversionError|ConcretizationTypeError|TracerIntegerConversionError",
     "a Python if, while, bool(), int(), float() or .item() on a traced value; graded code runs "
     "under jax.jit, grad and vmap: use jnp.where or jax.lax.cond"),
    (r"CallCompactUnboundModuleError|Can't call compact methods on unbound modules",
     "a Flax module was called directly: evaluate it with model.apply(params, x)"),
    (r"expected a scalar loss, got an array of shape",
     "the loss must be one number: average over every axis (jnp.mean with no axis)"),
    (r"requires the current value of parameters, but you are not passing `params`",
     "optimizer.update was called without params, which weight decay needs: call "
     "optimizer.update(grads, opt_state, params)"),
    (r"Indexer must have integer or boolean type|unhashable type: '\w*(?:Tracer|Array\w*)'",
     "params were walked as a dict (by key or name), but params may be any pytree, here a "
     "single array: step it leaf by leaf with jax.tree_util.tree_map"),
    (r"the returned pytree has leaves \[\(\('0',",
     "the result is wrapped in a tuple or list (jax.scipy.sparse.linalg.cg, for one, returns "
     "(x, info)): return the pytree itself"),
    (r"the returned pytree has leaves",
     "the result's pytree differs from the parameters': return one array per leaf of params, "
     "with the same keys and shapes"),
    (r"missing \d+ required positional argument|takes \d+ positional arguments? but \d+ "
     r"(?:were|was) given|got an unexpected keyword argument",
     "the function was called with the arguments the assignment specifies and its signature "
     "differs: keep the names and order of the template"),
]

# Parts of a message that point into the grader's code, or at documentation rather than the bug.
_INTERNALS = [
    r"The error occurred while tracing the function [^\n]* at <probes of [^>]*>[^\n]*?\.",
    r"<probes of [^>]*>:\d+",
    r"<substitutes>:\d+",
    r"\(?https?://\S+\)?",
    r"(?:/[\w.+-]+)+\.py(?::\d+)?",
    r"See https?://\S+",
]


def plain_reading(message: str, inputs: str = "") -> str | None:
    """The likely cause of an exception whose ``Type: message`` is ``message``, or None. A
    reading about the task axis applies only when the check's ``inputs`` (`describe_inputs`) have
    one; others get a plain one."""
    for pattern, reading, *without_tasks in READINGS:
        if re.search(pattern, message):
            if without_tasks and inputs and "(T, K, 1)" not in inputs:
                return without_tasks[0]
            return reading
    return None


def without_internals(message: str) -> str:
    """``message`` with the grader's file names, line numbers and links removed, on one line."""
    for pattern in _INTERNALS:
        message = re.sub(pattern, "", message)
    return " ".join(message.split())


# How the checks name the data they pass (the probes' arguments), in the assignment's words.
_SPLITS = {"batch": ("X_train, Y_train, X_test, Y_test", "(T, K, 1)"),
           "task": ("x_train, y_train, x_test, y_test", "(K, 1)")}


def describe_inputs(args: dict) -> str:
    """The shapes of the arrays a check passed: ``X_train, Y_train, X_test, Y_test each (T, K,
    1) = (4, 3, 1)``; empty when it passed none worth naming."""
    described = []
    for name, value in args.items():
        if name == "batches" and value:
            name, value = "batch", value[0]
        if name in _SPLITS and isinstance(value, list) and len(value) == 4:
            names, axes = _SPLITS[name]
            shape = _shape(value[0])
            if shape is not None:
                described.append(f"{names} each {axes} = {shape}")
        elif name in ("x", "y", "X", "Y", "xs", "ys", "x_train", "y_train", "x_test", "y_test"):
            shape = _shape(value)
            if shape is not None and shape != ():
                tasks = " (T, K, 1) =" if name in ("X", "Y") and len(shape) == 3 else ""
                described.append(f"{name}{tasks} {shape}")
    return ", ".join(described)


def _shape(value) -> tuple | None:
    try:
        return tuple(np.shape(np.asarray(value, dtype=np.float64)))
    except (TypeError, ValueError):
        return None
