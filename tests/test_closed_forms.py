"""The grader's own closed forms, checked against finite differences and direct iteration."""

import numpy as np

from autograder.parts.closed_forms import NESTED_TREE, quadratic_problem, random_vector
from autograder.parts.inner_step_objective.checks import expected as inner_step_expected
from autograder.parts.make_meta_train_step.optimizers import Adam


def numerical_gradient(f, v, eps=1e-6):
    return np.array([(f(v + eps * e) - f(v - eps * e)) / (2 * eps) for e in np.eye(len(v))])


def test_meta_gradient_matches_finite_differences():
    """((I - alpha A)^k)^T grad L_test(v_k) is the derivative of L_test(adapt(v)), k = 3."""
    problem = quadratic_problem(0, NESTED_TREE, 4)
    v = random_vector(1, problem.size)
    z_train, z_test = random_vector(2, 8), random_vector(3, 8)
    value, grad = problem.adaptation_loss(v, z_train, z_test, 0.2, 3, first_order=False)
    outer = lambda w: problem.loss(problem.adapt(w, z_train, 0.2, 3), z_test)  # noqa: E731
    assert np.isclose(value, outer(v))
    np.testing.assert_allclose(grad, numerical_gradient(outer, v), rtol=1e-6, atol=1e-7)
    _, first_order = problem.adaptation_loss(v, z_train, z_test, 0.2, 3, first_order=True)
    assert not np.allclose(first_order, grad, rtol=1e-2), "first- and second-order must differ"


def test_inner_step_derivative_matches_finite_differences():
    """(1 - alpha g'') g'(x - alpha g') is the derivative of g(x - alpha g'(x))."""
    for g in ({"poly": [0.2, 0.1, -0.8, 0.5, 0.0]}, {"sin": [1.5, 2.0]}):
        xs = np.array([-1.3, 0.25, 1.7])
        exact = inner_step_expected(g, 0.3, xs)
        numeric = [(inner_step_expected(g, 0.3, [x + 1e-6])["values"][0]
                    - inner_step_expected(g, 0.3, [x - 1e-6])["values"][0]) / 2e-6 for x in xs]
        np.testing.assert_allclose(exact["grads"], numeric, rtol=1e-5, atol=1e-7)


def test_adam_matches_optax():
    """The float64 Adam of the graders follows optax.adam step for step."""
    import jax.numpy as jnp
    import optax

    grads = [np.array([0.5, -2.0, 1e-3]), np.array([0.1, 1.0, -4.0]), np.array([-0.3, 0.2, 0.0])]
    params, rule = np.array([1.0, 2.0, 3.0]), Adam(0.05)
    optimizer = optax.adam(0.05)
    jax_params = jnp.asarray(params, dtype=jnp.float32)
    state = optimizer.init(jax_params)
    for g in grads:
        params = params + rule.update(g, params)
        updates, state = optimizer.update(jnp.asarray(g, dtype=jnp.float32), state)
        jax_params = optax.apply_updates(jax_params, updates)
    np.testing.assert_allclose(params, np.asarray(jax_params), rtol=1e-5)
