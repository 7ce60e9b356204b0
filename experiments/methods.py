"""The instructor's implementations of every method compared in the second part of the assignment.

Outside the grader package, and so outside every sandbox (it binds only `inside_sandbox/`):
they solve `imaml_meta_gradient`. Each training loop is one `jax.jit` over
`jax.lax.scan`, with the tasks sampled on the device.
"""

import types

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax
from maml_helpers.tasks import sample_meta_batch

tree_map = jax.tree_util.tree_map


class MLP(nn.Module):
    features: tuple = (40, 40)

    @nn.compact
    def __call__(self, x):
        for width in self.features:
            x = nn.relu(nn.Dense(width)(x))
        return nn.Dense(1)(x)


def square_error_loss(model):
    def loss(params, x, y):
        return jnp.mean((model.apply(params, x) - y) ** 2)

    return loss


def adapt(loss, params, x, y, alpha, steps=1, first_order=False):
    for _ in range(steps):
        grads = jax.grad(loss)(params, x, y)
        if first_order:
            grads = jax.lax.stop_gradient(grads)
        params = tree_map(lambda p, g: p - alpha * g, params, grads)
    return params


def batched_meta_loss(loss, alpha, steps=1, first_order=False):
    def one_task(params, x_train, y_train, x_test, y_test):
        return loss(adapt(loss, params, x_train, y_train, alpha, steps, first_order), x_test, y_test)

    def meta_loss(params, *batch):
        return jnp.mean(jax.vmap(one_task, in_axes=(None, 0, 0, 0, 0))(params, *batch))

    return meta_loss


def pooled_loss(loss):
    """The pretraining baseline's objective: every point of every task in one regression."""

    def objective(params, x_train, y_train, x_test, y_test):
        x = jnp.concatenate([x_train, x_test], axis=1)
        y = jnp.concatenate([y_train, y_test], axis=1)
        return jnp.mean(jax.vmap(loss, in_axes=(None, 0, 0))(params, x, y))

    return objective


def imaml_meta_gradient(loss, params, x_train, y_train, x_test, y_test, lam, inner_lr,
                        inner_steps, cg_steps):
    r"""Implicit MAML's meta-gradient of one task.

    .. math:: \phi = \mathrm{GD}\big(L_{train}(\phi) + \tfrac{\lambda}{2}\|\phi-\theta\|^2\big),
       \quad (I + H/\lambda)\, v = \nabla L_{test}(\phi), \; H = \nabla^2 L_{train}(\phi)

    solved by ``cg_steps`` iterations of conjugate gradient on Hessian-vector products.

    References:
      Rajeswaran, Finn, Kakade and Levine, 2019, "Meta-Learning with Implicit Gradients".
    """

    def proximal(phi):
        distance = sum(jnp.sum((a - b) ** 2) for a, b in zip(
            jax.tree_util.tree_leaves(phi), jax.tree_util.tree_leaves(params)))
        return loss(phi, x_train, y_train) + lam / 2 * distance

    phi = params
    for _ in range(inner_steps):
        phi = tree_map(lambda p, g: p - inner_lr * g, phi, jax.grad(proximal)(phi))
    phi = jax.lax.stop_gradient(phi)
    test_gradient = jax.grad(loss)(phi, x_test, y_test)

    def matvec(v):
        hessian_v = jax.jvp(lambda p: jax.grad(loss)(p, x_train, y_train), (phi,), (v,))[1]
        return tree_map(lambda a, b: a + b / lam, v, hessian_v)

    solution, _ = jax.scipy.sparse.linalg.cg(matvec, test_gradient, maxiter=cg_steps)
    return solution


def imaml_batched_gradient(loss, lam, inner_lr, inner_steps, cg_steps):
    def gradient(params, x_train, y_train, x_test, y_test):
        per_task = jax.vmap(
            lambda *task: imaml_meta_gradient(loss, params, *task, lam, inner_lr, inner_steps,
                                              cg_steps))(x_train, y_train, x_test, y_test)
        return tree_map(lambda g: jnp.mean(g, axis=0), per_task)

    return gradient


def reptile_epoch_update(loss, params, x, y, inner_lr, minibatch, outer_lr):
    r"""One iteration of Reptile's sine-wave demo on one task's points ``x, y`` (shape ``(N, 1)``).

    One epoch of SGD: a step of ``inner_lr`` on each consecutive ``minibatch`` of the points (drawn
    independently, so consecutive slices are a random partition), then

    .. math:: \theta \leftarrow \theta + \epsilon\, (\phi - \theta)

    References:
      Nichol, Achiam and Schulman, 2018, "On First-Order Meta-Learning Algorithms";
      openai/supervised-reptile, ``reptile-sinewaves-demo``.
    """
    phi = params
    for start in range(0, x.shape[0], minibatch):
        phi = adapt(loss, phi, x[start:start + minibatch], y[start:start + minibatch], inner_lr)
    return tree_map(lambda p, q: p + outer_lr * (q - p), params, phi)


def linearly_annealed(rate, num_steps):
    """``rate * (1 - step / num_steps)`` at ``step``: the demo's schedule of Reptile's outer step."""
    return optax.linear_schedule(rate, 0.0, num_steps)


def make_step(method, loss, comparison):
    """``step(params, opt_state, batch) -> (params, opt_state)`` and the optimizer, per method,
    under the method's own `MethodProtocol`."""
    protocol = comparison.protocol(method)
    adam = optax.adam(protocol.outer_lr)
    if method in ("maml", "first_order", "pretrained"):
        objective = (pooled_loss(loss) if method == "pretrained" else batched_meta_loss(
            loss, protocol.inner_lr, protocol.inner_steps, first_order=method == "first_order"))

        def step(params, opt_state, batch):
            grads = jax.grad(objective)(params, *batch)
            updates, opt_state = adam.update(grads, opt_state, params)
            return optax.apply_updates(params, updates), opt_state

        return step, adam
    if method == "imaml":
        gradient = imaml_batched_gradient(loss, comparison.imaml_lam, protocol.inner_lr,
                                          protocol.inner_steps, comparison.imaml_cg_steps)

        def step(params, opt_state, batch):
            updates, opt_state = adam.update(gradient(params, *batch), opt_state, params)
            return optax.apply_updates(params, updates), opt_state

        return step, adam
    if method == "reptile":
        schedule = linearly_annealed(protocol.outer_lr, protocol.meta_steps)

        def step(params, iteration, batch):
            x_train, y_train, x_test, y_test = batch  # one task: its points, pooled
            x = jnp.concatenate([x_train, x_test], axis=1)[0]
            y = jnp.concatenate([y_train, y_test], axis=1)[0]
            return reptile_epoch_update(loss, params, x, y, protocol.inner_lr,
                                        comparison.reptile_minibatch, schedule(iteration)), iteration + 1

        return step, types.SimpleNamespace(init=lambda params: jnp.zeros((), jnp.int32))
    raise ValueError(f"unknown method {method!r}")


def training_run(method, loss, num_steps, comparison):
    """``run(params, key) -> params``: ``num_steps`` updates of ``method`` as one `jax.lax.scan`,
    each on fresh tasks drawn as its protocol says."""
    step, optimizer = make_step(method, loss, comparison)
    protocol = comparison.protocol(method)
    sampling = protocol.training_config(comparison.meta)

    def run(params, key):
        def body(carry, index):
            batch = sample_meta_batch(jax.random.fold_in(key, index), sampling)
            return step(*carry, batch), None

        (params, _), _ = jax.lax.scan(body, (params, optimizer.init(params)),
                                      jnp.arange(num_steps))
        return params

    return run
