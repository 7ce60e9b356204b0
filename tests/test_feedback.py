"""Feedback a student can act on: the likely cause first, with evidence, in a few lines."""

import pytest
from bank import ALTERNATIVES, BROKEN, WRONG

from autograder.grading.grade import FEEDBACK_CHARACTERS
from autograder.isolation.plain_errors import describe_inputs, plain_reading, without_internals

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
    "loss_square_of_mean": "test_value_on_linear_model",
    "loss_optax_l2_half": "test_value_on_linear_model",
    "adapt_one_step_too_few": "test_one_step_on_quadratic",
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
    "batched_splits_shifted_by_one_task": "test_value_is_mean_over_tasks",
    "step_returns_loss_after_update": "test_sgd_step_returns_loss_before_update",
    "step_subtracts_updates": "test_sgd_step_returns_loss_before_update",
    "step_drops_optimizer_state": "test_adam_state_is_carried",
    "step_ignores_the_optimizer": "test_sgd_step_returns_loss_before_update",
    "step_update_without_params": "test_uses_the_optimizer_it_is_given",
    "reptile_moves_away": "test_one_task_moves_towards_adapted_parameters",
    "reptile_first_task_only": "test_mean_over_tasks_with_several_steps",
    "reptile_ignores_outer_lr": "test_one_task_moves_towards_adapted_parameters",
    "reptile_sums_over_tasks": "test_mean_over_tasks_with_several_steps",
    "imaml_lam_times_hessian": "test_quadratic_with_converged_solve",
    "imaml_no_proximal_term": "test_inner_solution_alone",
    "imaml_no_solve": "test_quadratic_with_converged_solve",
    "imaml_hessian_at_params": "test_hessian_at_the_inner_solution",
    "imaml_cg_starts_at_the_gradient": "test_truncated_conjugate_gradient",
    "imaml_differentiates_through_inner_loop": "test_quadratic_with_converged_solve",
    "imaml_dense_hessian_exact_solve": "test_truncated_conjugate_gradient",
    "inner_step_taylor_approximation": "test_value_is_g_after_one_step",
    "mlp_relu_before_each_dense": "test_forward_pass",
    "adapt_one_step_too_many": "test_one_step_on_quadratic",
    "adapt_tree_map_arguments_swapped": "test_one_step_on_quadratic",
    "adapt_first_order_stops_the_parameters": "test_first_order_flag",
    "adaptation_loss_steps_not_passed_on": "test_value_adapts_on_train_scores_on_test",
    "adaptation_loss_scores_x_train_against_y_test": "test_value_adapts_on_train_scores_on_test",
    "batched_first_order_not_passed_on": "test_first_order_single_task_under_jit",
    "reptile_mean_without_task_axis": "test_one_task_moves_towards_adapted_parameters",
    "reptile_tasks_one_after_another": "test_mean_over_tasks_with_several_steps",
    "reptile_rates_swapped": "test_mean_over_tasks_with_several_steps",
    "reptile_interpolation_weights_swapped": "test_one_task_moves_towards_adapted_parameters",
    "imaml_regulariser_without_half": "test_inner_solution_alone",
    "imaml_cg_runs_to_convergence": "test_truncated_conjugate_gradient",
    "imaml_system_with_the_proximal_hessian": "test_inner_solution_alone",
    "inner_step_hard_coded_alpha": "test_gradient_has_second_order_factor",
    "inner_step_applied_to_the_value": "test_value_is_g_after_one_step",
    "mlp_relu_after_the_loop": "test_forward_pass",
    "loss_divides_by_a_hard_coded_k": "test_value_on_linear_model",
    "loss_root_mean_square": "test_value_on_linear_model",
    "adapt_first_order_inverted": "test_second_order_by_default",
    "adapt_every_step_from_the_start": "test_several_steps_recompute_gradient",
    "adapt_alpha_twice": "test_one_step_on_quadratic",
    "adaptation_loss_adapts_on_the_test_split": "test_value_adapts_on_train_scores_on_test",
    "adaptation_loss_steps_and_first_order_swapped": "test_value_adapts_on_train_scores_on_test",
    "batched_test_split_not_mapped": "test_value_is_mean_over_tasks",
    "batched_scores_the_mean_adapted_parameters": "test_value_is_mean_over_tasks",
    "reptile_adapts_on_the_whole_batch": "test_mean_over_tasks_with_several_steps",
    "reptile_parentheses_missing": "test_one_task_moves_towards_adapted_parameters",
    "reptile_x_and_y_swapped": "test_one_task_moves_towards_adapted_parameters",
    "imaml_proximal_gradient_sign": "test_inner_solution_alone",
    "imaml_hvp_of_the_test_loss": "test_inner_solution_alone",
    "imaml_cg_with_a_stale_residual_norm": "test_quadratic_with_converged_solve",
    "loss_mean_absolute_error": "test_value_on_linear_model",
    "loss_variance_of_the_errors": "test_value_on_linear_model",
    "adapt_with_momentum": "test_several_steps_recompute_gradient",
    "adaptation_loss_scores_x_test_against_y_train": "test_value_adapts_on_train_scores_on_test",
    "batched_data_in_the_wrong_order": "test_value_is_mean_over_tasks",
    "batched_loop_overwrites_the_total": "test_value_is_mean_over_tasks",
    "step_update_arguments_swapped": "test_sgd_step_returns_loss_before_update",
    "imaml_test_gradient_at_params": "test_inner_solution_alone",
    "imaml_cg_leaf_by_leaf": "test_quadratic_with_converged_solve",
    "imaml_cg_moves_along_the_residual": "test_quadratic_with_converged_solve",
    "imaml_proximal_gradient_halved": "test_inner_solution_alone",
    "adapt_walks_nested_dicts_only": "test_params_as_a_single_array",
    "adaptation_loss_walks_nested_dicts_only": "test_params_as_a_single_array",
    "batched_in_axes_per_collection": "test_params_as_a_single_array",
    "step_applies_updates_per_collection": "test_params_as_a_single_array",
}
# The mistake each wrong implementation makes, as the part's catalogue names it (the first phrase
# leads its feedback), and the other phrases its results may also match, on other checks.
NAMES = {
    "inner_step_first_order": ("the inner gradient was held constant",),
    "inner_step_wrong_sign": ("the step went up the gradient",),
    "mlp_missing_output_layer": ("no output layer Dense(1)",),
    "mlp_relu_on_output": ("a ReLU on the output layer",),
    "mlp_ignores_features": ("features was not used",),
    "mlp_flattens_input": ("the task axis merged into K",),
    "loss_sum_instead_of_mean": ("the sum over the K points",),
    "loss_broadcasts_k_by_k": ("K x K pairs",),
    "loss_square_of_mean": ("the square of the mean error",),
    "loss_optax_l2_half": ("half the mean squared error", "half the correct value"),
    "adapt_steps_along_sign": ("the gradient's sign",),
    "adapt_gradient_computed_once": ("reusing the first gradient",),
    "adapt_always_first_order": ("the first-order gradient",),
    "adapt_ignores_first_order": ("first_order=True was not applied",),
    "adapt_gradient_ascent": ("gradient ascent",),
    "adapt_one_step_too_few": ("steps - 1 steps", "no step was taken"),
    "adaptation_loss_wrong_split": ("the splits swapped",),
    "adaptation_loss_drops_first_order": ("first_order was not passed on",),
    "adaptation_loss_not_adapted": ("the parameters were not adapted",),
    "adaptation_loss_accidentally_first_order": ("the first-order meta-gradient",),
    "batched_sum_over_tasks": ("the sum over tasks",),
    "batched_first_task_only": ("the first task's adaptation loss alone",),
    "batched_ignores_steps_and_first_order": ("steps was not passed on",
                                              "first_order was not passed on"),
    "batched_splits_shifted_by_one_task": ("the splits shifted by one task",),
    "step_returns_loss_after_update": ("the loss after the update",),
    "step_subtracts_updates": ("params - updates",),
    "step_drops_optimizer_state": ("the initial optimizer state",),
    "step_ignores_the_optimizer": ("the optimizer passed in is not used",),
    "step_update_without_params": ("optimizer.update was called without params",),
    "reptile_moves_away": ("a step away from the adapted parameters",),
    "reptile_first_task_only": ("the first task alone",),
    "reptile_ignores_outer_lr": ("outer_lr was not used",),
    "reptile_sums_over_tasks": ("the sum over tasks",),
    "imaml_lam_times_hessian": ("(I + lam H)",),
    "imaml_no_proximal_term": ("without the proximal term",),
    "imaml_no_solve": ("the linear system was not solved",),
    "imaml_hessian_at_params": ("Hessian-vector products taken at params",),
    "imaml_cg_starts_at_the_gradient": ("started from the test gradient",),
    "imaml_differentiates_through_inner_loop": ("the unrolled inner loop",),
    "imaml_dense_hessian_exact_solve": ("the exact solution of the system",),
    "inner_step_taylor_approximation": ("the first-order Taylor approximation",),
    "mlp_relu_before_each_dense": ("each ReLU before its Dense layer",),
    "adapt_one_step_too_many": ("steps + 1 steps",),
    "adapt_tree_map_arguments_swapped": ("tree_map's arguments in the wrong order",),
    "adapt_first_order_stops_the_parameters": ("zero",),
    "adaptation_loss_steps_not_passed_on": ("adapting for one step whatever steps is",),
    "adaptation_loss_scores_x_train_against_y_test": ("scoring x_train against y_test",),
    "batched_first_order_not_passed_on": ("first_order was not passed on",),
    "reptile_mean_without_task_axis": ("one mean per leaf",),
    "reptile_tasks_one_after_another": ("one task after another",),
    "reptile_rates_swapped": ("inner_lr and outer_lr swapped",),
    "reptile_interpolation_weights_swapped": ("the interpolation weights swapped",),
    "imaml_regulariser_without_half": ("lam ||phi - params||^2, not lam/2",),
    "imaml_cg_runs_to_convergence": ("the exact solution of the system",),
    "imaml_system_with_the_proximal_hessian": ("(2I + H/lam)",),
    "inner_step_hard_coded_alpha": ("alpha = 0.1, not the alpha given",),
    "inner_step_applied_to_the_value": ("the step was applied to g's value",),
    "mlp_relu_after_the_loop": ("a ReLU only after the last hidden layer",),
    "loss_divides_by_a_hard_coded_k": ("divided by 10 instead of the number of points",),
    "loss_root_mean_square": ("the root of the mean squared error",),
    "adapt_first_order_inverted": ("the first-order gradient", "the second-order gradient"),
    "adapt_every_step_from_the_start": ("every step taken from the starting parameters",),
    "adapt_alpha_twice": ("one step of size 0.01 instead of alpha = 0.1",),
    "adaptation_loss_adapts_on_the_test_split": ("adapting on the test split (and scoring on it)",),
    "adaptation_loss_steps_and_first_order_swapped": ("the parameters were not adapted",
                                                      "adapting for one step"),
    "batched_test_split_not_mapped": ("not mapped at all",),
    "batched_scores_the_mean_adapted_parameters": ("the mean of the adapted parameters",),
    "reptile_adapts_on_the_whole_batch": ("not mapped at all",),
    "reptile_parentheses_missing": ("parentheses missing",),
    "reptile_x_and_y_swapped": ("x and y swapped",),
    "imaml_proximal_gradient_sign": ("proximal gradient is lam (params - phi)",),
    "imaml_hvp_of_the_test_loss": ("Hessian-vector products of the test loss",),
    "imaml_cg_with_a_stale_residual_norm": ("never updates the residual's norm",),
    "loss_mean_absolute_error": ("the mean absolute error",),
    "loss_variance_of_the_errors": ("the variance of the errors",),
    "adapt_with_momentum": ("momentum 0.9",),
    "adaptation_loss_scores_x_test_against_y_train": ("scoring x_test against y_train",),
    "batched_data_in_the_wrong_order": ("(X_train, X_test, Y_train, Y_test)",),
    "batched_loop_overwrites_the_total": ("overwrites its total",),
    "step_update_arguments_swapped": ("updates computed from the parameters",),
    "imaml_test_gradient_at_params": ("the test gradient taken at params",),
    "imaml_cg_leaf_by_leaf": ("leaf by leaf",),
    "imaml_cg_moves_along_the_residual": ("moves x along the residual",),
    "imaml_proximal_gradient_halved": ("proximal gradient is lam/2 (phi - params)",),
    "adapt_walks_nested_dicts_only": ("params were walked as a dict",),
    "adaptation_loss_walks_nested_dicts_only": ("params were walked as a dict",),
    "batched_in_axes_per_collection": ("params were walked as a dict",),
    "step_applies_updates_per_collection": ("params were walked as a dict",),
}


