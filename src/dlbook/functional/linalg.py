"""Matrix multiplication, batched over leading axes."""

from __future__ import annotations

from typing import Any

import numpy as np

from dlbook._checks import array_of
from dlbook.autograd import Context, Function, Tensor, unbroadcast


class MatMul(Function):
    """C = A B.  dL/dA = dL/dC Bᵀ,  dL/dB = Aᵀ dL/dC (summed over broadcast batch axes)."""

    @staticmethod
    def forward(ctx: Context, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        ctx.save(a, b)
        return np.matmul(a, b)

    @staticmethod
    def backward(ctx: Context, g: np.ndarray) -> tuple:
        a, b = ctx.saved
        ga = gb = None
        if ctx.needs_grad[0]:
            if b.ndim == 1:
                ga = np.multiply.outer(g, b) if a.ndim > 1 else g * b
            else:
                gg = g[..., None, :] if a.ndim == 1 else g
                ga = np.matmul(gg, np.swapaxes(b, -1, -2))
                if a.ndim == 1:
                    ga = ga[..., 0, :]
            ga = unbroadcast(ga, a.shape)
        if ctx.needs_grad[1]:
            if a.ndim == 1:
                gb = a[:, None] * g[..., None, :] if b.ndim > 1 else g * a  # (k,) ⊗ (..., m)
            else:
                gg = g[..., :, None] if b.ndim == 1 else g
                gb = np.matmul(np.swapaxes(a, -1, -2), gg)
                if b.ndim == 1:
                    gb = gb[..., 0]
            gb = unbroadcast(gb, b.shape)
        return ga, gb


def matmul(a: Any, b: Any) -> Tensor:
    """``a @ b``; a: (..., n, k), b: (..., k, m) -> (..., n, m); leading axes broadcast.

    Implements the product W x of (eq-layer).
    """
    sa, sb = array_of(a).shape, array_of(b).shape
    if len(sa) == 0 or len(sb) == 0:
        raise ValueError(f"matmul: a and b must have at least 1 dimension, got shapes {sa} and {sb}")
    ka = sa[-1]
    kb = sb[-2] if len(sb) >= 2 else sb[0]
    if ka != kb:
        raise ValueError(
            f"matmul: a's last axis ({ka}) must equal b's {'second-to-last' if len(sb) >= 2 else 'only'} axis "
            f"({kb}); got a {sa} and b {sb}"
        )
    try:
        np.broadcast_shapes(sa[:-2], sb[:-2])
    except ValueError:
        raise ValueError(f"matmul: batch axes of a {sa} and b {sb} do not broadcast") from None
    return MatMul.apply(a, b)


class Linear(Function):
    """z = x Wᵀ + b over the last axis of x.

    dL/dx = g W,  dL/dW = Σ gᵀ x,  dL/db = Σ g  (sums over all leading axes), where g = dL/dz is the error δ.
    Implements (eq-weight-grad), δ xᵀ summed over the batch, and the step Wᵀδ of (eq-delta) that carries the
    error one layer down (the activation's backward then multiplies it by f′).
    """

    @staticmethod
    def forward(ctx: Context, x: np.ndarray, w: np.ndarray, b: np.ndarray | None) -> np.ndarray:
        ctx.save(x, w, b is not None)
        out = x @ w.T
        if b is not None:
            out += b
        return out

    @staticmethod
    def backward(ctx: Context, g: np.ndarray) -> tuple:
        x, w, has_bias = ctx.saved
        g2 = g.reshape(-1, g.shape[-1])
        gx = (g @ w) if ctx.needs_grad[0] else None
        gw = (g2.T @ x.reshape(-1, x.shape[-1])) if ctx.needs_grad[1] else None
        gb = g2.sum(axis=0) if has_bias and ctx.needs_grad[2] else None
        return gx, gw, gb


def linear(x: Any, weight: Any, bias: Any = None) -> Tensor:
    """z = x Wᵀ + b: the affine part of (eq-layer), fused into one op.

    x: (..., in_features); weight: (out_features, in_features); bias:
    (out_features,) or None -> (..., out_features).  Implements (eq-layer).
    """
    sx, sw = array_of(x).shape, array_of(weight).shape
    if len(sw) != 2:
        raise ValueError(f"linear: weight must be 2-D (out_features, in_features), got shape {sw}")
    if len(sx) == 0 or sx[-1] != sw[1]:
        raise ValueError(f"linear: input's last axis must have size in_features={sw[1]}, got input shape {sx}")
    if bias is not None and array_of(bias).shape != (sw[0],):
        raise ValueError(f"linear: bias must have shape ({sw[0]},), got {array_of(bias).shape}")
    return Linear.apply(x, weight, bias)
