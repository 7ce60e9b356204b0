"""Probes of `make_meta_train_step` (run in the sandboxed child; see `inside_sandbox.probing`)."""

import jax
import jax.numpy as jnp
import optax

from inside_sandbox.probing import (build_tree, fixture_layers, flat, flatten_like, float64, floats,
                                    probe, quadratic_loss, scalar, student, substitute)


def quadratic_meta_loss(problem):
    """A meta-loss on a whole batch: the quadratic loss with z = all four arrays flattened."""
    loss = quadratic_loss(problem)

    def meta_loss(params, x_train, y_train, x_test, y_test):
        return loss(params, jnp.concatenate([jnp.ravel(x_train), jnp.ravel(y_train)]),
                    jnp.concatenate([jnp.ravel(x_test), jnp.ravel(y_test)]))

    return meta_loss


def _optimizer(spec):
    if spec["name"] == "adam":
        return optax.adam(spec["lr"])
    if spec["name"] == "decayed_schedule":  # needs params, and its state sets each step's rate
        schedule = optax.linear_schedule(spec["lr"], spec["end_lr"], spec["transition_steps"])
        return optax.chain(optax.add_decayed_weights(spec["weight_decay"]), optax.sgd(schedule))
    return optax.sgd(spec["lr"], momentum=spec.get("momentum"))


def _run_steps(namespace, meta_loss, optimizer, params, batches, jit):
    step = student(namespace, "make_meta_train_step")(meta_loss, optimizer)
    step = jax.jit(step) if jit else step
    opt_state = jax.jit(optimizer.init)(params)  # one program, not one per eager operation
    losses = []
    for batch in batches:
        params, opt_state, loss = step(params, opt_state, tuple(floats(a) for a in batch))
        losses.append(scalar(loss))
    return params, losses


@probe
def meta_train_step_quadratic(namespace, problem, v0, batches, optimizer, jit=True):
    params, losses = _run_steps(namespace, quadratic_meta_loss(problem), _optimizer(optimizer),
                                build_tree(problem["tree"], v0), batches, jit)
    return {"losses": losses, "params": flatten_like(params, problem["tree"])}


@probe
@float64
def meta_train_step_reference(namespace, layers, batches, alpha, lr):
    params, losses = _run_steps(namespace, substitute("fixture_maml_meta_loss")(alpha),
                                optax.adam(lr), fixture_layers(layers), batches, jit=True)
    return {"losses": losses, "params": flat(params)}