def test_every_wrong_implementation_has_a_declared_lead_and_mistake():
    assert set(LEADS_WITH) == set(NAMES) == {v.name for v in WRONG}


@pytest.mark.parametrize("variant", WRONG, ids=lambda v: v.name)
def test_feedback_names_the_mistake(grade_variant, variant):
    """The part's feedback opens by naming the variant's own mistake: matched against the part's
    catalogue of known wrong versions on the check's toy problem, or read from the exception."""
    feedback = grade_variant(variant).part(variant.part).feedback
    opening = feedback.removeprefix(f"{variant.part}: ")
    assert opening.startswith(("Your result equals ", "Likely cause: ")), feedback
    assert NAMES[variant.name][0] in opening.split(". ")[0], feedback


@pytest.mark.parametrize("variant", WRONG + ALTERNATIVES + BROKEN,
                         ids=lambda v: v.name)
def test_no_feedback_names_a_mistake_the_code_does_not_have(grade_variant, variant):
    """Every mistake any check names is one the code makes: none for the correct alternatives and
    code that raises or hangs; only its own for each wrong version. (Checks that pass name
    nothing, so the solutions need no grading here.)"""
    own = NAMES.get(variant.name, ())
    for case in grade_variant(variant).cases:
        if case.diagnosis is not None:
            assert any(phrase in case.diagnosis for phrase in own), (case.name, case.diagnosis)


