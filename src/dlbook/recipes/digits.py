"""The digit models' recipes: the MLP of §3.1 and the CNN of §3.3 on the 8×8 handwritten digits.

Both train through :func:`dlbook.train.fit` (the package's one loop over epochs of mini-batches) with AdamW
and the warm-up/cosine policy of :func:`dlbook.train.lr_schedule`; ``seed`` fixes the initial weights, the
noise of the augmented copies and the batch order.  ``python -m dlbook.recipes.digits`` trains the CNN and
prints its test accuracy and training time.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from dlbook.data.batching import num_batches
from dlbook.data.digits import load_digits
from dlbook.models.cnn import DigitsCNN
from dlbook.models.mlp import MLP
from dlbook.nn.loss import CrossEntropyLoss
from dlbook.optim.adam import AdamW
from dlbook.train import History, evaluate, fit, format_seconds, lr_schedule


@dataclass
class DigitsMLPResult:
    """What :func:`train_digits_mlp` returns: the model, its History, the input transform and test figures."""

    model: MLP
    history: History
    prepare: Callable[[np.ndarray], np.ndarray]
    test_loss: float
    test_accuracy: float


def train_digits_mlp(seed: int = 0, epochs: int = 10, hidden: Sequence[int] = (512, 256), noisy_copies: int = 4,
                     noise: float = 0.5, lr: float = 1e-3, weight_decay: float = 0.05, batch_size: int = 32,
                     progress: bool = True) -> DigitsMLPResult:
    """The §3.1 digits recipe, used by the chapter and its test.

    Pixels standardised with the training set's mean and spread (+0.1), the
    training set plus ``noisy_copies`` copies with Gaussian noise of std
    ``noise``, a ReLU MLP 64-hidden-10 in float32, AdamW with 5 % linear warmup
    and cosine decay (eq-adam, eq-warmup-cosine), the test split as validation.
    ``seed`` fixes the noise, the initial weights and the batch order.
    """
    d = load_digits()
    rng = np.random.default_rng(seed)
    mean, std = d.X_train.mean(axis=0), d.X_train.std(axis=0) + 0.1

    def prepare(images: np.ndarray) -> np.ndarray:
        """(n, 8, 8) images -> (n, 64) standardised float32 rows."""
        return ((images - mean) / std).reshape(len(images), -1).astype(np.float32)

    clean = prepare(d.X_train)
    noisy = [clean + (noise * rng.standard_normal(clean.shape)).astype(np.float32) for _ in range(noisy_copies)]
    X, y = np.concatenate([clean, *noisy]), np.tile(d.y_train, noisy_copies + 1)
    model = MLP([64, *hidden, 10], rng=rng, dtype=np.float32)
    opt = AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    steps = epochs * num_batches(len(y), batch_size)
    history = fit(model, CrossEntropyLoss(), opt, X, y, epochs=epochs, batch_size=batch_size, rng=rng,
                  scheduler=lr_schedule(opt, steps, steps // 20), val=(prepare(d.X_test), d.y_test),
                  progress=progress)
    test_loss, test_acc = evaluate(model, CrossEntropyLoss(), prepare(d.X_test), d.y_test)
    return DigitsMLPResult(model, history, prepare, test_loss, test_acc)


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
    """A trained model, its History (see :func:`dlbook.train.fit`) and its test accuracy."""

    model: DigitsCNN
    history: History
    test_accuracy: float


def train_digits_cnn(seed: int = 0, epochs: int = 8, batch_size: int = 32, lr: float = 3e-3,
                     channels: tuple[int, int] = (32, 64), augment: bool = True, weight_decay: float = 0.0,
                     progress: bool = True) -> CNNResult:
    """The book's recipe: Adam with a cosine-decaying learning rate, cross-entropy, the fixed digits split
    (training images and their one-pixel shifts when ``augment``), float32, ``seed`` for the initial
    weights and the batch order."""
    data = load_digits()
    X_train, y_train = shifted_copies(data.X_train, data.y_train) if augment else (data.X_train, data.y_train)
    X_train, X_test = as_images(X_train), as_images(data.X_test)
    rng = np.random.default_rng(seed)
    model = DigitsCNN(channels, rng=rng)
    loss_fn = CrossEntropyLoss()
    optimizer = AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    schedule = lr_schedule(optimizer, epochs * num_batches(len(X_train), batch_size), warmup=0)
    history = fit(model, loss_fn, optimizer, X_train, y_train, epochs=epochs, batch_size=batch_size, rng=rng,
                  val=(X_test, data.y_test), scheduler=schedule, progress=progress)
    _, acc = evaluate(model, loss_fn, X_test, data.y_test)
    return CNNResult(model, history, acc)


if __name__ == "__main__":
    result = train_digits_cnn(progress=False)
    print(f"test accuracy {result.test_accuracy:.4f}, {result.model.num_parameters():,} parameters, "
          f"{format_seconds(result.history.seconds)}")
