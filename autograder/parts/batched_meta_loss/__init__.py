"""`batched_meta_loss(loss, alpha, steps, first_order)`: the mean MAML objective over tasks."""

NOTEBOOK, ORDER = "maml", 6
# Checked with the grader's own versions of the parts it builds on (../substitutes.py).
USES_SUBSTITUTES = True
