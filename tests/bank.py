"""Realistic wrong and alternative implementations, each a whole solution cell."""

import dataclasses


@dataclasses.dataclass(frozen=True)
class Variant:
    name: str
    cells: dict  # grade_id -> cell source
    part: str | None = None  # for wrong code: the part that must lose points
    notebook: str = "maml"  # the assignment notebook the cells belong to
    xla_flags: str | None = None  # extra XLA flags for the grader's child (another CPU's maths)
    own_part_only: bool = False  # grade only the part this variant changes (`part`)

    def on_isa(self, isa, own_part_only=False):
        """This variant graded as a CPU limited to ``isa`` (AVX2, SSE4_2) would grade it (only its
        own part, if ``own_part_only``)."""
        return dataclasses.replace(self, name=f"{self.name}@{isa}",
                                   xla_flags=f"--xla_cpu_max_isa={isa}",
                                   own_part_only=own_part_only)


def wrong(name, part, code, notebook="maml"):
    return Variant(name, {part: code}, part, notebook)


def beyond(name, part, code):
    return wrong(name, part, code, notebook="beyond_maml")


# The instructor's solutions of both notebooks, as variants (no cell changed).
SOLUTIONS = [Variant("solution", {}), Variant("solution_part_2", {}, notebook="beyond_maml")]

WRONG = [
    wrong("inner_step_first_order", "inner_step_objective", '''
def inner_step_objective(g, alpha):
    return lambda x: g(x - alpha * jax.lax.stop_gradient(jax.grad(g)(x)))
'''),
    wrong("inner_step_wrong_sign", "inner_step_objective", '''
def inner_step_objective(g, alpha):
    return lambda x: g(x + alpha * jax.grad(g)(x))
'''),
    wrong("mlp_missing_output_layer", "MLP", '''
class MLP(nn.Module):
    features: Sequence[int] = (40, 40)

    @nn.compact
    def __call__(self, x):
        for width in self.features:
            x = nn.relu(nn.Dense(width)(x))
        return x
'''),
    wrong("mlp_relu_on_output", "MLP", '''
class MLP(nn.Module):
    features: Sequence[int] = (40, 40)

    @nn.compact
    def __call__(self, x):
        for width in self.features:
            x = nn.Dense(width)(x)
            x = nn.relu(x)
        return nn.relu(nn.Dense(1)(x))
'''),
    wrong("mlp_ignores_features", "MLP", '''
class MLP(nn.Module):
    features: Sequence[int] = (40, 40)

    @nn.compact
    def __call__(self, x):
        x = nn.relu(nn.Dense(40)(x))
        x = nn.relu(nn.Dense(40)(x))
        return nn.Dense(1)(x)
'''),
    wrong("mlp_flattens_input", "MLP", '''
class MLP(nn.Module):
    features: Sequence[int] = (40, 40)

    @nn.compact
    def __call__(self, x):
        x = x.reshape(-1, 1)
        for width in self.features:
            x = nn.relu(nn.Dense(width)(x))
        return nn.Dense(1)(x)
'''),
    wrong("loss_sum_instead_of_mean", "square_error_loss", '''
def square_error_loss(model):
    def loss(params, x, y):
        return jnp.sum((model.apply(params, x) - y) ** 2)
    return loss
'''),
    wrong("loss_broadcasts_k_by_k", "square_error_loss", '''
def square_error_loss(model):
    def loss(params, x, y):
        return jnp.mean((model.apply(params, x).squeeze(-1) - y) ** 2)
    return loss
'''),
    wrong("loss_square_of_mean", "square_error_loss", '''
def square_error_loss(model):
    def loss(params, x, y):
        return jnp.mean(model.apply(params, x) - y) ** 2
    return loss
'''),
    wrong("loss_optax_l2_half", "square_error_loss", '''
def square_error_loss(model):
    def loss(params, x, y):
        return jnp.mean(optax.l2_loss(model.apply(params, x), y))
    return loss
'''),
    wrong("adapt_one_step_too_few", "adapt", '''
def adapt(loss, params, x, y, alpha, steps=1, first_order=False):
    for _ in range(steps - 1):
        grads = jax.grad(loss)(params, x, y)
        if first_order:
            grads = jax.lax.stop_gradient(grads)
        params = jax.tree_util.tree_map(lambda p, g: p - alpha * g, params, grads)
    return params
'''),
    wrong("adapt_steps_along_sign", "adapt", '''
def adapt(loss, params, x, y, alpha, steps=1, first_order=False):
    for _ in range(steps):
        grads = jax.grad(loss)(params, x, y)
        if first_order:
            grads = jax.lax.stop_gradient(grads)
        params = jax.tree_util.tree_map(lambda p, g: p - alpha * jnp.sign(g), params, grads)
    return params
'''),
    wrong("adapt_gradient_computed_once", "adapt", '''
def adapt(loss, params, x, y, alpha, steps=1, first_order=False):
    grads = jax.grad(loss)(params, x, y)
    if first_order:
        grads = jax.lax.stop_gradient(grads)
    for _ in range(steps):
        params = jax.tree_util.tree_map(lambda p, g: p - alpha * g, params, grads)
    return params
'''),
    wrong("adapt_always_first_order", "adapt", '''
def adapt(loss, params, x, y, alpha, steps=1, first_order=False):
    for _ in range(steps):
        grads = jax.lax.stop_gradient(jax.grad(loss)(params, x, y))
        params = jax.tree_util.tree_map(lambda p, g: p - alpha * g, params, grads)
    return params
'''),
    wrong("adapt_ignores_first_order", "adapt", '''
def adapt(loss, params, x, y, alpha, steps=1, first_order=False):
    for _ in range(steps):
        grads = jax.grad(loss)(params, x, y)
        params = jax.tree_util.tree_map(lambda p, g: p - alpha * g, params, grads)
    return params
'''),
    wrong("adapt_gradient_ascent", "adapt", '''
def adapt(loss, params, x, y, alpha, steps=1, first_order=False):
    for _ in range(steps):
        grads = jax.grad(loss)(params, x, y)
        if first_order:
            grads = jax.lax.stop_gradient(grads)
        params = jax.tree_util.tree_map(lambda p, g: p + alpha * g, params, grads)
    return params
'''),
    wrong("adaptation_loss_wrong_split", "adaptation_loss", '''
def adaptation_loss(loss, alpha, steps=1, first_order=False):
    def objective(params, x_train, y_train, x_test, y_test):
        adapted = adapt(loss, params, x_test, y_test, alpha, steps, first_order)
        return loss(adapted, x_train, y_train)
    return objective
'''),
    wrong("adaptation_loss_drops_first_order", "adaptation_loss", '''
def adaptation_loss(loss, alpha, steps=1, first_order=False):
    def objective(params, x_train, y_train, x_test, y_test):
        adapted = adapt(loss, params, x_train, y_train, alpha, steps)
        return loss(adapted, x_test, y_test)
    return objective
'''),
    wrong("adaptation_loss_not_adapted", "adaptation_loss", '''
def adaptation_loss(loss, alpha, steps=1, first_order=False):
    def objective(params, x_train, y_train, x_test, y_test):
        return loss(params, x_test, y_test)
    return objective
'''),
    wrong("adaptation_loss_accidentally_first_order", "adaptation_loss", '''
def adaptation_loss(loss, alpha, steps=1, first_order=False):
    def objective(params, x_train, y_train, x_test, y_test):
        adapted = adapt(loss, params, x_train, y_train, alpha, steps, first_order=True)
        return loss(adapted, x_test, y_test)
    return objective
'''),
    wrong("batched_sum_over_tasks", "batched_meta_loss", '''
def batched_meta_loss(loss, alpha, steps=1, first_order=False):
    per_task = jax.vmap(adaptation_loss(loss, alpha, steps, first_order), in_axes=(None, 0, 0, 0, 0))
    def meta_loss(params, X_train, Y_train, X_test, Y_test):
        return jnp.sum(per_task(params, X_train, Y_train, X_test, Y_test))
    return meta_loss
'''),
    wrong("batched_first_task_only", "batched_meta_loss", '''
def batched_meta_loss(loss, alpha, steps=1, first_order=False):
    objective = adaptation_loss(loss, alpha, steps, first_order)
    def meta_loss(params, X_train, Y_train, X_test, Y_test):
        return objective(params, X_train[0], Y_train[0], X_test[0], Y_test[0])
    return meta_loss
'''),
    wrong("batched_ignores_steps_and_first_order", "batched_meta_loss", '''
def batched_meta_loss(loss, alpha, steps=1, first_order=False):
    per_task = jax.vmap(adaptation_loss(loss, alpha), in_axes=(None, 0, 0, 0, 0))
    def meta_loss(params, X_train, Y_train, X_test, Y_test):
        return jnp.mean(per_task(params, X_train, Y_train, X_test, Y_test))
    return meta_loss
'''),
    wrong("batched_splits_shifted_by_one_task", "batched_meta_loss", '''
def batched_meta_loss(loss, alpha, steps=1, first_order=False):
    per_task = jax.vmap(adaptation_loss(loss, alpha, steps, first_order), in_axes=(None, 0, 0, 0, 0))
    def meta_loss(params, X_train, Y_train, X_test, Y_test):
        shifted = [jnp.roll(a, -1, axis=0) for a in (X_test, Y_test)]
        return jnp.mean(per_task(params, X_train, Y_train, *shifted))
    return meta_loss
'''),
    wrong("step_returns_loss_after_update", "make_meta_train_step", '''
def make_meta_train_step(meta_loss, optimizer):
    def step(params, opt_state, batch):
        grads = jax.grad(meta_loss)(params, *batch)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        params = optax.apply_updates(params, updates)
        return params, opt_state, meta_loss(params, *batch)
    return step
'''),
    wrong("step_subtracts_updates", "make_meta_train_step", '''
def make_meta_train_step(meta_loss, optimizer):
    def step(params, opt_state, batch):
        loss, grads = jax.value_and_grad(meta_loss)(params, *batch)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        params = jax.tree_util.tree_map(lambda p, u: p - u, params, updates)
        return params, opt_state, loss
    return step
'''),
    wrong("step_ignores_the_optimizer", "make_meta_train_step", '''
def make_meta_train_step(meta_loss, optimizer):
    def step(params, opt_state, batch):
        loss, grads = jax.value_and_grad(meta_loss)(params, *batch)
        params = jax.tree_util.tree_map(lambda p, g: p - 0.001 * g, params, grads)
        return params, opt_state, loss
    return step
'''),
    wrong("step_update_without_params", "make_meta_train_step", '''
def make_meta_train_step(meta_loss, optimizer):
    def step(params, opt_state, batch):
        loss, grads = jax.value_and_grad(meta_loss)(params, *batch)
        updates, opt_state = optimizer.update(grads, opt_state)
        return optax.apply_updates(params, updates), opt_state, loss
    return step
'''),
    wrong("step_drops_optimizer_state", "make_meta_train_step", '''
def make_meta_train_step(meta_loss, optimizer):
    def step(params, opt_state, batch):
        loss, grads = jax.value_and_grad(meta_loss)(params, *batch)
        updates, _ = optimizer.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, loss
    return step
'''),
    # Correct on nested dicts, wrong on other pytrees: params may be a single array.
    wrong("adapt_walks_nested_dicts_only", "adapt", '''
def adapt(loss, params, x, y, alpha, steps=1, first_order=False):
    """Runs `steps` steps of gradient descent p <- p - alpha * grad loss(p, x, y) on a pytree.

    With first_order=True each inner gradient is treated as a constant (jax.lax.stop_gradient).
    """
    def descend(p, g):
        # walk the nested params dict, stepping every array
        return {k: descend(p[k], g[k]) if isinstance(p[k], dict) else p[k] - alpha * g[k]
                for k in p}

    for _ in range(steps):
        grads = jax.grad(loss)(params, x, y)
        if first_order:
            grads = jax.lax.stop_gradient(grads)
        params = descend(params, grads)
    return params
'''),
    wrong("adaptation_loss_walks_nested_dicts_only", "adaptation_loss", '''
def adaptation_loss(loss, alpha, steps=1, first_order=False):
    """Returns f(params, x_train, y_train, x_test, y_test): the test loss after adapting on train."""
    def descend(p, g):
        return {k: descend(p[k], g[k]) if isinstance(p[k], dict) else p[k] - alpha * g[k]
                for k in p}

    def f(params, x_train, y_train, x_test, y_test):
        adapted = params
        for _ in range(steps):
            grads = jax.grad(loss)(adapted, x_train, y_train)
            if first_order:
                grads = jax.lax.stop_gradient(grads)
            adapted = descend(adapted, grads)
        return loss(adapted, x_test, y_test)

    return f
'''),
    wrong("batched_in_axes_per_collection", "batched_meta_loss", '''
def batched_meta_loss(loss, alpha, steps=1, first_order=False):
    """Returns f(params, X_train, Y_train, X_test, Y_test): the mean adaptation loss over T tasks."""
    objective = adaptation_loss(loss, alpha, steps, first_order)

    def f(params, X_train, Y_train, X_test, Y_test):
        shared = {name: None for name in params}  # every collection shared across tasks
        losses = jax.vmap(objective, in_axes=(shared, 0, 0, 0, 0))(
            params, X_train, Y_train, X_test, Y_test)
        return jnp.mean(losses)

    return f
'''),
    wrong("step_applies_updates_per_collection", "make_meta_train_step", '''
def make_meta_train_step(meta_loss, optimizer):
    """Returns step(params, opt_state, batch) -> (params, opt_state, loss): one optax meta-update."""
    def step(params, opt_state, batch):
        loss, grads = jax.value_and_grad(meta_loss)(params, *batch)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        # one collection at a time ('params', 'batch_stats', ...)
        params = {name: optax.apply_updates(params[name], updates[name]) for name in params}
        return params, opt_state, loss

    return step
'''),
]

