"""Reductions over axes: sum, mean, max."""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from typing import Any

import numpy as np

from dlbook.autograd import Context, Function, Tensor

Axis = int | Sequence[int] | None


def _normalize_axes(axis: Axis, ndim: int) -> tuple[int, ...]:
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    out = []
    for a in axes:
        if not -ndim <= a < builtins.max(ndim, 1):
            raise ValueError(f"axis {a} is out of range for a tensor with {ndim} dimensions")
        out.append(int(a) % builtins.max(ndim, 1))  # the builtin: max below is the op
    return tuple(out)


def _restore(g: np.ndarray, shape: tuple[int, ...], axes: tuple[int, ...], keepdims: bool) -> np.ndarray:
    """Put the reduced axes back (as size 1) so ``g`` broadcasts against the input."""
    if not keepdims:
        g = np.expand_dims(g, axes) if axes else g
    return g


class Sum(Function):
    @staticmethod
    def forward(ctx: Context, a: np.ndarray, axes: tuple[int, ...], keepdims: bool) -> np.ndarray:
        ctx.save(a.shape, axes, keepdims)
        return np.sum(a, axis=axes, keepdims=keepdims)

    @staticmethod
    def backward(ctx: Context, g: np.ndarray) -> np.ndarray:
        shape, axes, keepdims = ctx.saved
        return np.broadcast_to(_restore(g, shape, axes, keepdims), shape).copy()


class Mean(Function):
    @staticmethod
    def forward(ctx: Context, a: np.ndarray, axes: tuple[int, ...], keepdims: bool) -> np.ndarray:
        count = int(np.prod([a.shape[i] for i in axes])) if axes else 1
        ctx.save(a.shape, axes, keepdims, count)
        return np.mean(a, axis=axes, keepdims=keepdims)

    @staticmethod
    def backward(ctx: Context, g: np.ndarray) -> np.ndarray:
        shape, axes, keepdims, count = ctx.saved
        return np.broadcast_to(_restore(g, shape, axes, keepdims) / count, shape).copy()


class Max(Function):
    """The gradient goes to the maximum; ties share it equally (a subgradient)."""

    @staticmethod
    def forward(ctx: Context, a: np.ndarray, axes: tuple[int, ...], keepdims: bool) -> np.ndarray:
        out = np.max(a, axis=axes, keepdims=True)
        ctx.save(a, out, axes, keepdims)
        return out if keepdims else np.squeeze(out, axis=axes)

    @staticmethod
    def backward(ctx: Context, g: np.ndarray) -> np.ndarray:
        a, out, axes, keepdims = ctx.saved
        mask = a == out
        share = mask / mask.sum(axis=axes, keepdims=True)
        return share * _restore(g, a.shape, axes, keepdims)


def sum(a: Any, axis: Axis = None, keepdims: bool = False) -> Tensor:  # noqa: A001
    """Sum over ``axis`` (all axes when None)."""
    x = a if isinstance(a, Tensor) else Tensor(a)
    return Sum.apply(x, _normalize_axes(axis, x.ndim), keepdims)


def mean(a: Any, axis: Axis = None, keepdims: bool = False) -> Tensor:
    """Mean over ``axis`` (all axes when None)."""
    x = a if isinstance(a, Tensor) else Tensor(a)
    return Mean.apply(x, _normalize_axes(axis, x.ndim), keepdims)


def max(a: Any, axis: Axis = None, keepdims: bool = False) -> Tensor:  # noqa: A001
    """Maximum over ``axis``; the gradient flows to the maximal entries."""
    x = a if isinstance(a, Tensor) else Tensor(a)
    return Max.apply(x, _normalize_axes(axis, x.ndim), keepdims)
