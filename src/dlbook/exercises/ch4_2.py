"""Exercises of §4.2, The backpropagation formula: Adam's first step by hand, the numerical gradient by central
differences, a step of Adam, and what momentum does to the learning rate.

Use in a notebook cell: ``from dlbook.exercises import ch4_2`` then ``ch4_2.check_adam_first_step(answer)``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from dlbook.exercises._answers import Mistake, check_number
from dlbook.exercises._compare import check_callable, compare, optimizer_path
from dlbook.exercises._registry import explore, register
from dlbook.gradcheck import numerical_grad
from dlbook.optim import Adam

#: The by-hand exercise: one weight, its first gradient, Adam's default betas and eps, learning rate 0.1.
ADAM = dict(w=1.0, g=0.02, lr=0.1, beta1=0.9, beta2=0.999, eps=1e-8)


@register("4.2-adam-first-step", "4.2", "compute", "The first step of Adam, by hand")
def check_adam_first_step(answer: Any) -> bool:
    """The weight after Adam's first step (eq-adam) from w = 1.0 with the gradient g = 0.02, η = 0.1,
    β₁ = 0.9, β₂ = 0.999, ε = 10⁻⁸, starting from m = v = 0.

    ``answer``: a number; right to within ±0.001.
    """
    a = ADAM
    w, g, lr, b1, b2, eps = a["w"], a["g"], a["lr"], a["beta1"], a["beta2"], a["eps"]
    m, v = (1 - b1) * g, (1 - b2) * g * g
    m_hat, v_hat = m / (1 - b1), v / (1 - b2)
    mistakes = [
        Mistake(w - lr * m / (math.sqrt(v) + eps), "The bias correction is missing: m and v start at 0, so after "
                                                    "one step divide them by 1 − β₁ and 1 − β₂."),
        Mistake(w - lr * m_hat / (math.sqrt(v) + eps), "Correct v as well: v̂ = v / (1 − β₂ᵗ)."),
        Mistake(w - lr * m / (math.sqrt(v_hat) + eps), "Correct m as well: m̂ = m / (1 − β₁ᵗ)."),
        Mistake(w - lr * g, "That is a step of plain SGD; Adam divides by √v̂."),
        Mistake(w + lr * m_hat / (math.sqrt(v_hat) + eps), "Step against the gradient: w − η·m̂ / (√v̂ + ε)."),
        Mistake(w - lr * m_hat / (v_hat + eps), "Divide by the square root of v̂: √v̂ has the units of a gradient."),
    ]
    return check_number("answer", answer, w - lr * m_hat / (math.sqrt(v_hat) + eps), abs_tol=1e-3,
                        mistakes=mistakes,
                        hint="m = (1 − β₁)g and v = (1 − β₂)g², then m̂, v̂ (t = 1), then w − η·m̂ / (√v̂ + ε).")


# ---- implement: the numerical gradient ------------------------------------------------------------------------

class _Function:
    """A scalar function of an array, with a readable repr (it is named in the verdict)."""

    def __init__(self, text: str, f: Callable[[np.ndarray], float]) -> None:
        self.text, self.f = text, f

    def __call__(self, x: np.ndarray) -> float:
        return self.f(x)

    def __repr__(self) -> str:
        return self.text


FUNCTIONS = [
    _Function("Σ x²", lambda x: float(np.sum(x**2))),
    _Function("Σ tanh(x)·x", lambda x: float(np.sum(np.tanh(x) * x))),
    _Function("log Σ eˣ", lambda x: float(np.log(np.sum(np.exp(x))))),
    _Function("Σ sin(x₀·xᵢ)", lambda x: float(np.sum(np.sin(x.flat[0] * x)))),
]


def _numerical_reference(f: _Function, x: np.ndarray, h: float) -> np.ndarray:
    x = x.copy()
    return numerical_grad(lambda: f(x), x, h=h)


def _numerical_cases() -> list[dict[str, Any]]:
    rng = np.random.default_rng(43)
    shapes = [(4,), (2, 3), (5,), (3, 2)]
    return [dict(f=f, x=rng.standard_normal(s), h=1e-3) for f, s in zip(FUNCTIONS, shapes)]


def _numerical_hint(case: dict[str, Any], got: tuple[np.ndarray, ...]) -> str | None:
    f, x, h = case.values()
    forward, half = np.zeros_like(x), np.zeros_like(x)
    for i in range(x.size):
        e = np.zeros_like(x)
        e.flat[i] = h
        forward.flat[i] = (f(x + e) - f(x)) / h
        half.flat[i] = (f(x + e) - f(x - e)) / h
    if got[0].shape == x.shape and np.allclose(got[0], forward, rtol=1e-9, atol=1e-12):
        return "That is a forward difference, error O(h); the central difference (f(x + h) − f(x − h)) / 2h is O(h²)."
    if got[0].shape == x.shape and np.allclose(got[0], half):
        return "The two points are 2h apart: divide by 2h."
    return None


@register("4.2-numerical-gradient", "4.2", "implement", "The gradient by central differences")
def check_numerical_gradient(fn: Any) -> bool:
    """``fn(f, x, h)`` -> ∂f/∂x by central differences (eq-central-difference), one entry of x at a time.

    f: a function of an array returning a float; x: a float array of any shape; h: the step.  The result has the
    shape of x.  Compared with ``dlbook.gradcheck.numerical_grad`` at h = 10⁻³.
    """
    return compare(fn, _numerical_reference, _numerical_cases(), argument="fn", outputs=("the gradient",),
                   diagnose=_numerical_hint,
                   error_hint="Loop over x.flat (or np.ndindex(x.shape)) so that x of any shape works.",
                   success="Your numerical gradient agrees with dlbook's")


# ---- implement: one step of Adam ------------------------------------------------------------------------------

STEPS = 4


def _adam_reference(w: np.ndarray, grads: np.ndarray, lr: float, beta1: float, beta2: float) -> np.ndarray:
    return optimizer_path(lambda ps: Adam(ps, lr=lr, betas=(beta1, beta2), eps=1e-8), w, grads)


def _adam_runner(fn: Any) -> Any:
    def run(w: np.ndarray, grads: np.ndarray, lr: float, beta1: float, beta2: float) -> np.ndarray:
        m, v, path = np.zeros_like(w), np.zeros_like(w), []
        for t, g in enumerate(grads, start=1):
            result = fn(w, g.copy(), m, v, t, lr, beta1, beta2, 1e-8)
            if not isinstance(result, tuple | list) or len(result) != 3:
                raise TypeError(f"fn must return (new_w, new_m, new_v), got {type(result).__name__}")
            w, m, v = (np.array(r, dtype=np.float64) for r in result)
            path.append(w.copy())
        return np.stack(path)

    return run


def _adam_cases() -> list[dict[str, Any]]:
    rng = np.random.default_rng(44)
    settings = [((3,), 0.1, 0.9, 0.999), ((2, 4), 0.01, 0.8, 0.99), ((5,), 0.05, 0.0, 0.9), ((1, 3), 0.2, 0.5, 0.5)]
    return [dict(w=rng.standard_normal(s), grads=rng.standard_normal((STEPS,) + s), lr=lr, beta1=b1, beta2=b2)
            for s, lr, b1, b2 in settings]


def _adam_uncorrected(w: np.ndarray, grads: np.ndarray, lr: float, beta1: float, beta2: float) -> np.ndarray:
    m, v, path = np.zeros_like(w), np.zeros_like(w), []
    for g in grads:
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g * g
        w = w - lr * m / (np.sqrt(v) + 1e-8)
        path.append(w)
    return np.stack(path)


def _adam_hint(case: dict[str, Any], got: tuple[np.ndarray, ...]) -> str | None:
    w, grads, lr, b1, b2 = case.values()
    if got[0].shape == (STEPS,) + w.shape and np.allclose(got[0], _adam_uncorrected(w, grads, lr, b1, b2)):
        return "The bias correction is missing: divide m by 1 − β₁ᵗ and v by 1 − β₂ᵗ before the step."
    if np.allclose(got[0][0], w + lr * np.sign(grads[0]), atol=1e-6):
        return "Step against the gradient: w − η·m̂ / (√v̂ + ε)."
    return None


@register("4.2-adam-step", "4.2", "implement", "One step of Adam")
def check_adam_step(fn: Any) -> bool:
    """``fn(w, grad, m, v, t, lr, beta1, beta2, eps)`` -> ``(new_w, new_m, new_v)``: step t (1, 2, …) of (eq-adam).

    The checker runs four steps from m = v = 0 and compares the weights after every step with
    ``dlbook.optim.Adam`` (axis 0 of the reported index is the step).
    """
    check_callable("fn", fn)
    return compare(_adam_runner(fn), _adam_reference, _adam_cases(), argument="fn",
                   outputs=("w (axis 0 = step)",), diagnose=_adam_hint,
                   success="Your Adam step agrees with dlbook.optim.Adam")


explore("4.2-momentum-learning-rate", "4.2", "Which plain-SGD learning rate does momentum 0.9 at η = 0.1 match?")