@pytest.mark.parametrize("variant", WRONG, ids=lambda v: v.name)
def test_feedback_leads_with_the_check_the_bug_breaks(grade_variant, variant):
    """The part's feedback names the part and leads with the check the bug breaks that names the
    mistake: the mistake, then (when it fits) what the check requires, then that check's evidence
    (values, shapes, or the relative error of a reference run), all within 400 characters. Code
    that raised leads with the likely cause instead."""
    result = grade_variant(variant)
    failed = [c for c in result.cases if c.part == variant.part and not c.passed]
    lead = next((c for c in failed if c.diagnosis), failed[0])
    feedback = result.part(variant.part).feedback
    assert lead.name == LEADS_WITH[variant.name], feedback
    assert variant.part in feedback
    opening = (f"Your result equals {lead.diagnosis}." if lead.diagnosis else
               "Likely cause: " if lead.student_error else lead.feedback)
    assert feedback.removeprefix(f"{variant.part}: ").startswith(opening), feedback
    if lead.evidence:
        assert f"Evidence: {lead.evidence}" in feedback
    assert len(feedback) <= FEEDBACK_CHARACTERS, feedback
    if lead.student_error is None:  # only Python's own message may be cut short
        assert not feedback.endswith("..."), feedback


@pytest.mark.parametrize("variant", BROKEN + ALTERNATIVES, ids=lambda v: v.name)
def test_no_feedback_is_longer_than_a_few_lines(grade_variant, variant):
    """Hangs, crashes, missing code and correct code: every part's feedback is short."""
    for part in grade_variant(variant).parts:
        assert len(part.feedback) <= FEEDBACK_CHARACTERS and not part.feedback.endswith("...")


