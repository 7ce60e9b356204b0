"""Toy problems whose MAML quantities are known exactly, computed in float64 by the parent.

The quadratic loss ``L(v; z) = 1/2 v^T A v - v^T B z`` (A symmetric positive definite, v the
parameters' leaves flattened, z the task's data flattened) has gradient ``A v - B z`` and constant
Hessian ``A``, so k steps of gradient descent from v give the affine map
``v_k = M v_{k-1} + alpha B z_train`` with ``M = I - alpha A``, and the MAML meta-gradient of the
test loss is ``(M^k)^T (A v_k - B z_test)``; first-order MAML drops ``(M^k)^T``.

References:
  Finn, Abbeel and Levine, "Model-Agnostic Meta-Learning for Fast Adaptation of Deep Networks",
  ICML 2017.
"""

import dataclasses
import math

import numpy as np
from numpy.typing import ArrayLike


def as_float32(array: ArrayLike) -> np.ndarray:
    """Rounds to float32 (what the child sees), then computes in float64."""
    return np.asarray(array, dtype=np.float32).astype(np.float64)


def tree_size(tree: list) -> int:
    """The number of scalars in a tree spec ``[[path keys], shape], ...``."""
    return sum(math.prod(shape) for _, shape in tree)


def flatten_task(*arrays: ArrayLike) -> np.ndarray:
    return np.concatenate([np.ravel(a) for a in arrays])


@dataclasses.dataclass
class Quadratic:
    tree: list  # [[path keys], shape] in the order of v
    A: np.ndarray
    B: np.ndarray

    @classmethod
    def random(cls, seed: int, tree: list, data_size: int) -> "Quadratic":
        rng = np.random.default_rng(seed)
        n = tree_size(tree)
        q, _ = np.linalg.qr(rng.normal(size=(n, n)))
        A = as_float32(q @ np.diag(rng.uniform(0.5, 2.0, n)) @ q.T)
        A = as_float32((A + A.T) / 2)
        B = as_float32(rng.normal(size=(n, data_size)) / math.sqrt(data_size))
        return cls(tree, A, B)

    @property
    def size(self) -> int:
        return self.A.shape[0]

    def spec(self) -> dict:
        return {"tree": self.tree, "A": self.A.tolist(), "B": self.B.tolist()}

    def loss(self, v: np.ndarray, z: np.ndarray) -> float:
        return 0.5 * v @ self.A @ v - v @ self.B @ z

    def grad(self, v: np.ndarray, z: np.ndarray) -> np.ndarray:
        return self.A @ v - self.B @ z

    def adapt(self, v: np.ndarray, z: np.ndarray, alpha: float, steps: int) -> np.ndarray:
        for _ in range(steps):
            v = v - alpha * self.grad(v, z)
        return v

    def adaptation_loss(self, v: np.ndarray, z_train: np.ndarray, z_test: np.ndarray, alpha: float,
                        steps: int, first_order: bool) -> tuple[float, np.ndarray]:
        """The adapted test loss and its meta-gradient (first-order drops the Jacobian)."""
        adapted = self.adapt(v, z_train, alpha, steps)
        outer = self.grad(adapted, z_test)
        if not first_order:
            jacobian = np.linalg.matrix_power(np.eye(self.size) - alpha * self.A, steps)
            outer = jacobian.T @ outer
        return self.loss(adapted, z_test), outer


def quadratic_problem(seed: int, tree: list, k: int, extra_data: int = 1) -> Quadratic:
    """A random `Quadratic` over ``tree`` for tasks with ``k`` points of (x, y)."""
    return Quadratic.random(seed, tree, data_size=2 * k * extra_data)


def random_vector(seed: int, size: int, scale: float = 1.0) -> np.ndarray:
    return as_float32(np.random.default_rng(seed).normal(size=size) * scale)


def random_task(seed: int, k: int, tasks: int = 1) -> list[np.ndarray]:
    """``tasks`` tasks of ``k`` points: (x_train, y_train, x_test, y_test), each (tasks, k, 1)."""
    rng = np.random.default_rng(seed)
    return [as_float32(rng.uniform(-2, 2, size=(tasks, k, 1))) for _ in range(4)]


# Parameter pytrees the graders use: nested dicts, a scalar leaf, matrices, a bare array.
NESTED_TREE = [[["params", "dense", "bias"], [2]], [["params", "dense", "kernel"], [2, 3]],
               [["scale"], []]]
FLAT_TREE = [[["w"], [3]], [["b"], [1]]]
ARRAY_TREE = [[[], [4]]]  # params as a single array, as the notebook's own visible checks use
