"""int8 weight-only quantisation (量化): each weight row stored as 8-bit integers and one float scale.

Per output channel (row o of a weight W: (out, in)), absmax scaling:

    s_o = max_i |W_oi| / 127,     q_oi = round(W_oi / s_o) ∈ [−127, 127],     Ŵ_oi = q_oi · s_o

Rounding moves each entry by at most half a step: |W_oi − Ŵ_oi| ≤ s_o / 2.  A row's largest entry
maps to ±127 exactly, so no range is wasted on that row; a single outlier in a row makes its step
coarse, which is why the scale is per row and not one for the whole matrix.  Storage falls from
4 bytes (float32) to 1 byte per weight plus 4 bytes per row.

Weight-only: activations stay float, and the matmul dequantises.  Because the scale belongs to the
output channel, it factors out of the sum:  y_o = Σ_i x_i q_oi s_o + b_o = s_o (Σ_i x_i q_oi) + b_o.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from dlbook._checks import array_of, check_float, layer_input
from dlbook.autograd import Tensor
from dlbook.nn.linear import Linear
from dlbook.nn.module import Module

QMAX = 127   # symmetric: −127 .. 127 (−128 left unused, so that q = −round(−w/s))


def quantize_int8(w: Any) -> tuple[np.ndarray, np.ndarray]:
    """Per-row absmax quantisation of a weight w: (out, in) -> (q int8 (out, in), scale float32 (out,)).

    scale_o = max_i |w_oi| / 127 (1 for an all-zero row, whose q is then 0); q = round(w / scale).
    Implements (eq-int8); :func:`dequantize` gives Ŵ = q · scale.
    """
    wa = array_of(w)
    check_float("w", wa)
    if wa.ndim != 2:
        raise ValueError(f"w must be a 2-D weight (out_features, in_features), got shape {wa.shape}")
    if not np.isfinite(wa).all():
        raise ValueError("w holds inf or NaN: it cannot be quantised")
    absmax = np.abs(wa).max(axis=1)
    scale = np.where(absmax > 0, absmax / QMAX, 1.0).astype(np.float32)
    q = np.clip(np.round(wa / scale[:, None].astype(np.float64)), -QMAX, QMAX).astype(np.int8)
    return q, scale


def dequantize(q: Any, scale: Any, dtype: Any = np.float32) -> np.ndarray:
    """Ŵ = q · scale per row: q int8 (out, in), scale (out,) -> (out, in) of ``dtype``."""
    qa, sa = np.asarray(q), np.asarray(scale)
    if qa.dtype != np.int8:
        raise TypeError(f"q must be an int8 array, got dtype {qa.dtype}")
    if qa.ndim != 2 or sa.shape != (qa.shape[0],):
        raise ValueError(f"q must be (out, in) and scale (out,), got q {qa.shape} and scale {sa.shape}")
    return (qa.astype(np.float64) * sa[:, None].astype(np.float64)).astype(dtype)


class QuantizedLinear(Module):
    """y = (x qᵀ) ⊙ scale + b: a Linear whose weight is stored as int8 rows and float32 scales (inference only).

    Implements (eq-int8-matmul): y_o = s_o Σ_i x_i q_oi + b_o, the scale of output o applied after the sum.

    x: (..., in_features) -> (..., out_features) of x's dtype; no gradient flows through it.  Made from a
    trained layer with :meth:`from_linear`.  ``qweight``: int8 (out, in), ``scale``: float32 (out,),
    ``bias``: (out,) float or None, all plain arrays (not Parameters: nothing here trains).  ``weight`` gives
    the dequantised Ŵ in ``dtype`` (the float layer's), for code that reads a Linear's weight.
    """

    def __init__(self, qweight: np.ndarray, scale: np.ndarray, bias: np.ndarray | None = None,
                 dtype: Any = np.float32) -> None:
        super().__init__()
        self.dtype = np.dtype(dtype)
        dequantize(qweight, scale)                                   # checks the shapes and the dtype
        self.qweight, self.scale = np.asarray(qweight), np.asarray(scale, dtype=np.float32)
        self.out_features, self.in_features = self.qweight.shape
        if bias is not None and np.shape(bias) != (self.out_features,):
            raise ValueError(f"bias must have shape ({self.out_features},), got {np.shape(bias)}")
        self.bias = None if bias is None else np.array(bias)

    @classmethod
    def from_linear(cls, linear: Linear) -> QuantizedLinear:
        """The int8 version of a trained ``nn.Linear`` (its bias kept in float)."""
        if not isinstance(linear, Linear):
            raise TypeError(f"linear must be an nn.Linear, got {type(linear).__name__}")
        q, scale = quantize_int8(linear.weight.data)
        return cls(q, scale, None if linear.bias is None else linear.bias.data.copy(), dtype=linear.weight.dtype)

    @property
    def weight(self) -> Tensor:
        """Ŵ = q · scale per row, (out_features, in_features), computed on each access (no gradient)."""
        return Tensor(dequantize(self.qweight, self.scale, self.dtype))

    @property
    def nbytes(self) -> int:
        """Bytes stored: the int8 weights, the scales and the bias."""
        return self.qweight.nbytes + self.scale.nbytes + (0 if self.bias is None else self.bias.nbytes)

    def forward(self, x: Any) -> Tensor:
        x = layer_input("x", x, self.dtype)
        check_float("x", x)
        xa = array_of(x)
        if xa.shape[-1:] != (self.in_features,):
            raise ValueError(f"QuantizedLinear: x's last axis must be in_features={self.in_features}, "
                             f"got shape {xa.shape}")
        y = (xa @ self.qweight.T.astype(xa.dtype)) * self.scale.astype(xa.dtype)   # s_o Σ_i x_i q_oi
        if self.bias is not None:
            y += self.bias.astype(xa.dtype)
        return Tensor(y)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


def quantize_model(model: Module) -> int:
    """Replace every ``nn.Linear`` inside ``model`` by its :class:`QuantizedLinear`, in place; returns how many.

    Weights used outside a Linear (embeddings, and so a head tied to the embedding) stay float.
    The model is for inference afterwards: the quantised layers pass no gradient.
    """
    if not isinstance(model, Module):
        raise TypeError(f"model must be a dlbook nn.Module, got {type(model).__name__}")
    targets = [(parent, name, child) for _, parent in model.named_modules()
               for name, child in parent._modules.items() if type(child) is Linear]
    for parent, name, child in targets:
        setattr(parent, name, QuantizedLinear.from_linear(child))
    return len(targets)


def model_nbytes(model: Module) -> int:
    """Bytes of a model's weights: its float parameters plus its quantised layers' int8 weights, scales, biases."""
    if not isinstance(model, Module):
        raise TypeError(f"model must be a dlbook nn.Module, got {type(model).__name__}")
    quantized = sum(m.nbytes for _, m in model.named_modules() if isinstance(m, QuantizedLinear))
    return quantized + sum(p.data.nbytes for p in model.parameters())
