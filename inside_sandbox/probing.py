"""The toolkit of the probes: small trusted drivers that call one student function on inputs sent
by the parent and return plain numbers.

Each graded part's probes live in its own folder of the grader (``autograder/parts/<part>/
probes.py``); the parent sends their source with the first request of that part (`define`), and
they register here with `probe`. No probe decides anything: the parent compares what they return.
The grader's own versions of graded names (``autograder/parts/substitutes.py``) arrive the same
way, with the first part that builds on them, never earlier.
"""

import contextlib
import functools
import math
import types
from collections.abc import Callable, Iterator
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax  # noqa: F401 - imported once, before any student code (the parts' probes use it)
from flax import linen as nn  # noqa: F401 - likewise

# The probes of the parts defined so far, by name; only these can be requested.
PROBES: dict[str, Callable] = {}
# The grader's own versions of graded names, once a part that builds on them is defined.
SUBSTITUTES: dict[str, Callable] = {}


class MissingName(Exception):
    """The notebook does not define a graded name."""


def probe(function: Callable) -> Callable:
    """Registers ``function(namespace, **args)`` as a probe under its own name."""
    if function.__name__ in PROBES:
        raise ValueError(f"two probes are named {function.__name__}")
    PROBES[function.__name__] = function
    return function


def define(part: str, probes: str, substitutes: str | None = None) -> None:
    """Runs a part's probe source (registering its probes), after the substitutes it needs."""
    if substitutes is not None and not SUBSTITUTES:
        definitions = {"jax": jax, "jnp": jnp, "fixture_mse": fixture_mse}
        exec(compile(substitutes, "<substitutes>", "exec"), definitions)
        SUBSTITUTES.update({name: value for name, value in definitions.items()
                            if name.startswith(("trusted_", "fixture_maml"))})
    module = types.ModuleType(f"probes of {part}")
    exec(compile(probes, f"<probes of {part}>", "exec"), vars(module))


def run(name: str, namespace: dict, args: dict) -> Any:
    """The value of probe ``name`` on the student's ``namespace``."""
    if name not in PROBES:
        raise LookupError(f"the grader asked for an unknown probe {name!r}")
    return PROBES[name](namespace, **args)


def describe(error: BaseException) -> dict:
    """An error as it crosses to the parent: its kind and a message for the student."""
    if isinstance(error, MissingName):
        return {"kind": "missing_name", "error": str(error)[:400]}
    kind = "not_implemented" if isinstance(error, NotImplementedError) else "raised"
    return {"kind": kind, "error": f"{type(error).__name__}: {error}".strip()[:400]}


def student(namespace: dict, name: str) -> Any:
    """The student's definition of graded ``name``."""
    if name not in namespace:
        raise MissingName(f"`{name}` is not defined in your notebook")
    return namespace[name]


def substitute(name: str) -> Callable:
    """The grader's own version of a graded name (`define` has installed it)."""
    return SUBSTITUTES[name]


@contextlib.contextmanager
def trusted(namespace: dict, **names: Callable) -> Iterator[None]:
    """Replaces the graded names a part builds on with the grader's own while it runs."""
    saved = {name: namespace.get(name, trusted) for name in names}
    namespace.update(names)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is trusted:
                namespace.pop(name, None)
            else:
                namespace[name] = value


def floats(value: Any) -> jax.Array:
    """A float array: float32, or float64 inside a `float64` reference probe.

    Put on the device as it is (`jax.device_put`): `jnp.asarray` of a NumPy array would compile
    a program for each shape outside a trace.
    """
    return jax.device_put(np.asarray(value, dtype=jax.dtypes.canonicalize_dtype(np.float64)))


def float64(probe_function: Callable) -> Callable:
    """Runs a reference probe with JAX's 64-bit mode on, so its inputs are float64.

    Code that keeps the input dtype then computes in float64, where results agree across CPUs to
    about 1e-12; float32 runs of the longer trajectories drift by up to 1e-3 between instruction
    sets (SECURITY.md, "Across machines").
    """

    @functools.wraps(probe_function)
    def run_in_float64(namespace, **args):
        with jax.enable_x64(True):
            return probe_function(namespace, **args)

    return run_in_float64


def key_name(entry: Any) -> str:
    for attribute in ("key", "name", "idx"):
        if hasattr(entry, attribute):
            return str(getattr(entry, attribute))
    return str(entry)


def _paths_and_leaves(tree):
    with_paths, _ = jax.tree_util.tree_flatten_with_path(tree)
    return {tuple(key_name(k) for k in path): leaf for path, leaf in with_paths}


# ----- pytrees described by a spec: [[path keys], shape], in a fixed order -----

