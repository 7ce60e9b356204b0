"""optax's optimizers as float64 update rules, for the closed-form trajectories of the checks."""

import numpy as np


# Each rule's ``update(grad, params)`` is, like optax's, the change to add to the parameters, and
# advances the rule's own state.

class Adam:
    """optax.adam's update, in float64: bias-corrected moments, ``eps`` outside the root."""

    def __init__(self, lr: float, b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8) -> None:
        self.lr, self.b1, self.b2, self.eps = lr, b1, b2, eps
        self.m = self.v = 0.0
        self.t = 0

    def update(self, grad: np.ndarray, params: np.ndarray) -> np.ndarray:
        self.t += 1
        self.m = self.b1 * self.m + (1 - self.b1) * grad
        self.v = self.b2 * self.v + (1 - self.b2) * grad ** 2
        m_hat = self.m / (1 - self.b1 ** self.t)
        v_hat = self.v / (1 - self.b2 ** self.t)
        return -self.lr * m_hat / (np.sqrt(v_hat) + self.eps)


class Momentum:
    """optax.sgd with momentum: ``t <- g + beta t``, ``p <- p - lr t``."""

    def __init__(self, lr: float, momentum: float) -> None:
        self.lr, self.momentum, self.trace = lr, momentum, 0.0

    def update(self, grad: np.ndarray, params: np.ndarray) -> np.ndarray:
        self.trace = grad + self.momentum * self.trace
        return -self.lr * self.trace


class DecayedSchedule:
    """``optax.chain(optax.add_decayed_weights(wd), optax.sgd(optax.linear_schedule(lr, end_lr,
    n)))``: ``p <- p - rate_t (g + wd p)``, with ``rate_t`` going linearly from ``lr`` to ``end_lr``
    over the first ``n`` steps (t counted from 0 in the optimizer state)."""

    def __init__(self, lr: float, end_lr: float, transition_steps: int, weight_decay: float) -> None:
        self.lr, self.end_lr, self.transition_steps = lr, end_lr, transition_steps
        self.weight_decay, self.t = weight_decay, 0

    def update(self, grad: np.ndarray, params: np.ndarray) -> np.ndarray:
        rate = self.lr + (self.end_lr - self.lr) * min(self.t / self.transition_steps, 1.0)
        self.t += 1
        return -rate * (grad + self.weight_decay * params)
