"""`reptile_update(loss, params, X, Y, inner_lr, inner_steps, outer_lr)`: one Reptile step over a
batch of tasks."""

NOTEBOOK, ORDER = "beyond_maml", 1
# Checked with the grader's own versions of the parts it builds on (../substitutes.py).
USES_SUBSTITUTES = True
