"""Probes of `adaptation_loss` (run in the sandboxed child; see `inside_sandbox.probing`)."""

from inside_sandbox.probing import (build_tree, fixture_layers, fixture_mse, float64, floats, probe,
                                    quadratic_loss, student, substitute, trusted,
                                    value_and_meta_grad)


def _value_and_grad(namespace, loss, params, task, alpha, steps, first_order, tree_spec=None):
    with trusted(namespace, adapt=substitute("trusted_adapt")):
        fn = student(namespace, "adaptation_loss")(loss, alpha, steps, first_order)
        return value_and_meta_grad(fn, params, [floats(a) for a in task], tree_spec)


@probe
def adaptation_loss_quadratic(namespace, problem, v0, task, alpha, steps, first_order):
    return _value_and_grad(namespace, quadratic_loss(problem), build_tree(problem["tree"], v0),
                           task, alpha, steps, first_order, problem["tree"])


@probe
@float64
def adaptation_loss_reference(namespace, layers, task, alpha, steps, first_order):
    return _value_and_grad(namespace, fixture_mse, fixture_layers(layers), task, alpha, steps,
                           first_order)
