"""`square_error_loss(model)`: the mean over K points of the squared error."""

NOTEBOOK, ORDER = "maml", 3
