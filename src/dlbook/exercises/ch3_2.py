"""Exercises of §3.2, Backpropagation: a gradient by hand, the backward of Linear and of softmax, an SGD step.

Use in a notebook cell: ``from dlbook.exercises import ch3_2`` then ``ch3_2.check_gradient_w1(answer)``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from dlbook import functional as F
from dlbook.autograd import Tensor
from dlbook.exercises._answers import Mistake, check_number
from dlbook.exercises._compare import check_callable, compare, optimizer_path
from dlbook.exercises._registry import explore, register
from dlbook.functional import sigmoid_array, softmax_array
from dlbook.optim import SGD

#: The neuron of the by-hand exercise: E = (σ(w1·x1 + w2·x2 + b) − t)².
NEURON = dict(x1=1.5, x2=-0.5, w1=0.4, w2=1.2, b=0.1, t=0.0)


@register("3.2-gradient-w1", "3.2", "compute", "∂E/∂w₁ of one sigmoid neuron, by hand")
def check_gradient_w1(answer: Any) -> bool:
    """∂E/∂w₁ for E = (σ(w₁x₁ + w₂x₂ + b) − t)² at x₁=1.5, x₂=−0.5, w₁=0.4, w₂=1.2, b=0.1, t=0.

    ``answer``: a number; right to within ±0.001.
    """
    v = NEURON
    y = float(sigmoid_array(np.array(v["w1"] * v["x1"] + v["w2"] * v["x2"] + v["b"])))
    de_dy, dy_dz = 2 * (y - v["t"]), y * (1 - y)
    mistakes = [
        Mistake(de_dy * v["x1"], "You skipped the sigmoid node: multiply by its local derivative σ'(z) = y(1 − y)."),
        Mistake(de_dy * dy_dz, "That is ∂E/∂z. The product node p₁ = w₁·x₁ passes it on times its other input."),
        Mistake((y - v["t"]) * dy_dz * v["x1"], "The derivative of (y − t)² is 2(y − t): the factor 2 is missing."),
        Mistake(de_dy * dy_dz * v["w1"], "That is ∂E/∂x₁: towards w₁ the product node multiplies by x₁."),
        Mistake(de_dy * dy_dz * v["x2"], "That is ∂E/∂w₂: w₁ is multiplied by x₁."),
        Mistake(de_dy * (1 - y) * v["x1"], "σ'(z) = σ(z)(1 − σ(z)) = y(1 − y), not 1 − y."),
    ]
    return check_number("answer", answer, de_dy * dy_dz * v["x1"], abs_tol=1e-3, mistakes=mistakes,
                        hint="Forward first (z, y, E), then backwards: ∂E/∂y, times σ'(z), times the input of w₁.")


def _linear_reference(x: np.ndarray, w: np.ndarray, g: np.ndarray) -> tuple[np.ndarray, ...]:
    tx, tw = Tensor(x, requires_grad=True), Tensor(w, requires_grad=True)
    tb = Tensor(np.zeros(w.shape[0]), requires_grad=True)
    (F.linear(tx, tw, tb) * g).sum().backward()
    return tx.grad, tw.grad, tb.grad


def _linear_cases() -> list[dict[str, Any]]:
    rng = np.random.default_rng(41)
    return [dict(x=rng.standard_normal((n, a)), W=rng.standard_normal((b, a)), g=rng.standard_normal((n, b)))
            for n, a, b in [(4, 3, 2), (1, 5, 3), (6, 2, 7), (3, 3, 3)]]


def _linear_hint(case: dict[str, Any], got: tuple[np.ndarray, ...]) -> str | None:
    x, w, g = case.values()
    _, dw, db = got
    if dw.shape == w.shape and np.allclose(dw, g.T @ x / len(x)):
        return "dW is a sum over the batch, not a mean: the loss already averages if it wants to."
    if db.shape == (w.shape[0],) and np.allclose(db, g.mean(axis=0)):
        return "db is a sum over the batch (the bias is used once per example), not a mean."
    return None


@register("3.2-linear-backward", "3.2", "implement", "The backward pass of a Linear layer")
def check_linear_backward(fn: Any) -> bool:
    """``fn(x, W, g)`` -> ``(dx, dW, db)`` for the layer z = x Wᵀ + b, given g = ∂E/∂z.

    x: (N, in), W: (out, in), g: (N, out).  Compared with what ``Tensor.backward`` gives through ``F.linear``.
    """
    return compare(fn, _linear_reference, _linear_cases(), argument="fn", outputs=("dx", "dW", "db"),
                   diagnose=_linear_hint, error_hint="Each gradient has the shape of what it is the gradient of: "
                   "dx like x (N, in), dW like W (out, in), db like b (out,).",
                   success="Your Linear backward agrees with dlbook's")


def _softmax_backward_reference(p: np.ndarray, g: np.ndarray) -> np.ndarray:
    z = Tensor(np.log(p), requires_grad=True)        # softmax(log p) = p, as p sums to 1 along the last axis
    (F.softmax(z, axis=-1) * g).sum().backward()
    return z.grad


def _softmax_backward_cases() -> list[dict[str, Any]]:
    rng = np.random.default_rng(42)
    return [dict(p=softmax_array(2 * rng.standard_normal(shape)), g=rng.standard_normal(shape))
            for shape in [(4,), (3, 5), (5, 3), (2, 3, 4)]]


def _softmax_backward_hint(case: dict[str, Any], got: tuple[np.ndarray, ...]) -> str | None:
    p, g = case["p"], case["g"]
    if got[0].shape != p.shape:
        return None
    if np.allclose(got[0], p * g):
        return ("A term is missing: every output p_j depends on every input z_i through the sum in the "
                "denominator, so subtract p · Σ_j g_j p_j.")
    if np.allclose(got[0], p * (1 - p) * g):
        return "p(1 − p) is only the diagonal of the Jacobian (雅可比矩阵); the off-diagonal terms −p_i p_j count too."
    if p.ndim >= 2 and np.allclose(got[0], p * (g - np.sum(g * p, axis=0, keepdims=True))):
        return "Sum along the softmax axis (the last), not axis 0."
    if p.ndim >= 2 and np.allclose(got[0], p * (g - np.sum(g * p))):
        return "Sum over each row (axis=-1, keepdims=True), not over the whole array."
    return None


@register("3.2-softmax-backward", "3.2", "implement", "The backward of softmax, like Sigmoid's")
def check_softmax_backward(fn: Any) -> bool:
    """``fn(p, g)`` -> ∂E/∂z, given the output p = softmax(z) (last axis) and g = ∂E/∂p of the same shape.

    Compared with the gradient ``Tensor.backward`` computes through ``F.softmax``.
    """
    return compare(fn, _softmax_backward_reference, _softmax_backward_cases(), argument="fn", outputs=("dz",),
                   diagnose=_softmax_backward_hint, success="Your softmax backward agrees with dlbook's")


STEPS = 4


def _sgd_reference(w: np.ndarray, grads: np.ndarray, lr: float, momentum: float) -> np.ndarray:
    return optimizer_path(lambda ps: SGD(ps, lr=lr, momentum=momentum), w, grads)


def _sgd_runner(fn: Any) -> Any:
    def run(w: np.ndarray, grads: np.ndarray, lr: float, momentum: float) -> np.ndarray:
        velocity, path = np.zeros_like(w), []
        for g in grads:
            result = fn(w, g.copy(), velocity, lr, momentum)
            if not isinstance(result, tuple | list) or len(result) != 2:
                raise TypeError(f"fn must return (new_w, new_velocity), got {type(result).__name__}")
            w, velocity = (np.array(r, dtype=np.float64) for r in result)
            path.append(w.copy())
        return np.stack(path)

    return run


def _sgd_cases() -> list[dict[str, Any]]:
    rng = np.random.default_rng(43)
    return [dict(w=rng.standard_normal(shape), grads=rng.standard_normal((STEPS,) + shape), lr=lr, momentum=mu)
            for shape, lr, mu in [((3,), 0.1, 0.9), ((2, 4), 0.05, 0.5), ((5,), 0.2, 0.0), ((1, 3), 0.01, 0.99)]]


def _sgd_hint(case: dict[str, Any], got: tuple[np.ndarray, ...]) -> str | None:
    w, grads, lr, mu = case.values()
    if np.allclose(got[0][0], w + lr * grads[0]):
        return "Step against the gradient: w − η·v, not w + η·v (the gradient points uphill)."
    if mu and np.allclose(got[0], w - lr * np.cumsum(grads, axis=0)):
        return "The momentum μ is ignored: v ← μ·v + g keeps a decaying sum of the past gradients."
    if mu and np.allclose(got[0], _sgd_reference(w, grads * (1 - mu), lr, mu)):
        return "dlbook (like PyTorch) adds the gradient whole, v ← μ·v + g, without a factor (1 − μ)."
    return None


@register("3.2-sgd-step", "3.2", "implement", "One step of SGD with momentum")
def check_sgd_step(fn: Any) -> bool:
    """``fn(w, grad, velocity, lr, momentum)`` -> ``(new_w, new_velocity)``: one step of (eq-momentum).

    The checker runs four steps from a zero velocity and compares the weights after every step with
    ``dlbook.optim.SGD`` (axis 0 of the reported index is the step).
    """
    check_callable("fn", fn)
    return compare(_sgd_runner(fn), _sgd_reference, _sgd_cases(), argument="fn",
                   outputs=("w (axis 0 = step)",), diagnose=_sgd_hint,
                   success="Your SGD step agrees with dlbook.optim.SGD")


explore("3.2-sign-of-x1", "3.2", "Which slider flips the sign of ∂E/∂w₁ in the graph explorer, and why?")
