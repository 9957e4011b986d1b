"""The small convolutional network of §3.3, for the 8×8 handwritten digits.

    input (N, 1, 8, 8)
    → Conv2d(1→c₁, 3×3, padding 1) → ReLU → MaxPool2d(2)      (N, c₁, 4, 4)
    → Conv2d(c₁→c₂, 3×3, padding 1) → ReLU → MaxPool2d(2)     (N, c₂, 2, 2)
    → Flatten → Linear(4·c₂ → 10)                             logits (N, 10)

Run ``python -m dlbook.models.cnn`` to train it with the book's recipe and
print the test accuracy and the training time.
"""

from __future__ import annotations

from dataclasses import dataclass
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


def as_images(X: np.ndarray, dtype: Any = np.float32) -> np.ndarray:
    """Digits (n, 8, 8) -> (n, 1, 8, 8): add the channel axis a convolution expects."""
    X = np.asarray(X)
    if X.ndim != 3:
        raise ValueError(f"as_images: X must be (n, H, W), got shape {X.shape}")
    return X[:, None, :, :].astype(dtype)


def shifted_copies(X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Data augmentation: each image (n, H, W) plus its copies moved one pixel up, down, left and right.

    The blank border that moves in is zero (no ink).  Returns 5n images and their labels.
    """
    X, y = np.asarray(X), np.asarray(y)
    if X.ndim != 3 or len(X) != len(y):
        raise ValueError(f"shifted_copies: X must be (n, H, W) and y (n,), got {X.shape} and {y.shape}")
    h, w = X.shape[1:]
    out = [X]
    for dy, dx in ((1, 0), (-1, 0), (0, 1), (0, -1)):
        moved = np.zeros_like(X)
        moved[:, max(0, dy):h + min(0, dy), max(0, dx):w + min(0, dx)] = \
            X[:, max(0, -dy):h + min(0, -dy), max(0, -dx):w + min(0, -dx)]
        out.append(moved)
    return np.concatenate(out), np.tile(y, 5)


@dataclass
class CNNResult:
    """A trained model, its History (see ``dlbook.train.fit``) and its test accuracy."""

    model: DigitsCNN
    history: Any
    test_accuracy: float


def train_digits_cnn(seed: int = 0, epochs: int = 8, batch_size: int = 32, lr: float = 3e-3,
                     channels: tuple[int, int] = (32, 64), augment: bool = True, weight_decay: float = 0.0,
                     progress: bool = True) -> CNNResult:
    """The book's recipe: Adam with a cosine-decaying learning rate, cross-entropy, the fixed digits split
    (training images and their one-pixel shifts when ``augment``), float32, ``seed`` for the initial
    weights and the batch order."""
    from dlbook.data.batching import num_batches
    from dlbook.data.digits import load_digits
    from dlbook.nn.loss import CrossEntropyLoss
    from dlbook.optim.adam import AdamW
    from dlbook.optim.schedule import WarmupCosine
    from dlbook.train import evaluate, fit

    data = load_digits()
    X_train, y_train = shifted_copies(data.X_train, data.y_train) if augment else (data.X_train, data.y_train)
    X_train, X_test = as_images(X_train), as_images(data.X_test)
    rng = np.random.default_rng(seed)
    model = DigitsCNN(channels, rng=rng)
    loss_fn = CrossEntropyLoss()
    optimizer = AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    schedule = WarmupCosine(optimizer, total_steps=epochs * num_batches(len(X_train), batch_size), warmup_steps=0)
    history = fit(model, loss_fn, optimizer, X_train, y_train, epochs=epochs, batch_size=batch_size, rng=rng,
                  val=(X_test, data.y_test), scheduler=schedule, progress=progress)
    _, acc = evaluate(model, loss_fn, X_test, data.y_test)
    return CNNResult(model, history, acc)


if __name__ == "__main__":
    from dlbook.train import format_seconds

    result = train_digits_cnn(progress=False)
    print(f"test accuracy {result.test_accuracy:.4f}, {result.model.num_parameters():,} parameters, "
          f"{format_seconds(result.history.seconds)}")
