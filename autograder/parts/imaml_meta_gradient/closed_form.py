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
class CoshLoss:
    """``L(v; z) = sum_j a_j cosh(v_j) - v^T B z``: a loss whose Hessian ``diag(a cosh(v))``
    depends on where it is taken (the quadratic's is constant)."""

    tree: list
    a: np.ndarray
    B: np.ndarray

    @classmethod
    def random(cls, seed: int, tree: list, data_size: int) -> "CoshLoss":
        rng = np.random.default_rng(seed)
        n = tree_size(tree)
        return cls(tree, as_float32(rng.uniform(0.5, 2.0, n)),
                   as_float32(rng.normal(size=(n, data_size)) / math.sqrt(data_size)))

    @property
    def size(self) -> int:
        return self.a.shape[0]

    def spec(self) -> dict:
        return {"tree": self.tree, "cosh": self.a.tolist(), "B": self.B.tolist()}

    def grad(self, v: np.ndarray, z: np.ndarray) -> np.ndarray:
        return self.a * np.sinh(v) - self.B @ z

    def hessian(self, v: np.ndarray) -> np.ndarray:
        return np.diag(self.a * np.cosh(v))


def hessian(problem: Quadratic | CoshLoss, v: np.ndarray) -> np.ndarray:
    return problem.hessian(v) if hasattr(problem, "hessian") else problem.A


def inner_solution(problem: Quadratic | CoshLoss, v: np.ndarray, z_train: np.ndarray, lam: float,
                   inner_lr: float, inner_steps: int) -> np.ndarray:
    """``inner_steps`` of gradient descent on ``L_train(phi) + lam/2 ||phi - v||^2`` from ``v``."""
    phi = v.copy()
    for _ in range(inner_steps):
        phi = phi - inner_lr * (problem.grad(phi, z_train) + lam * (phi - v))
    return phi


def imaml_meta_gradient(problem: Quadratic | CoshLoss, v: np.ndarray, z_train: np.ndarray,
                        z_test: np.ndarray, lam: float, inner_lr: float, inner_steps: int,
                        cg_steps: int) -> np.ndarray:
    """The implicit meta-gradient: proximal gradient descent from ``v``, then CG on
    ``(I + H(phi)/lam) x = grad L_test(phi)``; ``problem`` is a `Quadratic` or a `CoshLoss`."""
    phi = inner_solution(problem, v, z_train, lam, inner_lr, inner_steps)
    system = np.eye(problem.size) + hessian(problem, phi) / lam
    return conjugate_gradient(lambda x: system @ x, problem.grad(phi, z_test), cg_steps)
