"""Loss functions: the error E of step 2 of backpropagation (§3.2)."""

from __future__ import annotations

from typing import Any

import numpy as np

from dlbook._checks import array_of, check_float, check_integer
from dlbook.autograd import Context, Function, Tensor
from dlbook.functional.activations import log_softmax_array


class MSELoss(Function):
    @staticmethod
    def forward(ctx: Context, pred: np.ndarray, target: np.ndarray) -> np.ndarray:
        diff = pred - target
        ctx.save(diff)
        return np.asarray(np.mean(diff * diff))

    @staticmethod
    def backward(ctx: Context, g: np.ndarray) -> tuple:
        (diff,) = ctx.saved
        scale = 2.0 / diff.size
        return g * scale * diff, -g * scale * diff


class CrossEntropy(Function):
    """Mean of −log softmax(z)[y]; dE/dz = (softmax(z) − onehot(y)) / N."""

    @staticmethod
    def forward(ctx: Context, logits: np.ndarray, targets: np.ndarray, ignore_index: int | None) -> np.ndarray:
        flat = logits.reshape(-1, logits.shape[-1])
        y = targets.reshape(-1)
        keep = np.ones(y.shape, dtype=bool) if ignore_index is None else y != ignore_index
        count = max(int(keep.sum()), 1)
        logp = log_softmax_array(flat, axis=-1)
        rows = np.arange(len(y))
        safe_y = np.where(keep, y, 0)
        picked = logp[rows, safe_y] * keep
        ctx.save(logp, safe_y, keep, count, logits.shape)
        return np.asarray(-picked.sum() / count, dtype=logits.dtype)

    @staticmethod
    def backward(ctx: Context, g: np.ndarray) -> tuple:
        logp, y, keep, count, shape = ctx.saved
        grad = np.exp(logp)
        grad[np.arange(len(y)), y] -= 1
        grad *= (keep / count)[:, None].astype(grad.dtype)
        return (g * grad).reshape(shape), None, None


def mse_loss(pred: Any, target: Any) -> Tensor:
    """E = (1/n) Σ (ŷ − y)², the mean squared error. Implements (eq-mse)."""
    sp, st = array_of(pred).shape, array_of(target).shape
    if sp != st:
        raise ValueError(f"mse_loss: pred and target must have the same shape, got {sp} and {st}")
    check_float("pred", pred)
    if np.prod(sp) == 0:
        # the mean of no errors is undefined (PyTorch returns nan): a clear error here, not a NaN in a later epoch
        raise ValueError(f"mse_loss: pred and target are empty (shape {sp}); there is nothing to average")
    return MSELoss.apply(pred, target)


def cross_entropy(logits: Any, targets: Any, ignore_index: int | None = None) -> Tensor:
    """E = −(1/N) Σₙ log softmax(zₙ)[yₙ]. Implements (eq-cross-entropy).

    logits: (N, C) or (..., C) floats; targets: (N,) or (...) integer classes in
    [0, C).  Stable for logits of any size (log-sum-exp shifted by the max).
    Targets equal to ``ignore_index`` contribute nothing, and the mean is over the others.
    An empty batch, or one whose targets all equal ``ignore_index``, has no mean:
    ValueError (PyTorch returns nan, which would only surface later as a diverged run).
    """
    z, y = array_of(logits), array_of(targets)
    check_float("logits", z)
    check_integer("targets", y)
    if z.ndim < 1 or z.shape[:-1] != y.shape:
        raise ValueError(
            f"cross_entropy: targets must have the shape of logits without its class axis; "
            f"got logits {z.shape} and targets {y.shape}"
        )
    valid = y if ignore_index is None else y[y != ignore_index]
    if valid.size == 0:
        every = f" and all of them equal ignore_index={ignore_index}" if y.size else ""
        raise ValueError(f"cross_entropy: no target to average over: targets has shape {y.shape}{every}")
    if valid.min() < 0 or valid.max() >= z.shape[-1]:
        raise ValueError(
            f"cross_entropy: targets must lie in [0, {z.shape[-1]}), got values in [{valid.min()}, {valid.max()}]"
        )
    return CrossEntropy.apply(logits, y, ignore_index)
