"""The inputs of the reference runs on the sinusoid network, and their stored values.

Inputs (a fixed initialisation and fixed meta-batches) are made here from `MAMLConfig.seed` with
NumPy; each part's expected outputs are stored in its folder, ``parts/<part>/reference.json``
(`framework.ReferenceValues`). Regenerate them from the instructor notebooks' solutions with::

    python -m autograder.reference --update-goldens

Grading only reads the stored files: it never needs the solution code.
"""

import argparse
import json
import math
import sys

import numpy as np
from maml_helpers.config import MAMLConfig

from autograder import parts
from autograder.closed_forms import as_float32
from autograder.course_root import source_notebooks

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


def trajectory_batches() -> list:
    return [sinusoid_batch(CONFIG.seed + 1 + step) for step in range(TRAJECTORY_STEPS)]


def update_goldens(notebooks=None):
    """Grades the instructor notebooks with recording on, then writes each part's stored values;
    returns ``(results, {part: values})``."""
    from autograder.grade import grade_notebooks

    recorded = {}
    results = grade_notebooks(notebooks or source_notebooks(), recorded=recorded)
    for name, values in sorted(recorded.items()):
        parts.get(name).reference_file.write_text(json.dumps(values, indent=1) + "\n",
                                                  encoding="utf-8")
    return results, recorded


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m autograder.reference", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--update-goldens", action="store_true", required=True,
                        help="rewrite every part's reference.json from the instructor notebooks")
    parser.parse_args(argv)
    _, values = update_goldens()
    print(f"wrote the reference values of {len(values)} parts ({', '.join(values)})",
          file=sys.stderr)


if __name__ == "__main__":
    main()
