"""Probes of `adapt` (run in the sandboxed child; see `inside_sandbox.probing`)."""

import jax

from inside_sandbox.probing import (build_tree, fixture_layers, fixture_mse, flatten_like, float64,
                                    floats, probe, quadratic_loss, student)


@probe
def adapt_quadratic(namespace, problem, v0, x, y, alpha, steps):
    adapt = student(namespace, "adapt")
    loss = quadratic_loss(problem)

    @jax.jit
    def run(params, x, y):
        return adapt(loss, params, x, y, alpha, steps)

    return flatten_like(run(build_tree(problem["tree"], v0), floats(x), floats(y)), problem["tree"])


@probe
def adapt_outer_gradient(namespace, problem, v0, x_train, y_train, x_test, y_test, alpha, steps,
                         first_order):
    """The gradient of the grader's test loss through the student's `adapt`."""
    adapt = student(namespace, "adapt")
    loss = quadratic_loss(problem)

    def outer(params):
        adapted = adapt(loss, params, floats(x_train), floats(y_train), alpha, steps,
                        first_order=first_order)
        return loss(adapted, floats(x_test), floats(y_test))

    return flatten_like(jax.jit(jax.grad(outer))(build_tree(problem["tree"], v0)), problem["tree"])


@probe
@float64
def adapt_reference(namespace, layers, x, y, alpha, steps_list):
    adapt = student(namespace, "adapt")
    params, x, y = fixture_layers(layers), floats(x), floats(y)
    return [jax.jit(lambda p: fixture_mse(adapt(fixture_mse, p, x, y, alpha, steps), x, y))(params)
            for steps in steps_list]
