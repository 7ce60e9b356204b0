"""`adaptation_loss(loss, alpha, steps, first_order)`: one task's MAML objective."""

NOTEBOOK, ORDER = "maml", 5
# Checked with the grader's own versions of the parts it builds on (../substitutes.py).
USES_SUBSTITUTES = True
