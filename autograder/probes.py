"""Probes: small trusted drivers that call one student function on inputs sent by the parent.

They run in the child process (`autograder.child`). Each builds the grader's own toy losses or
models from plain data, calls exactly one graded name, and returns plain numbers. No probe
decides anything: the parent compares what they return.
"""

import contextlib
import functools
import math

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import linen as nn


class MissingName(Exception):
    pass


def _student(namespace, name):
    if name not in namespace:
        raise MissingName(f"`{name}` is not defined in your notebook")
    return namespace[name]


# The grader's substitutes, set by `install`; None until a part that builds on them is checked.
trusted_adapt = trusted_adaptation_loss = fixture_maml_meta_loss = None


def install(source):
    """Defines the grader's own versions of graded names (sent by the parent, never on disk here).

    They exist in this process only from the first check of a part that builds on them, which comes
    after the checks of the parts they implement, so student code being graded cannot call them.
    """
    definitions = dict(globals())
    exec(compile(source, "<substitutes>", "exec"), definitions)
    globals().update({name: definitions[name] for name in ("trusted_adapt", "trusted_adaptation_loss",
                                                           "fixture_maml_meta_loss")})


@contextlib.contextmanager
def _trusted(namespace, **names):
    """Replaces the graded names a part builds on with the grader's own while it runs."""
    saved = {name: namespace.get(name, _trusted) for name in names}
    namespace.update(names)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is _trusted:
                namespace.pop(name, None)
            else:
                namespace[name] = value


def _floats(value):
    """A float array: float32, or float64 inside a `_float64` reference probe."""
    return jnp.asarray(np.asarray(value, dtype=jax.dtypes.canonicalize_dtype(np.float64)))


def _float64(probe):
    """Runs a reference probe with JAX's 64-bit mode on, so its inputs are float64.

    Code that keeps the input dtype then computes in float64, where results agree across CPUs to
    about 1e-12; float32 runs of the longer trajectories drift by up to 1e-3 between instruction
    sets (SECURITY.md, "Across machines").
    """

    @functools.wraps(probe)
    def run(namespace, **args):
        with jax.enable_x64(True):
            return probe(namespace, **args)

    return run


def _key_name(entry):
    for attribute in ("key", "name", "idx"):
        if hasattr(entry, attribute):
            return str(getattr(entry, attribute))
    return str(entry)


def _paths_and_leaves(tree):
    with_paths, _ = jax.tree_util.tree_flatten_with_path(tree)
    return {tuple(_key_name(k) for k in path): leaf for path, leaf in with_paths}


# ----- pytrees described by a spec: [[path keys], shape], in a fixed order -----

def build_tree(tree_spec, flat):
    """A nested dict with the spec's paths and shapes, filled from the vector ``flat``."""
    flat = _floats(flat)
    tree, offset = {}, 0
    for path, shape in tree_spec:
        size = math.prod(shape)
        node = tree
        for key in path[:-1]:
            node = node.setdefault(key, {})
        node[path[-1]] = flat[offset:offset + size].reshape(shape)
        offset += size
    return tree


def flatten_like(tree, tree_spec):
    """The leaves of ``tree`` in spec order as one vector; fails unless paths and shapes match."""
    leaves = _paths_and_leaves(tree)
    expected = {tuple(path): tuple(shape) for path, shape in tree_spec}
    found = {path: tuple(jnp.shape(leaf)) for path, leaf in leaves.items()}
    if found != expected:
        raise ValueError(f"the returned pytree has leaves {sorted(found.items())}, "
                         f"expected {sorted(expected.items())}")
    return jnp.concatenate([jnp.ravel(leaves[tuple(path)]) for path, _ in tree_spec])


def quadratic_loss(problem):
    """``loss(p, x, y) = 1/2 v^T A v - v^T B z``: v the leaves of p, z = [x, y] flattened."""
    A, B, tree_spec = _floats(problem["A"]), _floats(problem["B"]), problem["tree"]

    def loss(params, x, y):
        v = flatten_like(params, tree_spec)
        z = jnp.concatenate([jnp.ravel(x), jnp.ravel(y)])
        return 0.5 * v @ (A @ v) - v @ (B @ z)

    return loss


