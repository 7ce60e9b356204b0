"""`imaml_meta_gradient(loss, params, x_train, y_train, x_test, y_test, lam, inner_lr,
inner_steps, cg_steps)`: implicit MAML's meta-gradient of one task.

Closed forms: on the quadratic ``1/2 v^T A v - v^T B z`` and on ``sum a cosh(v) - v^T B z`` (whose
Hessian depends on the point), proximal gradient descent and ``cg_steps`` conjugate-gradient
iterations on ``(I + H(phi)/lam) x = grad L_test(phi)`` are computed in float64
(`closed_form.imaml_meta_gradient`, beside this file). Inner solutions are deliberately not
converged, so the exact minimiser, or differentiating through the inner loop, gives other values.
"""

import numpy as np

from autograder.parts import closed_forms, reference_runs
from autograder.parts.checking import case
from autograder.parts.closed_forms import FLAT_TREE, NESTED_TREE, flatten_task
from autograder.parts.imaml_meta_gradient.closed_form import (CoshLoss, conjugate_gradient, hessian,
                                                              imaml_meta_gradient, inner_solution)

K = 3
# float32 CG on 7x7 systems with condition number <= 5: agrees with float64 to about 1e-5.
# Measured (benchmarks/tolerance_margins.py): correct code on AVX-512, AVX2, SSE4.2 and one
# thread is within 0.025 of this tolerance; the nearest wrong implementation is at
# 2.8
# (imaml_differentiates_through_inner_loop).
RTOL, ATOL = 1e-3, 1e-4
# The reference run's proximal term is strong enough (lam = 10) that I + H/lam is well conditioned
# at the reference initialisation: float32 code's run is then within 0.00035 of the reference
# tolerance on every CPU tried (nearest wrong: 40, imaml_no_proximal_term), where at lam = 2 it
# drifted by 1e-3 between instruction sets, 6 times the tolerance.
REFERENCE = dict(lam=10.0, inner_lr=0.05, inner_steps=5, cg_steps=5, lr=0.01)


def imaml_mistakes(problem, v0, z_train, z_test, lam, inner_lr, inner_steps, cg_steps):
    """What known wrong versions of `imaml_meta_gradient` return (None: same as correct)."""
    phi = inner_solution(problem, v0, z_train, lam, inner_lr, inner_steps)
    b, eye = problem.grad(phi, z_test), np.eye(problem.size)

    def cg(system, rhs=b, x0=None):
        return conjugate_gradient(lambda x: system @ x, rhs, cg_steps, x0)

    def unrolled():
        """The gradient of L_test(phi) through the inner loop's iterations (no implicit step)."""
        point, jacobian = v0.copy(), eye
        for _ in range(inner_steps):
            step = eye - inner_lr * (hessian(problem, point) + lam * eye)
            jacobian = step @ jacobian + inner_lr * lam * eye
            point = point - inner_lr * (problem.grad(point, z_train) + lam * (point - v0))
        return jacobian.T @ b

    def inner_loop(pull):
        """phi after the inner steps with the proximal gradient ``pull * lam (phi - params)``."""
        point = v0.copy()
        for _ in range(inner_steps):
            point = point - inner_lr * (problem.grad(point, z_train) + pull * lam * (point - v0))
        return point

    def solve_at(point):
        return cg(eye + hessian(problem, point) / lam, problem.grad(point, z_test))

    plain, doubled, pushed = inner_loop(0.0), inner_loop(2.0), inner_loop(-1.0)
    system = eye + hessian(problem, phi) / lam
    truncated = cg_steps < problem.size  # else CG from any start is the exact solution
    return {
        "solving (I + lam H) v = g: the Hessian must be divided by lam, not multiplied":
            cg(eye + lam * hessian(problem, phi)),
        "an inner loop without the proximal term lam/2 ||phi - params||^2": solve_at(plain),
        "an inner loop with lam ||phi - params||^2, not lam/2 ||phi - params||^2":
            solve_at(doubled),
        "an inner loop whose proximal gradient is lam (params - phi): it must be lam (phi - params)":
            solve_at(pushed),
        "solving (2I + H/lam) v = g: the system's matrix is I + H/lam, not the Hessian of the "
        "proximal objective over lam": cg(2 * eye + hessian(problem, phi) / lam),
        "the test gradient at phi itself: the linear system was not solved": b,
        "Hessian-vector products taken at params, not at the inner solution phi":
            cg(eye + hessian(problem, v0) / lam),
        "conjugate gradient started from the test gradient, not from zero":
            cg(system, x0=b) if truncated else None,
        "the exact solution of the system, not cg_steps iterations of conjugate gradient":
            np.linalg.solve(system, b) if truncated else None,
        "the gradient through the unrolled inner loop, not the implicit gradient": unrolled(),
    }


