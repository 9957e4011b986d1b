"""Exercises of chapter 9, Frequently asked questions: the factor by which one SGD step multiplies the error of the
straight line, how far a weight moves when ``zero_grad()`` is forgotten, gradient clipping by the joint norm, and
how the gap of overfitting shrinks with more examples.

Use in a notebook cell: ``from dlbook.exercises import ch9`` then ``ch9.check_overshoot(answer)``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from dlbook.exercises._answers import Mistake, check_number
from dlbook.exercises._compare import compare
from dlbook.exercises._registry import explore, register

#: The overshoot exercise: inputs uniform on [0, X_MAX], learning rate ETA.
X_MAX, ETA = 100.0, 1e-3
#: The accumulation exercise: a constant gradient G, SGD with learning rate LR, STEPS steps without zero_grad().
G, LR, STEPS = 0.5, 0.1, 10


@register("9-overshoot", "9", "compute", "The factor one SGD step multiplies the line's error by")
def check_overshoot(answer: Any) -> bool:
    """The factor 1 − 2η·E[x²] by which one full-batch SGD step (mean squared error, the bias already right)
    multiplies the weight's error w − 3, for inputs x uniform on [0, 100] and η = 10⁻³ — the population value,
    E[x²] of the uniform distribution, not the sample's.  ``answer``: a number; right to within ±0.01.
    """
    ex2, ex = X_MAX**2 / 3, X_MAX / 2
    mistakes = [
        Mistake(1 - ETA * ex2, "The derivative of (w x − y)² with respect to w is 2x(w x − y): keep the factor 2."),
        Mistake(1 - 2 * ETA * ex**2, "E[x²] is not E[x]²: for x uniform on [0, a], E[x²] = a²/3, not a²/4."),
        Mistake(1 - 2 * ETA * ex, "The gradient carries x twice (once from the error w·x − y, once from the "
                                  "chain rule): it is E[x²] that counts, not E[x]."),
        Mistake(1 - 2 * ETA * X_MAX**2, "E[x²] of the uniform distribution on [0, a] is a²/3, not a²."),
        Mistake(2 * ETA * ex2, "The step is w ← w − η·∂L/∂w: the factor is 1 minus the product, not the product."),
    ]
    return check_number("answer", answer, 1 - 2 * ETA * ex2, abs_tol=0.01, mistakes=mistakes,
                        hint="∂L/∂w = 2·E[x(w x + b − y)] = 2·E[x²]·(w − 3) when b is right; one step multiplies "
                             "w − 3 by 1 − η·(that factor).")


def _accumulated_distance(clear: bool) -> float:
    """How far SGD moves one weight in STEPS steps of the constant gradient G, with or without zero_grad()."""
    from dlbook.nn.module import Parameter
    from dlbook.optim import SGD

    p = Parameter(np.zeros(1))
    opt = SGD([p], lr=LR)
    for _ in range(STEPS):
        if clear:
            opt.zero_grad()
        p.grad = G * np.ones(1) if p.grad is None else p.grad + G   # what backward() does: it adds
        opt.step()
    return float(-p.data[0])


@register("9-missing-zero-grad", "9", "compute", "How far a weight moves when zero_grad() is forgotten")
def check_missing_zero_grad(answer: Any) -> bool:
    """A weight's loss has the constant gradient 0.5. Plain SGD (learning rate 0.1, no momentum) takes 10 steps, and
    the loop never calls ``zero_grad()``, so each ``backward()`` adds to ``.grad``. How far has the weight moved?

    ``answer``: a number (a distance, ≥ 0); right to within ±0.001.
    """
    expected = _accumulated_distance(clear=False)
    mistakes = [
        Mistake(_accumulated_distance(clear=True), "That is the loop with zero_grad(): without it, step k applies "
                                                   "the sum of k gradients."),
        Mistake(LR * G * STEPS**2, "Step k applies k gradients, so the steps are 1, 2, …, n times η·g: the sum is "
                                   "n(n + 1)/2, not n²."),
        Mistake(LR * G * STEPS * (STEPS - 1) / 2, "Count from the first step: it already applies one gradient, the "
                                                  "tenth applies ten."),
        Mistake(LR * G * STEPS, "That is the distance of the last step alone (or of a loop with zero_grad()); add "
                                "up all ten."),
    ]
    return check_number("answer", answer, expected, abs_tol=1e-3, mistakes=mistakes,
                        hint="backward() adds to .grad, so before step k the gradient is k·g; add up the ten "
                             "steps η·k·g.")


# ---- implement: gradient clipping by the joint norm -----------------------------------------------------------------

def _clip_reference(g_weight: np.ndarray, g_bias: np.ndarray, max_norm: float) -> tuple[np.ndarray, np.ndarray]:
    from dlbook.nn.module import Parameter
    from dlbook.optim import clip_grad_norm

    params = [Parameter(np.zeros_like(g_weight)), Parameter(np.zeros_like(g_bias))]
    for p, g in zip(params, (g_weight, g_bias)):
        p.grad = g.copy()
    clip_grad_norm(params, max_norm)
    return params[0].grad, params[1].grad


def _clip_cases() -> list[dict[str, Any]]:
    rng = np.random.default_rng(59)
    cases = []
    for shape, scale, max_norm in [((3, 2), 3.0, 1.0), ((4, 5), 2.0, 5.0), ((2, 3), 0.1, 1.0), ((6, 4), 10.0, 0.5)]:
        cases.append(dict(g_weight=scale * rng.standard_normal(shape), g_bias=scale * rng.standard_normal(shape[0]),
                          max_norm=max_norm))
    return cases


def _clip_hint(case: dict[str, Any], got: tuple[np.ndarray, ...]) -> str | None:
    gw, gb, m = case.values()
    total = np.sqrt(np.sum(gw**2) + np.sum(gb**2))
    each = [g * min(1.0, m / np.linalg.norm(g)) for g in (gw, gb)]
    if np.allclose(got[0], each[0]) and np.allclose(got[1], each[1]):
        return ("Each gradient was clipped by its own norm: the norm is joint, √(Σ of every squared entry of "
                "every gradient), and all are scaled by the same factor.")
    if np.allclose(got[0], np.clip(gw, -m, m)) and np.allclose(got[1], np.clip(gb, -m, m)):
        return "Clipping by the norm scales the whole gradient (its direction kept), it does not cut single entries."
    if total < m and np.allclose(got[0], gw * m / total):
        return "A gradient whose norm is already below max_norm is left as it is: clipping only ever shrinks."
    return None


@register("9-clip-grad-norm", "9", "implement", "Gradient clipping by the joint norm of all gradients")
def check_clip_grad_norm(fn: Any) -> bool:
    """``fn(g_weight, g_bias, max_norm)`` -> ``(g_weight, g_bias)`` clipped together: if the joint norm
    ‖g‖ = √(Σ every squared entry of both) exceeds ``max_norm``, both are multiplied by max_norm/‖g‖; otherwise they
    are returned unchanged.  Compared with ``dlbook.optim.clip_grad_norm``."""
    return compare(fn, _clip_reference, _clip_cases(), argument="fn", outputs=("g_weight", "g_bias"),
                   diagnose=_clip_hint,
                   error_hint="np.sum(g ** 2) adds the squares of every entry of an array of any shape.",
                   success="Your clipping agrees with dlbook's clip_grad_norm")


explore("9-more-examples", "9", "How does the gap between training and validation change with more examples?")
