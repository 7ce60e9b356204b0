"""`MLP(features)`: Dense+ReLU per feature, then Dense(1); any layer naming or style."""

import numpy as np

from autograder.parts.checking import Mismatch, case

# float32 matrix products of width <= 8: relative error below 1e-6.
# Measured (benchmarks/tolerance_margins.py): correct code on AVX-512, AVX2, SSE4.2 and one
# thread is within 0.0023 of this tolerance; the nearest wrong implementation is at
# 9.9e3 (mlp_relu_on_output).
RTOL, ATOL = 1e-4, 1e-5
DEFAULT = (40, 40)  # MLP()'s hidden layers


def layer_chain(leaves, features, output=True):
    """Indices of (kernel, bias) per layer, matched by shape from input 1 to output 1 (to the last
    hidden layer when not ``output``)."""
    sizes = (1, *features, 1) if output else (1, *features)
    shapes = [tuple(shape) for _, shape in leaves]
    chain = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        try:
            kernel = shapes.index((fan_in, fan_out))
            bias = shapes.index((fan_out,))
        except ValueError:
            raise Mismatch(f"no Dense layer {fan_in} -> {fan_out} with a bias") from None
        shapes[kernel] = shapes[bias] = None  # each leaf belongs to one layer
        chain.append((kernel, bias))
    if any(shape is not None for shape in shapes):
        raise Mismatch("parameters beyond its Dense layers")
    return chain


def forms_chain(leaves, features, output=True):
    try:
        return bool(layer_chain(leaves, features, output))
    except Mismatch:
        return False


def structure_mistake(leaves, features):
    """The known mistake the layers' shapes show, or None (`checking.diagnose`)."""
    if forms_chain(leaves, features, output=False):
        return "the hidden layers with no output layer Dense(1) after them"
    if tuple(features) != DEFAULT and forms_chain(leaves, DEFAULT):
        return "the default layers (40, 40) whatever features says (features was not used)"
    return None



def check_structure(student, features, default=False):
    got = student.probe("mlp_structure", features=None if default else features,
                        input_shapes=[[10, 1]])
    try:
        layer_chain(got["leaves"], features)
    except Mismatch as wrong:
        raise Mismatch(f"MLP({'' if default else f'features={features}'}) has {wrong}.",
                       structure_mistake(got["leaves"], features)) from None
    return got


@case(points=0.5, feedback="MLP() must default to features=(40, 40): Dense 1->40, ReLU, "
      "Dense 40->40, ReLU, then an output Dense 40->1, each with a bias.")
def test_default_architecture(student):
    """MLP() has exactly the layers 1->40->40->1 with biases (1761 parameters)."""
    got = check_structure(student, DEFAULT, default=True)
    assert sum(int(np.prod(shape)) for _, shape in got["leaves"]) == 1761


@case(points=0.5, feedback="MLP(features=...) must build one hidden Dense layer per entry of "
      "features, in order, then Dense(1).")
def test_follows_features(student):
    """The layers follow ``features`` for one and for three hidden layers."""
    check_structure(student, (7, 5, 3))
    check_structure(student, (4,))


@case(points=1.5, feedback="In the forward pass each hidden layer is Dense then ReLU, and the "
      "output layer is a plain Dense(1) with no activation.")
def test_forward_pass(student, compare):
    """With given weights, the output equals relu(relu(x W0 + b0) W1 + b1) W2 + b2."""
    features = (6, 4)
    leaves = check_structure(student, features)["leaves"]
    rng = np.random.default_rng(3)
    values = [rng.normal(size=shape).astype(np.float32) for _, shape in leaves]
    x = rng.uniform(-3, 3, size=(10, 1)).astype(np.float32)
    chain = layer_chain(leaves, features)

    def forward(*activations, before=False):
        """The network with ``activations[i]`` after layer i (before it when ``before``)."""
        hidden = x.astype(np.float64)
        for (kernel, bias), activation in zip(chain, activations):
            hidden = activation(hidden) if before else hidden
            hidden = hidden @ values[kernel] + values[bias]
            hidden = hidden if before else activation(hidden)
        return hidden

    relu, identity = (lambda h: np.maximum(h, 0.0)), (lambda h: h)
    hidden = [relu] * (len(chain) - 1)
    got = student.probe("mlp_forward", features=list(features), leaves=[v.tolist() for v in values],
                        x=x.tolist())
    compare(got, forward(*hidden, identity), RTOL, ATOL, what="the output", mistakes={
        "the network with a ReLU on the output layer too": forward(*hidden, relu),
        "the network with no ReLU between the layers": forward(*[identity] * len(chain)),
        "the network with each ReLU before its Dense layer instead of after it":
            forward(*hidden, identity, before=True),
        "the network with no ReLU after the last hidden layer":
            forward(*hidden[:-1], identity, identity),
        "the network with a ReLU only after the last hidden layer":
            forward(*[identity] * (len(chain) - 2), relu, identity)})


@case(points=0.5, feedback="The model must map inputs of shape (..., 1) to outputs of shape "
      "(..., 1), for a single task (K, 1) and a batch of tasks (T, K, 1).")
def test_keeps_leading_axes(student):
    """Inputs (10, 1) and (3, 10, 1) give outputs of the same shapes."""
    inputs = [[10, 1], [3, 10, 1]]
    got = student.probe("mlp_structure", features=[8], input_shapes=inputs)
    for shape, output in zip(inputs, got["output_shapes"]):
        if output != shape:
            flattened = [int(np.prod(shape[:-1])), 1]
            raise Mismatch(f"an input of shape {tuple(shape)} gave an output of shape "
                           f"{tuple(output)}.", "an output with the task axis merged into K: "
                           "the input was flattened to (T * K, 1)" if output == flattened else None)
