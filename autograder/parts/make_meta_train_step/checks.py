"""`make_meta_train_step(meta_loss, optimizer)`: one optax meta-update that works under jit."""

import numpy as np

from autograder.parts import reference_runs
from autograder.parts.checking import case, fitted_step
from autograder.parts.closed_forms import (ARRAY_TREE, NESTED_TREE, flatten_task,
                                           quadratic_problem, random_task, random_vector)
from autograder.parts.make_meta_train_step.optimizers import Adam, DecayedSchedule, Momentum

K, TASKS = 2, 2
# float32 quadratics over 7 parameters for <= 4 steps; Adam divides by sqrt(v) + 1e-8 with
# gradients of size ~1, so float32 rounding stays below 1e-5.
# Measured (benchmarks/tolerance_margins.py): correct code on AVX-512, AVX2, SSE4.2 and one
# thread is within 0.071 of this tolerance; the nearest wrong implementation is at
# 1.1e3 (step_returns_loss_after_update).
RTOL, ATOL = 1e-4, 1e-5


PARAMS = {"params": NESTED_TREE}  # the steps' final parameters, flattened from this pytree


def run_case(student, seed, optimizer, steps, tree=NESTED_TREE):
    """The student's trajectory, the closed form, and what the known wrong versions give."""
    problem = quadratic_problem(seed, tree, K, extra_data=2 * TASKS)
    v0 = random_vector(seed + 100, problem.size)
    batches = [random_task(seed + 200 + i, K, TASKS) for i in range(steps)]
    got = student.probe("meta_train_step_quadratic", problem=problem.spec(), v0=v0.tolist(),
                        batches=[[a.tolist() for a in b] for b in batches], optimizer=optimizer)

    def rule():
        if optimizer["name"] == "adam":
            return Adam(optimizer["lr"])
        if optimizer["name"] == "decayed_schedule":
            return DecayedSchedule(**{k: v for k, v in optimizer.items() if k != "name"})
        return Momentum(optimizer["lr"], optimizer.get("momentum") or 0.0)

    def trajectory(loss_after=False, subtract=False, fresh_state=False, swapped=False):
        v, losses, optimizer_rule = v0, [], rule()
        for batch in batches:
            z = flatten_task(*batch)
            optimizer_rule = rule() if fresh_state else optimizer_rule
            g = problem.grad(v, z)
            updated = v + (optimizer_rule.update(v, g) if swapped else optimizer_rule.update(g, v))
            losses.append(problem.loss(updated if loss_after else v, z))
            v = 2 * v - updated if subtract else updated  # p - u, where u = updated - p
        return {"losses": np.asarray(losses), "params": v}

    mistakes = {
        "the loss after the update, not before it": trajectory(loss_after=True),
        "params - updates: optax.apply_updates adds the updates (they already point downhill)":
            trajectory(subtract=True),
        "every step starting from the initial optimizer state: return the new opt_state":
            trajectory(fresh_state=True) if steps > 1 else None,
        "updates computed from the parameters: the call must be optimizer.update(grads, "
        "opt_state, params)": trajectory(swapped=True),
    }
    if steps == 1 and optimizer["name"] == "sgd" and not optimizer.get("momentum"):
        z, want = flatten_task(*batches[0]), trajectory()
        rate = fitted_step(got.get("params") if isinstance(got, dict) else None, v0,
                           -problem.grad(v0, z))
        if rate is not None and abs(rate - optimizer["lr"]) > 1e-3 * optimizer["lr"]:
            mistakes[f"a plain gradient step of size {rate:.3g} where optax.sgd({optimizer['lr']:g}) "
                     "takes a step of its rate: the optimizer passed in is not used"] = {
                "losses": want["losses"], "params": v0 - rate * problem.grad(v0, z)}
    return got, trajectory(), mistakes


@case(points=0.75, feedback="One jitted optax.sgd step must return the updated parameters, the "
      "new optimizer state, and the meta-loss before the update.")