ALTERNATIVES = [
    Variant("mlp_setup_with_own_names", {"MLP": '''
class MLP(nn.Module):
    features: Sequence[int] = (40, 40)

    def setup(self):
        self.hidden = [nn.Dense(width, name=f"hidden_{i}") for i, width in enumerate(self.features)]
        self.head = nn.Dense(1, name="head")

    def __call__(self, x):
        for layer in self.hidden:
            x = jax.nn.relu(layer(x))
        return self.head(x)
'''}),
    Variant("mlp_sequential", {"MLP": '''
class MLP(nn.Module):
    features: Sequence[int] = (40, 40)

    @nn.compact
    def __call__(self, x):
        layers = []
        for width in self.features:
            layers += [nn.Dense(width), nn.relu]
        return nn.Sequential(layers + [nn.Dense(1)])(x)
'''}),
    Variant("adapt_with_optax_sgd", {"adapt": '''
def adapt(loss, params, x, y, alpha, steps=1, first_order=False):
    inner = optax.sgd(alpha)
    state = inner.init(params)
    for _ in range(steps):
        grads = jax.grad(loss)(params, x, y)
        if first_order:
            grads = jax.tree_util.tree_map(jax.lax.stop_gradient, grads)
        updates, state = inner.update(grads, state)
        params = optax.apply_updates(params, updates)
    return params
'''}),
    Variant("adapt_with_fori_loop", {"adapt": '''
def adapt(loss, params, x, y, alpha, steps=1, first_order=False):
    def body(_, p):
        g = jax.grad(loss)(p, x, y)
        g = jax.lax.stop_gradient(g) if first_order else g
        return jax.tree_util.tree_map(lambda a, b: a - alpha * b, p, g)
    return jax.lax.fori_loop(0, steps, body, params)
'''}),
    Variant("batched_python_loop_and_inline_adaptation", {
        "batched_meta_loss": '''
def batched_meta_loss(loss, alpha, steps=1, first_order=False):
    objective = adaptation_loss(loss, alpha, steps, first_order)
    def meta_loss(params, X_train, Y_train, X_test, Y_test):
        losses = [objective(params, X_train[t], Y_train[t], X_test[t], Y_test[t])
                  for t in range(X_train.shape[0])]
        return sum(losses) / len(losses)
    return meta_loss
''',
        "adaptation_loss": '''
def adaptation_loss(loss, alpha, steps=1, first_order=False):
    def objective(params, x_train, y_train, x_test, y_test):
        p = params
        for _ in range(steps):
            g = jax.grad(loss)(p, x_train, y_train)
            if first_order:
                g = jax.lax.stop_gradient(g)
            p = jax.tree_util.tree_map(lambda a, b: a - alpha * b, p, g)
        return loss(p, x_test, y_test)
    return objective
'''}),
    Variant("other_styles", {
        "inner_step_objective": '''
def inner_step_objective(g, alpha):
    def h(x):
        value, slope = jax.value_and_grad(g)(x)
        return g(x - alpha * slope)
    return h
''',
        "square_error_loss": '''
def square_error_loss(model):
    return lambda params, x, y: optax.squared_error(model.apply(params, x), y).mean()
''',
        "make_meta_train_step": '''
def make_meta_train_step(meta_loss, optimizer):
    grad_fn = jax.value_and_grad(lambda p, batch: meta_loss(p, *batch))
    def step(params, opt_state, batch):
        loss, grads = grad_fn(params, batch)
        updates, new_state = optimizer.update(grads, opt_state, params)
        new_params = jax.tree_util.tree_map(lambda p, u: p + u, params, updates)
        return new_params, new_state, loss
    return step
'''}),
]

