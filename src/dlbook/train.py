"""The training loop of §3.2, packaged: forward, error, backward, update — repeated.

Every recipe in the package trains through :func:`train_loop` (one step: the error of a batch, backward,
clipping, the update, the next learning rate; evaluation on a fixed cadence; a progress bar; a stop when the
loss or the gradient is no longer finite), sets its learning rate with :func:`lr_schedule`, and evaluates
under :func:`eval_mode`, which leaves the model in the mode it found.  :func:`fit` is that loop over epochs of
mini-batches, with a :class:`History` to plot.  Wall-clock times are printed as ``time: 1.23 s`` so that the
book's notebook checks can mask exactly that (it is the one thing that varies from run to run).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from dlbook import functional as F
from dlbook._checks import check_int, check_positive_int, check_rng
from dlbook.autograd import Tensor
from dlbook.data.batching import iterate_minibatches, num_batches
from dlbook.data.text import sequential_windows
from dlbook.modes import eval_mode
from dlbook.nn.module import Module
from dlbook.optim.optimizer import Optimizer
from dlbook.optim.schedule import WarmupCosine, clip_grad_norm

__all__ = ["History", "Run", "accuracy", "eval_mode", "evaluate", "evaluate_lm", "fit", "format_seconds",
           "lr_schedule", "train_loop"]


@dataclass
class History:
    """Per-epoch records: ``loss`` (mean training loss), ``train_acc``, ``val_loss``, ``val_acc``, ``seconds``."""

    loss: list[float] = field(default_factory=list)
    train_acc: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_acc: list[float] = field(default_factory=list)
    seconds: float = 0.0


def format_seconds(seconds: float) -> str:
    """The one format for measured times in the book: ``time: 1.23 s``, ``time: 0.000312 s``.

    Two decimals, or three significant digits below 0.1 s, so that a fast call does not print as 0.00 s.
    """
    digits = 2 if seconds >= 0.1 or seconds <= 0 else 2 - int(np.floor(np.log10(seconds)))
    return f"time: {seconds:.{digits}f} s"


def accuracy(logits: Any, targets: np.ndarray) -> float:
    """Fraction of rows whose arg-max class equals the target."""
    z = getattr(logits, "data", logits)
    return float(np.mean(np.argmax(z, axis=-1) == targets))


def lr_schedule(optimizer: Optimizer, total_steps: int, warmup: int, min_lr: float = 0.0) -> WarmupCosine:
    """The learning-rate policy of every recipe: linear warm-up, then a cosine to ``min_lr`` (eq-warmup-cosine).

    ``warmup`` steps from 0 to the optimiser's lr — but never more than a tenth of the run (at least one
    step), so a recipe's warm-up still leaves a short run (a test, a chapter's quick run) time to decay.
    The recipe's numbers (``warmup``, ``min_lr``) live in its preset; the rule lives here.
    """
    total_steps = check_positive_int("total_steps", total_steps)
    warmup = check_int("warmup", warmup, 0)
    return WarmupCosine(optimizer, total_steps, min(warmup, max(1, total_steps // 10)), min_lr)


def evaluate(
    model: Module, loss_fn: Callable[[Tensor, Any], Tensor], X: np.ndarray, y: np.ndarray, batch_size: int = 512
) -> tuple[float, float]:
    """(mean loss, accuracy) of a classifier ``model`` on X: (N, ...), y: (N,) — in eval mode, without a graph."""
    total, correct = 0.0, 0
    with eval_mode(model):
        for xb, yb in iterate_minibatches(X, y, batch_size=batch_size):
            out = model(Tensor(xb))
            total += float(loss_fn(out, yb).data) * len(yb)
            correct += int(np.sum(np.argmax(out.data, axis=-1) == yb))
    return total / len(y), correct / len(y)


def evaluate_lm(model: Module, tokens: np.ndarray, seq_len: int = 128, batch_size: int = 64,
                max_windows: int | None = None) -> float:
    """Mean next-token cross-entropy (eq-cross-entropy, nats per token) of a language model on ``tokens`` (T,).

    ``model`` maps ids (N, seq_len) to logits (N, seq_len, V); ``tokens`` is cut into non-overlapping windows
    of ``seq_len`` (the first ``max_windows`` of them), evaluated in eval mode, without a graph.
    """
    x, y = sequential_windows(tokens, seq_len, max_windows)
    total = 0.0
    with eval_mode(model):
        for s in range(0, len(x), batch_size):
            loss = F.cross_entropy(model(x[s:s + batch_size]), y[s:s + batch_size])
            total += float(loss.data) * len(x[s:s + batch_size])
    return total / len(x)


@dataclass
class Run:
    """What :func:`train_loop` did: the last step, whether a callback stopped it, and its wall-clock time
    (``seconds`` in all, ``eval_seconds`` of it spent in ``evaluate``)."""

    step: int = 0
    stopped: bool = False
    seconds: float = 0.0
    eval_seconds: float = 0.0


def update(optimizer: Optimizer, scheduler: WarmupCosine | None = None, clip: float | None = None,
           check_finite: bool = True) -> None:
    """Step 4 of §3.2 as large models take it, once the gradients are in ``.grad``: clip them to total norm
    ``clip`` (if given; a non-finite norm raises FloatingPointError when ``check_finite``), let the optimiser
    update the weights, and move the scheduler to the next step's learning rate."""
    if clip is not None:                    # keep one bad batch from throwing the weights far
        clip_grad_norm(optimizer.params, clip, error_if_nonfinite=check_finite)
    optimizer.step()
    if scheduler is not None:
        scheduler.step()


