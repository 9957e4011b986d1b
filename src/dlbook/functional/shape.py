"""Ops that move numbers around without changing them: reshape, transpose, indexing, concatenate, stack."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from dlbook.autograd import Context, Function, Tensor


class Reshape(Function):
    @staticmethod
    def forward(ctx: Context, a: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
        ctx.save(a.shape)
        return a.reshape(shape)

    @staticmethod
    def backward(ctx: Context, g: np.ndarray) -> tuple:
        (shape,) = ctx.saved
        return g.reshape(shape), None


class Transpose(Function):
    @staticmethod
    def forward(ctx: Context, a: np.ndarray, axes: tuple[int, ...] | None) -> np.ndarray:
        ctx.save(axes)
        return np.transpose(a, axes)

    @staticmethod
    def backward(ctx: Context, g: np.ndarray) -> tuple:
        (axes,) = ctx.saved
        inverse = None if axes is None else tuple(np.argsort(axes))
        return np.transpose(g, inverse), None


class GetItem(Function):
    """Indexing: the gradient is scattered back, adding where an index repeats."""

    @staticmethod
    def forward(ctx: Context, a: np.ndarray, index: Any) -> np.ndarray:
        ctx.save(a.shape, a.dtype, index)
        return a[index]

    @staticmethod
    def backward(ctx: Context, g: np.ndarray) -> tuple:
        shape, dtype, index = ctx.saved
        out = np.zeros(shape, dtype=g.dtype)
        np.add.at(out, index, g)
        return out, None


class Concatenate(Function):
    @staticmethod
    def forward(ctx: Context, *arrays_and_axis: Any) -> np.ndarray:
        *arrays, axis = arrays_and_axis
        ctx.save(axis, [a.shape[axis] for a in arrays])
        return np.concatenate(arrays, axis=axis)

    @staticmethod
    def backward(ctx: Context, g: np.ndarray) -> tuple:
        axis, sizes = ctx.saved
        return (*np.split(g, np.cumsum(sizes)[:-1], axis=axis), None)


class Stack(Function):
    @staticmethod
    def forward(ctx: Context, *arrays_and_axis: Any) -> np.ndarray:
        *arrays, axis = arrays_and_axis
        ctx.save(axis, len(arrays))
        return np.stack(arrays, axis=axis)

    @staticmethod
    def backward(ctx: Context, g: np.ndarray) -> tuple:
        axis, n = ctx.saved
        return (*(np.take(g, i, axis=axis) for i in range(n)), None)


def reshape(a: Any, shape: Sequence[int]) -> Tensor:
    """The same numbers in a new shape (one axis may be -1)."""
    x = a if isinstance(a, Tensor) else Tensor(a)
    shape = tuple(int(s) for s in shape)
    n, unknown = x.size, shape.count(-1)
    known = int(np.prod([s for s in shape if s != -1]))
    fits = known == n if unknown == 0 else unknown == 1 and known > 0 and n % known == 0
    if not fits or any(s < -1 for s in shape):
        raise ValueError(f"reshape: cannot reshape a tensor of shape {x.shape} into {shape}")
    return Reshape.apply(x, shape)


def transpose(a: Any, axes: Sequence[int] | None = None) -> Tensor:
    """Permute axes (reverse them when ``axes`` is None)."""
    x = a if isinstance(a, Tensor) else Tensor(a)
    if axes is not None:
        axes = tuple(int(i) % max(x.ndim, 1) for i in axes)
        if sorted(axes) != list(range(x.ndim)):
            raise ValueError(f"transpose: axes must be a permutation of 0..{x.ndim - 1}, got {axes}")
    return Transpose.apply(x, axes)


def getitem(a: Any, index: Any) -> Tensor:
    """``a[index]`` with numpy's basic and advanced indexing."""
    if isinstance(index, Tensor):
        index = index.data
    elif isinstance(index, tuple):
        index = tuple(i.data if isinstance(i, Tensor) else i for i in index)
    return GetItem.apply(a, index)


def _check_parts(name: str, tensors: Sequence[Any]) -> list[Any]:
    parts = list(tensors)
    if not parts:
        raise ValueError(f"{name}: needs at least one tensor, got none")
    return parts


def concatenate(tensors: Sequence[Any], axis: int = 0) -> Tensor:
    """Join tensors along an existing axis."""
    parts = _check_parts("concatenate", tensors)
    shapes = [np.shape(getattr(p, "data", p)) for p in parts]
    nd = len(shapes[0])
    ax = axis % max(nd, 1)
    for s in shapes:
        if len(s) != nd or s[:ax] + s[ax + 1 :] != shapes[0][:ax] + shapes[0][ax + 1 :]:
            raise ValueError(f"concatenate: shapes {shapes} differ outside axis {axis}")
    return Concatenate.apply(*parts, ax)


def stack(tensors: Sequence[Any], axis: int = 0) -> Tensor:
    """Join equal-shaped tensors along a new axis."""
    parts = _check_parts("stack", tensors)
    shapes = {np.shape(getattr(p, "data", p)) for p in parts}
    if len(shapes) != 1:
        raise ValueError(f"stack: all tensors must have the same shape, got {sorted(shapes)}")
    nd = len(next(iter(shapes))) + 1
    return Stack.apply(*parts, axis % nd)
