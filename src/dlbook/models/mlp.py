"""The multilayer perceptron of §3.1: layers of y = f(Wx + b) (eq-layer)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
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


@dataclass
class DigitsMLPResult:
    """What :func:`train_digits_mlp` returns: the model, its History, the input transform and test figures."""

    model: MLP
    history: Any
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
    from dlbook.data.batching import num_batches
    from dlbook.data.digits import load_digits
    from dlbook.nn.loss import CrossEntropyLoss
    from dlbook.optim.adam import AdamW
    from dlbook.optim.schedule import WarmupCosine
    from dlbook.train import evaluate, fit

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
                  scheduler=WarmupCosine(opt, total_steps=steps, warmup_steps=steps // 20),
                  val=(prepare(d.X_test), d.y_test), progress=progress)
    test_loss, test_acc = evaluate(model, CrossEntropyLoss(), prepare(d.X_test), d.y_test)
    return DigitsMLPResult(model, history, prepare, test_loss, test_acc)