def imaml_case(student, compare, problem, seed, lam, inner_lr, inner_steps, cg_steps):
    v0 = closed_forms.random_vector(seed + 100, problem.size, scale=0.5)
    task = [a[0] for a in closed_forms.random_task(seed + 200, K)]
    got = student.probe("imaml_meta_gradient_toy", problem=problem.spec(), v0=v0.tolist(),
                        task=[a.tolist() for a in task], lam=lam, inner_lr=inner_lr,
                        inner_steps=inner_steps, cg_steps=cg_steps)
    z_train, z_test = flatten_task(*task[:2]), flatten_task(*task[2:])
    arguments = (problem, v0, z_train, z_test, lam, inner_lr, inner_steps, cg_steps)
    compare(got, imaml_meta_gradient(*arguments), RTOL, ATOL, what="the implicit meta-gradient",
            case=f"lam = {lam:g}, inner_lr = {inner_lr:g}, inner_steps = {inner_steps}, "
                 f"cg_steps = {cg_steps}", layout=problem.tree, mistakes=imaml_mistakes(*arguments))


def unknowns(tree):
    """"Converged" solves run as many CG iterations as unknowns: exact in exact arithmetic, while
    more iterations would divide by residuals that float32 has rounded to zero."""
    return closed_forms.tree_size(tree)


def quadratic(seed, tree=NESTED_TREE):
    return closed_forms.quadratic_problem(seed, tree, K)


@case(points=1.5, feedback="From params, inner_steps gradient steps on loss + lam/2 ||phi - "
      "params||^2 give phi; then CG solves (I + H/lam) v = grad L_test(phi), phi held constant.")
def test_quadratic_with_converged_solve(student, compare):
    """With enough CG iterations the result is (I + A/lam)^-1 grad L_test(phi), lam = 2."""
    imaml_case(student, compare, quadratic(31), seed=31, lam=2.0, inner_lr=0.1, inner_steps=3,
               cg_steps=unknowns(NESTED_TREE))


@case(points=1.0, feedback="The proximal inner problem's gradient is grad loss(phi) + "
      "lam * (phi - params), with phi starting from params, for strong and weak lam.")
def test_proximal_term_strength(student, compare):
    """A strong and a weak proximal term (lam = 10 and 0.5) both give the closed form."""
    imaml_case(student, compare, quadratic(32, FLAT_TREE), seed=32, lam=10.0, inner_lr=0.05,
               inner_steps=4, cg_steps=unknowns(FLAT_TREE))
    imaml_case(student, compare, quadratic(33, FLAT_TREE), seed=33, lam=0.5, inner_lr=0.2, inner_steps=4,
               cg_steps=unknowns(FLAT_TREE))


@case(points=1.0, feedback="The conjugate gradient must start from zero and run exactly "
      "cg_steps iterations, using only Hessian-vector products.")
def test_truncated_conjugate_gradient(student, compare):
    """With cg_steps = 2 the result is CG's second iterate from zero, not the exact solution."""
    imaml_case(student, compare, quadratic(34), seed=34, lam=1.0, inner_lr=0.1, inner_steps=2, cg_steps=2)


@case(points=1.0, feedback="On a loss whose Hessian changes from point to point, the "
      "Hessian-vector products must be those of the inner solution phi.")
def test_hessian_at_the_inner_solution(student, compare):
    """On a cosh loss, whose Hessian changes with the point, H is taken at phi."""
    problem = CoshLoss.random(35, NESTED_TREE, 2 * K)
    imaml_case(student, compare, problem, seed=35, lam=1.0, inner_lr=0.3, inner_steps=4,
               cg_steps=unknowns(NESTED_TREE))


@case(points=1.5, feedback="Five SGD steps on the mean implicit meta-gradient of the sinusoid "
      "network give losses or parameters that differ from the reference run.")
def test_reference_training_trajectory(student, reference_values):
    """Five jitted, vmapped meta-updates on stored meta-batches match the stored run."""
    got = reference_runs.check_trajectory(student, reference_values, "imaml_reference", steps=5,
                                          **REFERENCE)
    assert np.isfinite(got["losses"]).all()
