"""The probes' glue and the worker's lowering do what JAX would, with fewer programs.

`inside_sandbox.probing` moves the parent's numbers to the device and flattens results in NumPy,
and a worker lowers every program in one MLIR context (`inside_sandbox.lowering`); each must give
exactly the values, dtypes, errors and programs of the JAX code it replaces.
"""

import json
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from inside_sandbox import probing

TREE = [[["layer", "kernel"], [2, 3]], [["layer", "bias"], [3]], [["scale"], []]]


def compiled_programs(function) -> int:
    """How many programs JAX lowers while ``function()`` runs."""
    lowered = []

    def on_duration(event, duration, **_):
        if event == "/jax/core/compile/jaxpr_to_mlir_module_duration":
            lowered.append(duration)

    jax.monitoring.register_event_duration_secs_listener(on_duration)
    try:
        function()
    finally:
        jax.monitoring.unregister_event_duration_listener(on_duration)
    return len(lowered)


def test_floats_equal_jnp_asarray_and_compile_nothing():
    """`floats` gives jnp.asarray's values and dtype, in float32 and in float64 mode, and lowers
    no program (jnp.asarray lowers one per shape)."""
    values = [[0.1, 2.5, -3.0], [1e-8, 7.0, 3.3]]
    for x64 in (False, True):
        with jax.enable_x64(x64):
            got = []
            assert compiled_programs(lambda: got.append(probing.floats(values))) == 0
            got = got[0]
            dtype = jax.dtypes.canonicalize_dtype(np.float64)
            expected = jnp.asarray(np.asarray(values, dtype=dtype))
            assert isinstance(got, jax.Array) and got.dtype == expected.dtype
            np.testing.assert_array_equal(np.asarray(got), np.asarray(expected))


def test_build_tree_and_flatten_like_invert_each_other_without_programs():
    """A spec's tree built from a vector flattens back to that vector, bit for bit, with no
    program lowered on the way."""
    vector = np.random.default_rng(0).normal(size=10)
    trees = []
    assert compiled_programs(lambda: trees.append(probing.build_tree(TREE, vector))) == 0
    tree = trees[0]
    assert tree["layer"]["kernel"].shape == (2, 3) and tree["scale"].shape == ()
    assert all(isinstance(leaf, jax.Array) for leaf in jax.tree_util.tree_leaves(tree))
    flat = []
    assert compiled_programs(lambda: flat.append(probing.flatten_like(tree, TREE))) == 0
    np.testing.assert_array_equal(flat[0], vector.astype(np.float32))


@pytest.mark.parametrize("leaves", [
    [np.float32([1.5, 2.0]), jnp.float32([[3.0]])],
    [jnp.asarray([1.0, 2.0], jnp.float16), np.float32(4.25)],
    [np.float64([1.0 / 3.0, 2e-40]), jnp.float32([7.0])],  # float64 becomes float32 unless x64
])
def test_concatenate_leaves_equals_jnp(leaves):
    """NumPy's concatenation of computed float leaves has jnp.concatenate's values and dtype."""
    expected = jnp.concatenate([jnp.ravel(leaf) for leaf in leaves])
    got = probing.concatenate_leaves(leaves)
    assert isinstance(got, np.ndarray) and got.dtype == expected.dtype
    np.testing.assert_array_equal(got, np.asarray(expected))


@pytest.mark.parametrize("leaves", [[[1.0, 2.0]], ["ab"], []])
def test_concatenate_leaves_raises_what_jnp_raises(leaves):
    """Leaves JAX refuses (a list, a string, none at all) get JAX's own error, word for word:
    a student's feedback quotes it."""
    with pytest.raises(Exception) as jax_error:
        jnp.concatenate([jnp.ravel(leaf) for leaf in leaves])
    with pytest.raises(type(jax_error.value)) as error:
        probing.concatenate_leaves(leaves)
    assert str(error.value) == str(jax_error.value)


def test_concatenate_leaves_traces_under_jit():
    """Inside a trace the leaves are tracers and the concatenation is JAX's."""
    tree = {"a": jnp.ones((2, 2)), "b": jnp.zeros(3)}
    spec = [[["a"], [2, 2]], [["b"], [3]]]
    got = jax.jit(lambda t: probing.flatten_like(t, spec) * 2.0)(tree)
    np.testing.assert_array_equal(np.asarray(got), [2, 2, 2, 2, 0, 0, 0])


# Lowers a few programs (autodiff through a loop, a scan, float64) and prints each module's text
# with its locations, and whether JAX made one MLIR context for all of them.
LOWER_PROGRAMS = """
import json, sys
import jax, jax.numpy as jnp
from jax._src.interpreters import mlir
if sys.argv[1] == "shared":
    from inside_sandbox.lowering import share_mlir_context
    share_mlir_context()
    share_mlir_context()

def loss(w, x):
    for _ in range(3):
        w = w - 0.1 * jax.grad(lambda v: jnp.sum(jnp.tanh(x @ v) ** 2))(w)
    return jnp.mean(x @ w)

def scanned(c, xs):
    return jax.lax.scan(lambda c, x: (c * x + 1.0, c), c, xs)

texts = [jax.jit(jax.value_and_grad(loss)).lower(jnp.ones(3), jnp.ones((4, 3))).as_text(debug_info=True),
         jax.jit(scanned).lower(1.0, jnp.arange(5.0)).as_text(debug_info=True)]
with jax.enable_x64(True):
    texts.append(jax.jit(jax.hessian(loss)).lower(jnp.ones(3), jnp.ones((4, 3))).as_text(debug_info=True))
print(json.dumps({"texts": texts, "one_context": mlir.make_ir_context() is mlir.make_ir_context()}))
"""


def lowered(mode: str) -> dict:
    completed = subprocess.run([sys.executable, "-c", LOWER_PROGRAMS, mode], capture_output=True,
                               text=True, check=True, env={"JAX_PLATFORMS": "cpu", "PATH": ""})
    return json.loads(completed.stdout)


def test_one_mlir_context_lowers_the_same_modules():
    """With `share_mlir_context` every program lowers in one context, to the same module text,
    locations included, as in a fresh context each (so the same compiled programs and
    compilation-cache keys)."""
    fresh, shared = lowered("fresh"), lowered("shared")
    assert not fresh["one_context"] and shared["one_context"]
    assert shared["texts"] == fresh["texts"]
    assert len(set(fresh["texts"])) == 3


def test_fixture_mse_body_is_traced_once_however_often_it_is_called():
    """A student's loop that calls `fixture_mse` and its gradient five times binds five calls of
    one traced body (its jaxpr is the same object each time), not five copies of the network."""
    params = probing.fixture_layers([[np.ones((1, 4)).tolist(), np.zeros(4).tolist()],
                                     [np.ones((4, 1)).tolist(), np.zeros(1).tolist()]])
    x = y = jnp.ones((3, 1))

    def adapt_five_times(params):
        for _ in range(5):
            grads = jax.grad(probing.fixture_mse)(params, x, y)
            params = jax.tree_util.tree_map(lambda p, g: p - 0.1 * g, params, grads)
        return probing.fixture_mse(params, x, y)

    jaxpr = jax.make_jaxpr(adapt_five_times)(params).jaxpr
    calls = [eqn for eqn in jaxpr.eqns if eqn.primitive.name in ("jit", "pjit")]
    bodies = {id(eqn.params["jaxpr"]) for eqn in calls}
    assert len(calls) >= 6 and len(jaxpr.eqns) < 10 * len(calls)
    assert len(bodies) <= 3, len(bodies)  # the forward body, and the linearized pair of its gradient
