"""Probes of `imaml_meta_gradient` (run in the sandboxed child; see `inside_sandbox.probing`)."""

import jax
import jax.numpy as jnp

from inside_sandbox.probing import (build_tree, fixture_layers, fixture_mse, fixture_task_mean_mse,
                                    flat, flatten_like, float64, floats, probe, quadratic_loss,
                                    student)


def curved_loss(problem):
    """``loss(p, x, y) = sum_j a_j cosh(v_j) + 1/2 sum_j (C z)_j^2 v_j^2 - v^T B z``: its Hessian
    depends on where it is taken and on the data."""
    a, C, B = floats(problem["cosh"]), floats(problem["curvature"]), floats(problem["B"])
    tree_spec = problem["tree"]

    def loss(params, x, y):
        v = flatten_like(params, tree_spec)
        z = jnp.concatenate([jnp.ravel(x), jnp.ravel(y)])
        return jnp.sum(a * jnp.cosh(v)) + 0.5 * jnp.sum((C @ z) ** 2 * v ** 2) - v @ (B @ z)

    return jax.jit(loss)  # its body traced once, however often the student's loops call it


def _imaml(namespace, loss, lam, inner_lr, inner_steps, cg_steps):
    gradient = student(namespace, "imaml_meta_gradient")
    return lambda params, *task: gradient(loss, params, *task, lam, inner_lr, inner_steps, cg_steps)


@probe
def imaml_meta_gradient_toy(namespace, problem, v0, task, lam, inner_lr, inner_steps, cg_steps):
    loss = curved_loss(problem) if "cosh" in problem else quadratic_loss(problem)
    run = jax.jit(_imaml(namespace, loss, lam, inner_lr, inner_steps, cg_steps))
    return flatten_like(run(build_tree(problem["tree"], v0), *map(floats, task)), problem["tree"])


@probe
@float64
def imaml_reference(namespace, layers, batches, lam, inner_lr, inner_steps, cg_steps, lr):
    """SGD on the mean implicit meta-gradient over each stored meta-batch (vmapped over tasks);
    the mean query loss before each update and the final parameters."""
    one_task = _imaml(namespace, fixture_mse, lam, inner_lr, inner_steps, cg_steps)

    @jax.jit
    def step(params, batch):
        grads = jax.vmap(one_task, in_axes=(None, 0, 0, 0, 0))(params, *batch)
        mean = jax.tree_util.tree_map(lambda g: jnp.mean(g, axis=0), grads)
        return jax.tree_util.tree_map(lambda p, g: p - lr * g, params, mean)

    params, losses = fixture_layers(layers), []
    for batch in batches:
        batch = tuple(floats(a) for a in batch)
        losses.append(fixture_task_mean_mse(params, batch[2], batch[3]))
        params = step(params, batch)
    return {"losses": losses, "params": flat(params)}