def quadratic_meta_loss(problem):
    """A meta-loss on a whole batch: the quadratic loss with z = all four arrays flattened."""
    loss = quadratic_loss(problem)

    def meta_loss(params, x_train, y_train, x_test, y_test):
        return loss(params, jnp.concatenate([jnp.ravel(x_train), jnp.ravel(y_train)]),
                    jnp.concatenate([jnp.ravel(x_test), jnp.ravel(y_test)]))

    return meta_loss


# ----- the grader's own sinusoid network, for the stored reference runs -----

class FixtureMLP:
    """A ReLU network over params ``[{"kernel", "bias"}, ...]``, with a Flax-like ``apply``."""

    def apply(self, params, x):
        for layer in params[:-1]:
            x = jax.nn.relu(x @ layer["kernel"] + layer["bias"])
        return x @ params[-1]["kernel"] + params[-1]["bias"]


def _layers(layers):
    return [{"kernel": _floats(kernel), "bias": _floats(bias)} for kernel, bias in layers]


def fixture_mse(params, x, y):
    return jnp.mean((FixtureMLP().apply(params, x) - y) ** 2)


def _flat(tree):
    return jnp.concatenate([jnp.ravel(leaf) for leaf in jax.tree_util.tree_leaves(tree)])


def _scalar(value):
    value = jnp.asarray(value)
    if value.shape != ():
        raise ValueError(f"expected a scalar loss, got an array of shape {value.shape}")
    return value


# ----- inner_step_objective -----

def _scalar_function(spec):
    if "poly" in spec:
        coeffs = jnp.asarray(spec["poly"], dtype=jnp.float32)
        return lambda x: jnp.polyval(coeffs, x)
    amplitude, frequency = spec["sin"]
    return lambda x: amplitude * jnp.sin(frequency * x)


def inner_step_objective(namespace, g, alpha, xs):
    h = _student(namespace, "inner_step_objective")(_scalar_function(g), alpha)
    values, grads = jax.jit(jax.vmap(jax.value_and_grad(lambda x: _scalar(h(x)))))(_floats(xs))
    return {"values": values, "grads": grads}


# ----- MLP -----

def _mlp(namespace, features):
    cls = _student(namespace, "MLP")
    return cls() if features is None else cls(features=tuple(features))


def _param_shapes(model):
    """The model's parameters as shapes only (`jax.eval_shape`: traced, not computed)."""
    return jax.eval_shape(model.init, jax.random.PRNGKey(0), jnp.zeros((10, 1), jnp.float32))


def mlp_structure(namespace, features, input_shapes):
    model = _mlp(namespace, features)
    params = _param_shapes(model)
    with_paths, _ = jax.tree_util.tree_flatten_with_path(params)
    return {
        "leaves": [[[_key_name(k) for k in path], list(leaf.shape)] for path, leaf in with_paths],
        "output_shapes": [list(jax.eval_shape(model.apply, params,
                                              jax.ShapeDtypeStruct(shape, jnp.float32)).shape)
                          for shape in input_shapes],
    }


def mlp_forward(namespace, features, leaves, x):
    model = _mlp(namespace, features)
    old_leaves, treedef = jax.tree_util.tree_flatten(_param_shapes(model))
    new_leaves = [_floats(value).reshape(old.shape) for value, old in zip(leaves, old_leaves)]
    return jax.jit(model.apply)(jax.tree_util.tree_unflatten(treedef, new_leaves), _floats(x))


# ----- square_error_loss -----

def square_error_loss_linear(namespace, kernel, bias, x, y):
    loss = _student(namespace, "square_error_loss")(nn.Dense(1))
    params = {"params": {"kernel": _floats(kernel), "bias": _floats(bias)}}
    value, grads = jax.jit(jax.value_and_grad(lambda p: _scalar(loss(p, _floats(x), _floats(y)))))(params)
    jitted = jax.jit(loss)(params, _floats(x), _floats(y))
    return {"value": value, "jit_value": jitted,
            "grad_kernel": grads["params"]["kernel"], "grad_bias": grads["params"]["bias"]}


@_float64
def square_error_loss_reference(namespace, layers, xs, ys):
    loss = jax.jit(_student(namespace, "square_error_loss")(FixtureMLP()))
    params = _layers(layers)
    return [_scalar(loss(params, _floats(x), _floats(y))) for x, y in zip(xs, ys)]


# ----- adapt -----

