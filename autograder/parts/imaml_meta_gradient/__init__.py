"""`imaml_meta_gradient(loss, params, x_train, y_train, x_test, y_test, lam, inner_lr,
inner_steps, cg_steps)`: implicit MAML's meta-gradient of one task."""

NOTEBOOK, ORDER = "beyond_maml", 2
