"""``LayerNorm``: normalise each token's vector, then scale and shift (eq-layernorm)."""

from __future__ import annotations

from typing import Any

import numpy as np

from dlbook._checks import check_positive_int, layer_input
from dlbook.autograd import Tensor
from dlbook.functional.normalization import layer_norm
from dlbook.nn.module import Module, Parameter


class LayerNorm(Module):
    """y = (x − μ)/√(σ² + ε) · weight + bias over the last axis.  Implements (eq-layernorm).

    x: (..., normalized_shape) -> same shape.  ``weight`` starts at ones and
    ``bias`` at zeros, so a fresh layer only standardises.
    """

    def __init__(self, normalized_shape: int, eps: float = 1e-5, *, dtype: Any = np.float64) -> None:
        super().__init__()
        self.normalized_shape = check_positive_int("normalized_shape", normalized_shape)
        if not eps > 0:
            raise ValueError(f"eps must be positive, got {eps}")
        self.eps = float(eps)
        self.weight = Parameter(np.ones(self.normalized_shape, dtype=dtype))
        self.bias = Parameter(np.zeros(self.normalized_shape, dtype=dtype))

    def forward(self, x: Tensor) -> Tensor:
        x = layer_input("x", x, self.weight.dtype)
        if x.shape[-1:] != (self.normalized_shape,):
            raise ValueError(f"LayerNorm: x's last axis must be normalized_shape={self.normalized_shape}, "
                             f"got shape {x.shape}")
        return layer_norm(x, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return f"{self.normalized_shape}, eps={self.eps}"
