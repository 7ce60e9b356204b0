"""`inner_step_objective(g, alpha)`: h(x) = g(x - alpha g'(x)), against closed forms."""

NOTEBOOK, ORDER = "maml", 1
