"""The inputs of the reference runs on the sinusoid network, shared by the parts' checks.

A fixed initialisation and fixed meta-batches, made with NumPy from `MAMLConfig.seed`. Each
part's expected outputs are stored in its folder, ``parts/<part>/reference.json``
(`autograder.parts.checking.ReferenceValues`).
"""

import math

import numpy as np
from maml_helpers.config import MAMLConfig

from autograder.parts.closed_forms import as_float32

CONFIG = MAMLConfig()
TRAJECTORY_STEPS = 10


def initial_layers(features: tuple = CONFIG.features, seed: int = CONFIG.seed) -> list:
    """Uniform weights of variance 1 / (3 fan_in) and small biases: ``[[kernel, bias], ...]`` as nested lists."""
    rng = np.random.default_rng(seed)
    sizes = (1, *features, 1)
    layers = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        bound = math.sqrt(1.0 / fan_in)  # small enough that alpha = 0.01 descends stably
        layers.append([as_float32(rng.uniform(-bound, bound, (fan_in, fan_out))).tolist(),
                       as_float32(rng.uniform(-0.1, 0.1, fan_out)).tolist()])
    return layers


def sinusoid_batch(seed: int, tasks: int = CONFIG.meta_batch_size, k: int = CONFIG.k_shot) -> list:
    """``[x_train, y_train, x_test, y_test]`` for ``tasks`` sinusoid tasks, as nested lists."""
    rng = np.random.default_rng(seed)
    family = CONFIG.tasks
    amplitude = rng.uniform(*family.amplitude_range, size=(tasks, 1, 1))
    phase = rng.uniform(*family.phase_range, size=(tasks, 1, 1))
    batch = []
    for _ in range(2):
        x = rng.uniform(*family.x_range, size=(tasks, k, 1))
        batch += [as_float32(x), as_float32(amplitude * np.sin(x - phase))]
    return [a.tolist() for a in batch]


def params_layout(features: tuple = CONFIG.features) -> list:
    """How the probes flatten the reference network's parameters (a list of ``{"bias",
    "kernel"}`` layers, leaves in JAX's order) into one vector: a tree spec for the evidence."""
    sizes = (1, *features, 1)
    return [leaf for layer, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:]))
            for leaf in ([[layer, "bias"], [fan_out]], [[layer, "kernel"], [fan_in, fan_out]])]


def trajectory_batches() -> list:
    return [sinusoid_batch(CONFIG.seed + 1 + step) for step in range(TRAJECTORY_STEPS)]


def check_trajectory(student, reference_values, probe: str, steps: int = TRAJECTORY_STEPS,
                     **settings) -> dict:
    """Runs the training-trajectory ``probe`` on the reference network over the first ``steps``
    stored meta-batches and compares its run (``losses`` before each step, final ``params``)
    with the part's stored one; returns the run."""
    got = student.probe(probe, layers=initial_layers(), batches=trajectory_batches()[:steps],
                        timeout=60.0, **settings)
    reference_values.check(got, layout={"params": params_layout()})
    return got
