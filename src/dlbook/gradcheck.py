"""Central-difference gradient checking (§4.2): is the backward pass right?

For each input element x_i,  ∂f/∂x_i ≈ (f(x + h e_i) − f(x − h e_i)) / 2h,
with error O(h²).  We compare that with what ``backward`` computes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from dlbook.autograd import Tensor


def numerical_grad(f: Callable[[], Any], x: np.ndarray, h: float = 1e-6) -> np.ndarray:
    """∂f/∂x by central differences, perturbing ``x`` in place one element at a time.

    ``f`` takes no arguments and returns a scalar (float or 1-element Tensor)
    computed from the current contents of ``x``.  Implements (eq-central-difference).
    """
    if not isinstance(x, np.ndarray) or x.dtype != np.float64:
        raise TypeError(f"numerical_grad: x must be a float64 ndarray, got {type(x).__name__} "
                        f"{getattr(x, 'dtype', '')}")
    grad = np.zeros_like(x)
    flat, gflat = x.reshape(-1), grad.reshape(-1)
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + h
        up = float(np.sum(getattr(f(), "data", f())))
        flat[i] = old - h
        down = float(np.sum(getattr(f(), "data", f())))
        flat[i] = old
        gflat[i] = (up - down) / (2 * h)
    return grad


def gradcheck(
    fn: Callable[..., Tensor],
    inputs: Sequence[Tensor],
    h: float = 1e-6,
    atol: float = 1e-6,
    rtol: float = 1e-4,
    seed: int = 0,
) -> bool:
    """Check ``fn(*inputs)``'s backward against central differences.

    ``inputs``: float64 Tensors with ``requires_grad=True`` (others are held
    constant).  A non-scalar output is reduced with fixed random weights
    (drawn from ``seed``) so that every output element is checked.
    Returns True, or raises AssertionError naming the input and the worst entry.
    """
    if not isinstance(inputs, (list, tuple)) or not inputs:
        raise TypeError(f"gradcheck: inputs must be a non-empty list or tuple of Tensors, got {type(inputs).__name__}")
    for i, t in enumerate(inputs):
        if not isinstance(t, Tensor):
            raise TypeError(f"gradcheck: inputs[{i}] must be a Tensor, got {type(t).__name__}")
        if t.requires_grad and t.dtype != np.float64:
            raise TypeError(f"gradcheck: inputs[{i}] must be float64 for a numerical check, got {t.dtype}")
    if not any(t.requires_grad for t in inputs):
        raise ValueError("gradcheck: at least one input must have requires_grad=True")

    out = fn(*inputs)
    weights = np.random.default_rng(seed).standard_normal(out.shape)

    def scalar() -> float:
        return float(np.sum(fn(*inputs).data * weights))

    for t in inputs:
        t.grad = None
    out.backward(weights)
    for i, t in enumerate(inputs):
        if not t.requires_grad:
            continue
        analytic = np.zeros_like(t.data) if t.grad is None else t.grad
        numeric = numerical_grad(scalar, t.data, h)
        err = np.abs(analytic - numeric)
        bound = atol + rtol * np.abs(numeric)
        if np.any(err > bound):
            worst = tuple(int(i) for i in np.unravel_index(np.argmax(err - bound), err.shape))
            raise AssertionError(
                f"gradcheck: inputs[{i}] gradient mismatch at {worst}: backward gives {analytic[worst]:.8g}, "
                f"central differences give {numeric[worst]:.8g}"
            )
    return True
