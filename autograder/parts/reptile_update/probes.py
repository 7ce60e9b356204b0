"""Probes of `reptile_update` (run in the sandboxed child; see `inside_sandbox.probing`)."""

import jax
import numpy as np

from inside_sandbox.probing import (build_tree, fixture_layers, fixture_mse, fixture_task_mean_mse,
                                    flat, flatten_like, float64, floats, probe, quadratic_loss,
                                    student, substitute, trusted)


def _reptile(namespace, loss, inner_lr, inner_steps, outer_lr):
    update = student(namespace, "reptile_update")
    return jax.jit(lambda params, X, Y: update(loss, params, X, Y, inner_lr, inner_steps, outer_lr))


@probe
def reptile_update_quadratic(namespace, problem, v0, X, Y, inner_lr, inner_steps, outer_lr):
    with trusted(namespace, adapt=substitute("trusted_adapt")):
        run = _reptile(namespace, quadratic_loss(problem), inner_lr, inner_steps, outer_lr)
        return flatten_like(run(build_tree(problem["tree"], v0), floats(X), floats(Y)), problem["tree"])


@probe
@float64
def reptile_reference(namespace, layers, batches, inner_lr, inner_steps, outer_lr):
    """Reptile updates on stored batches (support and query points together); the pooled loss
    before each update and the final parameters."""
    with trusted(namespace, adapt=substitute("trusted_adapt")):
        run = _reptile(namespace, fixture_mse, inner_lr, inner_steps, outer_lr)
        params, losses = fixture_layers(layers), []
        for x_train, y_train, x_test, y_test in batches:
            X = floats(np.concatenate([np.asarray(x_train), np.asarray(x_test)], axis=1))
            Y = floats(np.concatenate([np.asarray(y_train), np.asarray(y_test)], axis=1))
            losses.append(fixture_task_mean_mse(params, X, Y))
            params = run(params, X, Y)
        return {"losses": losses, "params": flat(params)}