def build_tree(tree_spec: list, flat: Any) -> Any:
    """A nested dict with the spec's paths and shapes, filled from the vector ``flat``; one leaf
    with an empty path is the whole tree (params as a single array). Cut in NumPy, then put on
    the device (`floats`)."""
    flat = np.asarray(flat, dtype=jax.dtypes.canonicalize_dtype(np.float64))
    if len(tree_spec) == 1 and not tree_spec[0][0]:
        return floats(flat.reshape(tree_spec[0][1]))
    tree, offset = {}, 0
    for path, shape in tree_spec:
        size = math.prod(shape)
        node = tree
        for key in path[:-1]:
            node = node.setdefault(key, {})
        node[path[-1]] = floats(flat[offset:offset + size].reshape(shape))
        offset += size
    return tree


def flatten_like(tree: Any, tree_spec: list) -> Any:
    """The leaves of ``tree`` in spec order as one vector; fails unless paths and shapes match."""
    leaves = _paths_and_leaves(tree)
    expected = {tuple(path): tuple(shape) for path, shape in tree_spec}
    found = {path: tuple(jnp.shape(leaf)) for path, leaf in leaves.items()}
    if found != expected:
        raise ValueError(f"the returned pytree has leaves {sorted(found.items())}, "
                         f"expected {sorted(expected.items())}")
    return concatenate_leaves([leaves[tuple(path)] for path, _ in tree_spec])


def _float_array(leaf: Any) -> bool:
    """A computed (not traced) JAX or NumPy array of floats."""
    return (isinstance(leaf, (jax.Array, np.ndarray, np.generic))
            and not isinstance(leaf, jax.core.Tracer)
            and getattr(leaf.dtype, "kind", None) == "f")


def concatenate_leaves(leaves: list) -> Any:
    """``jnp.concatenate([jnp.ravel(leaf) for leaf in leaves])``: the same values and dtype, in
    NumPy when every leaf is a computed float array (JAX would compile a program per shape);
    anything else (tracers, scalars, other dtypes, no leaf) goes to JAX, errors included."""
    if not leaves or not all(_float_array(leaf) for leaf in leaves):
        return jnp.concatenate([jnp.ravel(leaf) for leaf in leaves])
    dtype = jnp.result_type(*leaves)
    return np.concatenate([np.ravel(np.asarray(leaf, dtype=dtype)) for leaf in leaves])


def quadratic_loss(problem: dict) -> Callable:
    """``loss(p, x, y) = 1/2 v^T A v - v^T B z``: v the leaves of p, z = [x, y] flattened."""
    A, B, tree_spec = floats(problem["A"]), floats(problem["B"]), problem["tree"]

    def loss(params, x, y):
        v = flatten_like(params, tree_spec)
        z = jnp.concatenate([jnp.ravel(x), jnp.ravel(y)])
        return 0.5 * v @ (A @ v) - v @ (B @ z)

    return loss


# ----- the grader's own sinusoid network, for the stored reference runs -----

class FixtureMLP:
    """A ReLU network over params ``[{"kernel", "bias"}, ...]``, with a Flax-like ``apply``."""

    def apply(self, params, x):
        for layer in params[:-1]:
            x = jax.nn.relu(x @ layer["kernel"] + layer["bias"])
        return x @ params[-1]["kernel"] + params[-1]["bias"]


def fixture_layers(nested: list) -> list:
    """The fixture network's parameters from ``[[kernel, bias], ...]`` as nested lists."""
    return [{"kernel": floats(kernel), "bias": floats(bias)} for kernel, bias in nested]


@jax.jit  # traced once per probe, not once per call of the student's loops (its grads likewise)
def fixture_mse(params: list, x: jax.Array, y: jax.Array) -> jax.Array:
    return jnp.mean((FixtureMLP().apply(params, x) - y) ** 2)


@jax.jit
def fixture_task_mean_mse(params: list, xs: jax.Array, ys: jax.Array) -> jax.Array:
    """The mean over tasks (the first axis of ``xs`` and ``ys``) of `fixture_mse`, one program."""
    return jnp.mean(jax.vmap(fixture_mse, in_axes=(None, 0, 0))(params, xs, ys))


def flat(tree: Any) -> Any:
    return concatenate_leaves(jax.tree_util.tree_leaves(tree))


def scalar(value: Any) -> jax.Array:
    value = jnp.asarray(value)
    if value.shape != ():
        raise ValueError(f"expected a scalar loss, got an array of shape {value.shape}")
    return value


def value_and_meta_grad(fn: Callable, params: Any, args: list, tree_spec: list | None = None) -> dict:
    """``fn(params, *args)`` and its gradient in ``params``, flattened, under one jit."""
    value, grads = jax.jit(jax.value_and_grad(lambda p: scalar(fn(p, *args))))(params)
    grads = flatten_like(grads, tree_spec) if tree_spec else flat(grads)
    return {"value": value, "grad": grads}