# Submissions whose code crashes, hangs, is missing or does not parse: each must cost exactly its
# own part, all of it, and nothing else.
BROKEN = [
    wrong("adapt_hangs_ignoring_signals", "adapt", '''
import signal

def adapt(loss, params, x, y, alpha, steps=1, first_order=False):
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    while True:
        pass
'''),
    wrong("mlp_kills_its_process", "MLP", '''
import os

class MLP(nn.Module):
    features: Sequence[int] = (40, 40)

    @nn.compact
    def __call__(self, x):
        os._exit(3)
'''),
    wrong("adaptation_loss_missing", "adaptation_loss", "# I did not get to this one\n"),
    wrong("square_error_loss_syntax_error", "square_error_loss", '''
def square_error_loss(model):
    def loss(params, x, y)
        return jnp.mean((model.apply(params, x) - y) ** 2)
    return loss
'''),
]
BROKEN += [
    wrong("adapt_floods_output", "adapt", '''
import sys

def adapt(loss, params, x, y, alpha, steps=1, first_order=False):
    for _ in range(200):
        sys.stdout.write("x" * 1_000_000)
    return params
'''),
    wrong("batched_vmap_maps_the_parameters", "batched_meta_loss", '''
def batched_meta_loss(loss, alpha, steps=1, first_order=False):
    per_task = jax.vmap(adaptation_loss(loss, alpha, steps, first_order))
    def meta_loss(params, X_train, Y_train, X_test, Y_test):
        return jnp.mean(per_task(params, X_train, Y_train, X_test, Y_test))
    return meta_loss
'''),
    wrong("step_python_if_on_a_traced_loss", "make_meta_train_step", '''
def make_meta_train_step(meta_loss, optimizer):
    def step(params, opt_state, batch):
        loss, grads = jax.value_and_grad(meta_loss)(params, *batch)
        if loss > 100:
            grads = jax.tree_util.tree_map(lambda g: g / 10, grads)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, loss
    return step
'''),
    wrong("batched_meta_loss_memory_bomb", "batched_meta_loss", '''
def batched_meta_loss(loss, alpha, steps=1, first_order=False):
    hoard = bytearray(64 * 2 ** 30)
    return lambda *args: 0.0
'''),
]

# ----- the second notebook: reptile_update and imaml_meta_gradient -----

REPTILE_HEAD = "def reptile_update(loss, params, X, Y, inner_lr, inner_steps, outer_lr):\n"
IMAML_HEAD = ("def imaml_meta_gradient(loss, params, x_train, y_train, x_test, y_test, lam, "
              "inner_lr, inner_steps, cg_steps):\n")
# The proximal inner loop, the test gradient and a CG solve, with the piece each variant changes.
IMAML_TEMPLATE = IMAML_HEAD + """    tree_map = jax.tree_util.tree_map

    def proximal(phi):
        distance = sum(jnp.sum((a - b) ** 2) for a, b in zip(jax.tree_util.tree_leaves(phi),
                                                             jax.tree_util.tree_leaves(params)))
        return loss(phi, x_train, y_train) + PROX * distance

    phi = params
    for _ in range(inner_steps):
        phi = tree_map(lambda p, g: p - inner_lr * g, phi, jax.grad(proximal)(phi))
    phi = jax.lax.stop_gradient(phi)
    test_gradient = jax.grad(loss)(phi, x_test, y_test)

    def matvec(v):
        hessian_v = jax.jvp(lambda p: jax.grad(loss)(p, x_train, y_train), (AT,), (v,))[1]
        return tree_map(lambda a, b: SYSTEM, v, hessian_v)

    solution, _ = jax.scipy.sparse.linalg.cg(matvec, test_gradient, x0=START, maxiter=cg_steps)
    return RESULT
"""
CORRECT_IMAML = dict(PROX="lam / 2", AT="phi", SYSTEM="a + b / lam", START="None", RESULT="solution")


def imaml_code(**change):
    code = IMAML_TEMPLATE
    for key, value in {**CORRECT_IMAML, **change}.items():
        code = code.replace(key, value)
    return code


def imaml(name, **change):
    return beyond(name, "imaml_meta_gradient", imaml_code(**change))


BEYOND_WRONG = [
    beyond("reptile_moves_away", "reptile_update", REPTILE_HEAD + """
    adapted = jax.vmap(lambda x, y: adapt(loss, params, x, y, inner_lr, inner_steps))(X, Y)
    return jax.tree_util.tree_map(lambda p, phi: p - outer_lr * (jnp.mean(phi, 0) - p), params, adapted)
"""),
    beyond("reptile_first_task_only", "reptile_update", REPTILE_HEAD + """
    phi = adapt(loss, params, X[0], Y[0], inner_lr, inner_steps)
    return jax.tree_util.tree_map(lambda p, q: p + outer_lr * (q - p), params, phi)
"""),
    beyond("reptile_ignores_outer_lr", "reptile_update", REPTILE_HEAD + """
    adapted = jax.vmap(lambda x, y: adapt(loss, params, x, y, inner_lr, inner_steps))(X, Y)
    return jax.tree_util.tree_map(lambda phi: jnp.mean(phi, 0), adapted)
"""),
    beyond("reptile_sums_over_tasks", "reptile_update", REPTILE_HEAD + """
    adapted = jax.vmap(lambda x, y: adapt(loss, params, x, y, inner_lr, inner_steps))(X, Y)
    return jax.tree_util.tree_map(lambda p, phi: p + outer_lr * jnp.sum(phi - p, 0), params, adapted)
"""),
    imaml("imaml_lam_times_hessian", SYSTEM="a + lam * b"),
    imaml("imaml_no_proximal_term", PROX="0.0"),
    imaml("imaml_no_solve", RESULT="test_gradient"),
    imaml("imaml_hessian_at_params", AT="params"),
    imaml("imaml_cg_starts_at_the_gradient", START="test_gradient"),
    beyond("imaml_differentiates_through_inner_loop", "imaml_meta_gradient", IMAML_HEAD + """
    def adapted(theta):
        phi = theta
        for _ in range(inner_steps):
            g = jax.grad(lambda p: loss(p, x_train, y_train) + lam / 2 * sum(
                jnp.sum((a - b) ** 2) for a, b in zip(jax.tree_util.tree_leaves(p),
                                                      jax.tree_util.tree_leaves(theta))))(phi)
            phi = jax.tree_util.tree_map(lambda p, q: p - inner_lr * q, phi, g)
        return phi
    return jax.grad(lambda theta: loss(adapted(theta), x_test, y_test))(params)
"""),
    beyond("imaml_dense_hessian_exact_solve", "imaml_meta_gradient", IMAML_HEAD + """
    from jax.flatten_util import ravel_pytree
    flat, unravel = ravel_pytree(params)
    train = lambda v: loss(unravel(v), x_train, y_train)
    phi = flat
    for _ in range(inner_steps):
        phi = phi - inner_lr * (jax.grad(train)(phi) + lam * (phi - flat))
    phi = jax.lax.stop_gradient(phi)
    g = jax.grad(lambda v: loss(unravel(v), x_test, y_test))(phi)
    system = jnp.eye(flat.size) + jax.hessian(train)(phi) / lam
    return unravel(jnp.linalg.solve(system, g))
"""),
]

