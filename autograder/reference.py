"""Stored reference values from short MAML runs on the sinusoid network (golden files).

Inputs (a fixed initialisation and fixed meta-batches) are made here from `MAMLConfig.seed` with
NumPy; the expected outputs are stored in ``reference/sinusoid.json``. Regenerate them from the
instructor notebooks' solutions with::

    python -m autograder.reference --update-goldens

Grading only reads the stored file: it never needs the solution code.
"""

import argparse
import functools
import json
import math
import pathlib
import sys

import numpy as np
from maml_helpers.config import MAMLConfig

from autograder.closed_forms import as_float32
from autograder.framework import assert_trees_all_close

GOLDEN = pathlib.Path(__file__).parent / "reference" / "sinusoid.json"
SOURCE_NOTEBOOKS = [pathlib.Path(__file__).parents[1] / "source" / "maml" / f"{name}.ipynb"
                    for name in ("maml", "beyond_maml")]
CONFIG = MAMLConfig()
TRAJECTORY_STEPS = 10
# The runs are recorded and replayed in float64 (`probes._float64`). Measured
# (benchmarks/tolerance_margins.py): correct code, including code that computes in float32 on
# purpose, on AVX-512, AVX2, SSE4.2 and one thread is within 0.0007 of this tolerance (float64
# code within 1e-11); the nearest wrong implementation is at 13 (step_returns_loss_after_update).
RTOL, ATOL = 1e-3, 1e-4

_recorded = None  # a dict while --update-goldens records values instead of comparing


def initial_layers(features=CONFIG.features, seed=CONFIG.seed):
    """Uniform weights of variance 1 / (3 fan_in) and small biases: ``[[kernel, bias], ...]`` as nested lists."""
    rng = np.random.default_rng(seed)
    sizes = (1, *features, 1)
    layers = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        bound = math.sqrt(1.0 / fan_in)  # small enough that alpha = 0.01 descends stably
        layers.append([as_float32(rng.uniform(-bound, bound, (fan_in, fan_out))).tolist(),
                       as_float32(rng.uniform(-0.1, 0.1, fan_out)).tolist()])
    return layers


def sinusoid_batch(seed, tasks=CONFIG.meta_batch_size, k=CONFIG.k_shot):
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


def trajectory_batches():
    return [sinusoid_batch(CONFIG.seed + 1 + step) for step in range(TRAJECTORY_STEPS)]


@functools.cache
def _golden():
    with open(GOLDEN, encoding="utf-8") as f:
        return json.load(f)


def check(name, got):
    """Compares ``got`` with the stored value ``name`` (or records it with --update-goldens)."""
    if _recorded is not None:
        _recorded[name] = got
        return
    assert_trees_all_close(got, _golden()[name], RTOL, ATOL, what="the reference run",
                           relative=True)


def update_goldens(notebooks=SOURCE_NOTEBOOKS):
    """Grades the instructor notebooks with recording on, then writes the golden file."""
    global _recorded
    from autograder.grade import grade_notebook

    _recorded = {}
    try:
        result = [grade_notebook(notebook) for notebook in notebooks]
        values = dict(sorted(_recorded.items()))
    finally:
        _recorded = None
    GOLDEN.write_text(json.dumps(values, indent=1) + "\n", encoding="utf-8")
    _golden.cache_clear()
    return result, values


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m autograder.reference", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--update-goldens", action="store_true", required=True,
                        help="rewrite reference/sinusoid.json from the instructor notebooks")
    parser.parse_args(argv)
    from autograder import reference  # this file runs as __main__; record in the real module

    _, values = reference.update_goldens()
    print(f"wrote {len(values)} reference values to {reference.GOLDEN}", file=sys.stderr)


if __name__ == "__main__":
    main()