# Code that raises, with the plain reading its feedback must open with and the inputs it names.
RAISES = {
    "batched_vmap_maps_the_parameters": ("jax.vmap mapped an argument that has no task axis",
                                         "X_train, Y_train, X_test, Y_test each (T, K, 1) = (4, 3, 1)"),
    "step_python_if_on_a_traced_loss": ("a Python if, while, bool(), int(), float() or .item()",
                                        "X_train, Y_train, X_test, Y_test each (T, K, 1) = (2, 2, 1)"),
    "loss_mean_over_axis_0": ("the loss must be one number", "x (10, 1), y (10, 1)"),
    "step_returns_loss_item": ("a Python if, while, bool(), int(), float() or .item()",
                               "X_train, Y_train, X_test, Y_test each (T, K, 1) = (2, 2, 1)"),
    "imaml_returns_the_cg_tuple": ("the result is wrapped in a tuple or list",
                                   "x_train, y_train, x_test, y_test each (K, 1) = (3, 1)"),
}


@pytest.mark.parametrize("name", RAISES)
def test_an_exception_reads_in_plain_words(grade_variant, name):
    """JAX's exception is read first as its likely cause, then the check that raised it with the
    shapes of its inputs, and none of the grader's file names, line numbers or links."""
    variant = next(v for v in BROKEN if v.name == name)
    result = grade_variant(variant)
    feedback = result.part(variant.part).feedback
    reading, inputs = RAISES[name]
    raised = next(c for c in result.cases if c.part == variant.part and c.student_error)
    check = raised.name.removeprefix("test_").replace("_", " ")
    assert feedback.removeprefix(f"{variant.part}: ").startswith(f"Likely cause: {reading}"), feedback
    assert f"in the check '{check}' with inputs {inputs}" in feedback, feedback
    assert not any(internal in feedback for internal in ("<probes", ".py", "http")), feedback