def _check_finite(loss: float, check: bool, name: str, at: str) -> None:
    if check and not np.isfinite(loss):
        raise FloatingPointError(f"{name}: training diverged at {at}: the loss is {loss}; "
                                 "lower the learning rate, normalise the inputs or clip the gradients")


def train_loop(batch_loss: Callable[[int], Tensor] | None, optimizer: Optimizer, *, steps: int,
               scheduler: WarmupCosine | None = None, clip: float | None = None, start: int = 0,
               end: int | None = None, eval_every: int | None = None,
               evaluate: Callable[[int], bool | None] | None = None,
               after_step: Callable[[int, float], bool | None] | None = None, stop_on_nonfinite: bool = True,
               progress: bool = True, desc: str = "training", name: str = "training",
               where: Callable[[int], str] | None = None,
               step_gradients: Callable[[int], float] | None = None) -> Run:
    """Steps ``start + 1 .. end`` (default ``steps``) of a run planned for ``steps`` steps; returns a :class:`Run`.

    Step n is the four steps of §3.2: ``batch_loss(n)`` draws the batch and gives its error (forward pass and
    loss, a scalar Tensor); then the backward pass, gradient clipping to norm ``clip`` (if given), the
    optimiser's update and the scheduler's next learning rate.  ``evaluate(n)`` runs every ``eval_every``
    steps and at step ``steps``; it or ``after_step(n, loss)`` returning True stops the run after step n.

    ``step_gradients(n)``, given instead of ``batch_loss``, does steps 1–3 itself: it leaves step n's gradients
    in the parameters' ``.grad`` and returns the batch's loss (:meth:`dlbook.data_parallel.DataParallel.backward`
    over the batch, for instance, which splits it across cores).

    A loss (or, with ``clip``, a gradient norm) that is inf or NaN means training has diverged: every later
    step would be NaN too.  The loop then raises ``FloatingPointError`` naming the step (``where(n)``) and the
    learning rate, unless ``stop_on_nonfinite=False`` (to watch a run diverge on purpose).
    """
    from tqdm.auto import tqdm

    if (batch_loss is None) == (step_gradients is None):
        raise ValueError("give train_loop exactly one of batch_loss and step_gradients")
    steps = check_positive_int("steps", steps)
    end = steps if end is None else end
    if eval_every is not None:
        eval_every = check_positive_int("eval_every", eval_every)
    run = Run(step=start)
    bar = tqdm(total=end, initial=start, disable=not progress, desc=desc, leave=False)
    t_start = time.perf_counter()
    try:
        for n in range(start + 1, end + 1):
            at = f"{where(n) if where else f'step {n}'} (learning rate {optimizer.lr:.3g})"
            if step_gradients is None:
                loss = batch_loss(n)                # 1. forward pass, 2. the error
                value = float(loss.data)
                _check_finite(value, stop_on_nonfinite, name, at)
                optimizer.zero_grad()
                loss.backward()                     # 3. backward pass
            else:                                   # 1-3 at once, e.g. split across workers
                optimizer.zero_grad()
                value = float(step_gradients(n))
                _check_finite(value, stop_on_nonfinite, name, at)
            try:
                update(optimizer, scheduler, clip, check_finite=stop_on_nonfinite)   # 4. update
            except FloatingPointError as err:
                raise FloatingPointError(f"{name}: training diverged at {at}: {err}") from None
            run.step = n
            bar.update(1)
            stop = False
            if evaluate is not None and eval_every is not None and (n % eval_every == 0 or n == steps):
                t0 = time.perf_counter()
                stop = bool(evaluate(n))
                run.eval_seconds += time.perf_counter() - t0
            if after_step is not None and after_step(n, value):
                stop = True
            if stop:
                run.stopped = True
                break
    finally:
        bar.close()
    run.seconds = time.perf_counter() - t_start
    return run


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
    """Train ``model`` with mini-batch gradient descent for ``epochs`` epochs; returns the :class:`History`.

    :func:`train_loop` over shuffled mini-batches of X: (N, ...) inputs, y: (N, ...) targets (``rng`` shuffles
    each epoch); the error is ``loss_fn(model(x), y)``.  ``epochs`` and ``batch_size`` are positive ints.
    After each epoch the mean training loss (and accuracy, with ``classification``) is recorded, and the
    validation loss and accuracy on ``val``.  A diverged run raises ``FloatingPointError`` naming the
    epoch, the step and the learning rate, unless ``stop_on_nonfinite=False``.
    """
    if len(X) != len(y):
        raise ValueError(f"fit: X has {len(X)} rows but y has {len(y)}")
    epochs = check_positive_int("epochs", epochs)
    batch_size = check_positive_int("batch_size", batch_size)
    check_rng(rng)                          # None would train on the same batch order every epoch
    per_epoch = num_batches(len(X), batch_size)
    history = History()
    batches = (b for _ in range(epochs) for b in iterate_minibatches(X, y, batch_size=batch_size, rng=rng))
    sums = {"loss": 0.0, "correct": 0}

    def batch_loss(n: int) -> Tensor:
        xb, yb = next(batches)
        out = model(Tensor(xb))
        loss = loss_fn(out, yb)
        sums["loss"] += float(loss.data) * len(yb)
        if classification:
            sums["correct"] += int(np.sum(np.argmax(out.data, axis=-1) == yb))
        return loss

    def end_of_epoch(n: int) -> None:
        history.loss.append(sums["loss"] / len(y))
        if classification:
            history.train_acc.append(sums["correct"] / len(y))
        if val is not None:
            vl, va = evaluate(model, loss_fn, *val)
            history.val_loss.append(vl)
            history.val_acc.append(va)
        sums.update(loss=0.0, correct=0)

    model.train()
    run = train_loop(batch_loss, optimizer, steps=epochs * per_epoch, scheduler=scheduler, clip=max_grad_norm,
                     eval_every=per_epoch, evaluate=end_of_epoch, stop_on_nonfinite=stop_on_nonfinite,
                     progress=progress, name="fit", where=lambda n: f"epoch {(n - 1) // per_epoch + 1}, step {n}")
    history.seconds = run.seconds
    return history
