"""Reptile's update on the toy quadratics, in float64.

References:
  Nichol, Achiam and Schulman, "On First-Order Meta-Learning Algorithms", arXiv:1803.02999, 2018.
"""

import numpy as np

from autograder.parts.closed_forms import Quadratic


def reptile_update(problem: Quadratic, v: np.ndarray, tasks: list[np.ndarray], inner_lr: float,
                   inner_steps: int, outer_lr: float) -> np.ndarray:
    """``v + outer_lr * mean_i(adapt(v, z_i) - v)`` for the flattened tasks ``z_i``."""
    adapted = [problem.adapt(v, z, inner_lr, inner_steps) for z in tasks]
    return v + outer_lr * np.mean([phi - v for phi in adapted], axis=0)