@pytest.mark.parametrize("message, reading", [
    ("TypeError: dot_general requires contracting dimensions to have the same shape, got (6,) and "
     "(24,).", "merged into K"),
    ("ValueError: vmap got inconsistent sizes for array axes to be mapped:\n  * one axis had size "
     "4", "axes differ in size"),
    ("TypeError: unsupported operand type(s) for -: 'dict' and 'dict'", "jax.tree_util.tree_map"),
    ("ConcretizationTypeError: Abstract tracer value encountered", "jnp.where"),
    ("TypeError: dot_general requires contracting dimensions to have the same shape, got (6,) and "
     "(24,).", "not mapped at all"),
    ("CallCompactUnboundModuleError: Can't call compact methods on unbound modules",
     "model.apply(params, x)"),
    ("TypeError: adapt() missing 1 required positional argument: 'steps'", "signature"),
    ("ValueError: expected a scalar loss, got an array of shape (1,)", "jnp.mean with no axis"),
    ("ValueError: the returned pytree has leaves [(('0', 'w'), (3,))], expected [(('w',), (3,))]",
     "wrapped in a tuple"),
    ("ValueError: the returned pytree has leaves [(('w',), (1,))], expected [(('w',), (3,))]",
     "the same keys and shapes"),
    ("TypeError: Indexer must have integer or boolean type, got indexer with type float32",
     "walked as a dict"),
    ("TypeError: unhashable type: 'LinearizeTracer'", "walked as a dict"),
    ("ZeroDivisionError: division by zero", None),
])
def test_known_exceptions_have_a_plain_reading(message, reading):
    """Each known message maps to the reading that names its likely fix; others to none."""
    got = plain_reading(message)
    assert got is None if reading is None else reading in got


def test_the_task_axis_is_blamed_only_where_there_is_one():
    """A shape error of a check whose inputs have no task axis gets a plain reading; Reptile's X
    and Y have one."""
    assert describe_inputs({"X": [[[0.0]] * 3] * 4, "inner_lr": 0.1}) == "X (T, K, 1) = (4, 3, 1)"
    message = "TypeError: Incompatible shapes for broadcasting: shapes=[(10, 1), (1, 10)]"
    assert "(T, K, 1)" in plain_reading(message, "X_train, Y_train, X_test, Y_test each (T, K, 1)")
    assert "(T, K, 1)" not in plain_reading(message, "x (10, 1), y (10, 1)")


def test_messages_lose_the_graders_internals():
    """Grader file names, probe line numbers and links go; the student's own cell lines stay."""
    message = ("TracerBoolConversionError: Attempted boolean conversion. The error occurred while "
               "tracing the function run at <probes of adapt>:12 for jit. The error occurred while "
               "tracing the function step at <cell 26>:3 for jit. See "
               "https://docs.jax.dev/en/latest/errors.html in /work/autograder/parts/x.py:40")
    cleaned = without_internals(message)
    assert "<probes" not in cleaned and "http" not in cleaned and ".py" not in cleaned
    assert "step at <cell 26>:3" in cleaned
