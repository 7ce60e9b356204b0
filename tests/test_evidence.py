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


def diagnosis(got, want, mistakes=None):
    with pytest.raises(Mismatch) as raised:
        assert_trees_all_close(got, want, 1e-4, 1e-5, mistakes=mistakes)
    return raised.value.diagnosis


def test_a_result_that_equals_a_known_mistake_is_named_by_it():
    """The first catalogue entry the result equals, within the check's tolerance, is named;
    entries that do not apply (None) are skipped."""
    want = np.array([1.0, 2.0])
    mistakes = {"not applicable": None, "one step too few": np.array([1.5, 2.5]),
                "also one step too few": np.array([1.5, 2.5])}
    assert diagnosis(np.array([1.5, 2.5 + 1e-6]), want, mistakes) == "one step too few"
    assert diagnosis(np.array([1.5, 2.6]), want, mistakes) is None


def test_relationships_to_the_expected_value_name_themselves():
    """Half, twice, the sign flipped and zero are recognised without a catalogue; a result that is
    none of them, or an expected value of zero, gets no diagnosis."""
    want = np.array([0.4, -2.0])
    assert diagnosis(0.5 * want, want) == "half the correct value"
    assert diagnosis(2 * want, want) == "twice the correct value"
    assert diagnosis(-want, want) == "the correct value with its sign flipped"
    assert diagnosis(np.zeros(2), want) == "zero"
    assert diagnosis(3 * want, want) is None
    assert diagnosis(np.ones(2), np.zeros(2)) is None


def test_a_result_of_another_shape_can_still_match_a_mistake():
    """A shape mismatch is diagnosed when the result equals a mistake of that shape."""
    assert diagnosis(np.ones((3, 3)), np.ones((3, 1)), {"broadcast": np.ones((3, 3))}) == "broadcast"
    assert diagnosis({"a": 1.0}, {"a": 2.0}, {"swapped": {"a": 1.0}}) == "swapped"


def test_a_mistake_matches_where_it_also_gives_nan():
    """A NaN in the result agrees with a NaN in the mistake's value at the same place (a slip that
    divides 0 by 0 is still named); a NaN anywhere else matches nothing."""
    want = np.array([1.0, 2.0])
    mistakes = {"0/0 in the second leaf": np.array([1.5, np.nan])}
    assert diagnosis(np.array([1.5, np.nan]), want, mistakes) == "0/0 in the second leaf"
    assert diagnosis(np.array([np.nan, np.nan]), want, mistakes) is None
    assert diagnosis(np.array([1.5, 2.0]), want, mistakes) is None
