"""Scoring adaptation on unseen tasks: query-set error after a few gradient steps."""

import functools

import jax
import numpy as np

from maml_helpers.tasks import sample_points, sample_sinusoid_tasks


def evaluation_tasks(key, num_tasks, k_shot, query_points, tasks):
    """``(x_support, y_support), (x_query, y_query)`` for ``num_tasks`` unseen tasks."""
    task_key, support_key, query_key = jax.random.split(key, 3)
    amplitude, phase = sample_sinusoid_tasks(task_key, num_tasks, tasks)
    return (sample_points(support_key, amplitude, phase, k_shot, tasks),
            sample_points(query_key, amplitude, phase, query_points, tasks))


def adaptation_errors(loss, params, adapt, support, query, alpha, steps_list):
    """``{steps: per-task query loss}`` after ``adapt(loss, params, x, y, alpha, steps)`` on each
    task's support points, for every entry of ``steps_list`` (one jitted, vmapped program,
    compiled once per ``loss``, ``adapt`` and ``steps_list``; ``alpha`` is an argument)."""
    program = _adaptation_program(loss, adapt, tuple(steps_list))
    errors = program(params, support, query, alpha)
    return {steps: np.asarray(e) for steps, e in zip(steps_list, errors)}


def tuned_rate(loss, params, adapt, support, query, rates, steps_list):
    """The test-time rate among ``rates`` with the lowest validation error, and ``{rate: [mean
    query error after each entry of steps_list], or None where some task diverged}``.

    ``support, query`` are validation tasks, never the ones a result is reported on. One rate
    serves every step count (the criterion is their mean), as one tuned step size does in the
    MAML paper's pretrained baseline.
    """
    scores = {}
    for rate in rates:
        errors = adaptation_errors(loss, params, adapt, support, query, rate, steps_list).values()
        scores[rate] = None if any(map(diverged, errors)) else [float(np.mean(e)) for e in errors]
    finite = {rate: np.mean(means) for rate, means in scores.items() if means is not None}
    return (min(finite, key=finite.get) if finite else min(rates)), scores


@functools.lru_cache(maxsize=16)
def _adaptation_program(loss, adapt, steps_list):
    @jax.jit
    def errors(params, support, query, alpha):
        def one_task(x, y, x_query, y_query):
            return [loss(adapt(loss, params, x, y, alpha, steps), x_query, y_query)
                    for steps in steps_list]

        return jax.vmap(one_task)(*support, *query)

    return errors


# Targets satisfy |y| <= 5, so a model that has not blown up has a query error far below this.
DIVERGED = 1e3


def diverged(errors):
    """Whether gradient descent blew up on some task (an infinite, NaN or absurd error)."""
    return diverged_count(errors) > 0


def mean_and_ci95(errors):
    """The mean of per-task errors and the half-width of its 95% confidence interval."""
    errors = np.asarray(errors, dtype=np.float64)
    return float(errors.mean()), float(1.96 * errors.std(ddof=1) / np.sqrt(errors.size))


def diverged_count(errors):
    """How many tasks' errors are infinite, NaN or absurd."""
    errors = np.asarray(errors)
    return int((~np.isfinite(errors) | (errors > DIVERGED)).sum())
