"""The instructor's implementations of every method compared in the second part of the assignment.

Outside the grader package, and so outside every sandbox (it binds only `inside_sandbox/`):
they solve `reptile_update` and `imaml_meta_gradient`. Each training loop is one `jax.jit` over
`jax.lax.scan`, with the tasks sampled on the device.
"""

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


def reptile_update(loss, params, X, Y, inner_lr, inner_steps, outer_lr):
    r"""Reptile over a batch of tasks.

    .. math:: \phi_i = \mathrm{adapt}(\theta, X_i, Y_i), \quad
       \theta \leftarrow \theta + \epsilon \, \tfrac{1}{T} \textstyle\sum_i (\phi_i - \theta)

    References:
      Nichol, Achiam and Schulman, 2018, "On First-Order Meta-Learning Algorithms".
    """
    adapted = jax.vmap(lambda x, y: adapt(loss, params, x, y, inner_lr, inner_steps))(X, Y)
    return tree_map(lambda p, phi: p + outer_lr * (jnp.mean(phi, axis=0) - p), params, adapted)


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


def make_step(method, loss, comparison):
    """``step(params, opt_state, batch) -> (params, opt_state)`` and the optimizer, per method."""
    config = comparison.meta
    adam = optax.adam(config.meta_lr)
    if method in ("maml", "first_order", "pretrained"):
        objective = (pooled_loss(loss) if method == "pretrained" else batched_meta_loss(
            loss, config.inner_lr, config.inner_steps, first_order=method == "first_order"))

        def step(params, opt_state, batch):
            grads = jax.grad(objective)(params, *batch)
            updates, opt_state = adam.update(grads, opt_state, params)
            return optax.apply_updates(params, updates), opt_state

        return step, adam
    if method == "imaml":
        gradient = imaml_batched_gradient(loss, comparison.imaml_lam, comparison.imaml_inner_lr,
                                          comparison.imaml_inner_steps, comparison.imaml_cg_steps)

        def step(params, opt_state, batch):
            updates, opt_state = adam.update(gradient(params, *batch), opt_state, params)
            return optax.apply_updates(params, updates), opt_state

        return step, adam
    if method == "reptile":
        def step(params, opt_state, batch):
            x_train, y_train, x_test, y_test = batch
            X = jnp.concatenate([x_train, x_test], axis=1)
            Y = jnp.concatenate([y_train, y_test], axis=1)
            return reptile_update(loss, params, X, Y, config.inner_lr,
                                  comparison.reptile_inner_steps, comparison.reptile_outer_lr), opt_state

        return step, optax.identity()
    raise ValueError(f"unknown method {method!r}")


def training_run(method, loss, num_steps, comparison):
    """``run(params, key) -> params``: ``num_steps`` updates of ``method`` as one `jax.lax.scan`."""
    step, optimizer = make_step(method, loss, comparison)

    def run(params, key):
        def body(carry, index):
            batch = sample_meta_batch(jax.random.fold_in(key, index), comparison.meta)
            return step(*carry, batch), None

        (params, _), _ = jax.lax.scan(body, (params, optimizer.init(params)), jnp.arange(num_steps))
        return params

    return run
