"""``Dropout`` with an explicit random generator (inverted dropout)."""

from __future__ import annotations

from typing import Any

import numpy as np

from dlbook import functional as F
from dlbook._checks import check_rng
from dlbook.functional.attention import dropout_keep
from dlbook.nn.module import Module


class Dropout(Module):
    """In training, zero each element with probability p and scale the rest by 1/(1−p).

    x: any shape -> same shape.  The expectation of the output equals x, so in
    eval mode (``model.eval()``) or with p = 0 the layer is the identity.
    ``rng`` draws the masks (reproducible runs).
    """

    def __init__(self, p: float = 0.5, *, rng: np.random.Generator) -> None:
        super().__init__()
        if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0.0 <= p < 1.0:
            raise ValueError(f"Dropout: p must be a number in [0, 1), got {p!r}")
        self.p = float(p)
        self.rng = check_rng(rng)

    def forward(self, x: Any) -> Any:
        if not self.training or self.p == 0.0:
            return x
        keep = dropout_keep(x.shape, self.p, self.rng, x.dtype)
        return F.mul(x, keep)

    def extra_repr(self) -> str:
        return f"p={self.p}"
