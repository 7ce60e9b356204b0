"""`MLP(features)`: Dense+ReLU per feature, then Dense(1); any layer naming or style."""

import numpy as np

from autograder.parts.checking import case

# float32 matrix products of width <= 8: relative error below 1e-6.
# Measured (benchmarks/tolerance_margins.py): correct code on AVX-512, AVX2, SSE4.2 and one
# thread is within 0.0021 of this tolerance; the nearest wrong implementation is at
# 9.9e3 (mlp_relu_on_output).
RTOL, ATOL = 1e-4, 1e-5


def layer_chain(leaves, features):
    """Indices of (kernel, bias) per layer, matched by shape from input 1 to output 1."""
    sizes = (1, *features, 1)
    shapes = [tuple(shape) for _, shape in leaves]
    chain = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        try:
            kernel = shapes.index((fan_in, fan_out))
            bias = shapes.index((fan_out,))
        except ValueError:
            raise AssertionError(f"no Dense layer {fan_in} -> {fan_out} with a bias") from None
        shapes[kernel] = shapes[bias] = None  # each leaf belongs to one layer
        chain.append((kernel, bias))
    if any(shape is not None for shape in shapes):
        raise AssertionError("the network has parameters beyond its Dense layers")
    return chain


def check_structure(student, features, default=False):
    got = student.probe("mlp_structure", features=None if default else features,
                        input_shapes=[[10, 1]])
    layer_chain(got["leaves"], features)
    return got


@case(points=0.5, feedback="MLP() should default to features=(40, 40): Dense 1->40, ReLU, "
      "Dense 40->40, ReLU, then an output Dense 40->1, each with a bias.")
def test_default_architecture(student):
    """MLP() has exactly the layers 1->40->40->1 with biases (1761 parameters)."""
    got = check_structure(student, (40, 40), default=True)
    assert sum(int(np.prod(shape)) for _, shape in got["leaves"]) == 1761


@case(points=0.5, feedback="MLP(features=...) should build one hidden Dense layer per entry of "
      "features, in order, then Dense(1).")
def test_follows_features(student):
    """The layers follow ``features`` for one and for three hidden layers."""
    check_structure(student, (7, 5, 3))
    check_structure(student, (4,))


@case(points=1.5, feedback="The forward pass is wrong: each hidden layer is Dense then ReLU, and "
      "the output layer is a plain Dense(1) with no activation.")
def test_forward_pass(student, compare):
    """With given weights, the output equals relu(relu(x W0 + b0) W1 + b1) W2 + b2."""
    features = (6, 4)
    leaves = check_structure(student, features)["leaves"]
    rng = np.random.default_rng(3)
    values = [rng.normal(size=shape).astype(np.float32) for _, shape in leaves]
    x = rng.uniform(-3, 3, size=(10, 1)).astype(np.float32)
    hidden = x.astype(np.float64)
    chain = layer_chain(leaves, features)
    for number, (kernel, bias) in enumerate(chain):
        hidden = hidden @ values[kernel] + values[bias]
        if number < len(chain) - 1:
            hidden = np.maximum(hidden, 0.0)
    got = student.probe("mlp_forward", features=list(features), leaves=[v.tolist() for v in values],
                        x=x.tolist())
    compare(got, hidden, RTOL, ATOL, what="the output")


@case(points=0.5, feedback="The model should map inputs of shape (..., 1) to outputs of shape "
      "(..., 1), for a single task (K, 1) and a batch of tasks (T, K, 1).")
def test_keeps_leading_axes(student):
    """Inputs (10, 1) and (3, 10, 1) give outputs of the same shapes."""
    got = student.probe("mlp_structure", features=[8], input_shapes=[[10, 1], [3, 10, 1]])
    assert got["output_shapes"] == [[10, 1], [3, 10, 1]], "wrong output shape"
