"""Fully connected layers and containers."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from dlbook import functional as F
from dlbook._checks import check_float, check_positive_int, layer_input
from dlbook.autograd import Tensor
from dlbook.nn.init import INITIALISERS, lecun_uniform
from dlbook.nn.module import Module, Parameter


class Linear(Module):
    """z = x Wᵀ + b (eq-layer).  x: (..., in_features) -> (..., out_features).

    ``weight``: (out_features, in_features), ``bias``: (out_features,), as in
    ``torch.nn.Linear``.  ``init`` picks the weight initialiser ("default" =
    PyTorch's U(±1/√fan_in), "xavier", "he"); ``rng`` makes it reproducible.
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = True,
        *,
        rng: np.random.Generator,
        init: str = "default",
        dtype: Any = np.float64,
    ) -> None:
        super().__init__()
        self.in_features = check_positive_int("in_features", in_features)
        self.out_features = check_positive_int("out_features", out_features)
        if init not in INITIALISERS:
            raise ValueError(f"init must be one of {sorted(INITIALISERS)}, got {init!r}")
        shape = (self.out_features, self.in_features)
        self.weight = Parameter(INITIALISERS[init](shape, rng).astype(dtype))
        # PyTorch draws the bias from U(±1/√fan_in); with Xavier/He it starts at zero.
        b = lecun_uniform(shape, rng)[:, 0] if init == "default" else np.zeros(self.out_features)
        self.bias = Parameter(b.astype(dtype)) if bias else None

    def forward(self, x: Tensor) -> Tensor:
        x = layer_input("x", x, self.weight.dtype)
        check_float("x", x)
        if x.shape[-1:] != (self.in_features,):
            raise ValueError(f"Linear: input's last axis must be in_features={self.in_features}, got shape {x.shape}")
        return F.linear(x, self.weight, self.bias)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


class Sequential(Module):
    """Modules applied one after another: Sequential(a, b)(x) = b(a(x))."""

    def __init__(self, *layers: Module) -> None:
        super().__init__()
        for i, layer in enumerate(layers):
            if not isinstance(layer, Module):
                raise TypeError(f"Sequential: argument {i} must be a Module, got {type(layer).__name__}")
            self.add_module(str(i), layer)

    def forward(self, x: Any) -> Any:
        for layer in self._modules.values():
            x = layer(x)
        return x

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules.values())

    def __len__(self) -> int:
        return len(self._modules)

    def __getitem__(self, i: int) -> Module:
        return list(self._modules.values())[i]


class Flatten(Module):
    """(N, d1, d2, ...) -> (N, d1·d2·...)."""

    def forward(self, x: Tensor) -> Tensor:
        return F.reshape(x, (x.shape[0], -1))


class Identity(Module):
    def forward(self, x: Any) -> Any:
        return x
