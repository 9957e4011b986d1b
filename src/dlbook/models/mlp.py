"""The multilayer perceptron of §3.1: layers of y = f(Wx + b) (eq-layer); its digits recipe is in dlbook.recipes."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from dlbook.autograd import Tensor
from dlbook.nn.activation import ACTIVATIONS
from dlbook.nn.linear import Flatten, Linear, Sequential
from dlbook.nn.module import Module


class MLP(Module):
    """Input → hidden layers (Linear + activation) → output logits.

    sizes: (in, h1, ..., out).  x: (N, in) or (N, ...) flattened -> (N, out).
    """

    def __init__(self, sizes: Sequence[int], activation: str = "relu", *, rng: np.random.Generator,
                 init: str = "default", dtype: Any = np.float64) -> None:
        super().__init__()
        if len(sizes) < 2:
            raise ValueError(f"MLP: sizes needs at least (in, out), got {tuple(sizes)}")
        if activation not in ACTIVATIONS:
            raise ValueError(f"MLP: activation must be one of {sorted(ACTIVATIONS)}, got {activation!r}")
        layers: list[Module] = [Flatten()]
        for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
            layers.append(Linear(a, b, rng=rng, init=init, dtype=dtype))
            if i < len(sizes) - 2:
                layers.append(ACTIVATIONS[activation]())
        self.layers = Sequential(*layers)
        self.sizes = tuple(sizes)

    def forward(self, x: Tensor) -> Tensor:
        return self.layers(x)
