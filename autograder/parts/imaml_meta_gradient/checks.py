"""`imaml_meta_gradient(loss, params, x_train, y_train, x_test, y_test, lam, inner_lr,
inner_steps, cg_steps)`: implicit MAML's meta-gradient of one task.

Closed forms: on the quadratic ``1/2 v^T A v - v^T B z`` and on
``sum a cosh(v) + 1/2 sum (C z)^2 v^2 - v^T B z`` (whose Hessian depends on the point and the
data), proximal gradient descent and ``cg_steps`` conjugate-gradient iterations on
``(I + H(phi)/lam) x = grad L_test(phi)`` are computed in float64 (`closed_form`, beside this
file). Inner solutions are deliberately not converged, so the exact minimiser, or differentiating
through the inner loop, gives other values. The inner solution is checked first on its own: on a
training loss with no curvature the system is I, and the result is grad L_test(phi).
"""

import math

import numpy as np

from autograder.parts import closed_forms, reference_runs
from autograder.parts.checking import case
from autograder.parts.closed_forms import FLAT_TREE, NESTED_TREE, flatten_task
from autograder.parts.imaml_meta_gradient.closed_form import (CurvedLoss, conjugate_gradient,
                                                              hessian, imaml_meta_gradient,
                                                              inner_solution)

K = 3
# float32 CG on 7x7 systems with condition number <= 5: agrees with float64 to about 1e-5.
# Measured (benchmarks/tolerance_margins.py): correct code on AVX-512, AVX2, SSE4.2 and one
# thread is within 0.025 of this tolerance; the nearest wrong implementation is at
# 10 (imaml_cg_moves_along_the_residual).
RTOL, ATOL = 1e-3, 1e-4
# The reference run's proximal term is strong enough (lam = 10) that I + H/lam is well conditioned
# at the reference initialisation: float32 code's run is then within 0.00035 of the reference
# tolerance on every CPU tried (nearest wrong: 40, imaml_no_proximal_term), where at lam = 2 it
# drifted by 1e-3 between instruction sets, 6 times the tolerance.
REFERENCE = dict(lam=10.0, inner_lr=0.05, inner_steps=5, cg_steps=5, lr=0.01)


def conjugate_gradient_with_a_slip(system: np.ndarray, b: np.ndarray, steps: int, *,
                                   stale_norm: bool = False, along_residual: bool = False,
                                   blocks: list[slice] | None = None) -> np.ndarray:
    """Conjugate gradient from zero as a hand-written loop with one known slip: ``stale_norm``
    never updates the residual's norm ``rs_old``, so that the step size and beta divide by the
    first residual's norm on every iteration; ``along_residual`` moves x along the residual r,
    not the search direction p; ``blocks`` (one slice per pytree leaf) takes each leaf's step
    size and beta from that leaf's own dot products."""
    blocks = blocks or [slice(None)]
    x, r, p = np.zeros_like(b), b.copy(), b.copy()
    norms = [r[leaf] @ r[leaf] for leaf in blocks]
    with np.errstate(divide="ignore", invalid="ignore"):
        for _ in range(steps):
            Ap = system @ p
            for i, leaf in enumerate(blocks):
                step = norms[i] / (p[leaf] @ Ap[leaf])
                x[leaf] += step * (r[leaf] if along_residual else p[leaf])
                r[leaf] -= step * Ap[leaf]
                new = r[leaf] @ r[leaf]
                p[leaf] = r[leaf] + new / norms[i] * p[leaf]
                norms[i] = norms[i] if stale_norm else new
    return x


def leaf_slices(tree: list) -> list[slice]:
    """Each leaf's place in the flattened vector of a tree spec."""
    sizes = [math.prod(shape) for _, shape in tree]
    ends = np.cumsum(sizes)
    return [slice(int(end - size), int(end)) for size, end in zip(sizes, ends)]


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
            step = eye - inner_lr * (hessian(problem, point, z_train) + lam * eye)
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
        return cg(eye + hessian(problem, point, z_train) / lam, problem.grad(point, z_test))

    plain, doubled, pushed, halved = (inner_loop(pull) for pull in (0.0, 2.0, -1.0, 0.5))
    system = eye + hessian(problem, phi, z_train) / lam
    truncated = cg_steps < problem.size  # else CG from any start is the exact solution
    curved_by_data = isinstance(problem, CurvedLoss)  # else the test loss has the same Hessian
    return {
        "solving (I + lam H) v = g: the Hessian must be divided by lam, not multiplied":
            cg(eye + lam * hessian(problem, phi, z_train)),
        "an inner loop without the proximal term lam/2 ||phi - params||^2": solve_at(plain),
        "an inner loop with lam ||phi - params||^2, not lam/2 ||phi - params||^2":
            solve_at(doubled),
        "an inner loop whose proximal gradient is lam (params - phi): it must be lam (phi - params)":
            solve_at(pushed),
        "an inner loop whose proximal gradient is lam/2 (phi - params): the gradient of lam/2 "
        "||phi - params||^2 is lam (phi - params)": solve_at(halved),
        "solving (2I + H/lam) v = g: the system's matrix is I + H/lam, not the Hessian of the "
        "proximal objective over lam": cg(2 * eye + hessian(problem, phi, z_train) / lam),
        "the test gradient at phi itself: the linear system was not solved": b,
        "Hessian-vector products taken at params, not at the inner solution phi":
            cg(eye + hessian(problem, v0, z_train) / lam),
        "Hessian-vector products of the test loss: H is the Hessian of the training loss at phi":
            cg(eye + hessian(problem, phi, z_test) / lam) if curved_by_data else None,
        "the test gradient taken at params, not at phi: the right-hand side is grad "
        "L_test(phi)": cg(system, rhs=problem.grad(v0, z_test)),
        "conjugate gradient that never updates the residual's norm (rs_old): it must become "
        "the new r^T r after every iteration":
            conjugate_gradient_with_a_slip(system, b, cg_steps, stale_norm=True)
            if cg_steps > 2 else None,
        "conjugate gradient that moves x along the residual r: x moves along the search "
        "direction p": conjugate_gradient_with_a_slip(system, b, cg_steps, along_residual=True)
        if cg_steps > 1 else None,
        "conjugate gradient run leaf by leaf (each leaf's own step size and beta): CG's dot "
        "products run over all the parameters at once":
            conjugate_gradient_with_a_slip(system, b, cg_steps, blocks=leaf_slices(problem.tree))
            if len(problem.tree) > 1 else None,
        "conjugate gradient started from the test gradient, not from zero":
            cg(system, x0=b) if truncated else None,
        "the exact solution of the system, not cg_steps iterations of conjugate gradient":
            np.linalg.solve(system, b) if truncated else None,
        "the gradient through the unrolled inner loop, not the implicit gradient": unrolled(),
    }


