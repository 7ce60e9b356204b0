"""Feedback a student can act on: the likely cause first, with evidence, in a few lines."""

import pytest
from bank import ALTERNATIVES, BROKEN, WRONG

from autograder.grading.grade import FEEDBACK_CHARACTERS, _declared_cases

# The check each wrong implementation's bug breaks first, so its message leads the feedback.
LEADS_WITH = {
    "inner_step_first_order": "test_gradient_has_second_order_factor",
    "inner_step_wrong_sign": "test_value_is_g_after_one_step",
    "mlp_missing_output_layer": "test_default_architecture",
    "mlp_relu_on_output": "test_forward_pass",
    "mlp_ignores_features": "test_follows_features",
    "mlp_flattens_input": "test_keeps_leading_axes",
    "loss_sum_instead_of_mean": "test_value_on_linear_model",
    "loss_broadcasts_k_by_k": "test_value_on_linear_model",
    "adapt_steps_along_sign": "test_one_step_on_quadratic",
    "adapt_gradient_computed_once": "test_several_steps_recompute_gradient",
    "adapt_always_first_order": "test_second_order_by_default",
    "adapt_ignores_first_order": "test_first_order_flag",
    "adapt_gradient_ascent": "test_one_step_on_quadratic",
    "adaptation_loss_wrong_split": "test_value_adapts_on_train_scores_on_test",
    "adaptation_loss_drops_first_order": "test_first_order_meta_gradient",
    "adaptation_loss_not_adapted": "test_value_adapts_on_train_scores_on_test",
    "adaptation_loss_accidentally_first_order": "test_second_order_meta_gradient",
    "batched_sum_over_tasks": "test_value_is_mean_over_tasks",
    "batched_first_task_only": "test_value_is_mean_over_tasks",
    "batched_ignores_steps_and_first_order": "test_value_is_mean_over_tasks",
    "step_returns_loss_after_update": "test_sgd_step_returns_loss_before_update",
    "step_subtracts_updates": "test_sgd_step_returns_loss_before_update",
    "step_drops_optimizer_state": "test_adam_state_is_carried",
    "reptile_moves_away": "test_one_task_moves_towards_adapted_parameters",
    "reptile_first_task_only": "test_mean_over_tasks_with_several_steps",
    "reptile_ignores_outer_lr": "test_one_task_moves_towards_adapted_parameters",
    "reptile_sums_over_tasks": "test_mean_over_tasks_with_several_steps",
    "imaml_lam_times_hessian": "test_quadratic_with_converged_solve",
    "imaml_no_proximal_term": "test_quadratic_with_converged_solve",
    "imaml_no_solve": "test_quadratic_with_converged_solve",
    "imaml_hessian_at_params": "test_hessian_at_the_inner_solution",
    "imaml_cg_starts_at_the_gradient": "test_truncated_conjugate_gradient",
    "imaml_differentiates_through_inner_loop": "test_quadratic_with_converged_solve",
    "imaml_dense_hessian_exact_solve": "test_truncated_conjugate_gradient",
}
DECLARED = {(c.part, c.name): c for c in _declared_cases(list({v.part for v in WRONG}))}


def test_every_wrong_implementation_has_a_declared_lead():
    assert set(LEADS_WITH) == {v.name for v in WRONG}


@pytest.mark.parametrize("variant", WRONG, ids=lambda v: v.name)
def test_feedback_leads_with_the_check_the_bug_breaks(grade_variant, variant):
    """The part's feedback names the part, opens with the message of the check the bug breaks,
    shows that check's evidence (values, or the relative error of a reference run) and stays
    under 400 characters."""
    result = grade_variant(variant)
    failed = [c for c in result.cases if c.part == variant.part and not c.passed]
    feedback = result.part(variant.part).feedback
    assert failed[0].name == LEADS_WITH[variant.name], feedback
    lead = failed[0].feedback
    assert variant.part in feedback
    assert feedback.removeprefix(f"{variant.part}: ").startswith(lead), feedback
    if failed[0].evidence:
        assert failed[0].evidence in feedback
        assert ("got" in feedback and "expected" in feedback) or "relative error" in feedback
    assert len(feedback) <= FEEDBACK_CHARACTERS and not feedback.endswith("..."), feedback


@pytest.mark.parametrize("variant", BROKEN + ALTERNATIVES, ids=lambda v: v.name)
def test_no_feedback_is_longer_than_a_few_lines(grade_variant, variant):
    """Hangs, crashes, missing code and correct code: every part's feedback is short."""
    for part in grade_variant(variant).parts:
        assert len(part.feedback) <= FEEDBACK_CHARACTERS and not part.feedback.endswith("...")
