"""One frozen config object for every hyperparameter and seed of the assignment."""

import dataclasses
import math


@dataclasses.dataclass(frozen=True)
class SinusoidConfig:
    """The sinusoid task family of Finn et al. (2017), section 5.1.

    A task is ``y = amplitude * sin(x - phase)`` with the amplitude drawn uniformly from
    ``amplitude_range``, the phase from ``phase_range`` and the inputs from ``x_range``.
    """

    amplitude_range: tuple[float, float] = (0.1, 5.0)
    phase_range: tuple[float, float] = (0.0, math.pi)
    x_range: tuple[float, float] = (-5.0, 5.0)


@dataclasses.dataclass(frozen=True)
class MAMLConfig:
    """Hyperparameters and seeds shared by the notebook, the solutions and the graders.

    The defaults are the paper's regression settings: a (40, 40) ReLU network, K = 10 support
    points, one inner step with alpha = 0.01, meta-batches of 25 tasks and Adam at 1e-3.
    """

    tasks: SinusoidConfig = SinusoidConfig()
    features: tuple[int, ...] = (40, 40)
    k_shot: int = 10
    inner_lr: float = 0.01
    inner_steps: int = 1
    meta_batch_size: int = 25
    meta_lr: float = 1e-3
    # The paper trains for 70,000 meta-steps; this budget runs in about a minute on a laptop CPU.
    meta_steps: int = 20_000
    # `nbgrader autograde` sets NBGRADER_EXECUTION; the notebook then trains only this long.
    autograde_meta_steps: int = 300
    eval_adaptation_steps: tuple[int, ...] = (1, 5, 10)
    seed: int = 0
