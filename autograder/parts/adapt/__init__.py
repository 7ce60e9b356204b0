"""`adapt(loss, params, x, y, alpha, steps, first_order)`: gradient descent on any pytree."""

NOTEBOOK, ORDER = "maml", 4
