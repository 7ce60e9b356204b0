"""`inner_step_objective(g, alpha)`: h(x) = g(x - alpha g'(x)), against closed forms."""

import numpy as np

from autograder.parts.checking import Mismatch, case

XS = [-1.3, -0.4, 0.25, 0.9, 1.7]
# float32 evaluation of degree-4 polynomials at |x| < 2: relative error below 1e-6.
# Measured (benchmarks/tolerance_margins.py): correct code on AVX-512, AVX2, SSE4.2 and one
# thread is within 0.016 of this tolerance; the nearest wrong implementation is at
# 89 (inner_step_taylor_approximation).
RTOL, ATOL = 1e-4, 1e-5


def expected(g, alpha, xs):
    """Values and derivatives of h, with g', g'' taken exactly (polynomials) or by hand (sine),
    and what the known mistakes give instead (``"mistakes"``)."""
    if "poly" in g:
        coeffs = np.asarray(g["poly"], dtype=np.float64)
        g0 = np.poly1d(coeffs)
        g1, g2 = g0.deriv(1), g0.deriv(2)
    else:
        a, b = g["sin"]
        g0 = lambda x: a * np.sin(b * x)  # noqa: E731
        g1 = lambda x: a * b * np.cos(b * x)  # noqa: E731
        g2 = lambda x: -a * b * b * np.sin(b * x)  # noqa: E731
    xs = np.asarray(xs, dtype=np.float64)
    inner = xs - alpha * g1(xs)
    return {"values": g0(inner), "grads": (1 - alpha * g2(xs)) * g1(inner),
            "mistakes": mistakes(g0, g1, g2, alpha, xs)}


OTHER_RATES = (0.001, 0.01, 0.05, 0.1, 0.2, 0.3, 0.5, 1.0)  # rates students hard-code


def mistakes(g0, g1, g2, alpha, xs):
    """What known wrong versions give: ``{"values" | "grads": {what the mistake computes: its
    values at xs}}``, for g with derivatives ``g1``, ``g2``."""
    ascent = xs + alpha * g1(xs)
    return {
        "values": {
            "g(x + alpha g'(x)): the step went up the gradient (sign flipped)": g0(ascent),
            "g(x): no inner step was taken": g0(xs),
            "g(x) - alpha g'(x)^2, the first-order Taylor approximation, not g at the stepped "
            "point": g0(xs) - alpha * g1(xs) ** 2,
            "g(x) - alpha g'(x): the step was applied to g's value, not to x":
                g0(xs) - alpha * g1(xs),
            **{f"h with alpha = {rate:g}, not the alpha given ({alpha:g})":
               g0(xs - rate * g1(xs)) for rate in OTHER_RATES if rate != alpha},
        },
        "grads": {
            "g'(x - alpha g'(x)) without the factor (1 - alpha g''(x)): the inner gradient was "
            "held constant (stop_gradient)": g1(xs - alpha * g1(xs)),
            "the gradient of g(x + alpha g'(x)): the step went up the gradient (sign flipped)":
                (1 + alpha * g2(xs)) * g1(ascent),
            **{f"the gradient of h with alpha = {rate:g}, not the alpha given ({alpha:g})":
               (1 - rate * g2(xs)) * g1(xs - rate * g1(xs)) for rate in OTHER_RATES
               if rate != alpha},
        },
    }


def describe(g):
    """``g`` as a formula a student can read, e.g. ``0.2 x^4 + 0.1 x^3 - 0.8 x^2 + 0.5 x``."""
    if "sin" in g:
        return f"{g['sin'][0]:g} sin({g['sin'][1]:g} x)"
    degree = len(g["poly"]) - 1
    terms = [(c, degree - i) for i, c in enumerate(g["poly"]) if c]
    text = " + ".join(f"{c:g}" + ("" if p == 0 else " x" if p == 1 else f" x^{p}") for c, p in terms)
    return text.replace("+ -", "- ")


def check(student, compare, g, alpha, only=None):
    """Compares h and h' at each x; the first point that differs is the evidence shown."""
    got = student.probe("inner_step_objective", g=g, alpha=alpha, xs=XS)
    want = expected(g, alpha, XS)
    for key, label in (("values", "h"), ("grads", "h'")):
        if only is None or key in only:
            if np.shape(got[key]) != (len(XS),):
                raise Mismatch(f"{label} returned shape {np.shape(got[key])} for {len(XS)} points.")
            for i, x in enumerate(XS):
                compare(got[key][i], want[key][i], RTOL, ATOL, what=f"{label}({x:g})",
                        case=f"g(x) = {describe(g)}, alpha = {alpha:g}",
                        mistakes={m: v[i] for m, v in want["mistakes"][key].items()})


QUARTIC = {"poly": [0.2, 0.1, -0.8, 0.5, 0.0]}


@case(points=0.5, feedback="h(x) must equal g(x - alpha * g'(x)): g evaluated after one "
      "gradient step from x.")
def test_value_is_g_after_one_step(student, compare):
    """h(x) equals g at x moved one gradient step, for a quartic g."""
    check(student, compare, QUARTIC, 0.1, only=["values"])


@case(points=1.0, feedback="At other alphas too, h(x) must be g(x - alpha g'(x)) and "
      "jax.grad(h)(x) must be (1 - alpha g''(x)) g'(x - alpha g'(x)).")
def test_gradient_has_second_order_factor(student, compare):
    """jax.grad(h)(x) = (1 - alpha g''(x)) g'(x - alpha g'(x)) for a quartic g, two alphas."""
    for alpha in (0.1, 0.3):
        check(student, compare, QUARTIC, alpha)


@case(points=0.5, feedback="h and jax.grad(h) must follow the same formulas for g(x) = a sin(bx) "
      "at other alphas.")
def test_sine_at_several_alphas(student, compare):
    """Values and gradients match for a sine g at alpha 0.05 and 0.2."""
    for alpha in (0.05, 0.2):
        check(student, compare, {"sin": [1.5, 2.0]}, alpha)