def adapt_quadratic(namespace, problem, v0, x, y, alpha, steps):
    adapt = _student(namespace, "adapt")
    loss = quadratic_loss(problem)

    @jax.jit
    def run(params, x, y):
        return adapt(loss, params, x, y, alpha, steps)

    return flatten_like(run(build_tree(problem["tree"], v0), _floats(x), _floats(y)), problem["tree"])


def adapt_outer_gradient(namespace, problem, v0, x_train, y_train, x_test, y_test, alpha, steps,
                         first_order):
    """The gradient of the grader's test loss through the student's `adapt`."""
    adapt = _student(namespace, "adapt")
    loss = quadratic_loss(problem)

    def outer(params):
        adapted = adapt(loss, params, _floats(x_train), _floats(y_train), alpha, steps,
                        first_order=first_order)
        return loss(adapted, _floats(x_test), _floats(y_test))

    return flatten_like(jax.jit(jax.grad(outer))(build_tree(problem["tree"], v0)), problem["tree"])


@_float64
def adapt_reference(namespace, layers, x, y, alpha, steps_list):
    adapt = _student(namespace, "adapt")
    params, x, y = _layers(layers), _floats(x), _floats(y)
    return [jax.jit(lambda p: fixture_mse(adapt(fixture_mse, p, x, y, alpha, steps), x, y))(params)
            for steps in steps_list]


# ----- adaptation_loss and batched_meta_loss -----

def _value_and_meta_grad(fn, params, args, tree_spec=None):
    value, grads = jax.jit(jax.value_and_grad(lambda p: _scalar(fn(p, *args))))(params)
    grads = flatten_like(grads, tree_spec) if tree_spec else _flat(grads)
    return {"value": value, "grad": grads}


def _adaptation_loss_value_and_grad(namespace, loss, params, task, alpha, steps, first_order,
                                    tree_spec=None):
    with _trusted(namespace, adapt=trusted_adapt):
        fn = _student(namespace, "adaptation_loss")(loss, alpha, steps, first_order)
        return _value_and_meta_grad(fn, params, [_floats(a) for a in task], tree_spec)


def adaptation_loss_quadratic(namespace, problem, v0, task, alpha, steps, first_order):
    return _adaptation_loss_value_and_grad(namespace, quadratic_loss(problem),
                                           build_tree(problem["tree"], v0), task, alpha, steps,
                                           first_order, problem["tree"])


@_float64
def adaptation_loss_reference(namespace, layers, task, alpha, steps, first_order):
    return _adaptation_loss_value_and_grad(namespace, fixture_mse, _layers(layers), task, alpha,
                                           steps, first_order)


def _batched_value_and_grad(namespace, loss, params, batch, alpha, steps, first_order, jit=False,
                            tree_spec=None):
    with _trusted(namespace, adapt=trusted_adapt, adaptation_loss=trusted_adaptation_loss):
        fn = _student(namespace, "batched_meta_loss")(loss, alpha, steps, first_order)
        fn = jax.jit(fn) if jit else fn
        return _value_and_meta_grad(fn, params, [_floats(a) for a in batch], tree_spec)


def batched_meta_loss_quadratic(namespace, problem, v0, batch, alpha, steps, first_order, jit=False):
    return _batched_value_and_grad(namespace, quadratic_loss(problem),
                                   build_tree(problem["tree"], v0), batch, alpha, steps,
                                   first_order, jit, problem["tree"])


@_float64
def batched_meta_loss_reference(namespace, layers, batch, alpha, steps, first_order):
    return _batched_value_and_grad(namespace, fixture_mse, _layers(layers), batch, alpha, steps,
                                   first_order)


# ----- make_meta_train_step -----

def _optimizer(spec):
    if spec["name"] == "adam":
        return optax.adam(spec["lr"])
    return optax.sgd(spec["lr"], momentum=spec.get("momentum"))


def _run_steps(namespace, meta_loss, optimizer, params, batches, jit):
    step = _student(namespace, "make_meta_train_step")(meta_loss, optimizer)
    step = jax.jit(step) if jit else step
    opt_state = optimizer.init(params)
    losses = []
    for batch in batches:
        params, opt_state, loss = step(params, opt_state, tuple(_floats(a) for a in batch))
        losses.append(_scalar(loss))
    return params, losses


