"""Probes of `MLP` (run in the sandboxed child; see `inside_sandbox.probing`)."""

import jax
import jax.numpy as jnp

from inside_sandbox.probing import floats, key_name, probe, student


def _mlp(namespace, features):
    cls = student(namespace, "MLP")
    return cls() if features is None else cls(features=tuple(features))


def _param_shapes(model):
    """The model's parameters as shapes only (`jax.eval_shape`: traced, not computed, from the
    shapes of a key and an input)."""
    return jax.eval_shape(model.init, jax.ShapeDtypeStruct((2,), jnp.uint32),
                          jax.ShapeDtypeStruct((10, 1), jnp.float32))


@probe
def mlp_structure(namespace, features, input_shapes):
    model = _mlp(namespace, features)
    params = _param_shapes(model)
    with_paths, _ = jax.tree_util.tree_flatten_with_path(params)
    return {
        "leaves": [[[key_name(k) for k in path], list(leaf.shape)] for path, leaf in with_paths],
        "output_shapes": [list(jax.eval_shape(model.apply, params,
                                              jax.ShapeDtypeStruct(shape, jnp.float32)).shape)
                          for shape in input_shapes],
    }


@probe
def mlp_forward(namespace, features, leaves, x):
    model = _mlp(namespace, features)
    old_leaves, treedef = jax.tree_util.tree_flatten(_param_shapes(model))
    new_leaves = [floats(value).reshape(old.shape) for value, old in zip(leaves, old_leaves)]
    return jax.jit(model.apply)(jax.tree_util.tree_unflatten(treedef, new_leaves), floats(x))
