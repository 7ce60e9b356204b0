"""The grader's own versions of graded names, for checking the parts that build on them.

The parent sends this file's text to the child only with the first check of a part that declares
``USES_SUBSTITUTES`` (`autograder.parts`); it lives outside the sandbox, so student code cannot
read or call it while its own parts are graded. It is executed with jax, jnp and fixture_mse of
`inside_sandbox.probing` (`inside_sandbox.probing.define`).
"""

# ruff: noqa: F821 - names come from inside_sandbox.probing


def trusted_adapt(loss, params, x, y, alpha, steps=1, first_order=False):
    """The grader's own `adapt`, so that a bug there costs points only in `adapt`."""
    for _ in range(steps):
        grads = jax.grad(loss)(params, x, y)
        if first_order:
            grads = jax.lax.stop_gradient(grads)
        params = jax.tree_util.tree_map(lambda p, g: p - alpha * g, params, grads)
    return params


def trusted_adaptation_loss(loss, alpha, steps=1, first_order=False):
    """The grader's own `adaptation_loss`, for the same reason."""

    def objective(params, x_train, y_train, x_test, y_test):
        return loss(trusted_adapt(loss, params, x_train, y_train, alpha, steps, first_order),
                    x_test, y_test)

    return objective


def fixture_maml_meta_loss(alpha):
    """One-step, second-order MAML on the fixture network, averaged over the tasks."""

    def one_task(params, x_train, y_train, x_test, y_test):
        grads = jax.grad(fixture_mse)(params, x_train, y_train)
        adapted = jax.tree_util.tree_map(lambda p, g: p - alpha * g, params, grads)
        return fixture_mse(adapted, x_test, y_test)

    def meta_loss(params, *batch):
        return jnp.mean(jax.vmap(one_task, in_axes=(None, 0, 0, 0, 0))(params, *batch))

    return meta_loss
