"""The implicit MAML meta-gradient on the toy problems, in float64.

References:
  Rajeswaran, Finn, Kakade and Levine, "Meta-Learning with Implicit Gradients", NeurIPS 2019.
"""

import dataclasses
import math
from collections.abc import Callable

import numpy as np

from autograder.parts.closed_forms import Quadratic, as_float32, tree_size


def conjugate_gradient(matvec: Callable[[np.ndarray], np.ndarray], b: np.ndarray,
                       steps: int, x0: np.ndarray | None = None) -> np.ndarray:
    """``steps`` iterations of conjugate gradient on ``matvec(x) = b`` from ``x0`` (zero)."""
    x = np.zeros_like(b) if x0 is None else x0.copy()
    r = b - matvec(x)
    p = r.copy()
    for _ in range(steps):
        rr = r @ r
        if rr == 0.0:
            break
        Ap = matvec(p)
        step = rr / (p @ Ap)
        x = x + step * p
        r = r - step * Ap
        p = r + (r @ r) / rr * p
    return x


@dataclasses.dataclass
class CurvedLoss:
    """``L(v; z) = sum_j a_j cosh(v_j) + 1/2 sum_j (C z)_j^2 v_j^2 - v^T B z``: a loss whose
    Hessian ``diag(a cosh(v) + (C z)^2)`` depends on where it is taken and on the data (the
    quadratic's is constant), so that the training and the test loss have different Hessians."""

    tree: list
    a: np.ndarray
    C: np.ndarray
    B: np.ndarray

    @classmethod
    def random(cls, seed: int, tree: list, data_size: int) -> "CurvedLoss":
        rng = np.random.default_rng(seed)
        n = tree_size(tree)
        # (C z)^2 is about 0.3 for the toy data, so that gradient descent at the checks' rates
        # stays stable on the training loss.
        return cls(tree, as_float32(rng.uniform(0.5, 2.0, n)),
                   as_float32(rng.normal(size=(n, data_size)) / (2 * math.sqrt(data_size))),
                   as_float32(rng.normal(size=(n, data_size)) / math.sqrt(data_size)))

    @classmethod
    def linear_on(cls, seed: int, tree: list, z_train: np.ndarray) -> "CurvedLoss":
        """No cosh term and ``C z_train = 0``: the training loss is linear (its Hessian is zero to
        float32's rounding, about 1e-14), so ``I + H/lam = I`` and the implicit meta-gradient
        is ``grad L_test(phi)``, which checks the inner solution ``phi`` alone."""
        rng = np.random.default_rng(seed)
        n, data_size = tree_size(tree), z_train.size
        curvature = rng.normal(size=(n, data_size)) / math.sqrt(data_size)
        curvature -= np.outer(curvature @ z_train, z_train) / (z_train @ z_train)
        return cls(tree, np.zeros(n), as_float32(curvature),
                   as_float32(rng.normal(size=(n, data_size)) / math.sqrt(data_size)))

    @property
    def size(self) -> int:
        return self.a.shape[0]

    def spec(self) -> dict:
        return {"tree": self.tree, "cosh": self.a.tolist(), "curvature": self.C.tolist(),
                "B": self.B.tolist()}

    def grad(self, v: np.ndarray, z: np.ndarray) -> np.ndarray:
        return self.a * np.sinh(v) + (self.C @ z) ** 2 * v - self.B @ z

    def hessian(self, v: np.ndarray, z: np.ndarray) -> np.ndarray:
        return np.diag(self.a * np.cosh(v) + (self.C @ z) ** 2)


def hessian(problem: Quadratic | CurvedLoss, v: np.ndarray, z: np.ndarray) -> np.ndarray:
    """The Hessian of ``L(.; z)`` at ``v``."""
    return problem.hessian(v, z) if hasattr(problem, "hessian") else problem.A


def inner_solution(problem: Quadratic | CurvedLoss, v: np.ndarray, z_train: np.ndarray, lam: float,
                   inner_lr: float, inner_steps: int) -> np.ndarray:
    """``inner_steps`` of gradient descent on ``L_train(phi) + lam/2 ||phi - v||^2`` from ``v``."""
    phi = v.copy()
    for _ in range(inner_steps):
        phi = phi - inner_lr * (problem.grad(phi, z_train) + lam * (phi - v))
    return phi


def imaml_meta_gradient(problem: Quadratic | CurvedLoss, v: np.ndarray, z_train: np.ndarray,
                        z_test: np.ndarray, lam: float, inner_lr: float, inner_steps: int,
                        cg_steps: int) -> np.ndarray:
    """The implicit meta-gradient: proximal gradient descent from ``v``, then CG on
    ``(I + H(phi)/lam) x = grad L_test(phi)``; ``problem`` is a `Quadratic` or a `CurvedLoss`."""
    phi = inner_solution(problem, v, z_train, lam, inner_lr, inner_steps)
    system = np.eye(problem.size) + hessian(problem, phi, z_train) / lam
    return conjugate_gradient(lambda x: system @ x, problem.grad(phi, z_test), cg_steps)