def meta_train_step_quadratic(namespace, problem, v0, batches, optimizer, jit=True):
    params, losses = _run_steps(namespace, quadratic_meta_loss(problem), _optimizer(optimizer),
                                build_tree(problem["tree"], v0), batches, jit)
    return {"losses": losses, "params": flatten_like(params, problem["tree"])}


@_float64
def meta_train_step_reference(namespace, layers, batches, alpha, lr):
    params, losses = _run_steps(namespace, fixture_maml_meta_loss(alpha), optax.adam(lr),
                                _layers(layers), batches, jit=True)
    return {"losses": losses, "params": _flat(params)}


# ----- reptile_update and imaml_meta_gradient (the second notebook) -----

def cosh_loss(problem):
    """``loss(p, x, y) = sum_j a_j cosh(v_j) - v^T B z``: its Hessian depends on where it is taken."""
    a, B, tree_spec = _floats(problem["cosh"]), _floats(problem["B"]), problem["tree"]

    def loss(params, x, y):
        v = flatten_like(params, tree_spec)
        z = jnp.concatenate([jnp.ravel(x), jnp.ravel(y)])
        return jnp.sum(a * jnp.cosh(v)) - v @ (B @ z)

    return loss


def _toy_loss(problem):
    return cosh_loss(problem) if "cosh" in problem else quadratic_loss(problem)


def _reptile(namespace, loss, inner_lr, inner_steps, outer_lr):
    update = _student(namespace, "reptile_update")
    return jax.jit(lambda params, X, Y: update(loss, params, X, Y, inner_lr, inner_steps, outer_lr))


def reptile_update_quadratic(namespace, problem, v0, X, Y, inner_lr, inner_steps, outer_lr):
    with _trusted(namespace, adapt=trusted_adapt):
        run = _reptile(namespace, quadratic_loss(problem), inner_lr, inner_steps, outer_lr)
        return flatten_like(run(build_tree(problem["tree"], v0), _floats(X), _floats(Y)), problem["tree"])


@_float64
def reptile_reference(namespace, layers, batches, inner_lr, inner_steps, outer_lr):
    """Reptile updates on stored batches (support and query points together); the pooled loss
    before each update and the final parameters."""
    with _trusted(namespace, adapt=trusted_adapt):
        run = _reptile(namespace, fixture_mse, inner_lr, inner_steps, outer_lr)
        params, losses = _layers(layers), []
        for x_train, y_train, x_test, y_test in batches:
            X = jnp.concatenate([_floats(x_train), _floats(x_test)], axis=1)
            Y = jnp.concatenate([_floats(y_train), _floats(y_test)], axis=1)
            losses.append(jnp.mean(jax.vmap(fixture_mse, in_axes=(None, 0, 0))(params, X, Y)))
            params = run(params, X, Y)
        return {"losses": losses, "params": _flat(params)}


def _imaml(namespace, loss, lam, inner_lr, inner_steps, cg_steps):
    gradient = _student(namespace, "imaml_meta_gradient")
    return lambda params, *task: gradient(loss, params, *task, lam, inner_lr, inner_steps, cg_steps)


def imaml_meta_gradient_toy(namespace, problem, v0, task, lam, inner_lr, inner_steps, cg_steps):
    run = jax.jit(_imaml(namespace, _toy_loss(problem), lam, inner_lr, inner_steps, cg_steps))
    return flatten_like(run(build_tree(problem["tree"], v0), *map(_floats, task)), problem["tree"])


@_float64
def imaml_reference(namespace, layers, batches, lam, inner_lr, inner_steps, cg_steps, lr):
    """SGD on the mean implicit meta-gradient over each stored meta-batch (vmapped over tasks);
    the mean query loss before each update and the final parameters."""
    one_task = _imaml(namespace, fixture_mse, lam, inner_lr, inner_steps, cg_steps)

    @jax.jit
    def step(params, batch):
        grads = jax.vmap(one_task, in_axes=(None, 0, 0, 0, 0))(params, *batch)
        mean = jax.tree_util.tree_map(lambda g: jnp.mean(g, axis=0), grads)
        return jax.tree_util.tree_map(lambda p, g: p - lr * g, params, mean)

    params, losses = _layers(layers), []
    for batch in batches:
        batch = tuple(_floats(a) for a in batch)
        losses.append(jnp.mean(jax.vmap(fixture_mse, in_axes=(None, 0, 0))(params, batch[2], batch[3])))
        params = step(params, batch)
    return {"losses": losses, "params": _flat(params)}