BEYOND_ALTERNATIVES = [
    Variant("reptile_python_loop_own_steps", {"reptile_update": REPTILE_HEAD + """
    total = jax.tree_util.tree_map(jnp.zeros_like, params)
    for i in range(X.shape[0]):
        phi = params
        for _ in range(inner_steps):
            g = jax.grad(loss)(phi, X[i], Y[i])
            phi = jax.tree_util.tree_map(lambda p, d: p - inner_lr * d, phi, g)
        total = jax.tree_util.tree_map(lambda t, p, q: t + (q - p), total, params, phi)
    return jax.tree_util.tree_map(lambda p, t: p + outer_lr * t / X.shape[0], params, total)
"""}, notebook="beyond_maml"),
    Variant("imaml_hand_written_cg_and_double_grad_hvp", {"imaml_meta_gradient": IMAML_HEAD + """
    tm, leaves = jax.tree_util.tree_map, jax.tree_util.tree_leaves
    dot = lambda a, b: sum(jnp.vdot(x, y) for x, y in zip(leaves(a), leaves(b)))
    phi = params
    for _ in range(inner_steps):
        g = jax.grad(loss)(phi, x_train, y_train)
        phi = tm(lambda p, d, t: p - inner_lr * (d + lam * (p - t)), phi, g, params)
    phi = jax.lax.stop_gradient(phi)
    b = jax.grad(loss)(phi, x_test, y_test)
    def A(v):
        hv = jax.grad(lambda p: dot(jax.grad(loss)(p, x_train, y_train), v))(phi)
        return tm(lambda a, h: a + h / lam, v, hv)
    x = tm(jnp.zeros_like, b)
    r, p = b, b
    for _ in range(cg_steps):
        rr = dot(r, r)
        Ap = A(p)
        step = rr / dot(p, Ap)
        x = tm(lambda a, c: a + step * c, x, p)
        r = tm(lambda a, c: a - step * c, r, Ap)
        p = tm(lambda a, c: a + dot(r, r) / rr * c, r, p)
    return x
"""}, notebook="beyond_maml"),
]
# Correct code that computes in float32 on purpose, although the reference runs pass float64:
# the tolerances must hold for float32 arithmetic on any CPU too.
TO_FLOAT32 = "jax.tree_util.tree_map(lambda a: jnp.asarray(a, jnp.float32), {})"
FLOAT32_ALTERNATIVES = [
    Variant("computes_in_float32", {
        "square_error_loss": f'''
def square_error_loss(model):
    def loss(params, x, y):
        params, x, y = {TO_FLOAT32.format("(params, x, y)")}
        return jnp.mean((model.apply(params, x) - y) ** 2)
    return loss
''',
        "adapt": f'''
def adapt(loss, params, x, y, alpha, steps=1, first_order=False):
    params, x, y = {TO_FLOAT32.format("(params, x, y)")}
    for _ in range(steps):
        grads = jax.grad(loss)(params, x, y)
        if first_order:
            grads = jax.lax.stop_gradient(grads)
        params = jax.tree_util.tree_map(lambda p, g: p - jnp.float32(alpha) * g, params, grads)
    return params
''',
        "make_meta_train_step": f'''
def make_meta_train_step(meta_loss, optimizer):
    def step(params, opt_state, batch):
        params, opt_state, batch = {TO_FLOAT32.format("(params, opt_state, batch)")}
        loss, grads = jax.value_and_grad(meta_loss)(params, *batch)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, loss
    return step
'''}),
    Variant("computes_in_float32_part_2", {
        "reptile_update": REPTILE_HEAD + f"""
    params, X, Y = {TO_FLOAT32.format("(params, X, Y)")}
    adapted = jax.vmap(lambda x, y: adapt(loss, params, x, y, inner_lr, inner_steps))(X, Y)
    return jax.tree_util.tree_map(lambda p, phi: p + outer_lr * (jnp.mean(phi, axis=0) - p),
                                  params, adapted)
""",
        "imaml_meta_gradient": imaml_code().replace(
            "    tree_map = jax.tree_util.tree_map\n",
            "    tree_map = jax.tree_util.tree_map\n    params, x_train, y_train, x_test, y_test = "
            + TO_FLOAT32.format("(params, x_train, y_train, x_test, y_test)") + "\n")},
            notebook="beyond_maml"),
]
# Wrong versions written blind, from the contract and the release alone, for the study of
# what the feedback tells a student.
BLIND_WRONG = [
    wrong("inner_step_taylor_approximation", "inner_step_objective", '''
def inner_step_objective(g, alpha):
    """Returns h(x) = g(x - alpha * g'(x)): g evaluated after one gradient step from x.

    Args:
      g: a differentiable function from a scalar to a scalar.
      alpha: the inner learning rate.
    """
    dg = jax.grad(g)

    def h(x):
        # g(x - a g'(x)) ~ g(x) - a g'(x) * g'(x)
        d = dg(x)
        return g(x) - alpha * d * d

    return h
'''),
    wrong("mlp_relu_before_each_dense", "MLP", '''
class MLP(nn.Module):
    """A ReLU network: Dense(f) + ReLU for each f in features, then Dense(1)."""

    features: Sequence[int] = (40, 40)

    @nn.compact
    def __call__(self, x):
        for f in self.features:
            x = nn.relu(x)
            x = nn.Dense(f)(x)
        return nn.Dense(1)(x)
'''),
    wrong("adapt_one_step_too_many", "adapt", '''
def adapt(loss, params, x, y, alpha, steps=1, first_order=False):
    """Runs `steps` steps of gradient descent p <- p - alpha * grad loss(p, x, y) on a pytree.

    With first_order=True each inner gradient is treated as a constant (jax.lax.stop_gradient).
    """
    def gd_step(p):
        grads = jax.grad(loss)(p, x, y)
        if first_order:
            grads = jax.lax.stop_gradient(grads)
        return jax.tree_util.tree_map(lambda leaf, g: leaf - alpha * g, p, grads)

    adapted = gd_step(params)
    for _ in range(steps):
        adapted = gd_step(adapted)
    return adapted
'''),
    wrong("adapt_tree_map_arguments_swapped", "adapt", '''
def adapt(loss, params, x, y, alpha, steps=1, first_order=False):
    """Runs `steps` steps of gradient descent p <- p - alpha * grad loss(p, x, y) on a pytree.

    With first_order=True each inner gradient is treated as a constant (jax.lax.stop_gradient).
    """
    grad_fn = jax.grad(loss)
    for _ in range(steps):
        grads = grad_fn(params, x, y)
        if first_order:
            grads = jax.lax.stop_gradient(grads)
        params = jax.tree_util.tree_map(lambda p, g: p - alpha * g, grads, params)
    return params
'''),
    wrong("adapt_first_order_stops_the_parameters", "adapt", '''
def adapt(loss, params, x, y, alpha, steps=1, first_order=False):
    """Runs `steps` steps of gradient descent p <- p - alpha * grad loss(p, x, y) on a pytree.

    With first_order=True each inner gradient is treated as a constant (jax.lax.stop_gradient).
    """
    for _ in range(steps):
        grads = jax.grad(loss)(params, x, y)
        params = jax.tree_util.tree_map(lambda p, g: p - alpha * g, params, grads)
        if first_order:
            params = jax.lax.stop_gradient(params)
    return params
'''),
    wrong("adaptation_loss_steps_not_passed_on", "adaptation_loss", '''
def adaptation_loss(loss, alpha, steps=1, first_order=False):
    """Returns f(params, x_train, y_train, x_test, y_test): the test loss after adapting on train."""
    def f(params, x_train, y_train, x_test, y_test):
        adapted = adapt(loss, params, x_train, y_train, alpha, first_order=first_order)
        return loss(adapted, x_test, y_test)
    return f
'''),
    wrong("adaptation_loss_scores_x_train_against_y_test", "adaptation_loss", '''
def adaptation_loss(loss, alpha, steps=1, first_order=False):
    """Returns f(params, x_train, y_train, x_test, y_test): the test loss after adapting on train."""
    def f(params, x_train, y_train, x_test, y_test):
        adapted = adapt(loss, params, x_train, y_train, alpha, steps, first_order)
        return loss(adapted, x_train, y_test)
    return f
'''),
    wrong("batched_first_order_not_passed_on", "batched_meta_loss", '''
def batched_meta_loss(loss, alpha, steps=1, first_order=False):
    """Returns F(params, X_train, Y_train, X_test, Y_test): the mean over tasks of adaptation_loss."""
    task_loss = adaptation_loss(loss, alpha, steps)
    batched = jax.vmap(task_loss, in_axes=(None, 0, 0, 0, 0))

    def F(params, X_train, Y_train, X_test, Y_test):
        return jnp.mean(batched(params, X_train, Y_train, X_test, Y_test))
    return F
'''),
    beyond("reptile_mean_without_task_axis", "reptile_update", '''def reptile_update(loss, params, X, Y, inner_lr, inner_steps, outer_lr):
    """One Reptile update over a batch of tasks.

    phi_i = adapt(loss, params, X[i], Y[i], inner_lr, inner_steps), then
    params + outer_lr * mean_i(phi_i - params), leaf by leaf.
    """
    phis = jax.vmap(lambda x, y: adapt(loss, params, x, y, inner_lr, inner_steps))(X, Y)
    return jax.tree_util.tree_map(lambda p, phi: p + outer_lr * jnp.mean(phi - p), params, phis)
'''),
    beyond("reptile_tasks_one_after_another", "reptile_update", '''def reptile_update(loss, params, X, Y, inner_lr, inner_steps, outer_lr):
    """One Reptile update over a batch of tasks.

    phi_i = adapt(loss, params, X[i], Y[i], inner_lr, inner_steps), then
    params + outer_lr * mean_i(phi_i - params), leaf by leaf.
    """
    for i in range(X.shape[0]):
        phi = adapt(loss, params, X[i], Y[i], inner_lr, inner_steps)
        params = jax.tree_util.tree_map(lambda p, f: p + outer_lr * (f - p), params, phi)
    return params
'''),
    beyond("reptile_rates_swapped", "reptile_update", '''def reptile_update(loss, params, X, Y, inner_lr, inner_steps, outer_lr):
    """One Reptile update over a batch of tasks.

    phi_i = adapt(loss, params, X[i], Y[i], inner_lr, inner_steps), then
    params + outer_lr * mean_i(phi_i - params), leaf by leaf.
    """
    phis = jax.vmap(lambda x, y: adapt(loss, params, x, y, outer_lr, inner_steps))(X, Y)
    mean_phi = jax.tree_util.tree_map(lambda leaf: jnp.mean(leaf, axis=0), phis)
    return jax.tree_util.tree_map(lambda p, m: p + inner_lr * (m - p), params, mean_phi)
'''),
    beyond("reptile_interpolation_weights_swapped", "reptile_update", '''def reptile_update(loss, params, X, Y, inner_lr, inner_steps, outer_lr):
    """One Reptile update over a batch of tasks.

    phi_i = adapt(loss, params, X[i], Y[i], inner_lr, inner_steps), then
    params + outer_lr * mean_i(phi_i - params), leaf by leaf.
    """
    phis = jax.vmap(lambda x, y: adapt(loss, params, x, y, inner_lr, inner_steps))(X, Y)
    mean_phi = jax.tree_util.tree_map(lambda leaf: jnp.mean(leaf, axis=0), phis)
    # interpolate between the old parameters and the mean adapted ones
    return jax.tree_util.tree_map(lambda p, m: outer_lr * p + (1 - outer_lr) * m, params, mean_phi)
'''),
    beyond("imaml_regulariser_without_half", "imaml_meta_gradient", '''def imaml_meta_gradient(loss, params, x_train, y_train, x_test, y_test, lam, inner_lr, inner_steps, cg_steps):
    """Implicit MAML's meta-gradient of one task, a pytree like params."""
    def proximal(phi):
        dist = sum(jnp.sum((a - b) ** 2) for a, b in
                   zip(jax.tree_util.tree_leaves(phi), jax.tree_util.tree_leaves(params)))
        return loss(phi, x_train, y_train) + lam * dist

    phi = params
    for _ in range(inner_steps):
        g = jax.grad(proximal)(phi)
        phi = jax.tree_util.tree_map(lambda p, d: p - inner_lr * d, phi, g)
    phi = jax.lax.stop_gradient(phi)

    test_grad = jax.grad(loss)(phi, x_test, y_test)

    def matvec(v):
        hv = jax.jvp(lambda p: jax.grad(loss)(p, x_train, y_train), (phi,), (v,))[1]
        return jax.tree_util.tree_map(lambda a, b: a + b / lam, v, hv)

    v, _ = jax.scipy.sparse.linalg.cg(matvec, test_grad, maxiter=cg_steps)
    return v
'''),
    beyond("imaml_cg_runs_to_convergence", "imaml_meta_gradient", '''def imaml_meta_gradient(loss, params, x_train, y_train, x_test, y_test, lam, inner_lr, inner_steps, cg_steps):
    """Implicit MAML's meta-gradient of one task, a pytree like params."""
    def inner_objective(phi):
        sq = sum(jnp.sum((a - b) ** 2) for a, b in
                 zip(jax.tree_util.tree_leaves(phi), jax.tree_util.tree_leaves(params)))
        return loss(phi, x_train, y_train) + 0.5 * lam * sq

    phi = params
    for _ in range(inner_steps):
        grads = jax.grad(inner_objective)(phi)
        phi = jax.tree_util.tree_map(lambda p, g: p - inner_lr * g, phi, grads)
    phi = jax.lax.stop_gradient(phi)

    g_test = jax.grad(loss)(phi, x_test, y_test)

    def matvec(v):
        hv = jax.jvp(lambda p: jax.grad(loss)(p, x_train, y_train), (phi,), (v,))[1]
        return jax.tree_util.tree_map(lambda vi, hi: vi + hi / lam, v, hv)

    solution, _ = jax.scipy.sparse.linalg.cg(matvec, g_test)
    return solution
'''),
    beyond("imaml_system_with_the_proximal_hessian", "imaml_meta_gradient", '''def imaml_meta_gradient(loss, params, x_train, y_train, x_test, y_test, lam, inner_lr, inner_steps, cg_steps):
    """Implicit MAML's meta-gradient of one task, a pytree like params."""
    def proximal(phi):
        sq = sum(jnp.sum((a - b) ** 2) for a, b in
                 zip(jax.tree_util.tree_leaves(phi), jax.tree_util.tree_leaves(params)))
        return loss(phi, x_train, y_train) + lam / 2 * sq

    phi = params
    for _ in range(inner_steps):
        phi = jax.tree_util.tree_map(lambda p, g: p - inner_lr * g, phi, jax.grad(proximal)(phi))
    phi = jax.lax.stop_gradient(phi)

    g_test = jax.grad(loss)(phi, x_test, y_test)

    def matvec(v):
        # Hessian of the inner objective at phi, times v
        hv = jax.jvp(jax.grad(proximal), (phi,), (v,))[1]
        return jax.tree_util.tree_map(lambda vi, hi: vi + hi / lam, v, hv)

    v, _ = jax.scipy.sparse.linalg.cg(matvec, g_test, maxiter=cg_steps)
    return v
'''),
    wrong("inner_step_hard_coded_alpha", "inner_step_objective", '''
def inner_step_objective(g, alpha):
    """Returns h(x) = g(x - alpha * g'(x)): g evaluated after one gradient step from x.

    Args:
      g: a differentiable function from a scalar to a scalar.
      alpha: the inner learning rate.
    """
    grad_g = jax.grad(g)

    def h(x):
        return g(x - 0.1 * grad_g(x))

    return h
'''),
    wrong("inner_step_applied_to_the_value", "inner_step_objective", '''
def inner_step_objective(g, alpha):
    """Returns h(x) = g(x - alpha * g'(x)): g evaluated after one gradient step from x.

    Args:
      g: a differentiable function from a scalar to a scalar.
      alpha: the inner learning rate.
    """
    grad_g = jax.grad(g)

    def h(x):
        # value of g after one gradient step
        return g(x) - alpha * grad_g(x)

    return h
'''),
    wrong("mlp_relu_after_the_loop", "MLP", '''
class MLP(nn.Module):
    """A ReLU network: Dense(f) + ReLU for each f in features, then Dense(1)."""

    features: Sequence[int] = (40, 40)

    @nn.compact
    def __call__(self, x):
        for f in self.features:
            x = nn.Dense(f)(x)
        x = nn.relu(x)
        return nn.Dense(1)(x)
'''),
    wrong("loss_divides_by_a_hard_coded_k", "square_error_loss", '''
def square_error_loss(model):
    """Returns loss(params, x, y) = mean over the K points of (model.apply(params, x) - y) ** 2."""
    K = 10  # points per task

    def loss(params, x, y):
        pred = model.apply(params, x)
        return jnp.sum((pred - y) ** 2) / K

    return loss
'''),
    wrong("loss_root_mean_square", "square_error_loss", '''
def square_error_loss(model):
    """Returns loss(params, x, y) = mean over the K points of (model.apply(params, x) - y) ** 2."""
    def loss(params, x, y):
        pred = model.apply(params, x)
        return jnp.sqrt(jnp.mean((pred - y) ** 2))

    return loss
'''),
    wrong("adapt_first_order_inverted", "adapt", '''
def adapt(loss, params, x, y, alpha, steps=1, first_order=False):
    """Runs `steps` steps of gradient descent p <- p - alpha * grad loss(p, x, y) on a pytree.

    With first_order=True each inner gradient is treated as a constant (jax.lax.stop_gradient).
    """
    grad_fn = jax.grad(loss)
    for _ in range(steps):
        grads = grad_fn(params, x, y)
        if not first_order:
            grads = jax.lax.stop_gradient(grads)
        params = jax.tree_util.tree_map(lambda p, g: p - alpha * g, params, grads)
    return params
'''),
    wrong("adapt_every_step_from_the_start", "adapt", '''
def adapt(loss, params, x, y, alpha, steps=1, first_order=False):
    """Runs `steps` steps of gradient descent p <- p - alpha * grad loss(p, x, y) on a pytree.

    With first_order=True each inner gradient is treated as a constant (jax.lax.stop_gradient).
    """
    adapted = params
    for _ in range(steps):
        grads = jax.grad(loss)(adapted, x, y)
        if first_order:
            grads = jax.lax.stop_gradient(grads)
        adapted = jax.tree_util.tree_map(lambda p, g: p - alpha * g, params, grads)
    return adapted
'''),
    wrong("adapt_alpha_twice", "adapt", '''
def adapt(loss, params, x, y, alpha, steps=1, first_order=False):
    """Runs `steps` steps of gradient descent p <- p - alpha * grad loss(p, x, y) on a pytree.

    With first_order=True each inner gradient is treated as a constant (jax.lax.stop_gradient).
    """
    for _ in range(steps):
        grads = jax.grad(loss)(params, x, y)
        if first_order:
            grads = jax.lax.stop_gradient(grads)
        updates = jax.tree_util.tree_map(lambda g: alpha * g, grads)
        params = jax.tree_util.tree_map(lambda p, u: p - alpha * u, params, updates)
    return params
'''),
    wrong("adaptation_loss_adapts_on_the_test_split", "adaptation_loss", '''
def adaptation_loss(loss, alpha, steps=1, first_order=False):
    """Returns f(params, x_train, y_train, x_test, y_test): the test loss after adapting on train."""
    def f(params, x_train, y_train, x_test, y_test):
        adapted = adapt(loss, params, x_test, y_test, alpha, steps, first_order)
        return loss(adapted, x_test, y_test)

    return f
'''),
    wrong("adaptation_loss_steps_and_first_order_swapped", "adaptation_loss", '''
def adaptation_loss(loss, alpha, steps=1, first_order=False):
    """Returns f(params, x_train, y_train, x_test, y_test): the test loss after adapting on train."""
    def f(params, x_train, y_train, x_test, y_test):
        adapted = adapt(loss, params, x_train, y_train, alpha, first_order, steps)
        return loss(adapted, x_test, y_test)

    return f
'''),
    wrong("batched_test_split_not_mapped", "batched_meta_loss", '''
def batched_meta_loss(loss, alpha, steps=1, first_order=False):
    """Returns F(params, X_train, Y_train, X_test, Y_test): the mean over tasks of adaptation_loss."""
    task_loss = adaptation_loss(loss, alpha, steps, first_order)

    def F(params, X_train, Y_train, X_test, Y_test):
        losses = jax.vmap(task_loss, in_axes=(None, 0, 0, None, None))(
            params, X_train, Y_train, X_test, Y_test)
        return jnp.mean(losses)

    return F
'''),
    wrong("batched_scores_the_mean_adapted_parameters", "batched_meta_loss", '''
def batched_meta_loss(loss, alpha, steps=1, first_order=False):
    """Returns F(params, X_train, Y_train, X_test, Y_test): the mean over tasks of adaptation_loss."""
    def F(params, X_train, Y_train, X_test, Y_test):
        adapted = jax.vmap(lambda x, y: adapt(loss, params, x, y, alpha, steps, first_order))(
            X_train, Y_train)
        mean_adapted = jax.tree_util.tree_map(lambda leaf: jnp.mean(leaf, axis=0), adapted)
        losses = jax.vmap(loss, in_axes=(None, 0, 0))(mean_adapted, X_test, Y_test)
        return jnp.mean(losses)

    return F
'''),
    beyond("reptile_adapts_on_the_whole_batch", "reptile_update", '''
def reptile_update(loss, params, X, Y, inner_lr, inner_steps, outer_lr):
    """One Reptile update over a batch of tasks.

    phi_i = adapt(loss, params, X[i], Y[i], inner_lr, inner_steps), then
    params + outer_lr * mean_i(phi_i - params), leaf by leaf.
    """
    T = X.shape[0]
    diffs = []
    for i in range(T):
        phi = adapt(loss, params, X, Y, inner_lr, inner_steps)
        diffs.append(jax.tree_util.tree_map(lambda a, b: a - b, phi, params))
    mean_diff = jax.tree_util.tree_map(lambda *d: sum(d) / T, *diffs)
    return jax.tree_util.tree_map(lambda p, d: p + outer_lr * d, params, mean_diff)
'''),
    beyond("reptile_parentheses_missing", "reptile_update", '''
def reptile_update(loss, params, X, Y, inner_lr, inner_steps, outer_lr):
    """One Reptile update over a batch of tasks.

    phi_i = adapt(loss, params, X[i], Y[i], inner_lr, inner_steps), then
    params + outer_lr * mean_i(phi_i - params), leaf by leaf.
    """
    phis = jax.vmap(lambda x, y: adapt(loss, params, x, y, inner_lr, inner_steps))(X, Y)
    mean_phi = jax.tree_util.tree_map(lambda leaf: jnp.mean(leaf, axis=0), phis)
    return jax.tree_util.tree_map(lambda p, m: p + outer_lr * m - p, params, mean_phi)
'''),
    beyond("reptile_x_and_y_swapped", "reptile_update", '''
def reptile_update(loss, params, X, Y, inner_lr, inner_steps, outer_lr):
    """One Reptile update over a batch of tasks.

    phi_i = adapt(loss, params, X[i], Y[i], inner_lr, inner_steps), then
    params + outer_lr * mean_i(phi_i - params), leaf by leaf.
    """
    def one_task(y, x):
        return adapt(loss, params, x, y, inner_lr, inner_steps)

    phis = jax.vmap(one_task)(X, Y)
    mean_phi = jax.tree_util.tree_map(lambda leaf: jnp.mean(leaf, axis=0), phis)
    return jax.tree_util.tree_map(lambda p, m: p + outer_lr * (m - p), params, mean_phi)
'''),
    beyond("imaml_proximal_gradient_sign", "imaml_meta_gradient", '''
def imaml_meta_gradient(loss, params, x_train, y_train, x_test, y_test, lam, inner_lr,
                        inner_steps, cg_steps):
    """Implicit MAML's meta-gradient of one task, a pytree like params.

    phi: inner_steps steps of gradient descent (rate inner_lr, from params) on
    loss(phi, x_train, y_train) + lam / 2 * ||phi - params||^2, then held constant.
    Returns v solving (I + H / lam) v = grad loss(phi, x_test, y_test), H the Hessian of the
    training loss at phi, by cg_steps iterations of conjugate gradient from zero (Hessian-vector
    products only).
    """
    train_grad = lambda p: jax.grad(loss)(p, x_train, y_train)
    phi = params
    for _ in range(inner_steps):
        g = train_grad(phi)
        # gradient of the proximal term lam/2 ||phi - params||^2
        phi = jax.tree_util.tree_map(lambda p, gi, p0: p - inner_lr * (gi + lam * (p0 - p)),
                                     phi, g, params)
    phi = jax.lax.stop_gradient(phi)
    b = jax.grad(loss)(phi, x_test, y_test)

    def matvec(v):
        hv = jax.jvp(train_grad, (phi,), (v,))[1]
        return jax.tree_util.tree_map(lambda vi, hvi: vi + hvi / lam, v, hv)

    v, _ = jax.scipy.sparse.linalg.cg(matvec, b, maxiter=cg_steps)
    return v
'''),
    beyond("imaml_hvp_of_the_test_loss", "imaml_meta_gradient", '''
def imaml_meta_gradient(loss, params, x_train, y_train, x_test, y_test, lam, inner_lr,
                        inner_steps, cg_steps):
    """Implicit MAML's meta-gradient of one task, a pytree like params.

    phi: inner_steps steps of gradient descent (rate inner_lr, from params) on
    loss(phi, x_train, y_train) + lam / 2 * ||phi - params||^2, then held constant.
    Returns v solving (I + H / lam) v = grad loss(phi, x_test, y_test), H the Hessian of the
    training loss at phi, by cg_steps iterations of conjugate gradient from zero (Hessian-vector
    products only).
    """
    def proximal(phi):
        sq = sum(jnp.sum((a - b) ** 2) for a, b in zip(jax.tree_util.tree_leaves(phi),
                                                        jax.tree_util.tree_leaves(params)))
        return loss(phi, x_train, y_train) + lam / 2 * sq

    phi = params
    for _ in range(inner_steps):
        g = jax.grad(proximal)(phi)
        phi = jax.tree_util.tree_map(lambda p, gi: p - inner_lr * gi, phi, g)
    phi = jax.lax.stop_gradient(phi)

    test_grad = lambda p: jax.grad(loss)(p, x_test, y_test)
    b = test_grad(phi)

    def matvec(v):
        hv = jax.jvp(test_grad, (phi,), (v,))[1]
        return jax.tree_util.tree_map(lambda vi, hvi: vi + hvi / lam, v, hv)

    v, _ = jax.scipy.sparse.linalg.cg(matvec, b, maxiter=cg_steps)
    return v
'''),
    beyond("imaml_cg_with_a_stale_residual_norm", "imaml_meta_gradient", '''
def imaml_meta_gradient(loss, params, x_train, y_train, x_test, y_test, lam, inner_lr,
                        inner_steps, cg_steps):
    """Implicit MAML's meta-gradient of one task, a pytree like params.

    phi: inner_steps steps of gradient descent (rate inner_lr, from params) on
    loss(phi, x_train, y_train) + lam / 2 * ||phi - params||^2, then held constant.
    Returns v solving (I + H / lam) v = grad loss(phi, x_test, y_test), H the Hessian of the
    training loss at phi, by cg_steps iterations of conjugate gradient from zero (Hessian-vector
    products only).
    """
    tmap = jax.tree_util.tree_map
    train_grad = lambda p: jax.grad(loss)(p, x_train, y_train)

    phi = params
    for _ in range(inner_steps):
        g = train_grad(phi)
        phi = tmap(lambda p, gi, p0: p - inner_lr * (gi + lam * (p - p0)), phi, g, params)
    phi = jax.lax.stop_gradient(phi)
    b = jax.grad(loss)(phi, x_test, y_test)

    def A(v):
        hv = jax.jvp(train_grad, (phi,), (v,))[1]
        return tmap(lambda vi, hvi: vi + hvi / lam, v, hv)

    def dot(u, w):
        return sum(jnp.vdot(a, c) for a, c in zip(jax.tree_util.tree_leaves(u),
                                                 jax.tree_util.tree_leaves(w)))

    x = tmap(jnp.zeros_like, b)
    r = b
    d = b
    rs_old = dot(r, r)
    for _ in range(cg_steps):
        Ad = A(d)
        step = rs_old / (dot(d, Ad) + 1e-12)
        x = tmap(lambda xi, di: xi + step * di, x, d)
        r = tmap(lambda ri, adi: ri - step * adi, r, Ad)
        rs_new = dot(r, r)
        d = tmap(lambda ri, di: ri + (rs_new / rs_old) * di, r, d)
    return x
'''),
    wrong("loss_mean_absolute_error", "square_error_loss", '''
def square_error_loss(model):
    """Returns loss(params, x, y) = mean over the K points of (model.apply(params, x) - y) ** 2."""
    def loss(params, x, y):
        pred = model.apply(params, x)
        return jnp.mean(jnp.abs(pred - y))
    return loss
'''),
    wrong("loss_variance_of_the_errors", "square_error_loss", '''
def square_error_loss(model):
    """Returns loss(params, x, y) = mean over the K points of (model.apply(params, x) - y) ** 2."""
    def loss(params, x, y):
        residual = model.apply(params, x) - y
        return jnp.var(residual)
    return loss
'''),
    wrong("adapt_with_momentum", "adapt", '''
def adapt(loss, params, x, y, alpha, steps=1, first_order=False):
    """Runs `steps` steps of gradient descent p <- p - alpha * grad loss(p, x, y) on a pytree.

    With first_order=True each inner gradient is treated as a constant (jax.lax.stop_gradient).
    """
    inner_opt = optax.sgd(learning_rate=alpha, momentum=0.9)
    state = inner_opt.init(params)
    for _ in range(steps):
        grads = jax.grad(loss)(params, x, y)
        if first_order:
            grads = jax.lax.stop_gradient(grads)
        updates, state = inner_opt.update(grads, state, params)
        params = optax.apply_updates(params, updates)
    return params
'''),
    wrong("adaptation_loss_scores_x_test_against_y_train", "adaptation_loss", '''
def adaptation_loss(loss, alpha, steps=1, first_order=False):
    """Returns f(params, x_train, y_train, x_test, y_test): the test loss after adapting on train."""
    def f(params, x_train, y_train, x_test, y_test):
        adapted_params = adapt(loss, params, x_train, y_train, alpha,
                               steps=steps, first_order=first_order)
        return loss(adapted_params, x_test, y_train)
    return f
'''),
    wrong("batched_data_in_the_wrong_order", "batched_meta_loss", '''
def batched_meta_loss(loss, alpha, steps=1, first_order=False):
    """Returns F(params, X_train, Y_train, X_test, Y_test): the mean over tasks of adaptation_loss."""
    per_task = jax.vmap(adaptation_loss(loss, alpha, steps, first_order),
                        in_axes=(None, 0, 0, 0, 0))
    def F(params, X_train, Y_train, X_test, Y_test):
        return per_task(params, X_train, X_test, Y_train, Y_test).mean()
    return F
'''),
    wrong("batched_loop_overwrites_the_total", "batched_meta_loss", '''
def batched_meta_loss(loss, alpha, steps=1, first_order=False):
    """Returns F(params, X_train, Y_train, X_test, Y_test): the mean over tasks of adaptation_loss."""
    objective = adaptation_loss(loss, alpha, steps, first_order)
    def F(params, X_train, Y_train, X_test, Y_test):
        num_tasks = X_train.shape[0]
        total = 0.0
        for t in range(num_tasks):
            total = objective(params, X_train[t], Y_train[t], X_test[t], Y_test[t])
        return total / num_tasks
    return F
'''),
    wrong("step_update_arguments_swapped", "make_meta_train_step", '''
def make_meta_train_step(meta_loss, optimizer):
    """Returns step(params, opt_state, batch) -> (params, opt_state, loss): one optax meta-update."""
    def step(params, opt_state, batch):
        X_train, Y_train, X_test, Y_test = batch
        loss, grads = jax.value_and_grad(meta_loss)(params, X_train, Y_train, X_test, Y_test)
        updates, opt_state = optimizer.update(params, opt_state, grads)
        params = optax.apply_updates(params, updates)
        return params, opt_state, loss
    return step
'''),
    beyond("imaml_test_gradient_at_params", "imaml_meta_gradient", '''
def imaml_meta_gradient(loss, params, x_train, y_train, x_test, y_test, lam, inner_lr,
                        inner_steps, cg_steps):
    """Implicit MAML's meta-gradient of one task, a pytree like params.

    phi: inner_steps steps of gradient descent (rate inner_lr, from params) on
    loss(phi, x_train, y_train) + lam / 2 * ||phi - params||^2, then held constant.
    Returns v solving (I + H / lam) v = grad loss(phi, x_test, y_test), H the Hessian of the
    training loss at phi, by cg_steps iterations of conjugate gradient from zero (Hessian-vector
    products only).
    """
    def proximal(phi):
        sq = sum(jnp.sum((a - b) ** 2) for a, b in
                 zip(jax.tree_util.tree_leaves(phi), jax.tree_util.tree_leaves(params)))
        return loss(phi, x_train, y_train) + lam / 2 * sq

    phi = params
    for _ in range(inner_steps):
        g = jax.grad(proximal)(phi)
        phi = jax.tree_util.tree_map(lambda p, gp: p - inner_lr * gp, phi, g)
    phi = jax.lax.stop_gradient(phi)

    test_grad = jax.grad(loss)(params, x_test, y_test)

    def matvec(v):
        hv = jax.jvp(lambda p: jax.grad(loss)(p, x_train, y_train), (phi,), (v,))[1]
        return jax.tree_util.tree_map(lambda a, b: a + b / lam, v, hv)

    v, _ = jax.scipy.sparse.linalg.cg(matvec, test_grad, maxiter=cg_steps)
    return v
'''),
    beyond("imaml_cg_leaf_by_leaf", "imaml_meta_gradient", '''
def imaml_meta_gradient(loss, params, x_train, y_train, x_test, y_test, lam, inner_lr,
                        inner_steps, cg_steps):
    """Implicit MAML's meta-gradient of one task, a pytree like params.

    phi: inner_steps steps of gradient descent (rate inner_lr, from params) on
    loss(phi, x_train, y_train) + lam / 2 * ||phi - params||^2, then held constant.
    Returns v solving (I + H / lam) v = grad loss(phi, x_test, y_test), H the Hessian of the
    training loss at phi, by cg_steps iterations of conjugate gradient from zero (Hessian-vector
    products only).
    """
    tmap = jax.tree_util.tree_map

    phi = params
    for _ in range(inner_steps):
        g = jax.grad(loss)(phi, x_train, y_train)
        phi = tmap(lambda p, gi, p0: p - inner_lr * (gi + lam * (p - p0)), phi, g, params)
    phi = jax.lax.stop_gradient(phi)

    def A(v):
        hv = jax.jvp(lambda p: jax.grad(loss)(p, x_train, y_train), (phi,), (v,))[1]
        return tmap(lambda vi, hi: vi + hi / lam, v, hv)

    b = jax.grad(loss)(phi, x_test, y_test)
    x = tmap(jnp.zeros_like, b)
    r = b
    p = r
    rs_old = tmap(lambda ri: jnp.sum(ri * ri), r)
    for _ in range(cg_steps):
        Ap = A(p)
        alpha = tmap(lambda rs, pi, api: rs / jnp.sum(pi * api), rs_old, p, Ap)
        x = tmap(lambda xi, a, pi: xi + a * pi, x, alpha, p)
        r = tmap(lambda ri, a, api: ri - a * api, r, alpha, Ap)
        rs_new = tmap(lambda ri: jnp.sum(ri * ri), r)
        p = tmap(lambda ri, rn, ro, pi: ri + (rn / ro) * pi, r, rs_new, rs_old, p)
        rs_old = rs_new
    return x
'''),
    beyond("imaml_cg_moves_along_the_residual", "imaml_meta_gradient", '''
def imaml_meta_gradient(loss, params, x_train, y_train, x_test, y_test, lam, inner_lr,
                        inner_steps, cg_steps):
    """Implicit MAML's meta-gradient of one task, a pytree like params.

    phi: inner_steps steps of gradient descent (rate inner_lr, from params) on
    loss(phi, x_train, y_train) + lam / 2 * ||phi - params||^2, then held constant.
    Returns v solving (I + H / lam) v = grad loss(phi, x_test, y_test), H the Hessian of the
    training loss at phi, by cg_steps iterations of conjugate gradient from zero (Hessian-vector
    products only).
    """
    from jax.flatten_util import ravel_pytree

    flat_params, unravel = ravel_pytree(params)
    train = lambda w: loss(unravel(w), x_train, y_train)
    test = lambda w: loss(unravel(w), x_test, y_test)

    phi = flat_params
    for _ in range(inner_steps):
        phi = phi - inner_lr * (jax.grad(train)(phi) + lam * (phi - flat_params))
    phi = jax.lax.stop_gradient(phi)

    def A(v):
        return v + jax.jvp(jax.grad(train), (phi,), (v,))[1] / lam

    b = jax.grad(test)(phi)
    x = jnp.zeros_like(b)
    r = b
    p = r
    rs_old = r @ r
    for _ in range(cg_steps):
        Ap = A(p)
        step = rs_old / (p @ Ap)
        x = x + step * r
        r = r - step * Ap
        rs_new = r @ r
        p = r + (rs_new / rs_old) * p
        rs_old = rs_new
    return unravel(x)
'''),
    beyond("imaml_proximal_gradient_halved", "imaml_meta_gradient", '''
def imaml_meta_gradient(loss, params, x_train, y_train, x_test, y_test, lam, inner_lr,
                        inner_steps, cg_steps):
    """Implicit MAML's meta-gradient of one task, a pytree like params.

    phi: inner_steps steps of gradient descent (rate inner_lr, from params) on
    loss(phi, x_train, y_train) + lam / 2 * ||phi - params||^2, then held constant.
    Returns v solving (I + H / lam) v = grad loss(phi, x_test, y_test), H the Hessian of the
    training loss at phi, by cg_steps iterations of conjugate gradient from zero (Hessian-vector
    products only).
    """
    tree_map = jax.tree_util.tree_map
    phi = params
    for _ in range(inner_steps):
        g = jax.grad(loss)(phi, x_train, y_train)
        # gradient of the regulariser lam / 2 * ||phi - params||^2
        reg = tree_map(lambda a, b: lam / 2 * (a - b), phi, params)
        phi = tree_map(lambda a, ga, ra: a - inner_lr * (ga + ra), phi, g, reg)
    phi = jax.lax.stop_gradient(phi)

    grad_test = jax.grad(loss)(phi, x_test, y_test)

    def hvp(v):
        return jax.jvp(lambda p: jax.grad(loss)(p, x_train, y_train), (phi,), (v,))[1]

    def operator(v):
        return tree_map(lambda a, b: a + b / lam, v, hvp(v))

    return jax.scipy.sparse.linalg.cg(operator, grad_test, maxiter=cg_steps)[0]
'''),
]
BLIND_BROKEN = [
    wrong("loss_mean_over_axis_0", "square_error_loss", '''
def square_error_loss(model):
    """Returns loss(params, x, y) = mean over the K points of (model.apply(params, x) - y) ** 2."""
    def loss(params, x, y):
        residual = model.apply(params, x) - y
        # mean over the K points (axis 0)
        return jnp.mean(residual ** 2, axis=0)
    return loss
'''),
    wrong("step_returns_loss_item", "make_meta_train_step", '''
def make_meta_train_step(meta_loss, optimizer):
    """Returns step(params, opt_state, batch) -> (params, opt_state, loss): one optax meta-update."""
    def step(params, opt_state, batch):
        loss, grads = jax.value_and_grad(meta_loss)(params, *batch)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        params = optax.apply_updates(params, updates)
        return params, opt_state, loss.item()

    return step
'''),
    beyond("imaml_returns_the_cg_tuple", "imaml_meta_gradient", '''
def imaml_meta_gradient(loss, params, x_train, y_train, x_test, y_test, lam, inner_lr,
                        inner_steps, cg_steps):
    """Implicit MAML's meta-gradient of one task, a pytree like params.

    phi: inner_steps steps of gradient descent (rate inner_lr, from params) on
    loss(phi, x_train, y_train) + lam / 2 * ||phi - params||^2, then held constant.
    Returns v solving (I + H / lam) v = grad loss(phi, x_test, y_test), H the Hessian of the
    training loss at phi, by cg_steps iterations of conjugate gradient from zero (Hessian-vector
    products only).
    """
    tmap = jax.tree_util.tree_map
    grad_train = jax.grad(loss)

    phi = params
    for _ in range(inner_steps):
        g = grad_train(phi, x_train, y_train)
        phi = tmap(lambda p, gi, p0: p - inner_lr * (gi + lam * (p - p0)), phi, g, params)
    phi = jax.lax.stop_gradient(phi)

    b = jax.grad(loss)(phi, x_test, y_test)

    def A(v):
        hv = jax.jvp(lambda p: grad_train(p, x_train, y_train), (phi,), (v,))[1]
        return tmap(lambda vi, hi: vi + hi / lam, v, hv)

    return jax.scipy.sparse.linalg.cg(A, b, maxiter=cg_steps)
'''),
]

WRONG += BEYOND_WRONG
# Graded in their own part only: each changes one cell, so the rest grades as the solution does.
BLIND_WRONG = [dataclasses.replace(v, own_part_only=True) for v in BLIND_WRONG]
BLIND_BROKEN = [dataclasses.replace(v, own_part_only=True) for v in BLIND_BROKEN]
WRONG += BLIND_WRONG
BROKEN += BLIND_BROKEN
ALTERNATIVES += BEYOND_ALTERNATIVES + FLOAT32_ALTERNATIVES
BROKEN += [
    beyond("imaml_meta_gradient_hangs", "imaml_meta_gradient", IMAML_HEAD + """    while True:
        pass
"""),
    beyond("reptile_update_missing", "reptile_update", "# I ran out of time\n"),
]
