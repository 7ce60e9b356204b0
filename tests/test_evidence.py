"""Evidence a student can read: the worst value is named by where it is, in the student's own
pytree when the result was one, not by its index in a flattened vector."""

import numpy as np
import pytest

from autograder.parts.checking import Mismatch, assert_trees_all_close, leaf_path
from autograder.parts.closed_forms import NESTED_TREE
from autograder.parts.reference_runs import params_layout


def evidence(got, want, **options):
    with pytest.raises(Mismatch) as raised:
        assert_trees_all_close(got, want, 1e-4, 1e-5, **options)
    return str(raised.value)


def test_a_flattened_pytree_names_the_leaf_and_its_index():
    """Element 7 of NESTED_TREE's vector is the kernel's [1, 2]; element 8 the scalar leaf."""
    assert leaf_path(NESTED_TREE, 7) == "['params']['dense']['kernel'][1, 2]"
    assert leaf_path(NESTED_TREE, 8) == "['scale']"
    want = np.arange(9.0)
    got = want.copy()
    got[7] += 1
    assert evidence(got, want, what="the adapted parameters", layout=NESTED_TREE) == (
        "the adapted parameters at ['params']['dense']['kernel'][1, 2]: got 8, expected 7.")


def test_a_dict_of_results_names_the_entry_and_the_reference_network_layer():
    """In a reference run, the parameters' worst value is named by layer and leaf of the grader's
    network, in the order the probes flatten it (bias before kernel)."""
    layout = params_layout()
    assert leaf_path(layout, 0) == "[0]['bias'][0]"
    assert leaf_path(layout, 40) == "[0]['kernel'][0, 0]"
    size = sum(int(np.prod(shape)) for _, shape in layout)
    want = {"losses": [1.0, 2.0], "params": np.ones(size)}
    got = {"losses": [1.0, 2.0], "params": np.ones(size)}
    got["params"][-1] = 5.0  # the output layer's last kernel entry
    assert evidence(got, want, what="the reference run", relative=True,
                    layout={"params": layout}).startswith(
        "relative error 4 in the reference run's params at [2]['kernel'][39, 0]")


def test_an_array_names_its_position_and_a_wrong_shape_says_both_shapes():
    """Without a layout, the position in the array; a shape mismatch shows both shapes."""
    assert evidence(np.zeros((2, 3)), np.ones((2, 3)), what="the output") == (
        "the output[0, 0]: got 0, expected 1.")
    assert evidence(np.zeros((3, 40)), np.ones((3, 1)), what="the output") == (
        "the output has shape (3, 40), expected (3, 1).")
