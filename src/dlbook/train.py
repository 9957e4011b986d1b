"""The training loop of §3.2, packaged: forward, error, backward, update — repeated.

``fit`` shows a progress bar (``tqdm.auto``) and returns a :class:`History` to
plot.  Wall-clock times are printed as ``time: 1.23 s`` so that the book's
notebook checks can mask exactly that (it is the one thing that varies from
run to run).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from dlbook._checks import check_positive_int
from dlbook.autograd import Tensor, no_grad
from dlbook.data.batching import iterate_minibatches, num_batches
from dlbook.nn.module import Module
from dlbook.optim.optimizer import Optimizer
from dlbook.optim.schedule import clip_grad_norm


@dataclass
class History:
    """Per-epoch records: ``loss`` (mean training loss), ``train_acc``, ``val_loss``, ``val_acc``, ``seconds``."""

    loss: list[float] = field(default_factory=list)
    train_acc: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_acc: list[float] = field(default_factory=list)
    seconds: float = 0.0


def format_seconds(seconds: float) -> str:
    """The one format for measured times in the book: ``time: 1.23 s``."""
    return f"time: {seconds:.2f} s"


def accuracy(logits: Any, targets: np.ndarray) -> float:
    """Fraction of rows whose arg-max class equals the target."""
    z = getattr(logits, "data", logits)
    return float(np.mean(np.argmax(z, axis=-1) == targets))


def evaluate(
    model: Module, loss_fn: Callable[[Tensor, Any], Tensor], X: np.ndarray, y: np.ndarray, batch_size: int = 512
) -> tuple[float, float]:
    """(mean loss, accuracy) of ``model`` on (X, y), in eval mode and without a graph."""
    was_training = model.training
    model.eval()
    total, correct = 0.0, 0
    with no_grad():
        for xb, yb in iterate_minibatches(X, y, batch_size=batch_size):
            out = model(Tensor(xb))
            total += float(loss_fn(out, yb).data) * len(yb)
            correct += int(np.sum(np.argmax(out.data, axis=-1) == yb))
    model.train(was_training)
    return total / len(y), correct / len(y)


def fit(
    model: Module,
    loss_fn: Callable[[Tensor, Any], Tensor],
    optimizer: Optimizer,
    X: np.ndarray,
    y: np.ndarray,
    *,
    epochs: int,
    batch_size: int,
    rng: np.random.Generator,
    val: tuple[np.ndarray, np.ndarray] | None = None,
    max_grad_norm: float | None = None,
    scheduler: Any = None,
    progress: bool = True,
    classification: bool = True,
    stop_on_nonfinite: bool = True,
) -> History:
    """Train ``model`` with mini-batch gradient descent; returns the :class:`History`.

    Each step is the four steps of §3.2: forward pass, error (``loss_fn``),
    backward pass (``loss.backward()``), update (``optimizer.step()``).
    X: (N, ...) inputs, y: (N, ...) targets; ``epochs`` and ``batch_size`` are positive ints.

    A loss (or, with ``max_grad_norm``, a gradient norm) that is inf or NaN means
    training has diverged: every later step would be NaN too.  ``fit`` then raises
    ``FloatingPointError`` naming the epoch, the step and the learning rate, unless
    ``stop_on_nonfinite=False`` (to watch a run diverge on purpose).
    """
    if len(X) != len(y):
        raise ValueError(f"fit: X has {len(X)} rows but y has {len(y)}")
    epochs = check_positive_int("epochs", epochs)
    batch_size = check_positive_int("batch_size", batch_size)
    from tqdm.auto import tqdm

    history = History()
    steps = epochs * num_batches(len(X), batch_size)
    bar = tqdm(total=steps, disable=not progress, desc="training", leave=False)
    start = time.perf_counter()
    step = 0
    for epoch in range(1, epochs + 1):
        model.train()
        total, correct = 0.0, 0
        for xb, yb in iterate_minibatches(X, y, batch_size=batch_size, rng=rng):
            step += 1
            where = f"epoch {epoch}, step {step} (learning rate {optimizer.lr:.3g})"
            out = model(Tensor(xb))                 # 1. forward pass
            loss = loss_fn(out, yb)                 # 2. the error
            if stop_on_nonfinite and not np.isfinite(loss.data).all():
                bar.close()
                raise FloatingPointError(f"fit: training diverged at {where}: the loss is {float(loss.data)}; "
                                         "lower the learning rate, normalise the inputs or clip the gradients")
            optimizer.zero_grad()
            loss.backward()                         # 3. backward pass
            if max_grad_norm is not None:
                try:
                    clip_grad_norm(optimizer.params, max_grad_norm, error_if_nonfinite=stop_on_nonfinite)
                except FloatingPointError as e:
                    bar.close()
                    raise FloatingPointError(f"fit: training diverged at {where}: {e}") from None
            optimizer.step()                        # 4. update
            if scheduler is not None:
                scheduler.step()
            total += float(loss.data) * len(yb)
            if classification:
                correct += int(np.sum(np.argmax(out.data, axis=-1) == yb))
            bar.update(1)
        history.loss.append(total / len(y))
        if classification:
            history.train_acc.append(correct / len(y))
        if val is not None:
            vl, va = evaluate(model, loss_fn, *val)
            history.val_loss.append(vl)
            history.val_acc.append(va)
        bar.set_postfix(loss=f"{history.loss[-1]:.4f}")
    bar.close()
    history.seconds = time.perf_counter() - start
    return history