def test_sgd_step_returns_loss_before_update(student, compare):
    """One SGD step: params - lr * grad, and the loss at the old params."""
    got, want, mistakes = run_case(student, 31, {"name": "sgd", "lr": 0.1}, steps=1)
    compare(got, want, RTOL, ATOL, what="the step's result", case="optax.sgd(0.1), 1 step",
            layout=PARAMS, mistakes=mistakes)


@case(points=1.0, feedback="Four optax.adam steps must follow Adam's rule, each step using the "
      "optimizer state the one before returned.")
def test_adam_state_is_carried(student, compare):
    """Four Adam steps match optax.adam's update rule, so the optimizer state is carried."""
    got, want, mistakes = run_case(student, 32, {"name": "adam", "lr": 0.05}, steps=4)
    compare(got, want, RTOL, ATOL, what="the Adam trajectory", case="optax.adam(0.05), 4 steps",
            layout=PARAMS, mistakes=mistakes)


@case(points=0.25, feedback="Three steps of momentum SGD must follow its update rule, the "
      "optimizer state carried from step to step.")
def test_momentum_state_is_carried(student, compare):
    """Three momentum-SGD steps match p <- p - lr (g + 0.9 trace)."""
    got, want, mistakes = run_case(student, 33, {"name": "sgd", "lr": 0.05, "momentum": 0.9},
                                   steps=3)
    compare(got, want, RTOL, ATOL, what="the momentum trajectory",
            case="optax.sgd(0.05, momentum=0.9), 3 steps", layout=PARAMS, mistakes=mistakes)


# An optimizer no step could imitate by accident: weight decay (its update needs params) and a
# learning rate that its state changes at every step.
DISTINCTIVE = {"name": "decayed_schedule", "lr": 0.3, "end_lr": 0.05, "transition_steps": 2,
               "weight_decay": 0.2}


@case(points=0.25, feedback="The step must use the optax optimizer it is given, whatever it is: "
      "optimizer.update(grads, opt_state, params), then optax.apply_updates.")
def test_uses_the_optimizer_it_is_given(student, compare):
    """Three steps of weight decay with a scheduled rate follow that optimizer's rule; a step that
    gives the same parameters as with optax.sgd(0.1) does not use the optimizer it is given."""
    got, want, mistakes = run_case(student, 34, DISTINCTIVE, steps=3)
    with_sgd, _, _ = run_case(student, 34, {"name": "sgd", "lr": 0.1}, steps=3)
    mistakes["what your step gives with optax.sgd(0.1): the optimizer passed in is not used"] = (
        with_sgd)
    compare(got, want, RTOL, ATOL, what="the trajectory", case="weight decay 0.2 and a rate "
            "scheduled from 0.3 to 0.05, 3 steps", layout=PARAMS, mistakes=mistakes)


@case(points=0.25, feedback="params may be any pytree, a single array too: apply the updates "
      "with optax.apply_updates to the whole of params, not per dict entry.")
def test_params_as_a_single_array(student, compare):
    """With params one bare array, two optax.adam steps follow Adam's rule."""
    got, want, mistakes = run_case(student, 35, {"name": "adam", "lr": 0.05}, steps=2,
                                   tree=ARRAY_TREE)
    compare(got, want, RTOL, ATOL, what="the Adam trajectory", case="optax.adam(0.05), 2 steps",
            layout={"params": ARRAY_TREE}, mistakes=mistakes)


@case(points=0.5, feedback="Meta-training the sinusoid network for a few steps from a stored "
                           "initialisation gives losses that differ from the reference.")
def test_reference_meta_training_trajectory(student, reference_values):
    """Ten Adam meta-steps on stored meta-batches reproduce the stored losses and parameters."""
    reference_runs.check_trajectory(student, reference_values, "meta_train_step_reference",
                                    alpha=reference_runs.CONFIG.inner_lr,
                                    lr=reference_runs.CONFIG.meta_lr)
