"""Layer normalization (§3.5) and RMS normalization, each fused with a hand-written backward.

    y = (x − μ) / √(σ² + ε) · γ + β,   μ, σ² over the last axis         (eq-layernorm)
    y = x / √(mean(x²) + ε) · γ,        the mean over the last axis       (RMSNorm, Llama's)

:func:`layer_norm_reference` writes the formula with the basic ops (mean, sqrt, …),
and autograd derives its backward; :func:`layer_norm`, what the layers call, is one op
whose backward is the derivative worked out on paper (see :class:`LayerNorm`).  The two
are tested equal.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from dlbook._checks import array_of, check_float
from dlbook.autograd import Context, Function, Tensor
from dlbook.functional.elementwise import sqrt
from dlbook.functional.reduce import mean


class LayerNorm(Function):
    """x̂ = (x − μ)·r with r = 1/√(σ²+ε);  y = x̂ γ + β.

    dγ = Σ g x̂,  dβ = Σ g  (over all leading axes);  with ĝ = g γ:
    dx = r · (ĝ − mean(ĝ) − x̂ · mean(ĝ x̂))   (means over the last axis).

    Rows whose squared deviations overflow (|x| ≳ 1e19 in float32, 1e154 in float64)
    get r from the deviations divided by their largest magnitude s first:
    r = (1/s) / √(mean((x−μ)²/s²) + ε/s²), the same number without the overflow.
    """

    @staticmethod
    def forward(ctx: Context, x: np.ndarray, w: np.ndarray | None, b: np.ndarray | None, eps: float) -> np.ndarray:
        mu = x.mean(axis=-1, keepdims=True)
        xc = x - mu
        with np.errstate(over="ignore"):
            var = np.einsum("...i,...i->...", xc, xc)[..., None] * (1.0 / x.shape[-1])
        r = 1.0 / np.sqrt(var + eps)
        overflow = np.isinf(var[..., 0])
        if overflow.any():  # rare: only such rows pay for the rescaling, and the others keep their exact rounding
            _rescale_overflowing_rows(xc, r, overflow, eps)
        xhat = xc
        xhat *= r
        ctx.save(xhat, r, w, b is not None)
        if w is None:
            return xhat.copy() if b is None else xhat + b
        y = xhat * w
        if b is not None:
            y += b
        return y

    @staticmethod
    def backward(ctx: Context, g: np.ndarray) -> tuple:
        xhat, r, w, has_b = ctx.saved
        d = xhat.shape[-1]
        g2, x2 = g.reshape(-1, d), xhat.reshape(-1, d)
        gw = np.einsum("ni,ni->i", g2, x2) if w is not None and ctx.needs_grad[1] else None
        gb = g2.sum(axis=0) if has_b and ctx.needs_grad[2] else None
        gx = None
        if ctx.needs_grad[0]:
            gh = g * w if w is not None else g.copy()
            mean_gh = gh.mean(axis=-1, keepdims=True)
            mean_ghx = np.einsum("...i,...i->...", gh, xhat)[..., None] * (1.0 / d)
            gh -= mean_gh
            gh -= xhat * mean_ghx
            gh *= r
            gx = gh
        return gx, gw, gb, None


def _rescale_overflowing_rows(xc: np.ndarray, r: np.ndarray, overflow: np.ndarray, eps: float) -> None:
    """r = 1/√(σ² + ε) for the rows where σ² overflowed, computed from xc / max|xc| (in place in ``r``).

    Rows holding inf or NaN themselves are left as they are (their output is NaN, as it should be).
    """
    overflow = overflow & np.isfinite(xc).all(axis=-1)
    rows = xc[overflow]
    s = np.abs(rows).max(axis=-1, keepdims=True)
    scaled = rows / s
    var_s = np.einsum("...i,...i->...", scaled, scaled)[..., None] * (1.0 / xc.shape[-1])
    r[overflow] = (1.0 / s) / np.sqrt(var_s + eps / s / s)


def _check_layer_norm(where: str, x: Any, weight: Any, bias: Any, eps: float) -> None:
    xa = array_of(x)
    check_float("x", xa)
    if xa.ndim == 0:
        raise ValueError(f"{where}: x must have at least 1 dimension, got a scalar")
    d = xa.shape[-1]
    for name, p in (("weight", weight), ("bias", bias)):
        if p is not None and array_of(p).shape != (d,):
            raise ValueError(f"{where}: {name} must have shape ({d},) like x's last axis, got {array_of(p).shape}")
    if not eps > 0:
        raise ValueError(f"{where}: eps must be positive, got {eps}")


def layer_norm_reference(x: Any, weight: Any = None, bias: Any = None, eps: float = 1e-5) -> Tensor:
    """(x − μ) / √(σ² + ε) · γ + β from mean, sqrt and the arithmetic ops; the readable twin of :func:`layer_norm`.

    x: (..., D); weight γ and bias β: (D,) or None -> (..., D); μ and the biased σ² over the last axis.
    """
    _check_layer_norm("layer_norm_reference", x, weight, bias, eps)
    x = x if isinstance(x, Tensor) else Tensor(x)
    centred = x - mean(x, axis=-1, keepdims=True)                        # x − μ
    variance = mean(centred * centred, axis=-1, keepdims=True)           # σ²
    y = centred / sqrt(variance + float(eps))
    if weight is not None:
        y = y * weight
    return y if bias is None else y + bias


def layer_norm(x: Any, weight: Any = None, bias: Any = None, eps: float = 1e-5) -> Tensor:
    """Normalise each vector x[..., :] to mean 0 and variance 1, then scale and shift.  Implements (eq-layernorm).

    x: (..., D); weight γ and bias β: (D,) or None -> (..., D).  The variance is
    the biased one (divide by D), as in PyTorch.
    """
    _check_layer_norm("layer_norm", x, weight, bias, eps)
    return LayerNorm.apply(x, weight, bias, float(eps))


# ---- RMSNorm: layer norm without the centring and without the bias --------------------------
class RMSNorm(Function):
    """x̂ = x·r with r = 1/√(mean(x²) + ε);  y = x̂ γ.

    dγ = Σ g x̂ (over all leading axes);  with ĝ = g γ:
    dx = r · (ĝ − x̂ · mean(ĝ x̂))   (the mean over the last axis),
    since ∂r/∂x_j = −r³ x_j / D.  Layer norm's backward without its ``− mean(ĝ)`` term (no centring).
    """

    @staticmethod
    def forward(ctx: Context, x: np.ndarray, w: np.ndarray | None, eps: float) -> np.ndarray:
        mean_square = np.einsum("...i,...i->...", x, x)[..., None] * (1.0 / x.shape[-1])
        r = 1.0 / np.sqrt(mean_square + eps)
        xhat = x * r
        ctx.save(xhat, r, w)
        return xhat if w is None else xhat * w

    @staticmethod
    def backward(ctx: Context, g: np.ndarray) -> tuple:
        xhat, r, w = ctx.saved
        d = xhat.shape[-1]
        gw = np.einsum("ni,ni->i", g.reshape(-1, d), xhat.reshape(-1, d)) \
            if w is not None and ctx.needs_grad[1] else None
        gx = None
        if ctx.needs_grad[0]:
            gh = g * w if w is not None else g
            mean_ghx = np.einsum("...i,...i->...", gh, xhat)[..., None] * (1.0 / d)
            gx = (gh - xhat * mean_ghx) * r
        return gx, gw, None


def rms_norm(x: Any, weight: Any = None, eps: float | None = None) -> Tensor:
    """Divide each vector x[..., :] by its root mean square, then scale: y = x / √(mean(x²) + ε) · γ.

    x: (..., D); weight γ: (D,) or None -> (..., D).  No mean is subtracted and there is no
    bias (Zhang & Sennrich 2019; Llama's normalisation).  ``eps`` None means the machine epsilon
    of x's dtype, as ``torch.nn.functional.rms_norm``.  The backward is written out in :class:`RMSNorm`.
    Implements (eq-rmsnorm).
    """
    if eps is None:
        check_float("x", x)
        eps = float(np.finfo(array_of(x).dtype).eps)
    _check_layer_norm("rms_norm", x, weight, None, eps)
    return RMSNorm.apply(x, weight, float(eps))
