"""The small convolutional network of §3.3, for the 8×8 handwritten digits.

    input (N, 1, 8, 8)
    → Conv2d(1→c₁, 3×3, padding 1) → ReLU → MaxPool2d(2)      (N, c₁, 4, 4)
    → Conv2d(c₁→c₂, 3×3, padding 1) → ReLU → MaxPool2d(2)     (N, c₂, 2, 2)
    → Flatten → Linear(4·c₂ → 10)                             logits (N, 10)

Its training recipe, with the data augmentation, is :mod:`dlbook.recipes.digits`
(``python -m dlbook.recipes.digits`` prints the test accuracy and the training time).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from dlbook._checks import check_positive_int
from dlbook.autograd import Tensor
from dlbook.nn.activation import ReLU
from dlbook.nn.conv import Conv2d, MaxPool2d
from dlbook.nn.linear import Flatten, Linear, Sequential
from dlbook.nn.module import Module


class DigitsCNN(Module):
    """conv–relu–pool ×2 → linear.  x: (N, 1, 8, 8) -> logits (N, num_classes).

    ``features`` holds the two convolution blocks, ``classifier`` the
    fully connected layer; ``feature_maps(x)`` returns every block's output.
    """

    def __init__(self, channels: tuple[int, int] = (16, 32), num_classes: int = 10, *, rng: np.random.Generator,
                 dtype: Any = np.float32) -> None:
        super().__init__()
        c1 = check_positive_int("channels[0]", channels[0])
        c2 = check_positive_int("channels[1]", channels[1])
        self.channels, self.num_classes = (c1, c2), check_positive_int("num_classes", num_classes)
        self.features = Sequential(
            Conv2d(1, c1, 3, padding=1, rng=rng, dtype=dtype), ReLU(), MaxPool2d(2),
            Conv2d(c1, c2, 3, padding=1, rng=rng, dtype=dtype), ReLU(), MaxPool2d(2),
        )
        self.classifier = Sequential(Flatten(), Linear(c2 * 2 * 2, num_classes, rng=rng, dtype=dtype))

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim != 4 or x.shape[1:] != (1, 8, 8):
            raise ValueError(f"DigitsCNN: x must have shape (N, 1, 8, 8), got {x.shape}")
        return self.classifier(self.features(x))

    def feature_maps(self, x: Tensor) -> list[Tensor]:
        """The output of every layer of ``features``, in order (conv, relu, pool, conv, relu, pool)."""
        maps = []
        for layer in self.features:
            x = layer(x)
            maps.append(x)
        return maps