def toy_task(seed):
    """One task's (x_train, y_train, x_test, y_test), each (K, 1)."""
    return [a[0] for a in closed_forms.random_task(seed + 200, K)]


def imaml_case(student, compare, problem, seed, lam, inner_lr, inner_steps, cg_steps,
               what="the implicit meta-gradient"):
    v0 = closed_forms.random_vector(seed + 100, problem.size, scale=0.5)
    task = toy_task(seed)
    got = student.probe("imaml_meta_gradient_toy", problem=problem.spec(), v0=v0.tolist(),
                        task=[a.tolist() for a in task], lam=lam, inner_lr=inner_lr,
                        inner_steps=inner_steps, cg_steps=cg_steps)
    z_train, z_test = flatten_task(*task[:2]), flatten_task(*task[2:])
    arguments = (problem, v0, z_train, z_test, lam, inner_lr, inner_steps, cg_steps)
    compare(got, imaml_meta_gradient(*arguments), RTOL, ATOL, what=what,
            case=f"lam = {lam:g}, inner_lr = {inner_lr:g}, inner_steps = {inner_steps}, "
                 f"cg_steps = {cg_steps}", layout=problem.tree, mistakes=imaml_mistakes(*arguments))


def unknowns(tree):
    """"Converged" solves run as many CG iterations as unknowns: exact in exact arithmetic, while
    more iterations would divide by residuals that float32 has rounded to zero."""
    return closed_forms.tree_size(tree)


def quadratic(seed):
    return closed_forms.quadratic_problem(seed, NESTED_TREE, K)


def linear_on_its_training_split(seed, tree=FLAT_TREE):
    return CurvedLoss.linear_on(seed, tree, flatten_task(*toy_task(seed)[:2]))


@case(points=1.0, feedback="With H = 0 the result must be grad L_test(phi), the test loss's "
      "gradient at phi: inner_steps gradient steps from params on loss + lam/2 ||phi - "
      "params||^2, for strong and weak lam.")
def test_inner_solution_alone(student, compare):
    """On a training loss that is linear (H = 0), the system is I and one CG step returns
    grad L_test(phi): the inner solution phi is checked before any solve, for lam = 10 and 0.5."""
    for seed, lam, inner_lr in ((32, 10.0, 0.05), (33, 0.5, 0.2)):
        imaml_case(student, compare, linear_on_its_training_split(seed), seed=seed, lam=lam,
                   inner_lr=inner_lr, inner_steps=4, cg_steps=1,
                   what="the test gradient at phi (the result when H = 0)")


@case(points=1.5, feedback="From params, inner_steps gradient steps on loss + lam/2 ||phi - "
      "params||^2 give phi; then CG solves (I + H/lam) v = grad L_test(phi), phi held constant.")
def test_quadratic_with_converged_solve(student, compare):
    """With enough CG iterations the result is (I + A/lam)^-1 grad L_test(phi), lam = 2."""
    imaml_case(student, compare, quadratic(31), seed=31, lam=2.0, inner_lr=0.1, inner_steps=3,
               cg_steps=unknowns(NESTED_TREE))


@case(points=1.0, feedback="The conjugate gradient must start from zero and run exactly "
      "cg_steps iterations, using only Hessian-vector products.")
def test_truncated_conjugate_gradient(student, compare):
    """With cg_steps = 2 the result is CG's second iterate from zero, not the exact solution."""
    imaml_case(student, compare, quadratic(34), seed=34, lam=1.0, inner_lr=0.1, inner_steps=2, cg_steps=2)


@case(points=1.0, feedback="On a loss whose Hessian changes with the point and the data, the "
      "Hessian-vector products must be those of the training loss at the inner solution phi.")
def test_hessian_at_the_inner_solution(student, compare):
    """On a loss whose Hessian changes with the point and the data, H is the training loss's at
    phi."""
    problem = CurvedLoss.random(35, NESTED_TREE, 2 * K)
    imaml_case(student, compare, problem, seed=35, lam=1.0, inner_lr=0.3, inner_steps=4,
               cg_steps=unknowns(NESTED_TREE))


@case(points=1.5, feedback="Five SGD steps on the mean implicit meta-gradient of the sinusoid "
      "network give losses or parameters that differ from the reference run.")
def test_reference_training_trajectory(student, reference_values):
    """Five jitted, vmapped meta-updates on stored meta-batches match the stored run."""
    got = reference_runs.check_trajectory(student, reference_values, "imaml_reference", steps=5,
                                          **REFERENCE)
    assert np.isfinite(got["losses"]).all()
