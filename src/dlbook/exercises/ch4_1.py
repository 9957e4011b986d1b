"""Exercises of §4.1, The layer formula and activation functions: the cross-entropy gradient of one logit by
hand, GELU's derivative, a numerically stable cross-entropy with its gradient, and the slopes of the activations.

Use in a notebook cell: ``from dlbook.exercises import ch4_1`` then ``ch4_1.check_ce_gradient(answer)``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from dlbook import functional as F
from dlbook.autograd import Tensor
from dlbook.exercises._answers import Mistake, check_number
from dlbook.exercises._compare import compare
from dlbook.exercises._registry import explore, register
from dlbook.functional import softmax_array

#: The batch of the by-hand exercise (the chapter's example): two rows of logits and their classes.
LOGITS = ((2.0, 1.0, 0.1), (0.5, 2.5, -1.0))
TARGETS = (0, 2)
#: The entry asked for: example 1 (the second row), class 2, its true class.
ROW, CLASS = 1, 2


@register("4.1-ce-gradient", "4.1", "compute", "∂E/∂z of one logit of a batch's cross-entropy, by hand")
def check_ce_gradient(answer: Any) -> bool:
    """∂E/∂z₁₂ for E = cross-entropy (mean over the batch) of the logits [[2, 1, 0.1], [0.5, 2.5, −1]] with the
    classes (0, 2): the entry of the second example (row 1) for class 2, its true class.

    ``answer``: a number; right to within ±0.001.
    """
    p = softmax_array(np.array(LOGITS))
    n = len(LOGITS)
    onehot = float(TARGETS[ROW] == CLASS)
    expected = (p[ROW, CLASS] - onehot) / n
    mistakes = [
        Mistake(p[ROW, CLASS] - onehot, "The loss is the *mean* over the N = 2 examples: divide by N."),
        Mistake(p[ROW, CLASS] / n, "Class 2 is this example's true class: subtract the one-hot target, p − 1."),
        Mistake(p[ROW, CLASS], "Subtract the one-hot target (1 for the true class) and divide by N."),
        Mistake(-1 / p[ROW, CLASS] / n, "That is ∂E/∂p; through the softmax, ∂E/∂z is (p − one-hot) / N."),
        Mistake(np.log(p[ROW, CLASS]) / n, "That is (minus) the example's loss over N, not its derivative."),
        Mistake((p[0, CLASS] - float(TARGETS[0] == CLASS)) / n, "That is the entry of the first example (row 0)."),
    ]
    return check_number("answer", answer, expected, abs_tol=1e-3, mistakes=mistakes,
                        hint="Softmax the row, then (eq-cross-entropy): ∂E/∂z_nk = (p_nk − [k = y_n]) / N.")


# ---- implement: GELU's derivative -----------------------------------------------------------------------------

def _gelu_grad_reference(z: np.ndarray) -> np.ndarray:
    t = Tensor(z, requires_grad=True)
    F.gelu(t).sum().backward()
    return t.grad


def _gelu_cases() -> list[dict[str, Any]]:
    rng = np.random.default_rng(41)
    return [dict(z=np.linspace(-4, 4, 9))] + [dict(z=2 * rng.standard_normal(s)) for s in [(7,), (3, 4), (2, 2, 3)]]


def _gelu_hint(case: dict[str, Any], got: tuple[np.ndarray, ...]) -> str | None:
    z = case["z"]
    u = np.sqrt(2 / np.pi) * (z + 0.044715 * z**3)
    if np.allclose(got[0], 0.5 * (1 + np.tanh(u))):
        return ("Only the first term of the product rule: GELU = z·s(z), so the derivative is s(z) + z·s'(z), "
                "with s(z) = ½(1 + tanh u).")
    if np.allclose(got[0], 0.5 * z * (1 + np.tanh(u))):
        return "That is GELU itself; the exercise asks for its derivative."
    return None


@register("4.1-gelu-derivative", "4.1", "implement", "The derivative of GELU (tanh approximation)")
def check_gelu_derivative(fn: Any) -> bool:
    """``fn(z)`` -> GELU'(z) elementwise for the tanh approximation of (eq-gelu); z any shape.

    Compared with the gradient autograd computes through ``dlbook.functional.gelu``.
    """
    return compare(fn, _gelu_grad_reference, _gelu_cases(), argument="fn", outputs=("GELU'(z)",),
                   diagnose=_gelu_hint, success="Your GELU derivative agrees with dlbook's")


# ---- implement: cross-entropy and its gradient, stable --------------------------------------------------------

def _ce_reference(z: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    t = Tensor(z, requires_grad=True)
    loss = F.cross_entropy(t, y)
    loss.backward()
    return loss.data, t.grad


def _ce_cases() -> list[dict[str, Any]]:
    rng = np.random.default_rng(42)
    cases = []
    for n, c, scale in [(4, 3, 2.0), (1, 5, 1.0), (6, 2, 3.0), (3, 4, 1000.0)]:
        cases.append(dict(z=scale * rng.standard_normal((n, c)), y=rng.integers(0, c, n)))
    return cases


def _ce_hint(case: dict[str, Any], got: tuple[np.ndarray, ...]) -> str | None:
    z, y = case["z"], case["y"]
    loss, dz = got
    if not (np.all(np.isfinite(loss)) and np.all(np.isfinite(dz))):
        return ("With logits in the thousands e^z overflows: subtract each row's maximum first, and compute the "
                "loss as log Σ e^(z − max) + max − z_y (the log-sum-exp form of eq-cross-entropy).")
    p = softmax_array(z)
    onehot = np.eye(z.shape[1])[y]
    if dz.shape == z.shape and np.allclose(dz, p - onehot) and len(z) > 1:
        return "The loss is a mean over the N examples, so its gradient carries a factor 1/N."
    if dz.shape == z.shape and np.allclose(dz, (onehot - p) / len(z)):
        return "The sign is flipped: ∂E/∂z = (p − one-hot) / N."
    n = len(z)
    if loss.shape == () and np.isclose(loss, -np.log(p[np.arange(n), y]).sum()) and n > 1:
        return "The loss is the mean over the batch, not the sum."
    return None


@register("4.1-cross-entropy", "4.1", "implement", "Cross-entropy and its gradient, without overflow")
def check_cross_entropy(fn: Any) -> bool:
    """``fn(z, y)`` -> ``(loss, dz)``: the mean cross-entropy of logits z (N, C) with classes y (N,) ints, and
    ∂loss/∂z (N, C), per (eq-cross-entropy); finite for logits in the thousands.

    Compared with ``dlbook.functional.cross_entropy`` and the gradient autograd computes through it.
    """
    return compare(fn, _ce_reference, _ce_cases(), argument="fn", outputs=("loss", "dz"), diagnose=_ce_hint,
                   error_hint="z[np.arange(N), y] picks each row's logit of its true class.",
                   success="Your cross-entropy and its gradient agree with dlbook's")


explore("4.1-activation-slopes", "4.1", "Which activation can amplify a gradient, and which can flip its sign?")
