"""Reverse-mode automatic differentiation: the backpropagation algorithm of §3.2.

A :class:`Tensor` wraps an ``np.ndarray`` and remembers the :class:`Function`
that made it and the tensors it came from.  ``Tensor.backward()`` sorts that
graph topologically and walks it in reverse, applying the chain rule
(eq-chain-rule) one node at a time.  Everything else in dlbook is built from
these two classes.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

_GRAD_ENABLED = True


@contextlib.contextmanager
def no_grad() -> Iterator[None]:
    """Inside this block no graph is recorded (inference, optimiser steps)."""
    global _GRAD_ENABLED
    previous, _GRAD_ENABLED = _GRAD_ENABLED, False
    try:
        yield
    finally:
        _GRAD_ENABLED = previous


def is_grad_enabled() -> bool:
    """True unless inside :func:`no_grad`."""
    return _GRAD_ENABLED


def unbroadcast(grad: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Sum ``grad`` over the axes that broadcasting added or stretched.

    If ``x`` of shape ``shape`` was broadcast to ``grad.shape`` in the forward
    pass, each element of ``x`` was used many times, so its gradient is the sum
    of the gradients of all its copies.
    """
    if grad.shape == shape:
        return grad
    extra = grad.ndim - len(shape)
    if extra:
        grad = grad.sum(axis=tuple(range(extra)))
    stretched = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1)
    if stretched:
        grad = grad.sum(axis=stretched, keepdims=True)
    return grad


class Context:
    """What a Function's forward saves for its backward."""

    __slots__ = ("saved", "needs_grad", "__dict__")

    def __init__(self, needs_grad: tuple[bool, ...]) -> None:
        self.saved: tuple[Any, ...] = ()
        self.needs_grad = needs_grad

    def save(self, *values: Any) -> None:
        self.saved = values


class Function:
    """One differentiable op: ``forward`` from the formula, ``backward`` from its derivative.

    Subclasses implement two static methods on plain arrays::

        forward(ctx, *arrays, **options) -> np.ndarray
        backward(ctx, grad_out) -> one gradient (or None) per array input

    and are called through :meth:`apply`, which unwraps tensors, runs
    ``forward`` and, when any input needs a gradient, records the node.
    """

    @staticmethod
    def forward(ctx: Context, *args: Any, **kwargs: Any) -> np.ndarray:
        raise NotImplementedError

    @staticmethod
    def backward(ctx: Context, grad: np.ndarray) -> Any:
        raise NotImplementedError

    @classmethod
    def apply(cls, *inputs: Any, **kwargs: Any) -> Tensor:
        tensors = [x if isinstance(x, Tensor) else None for x in inputs]
        arrays = [x.data if isinstance(x, Tensor) else x for x in inputs]
        needs = tuple(t is not None and t.requires_grad for t in tensors)
        ctx = Context(needs)
        out = cls.forward(ctx, *arrays, **kwargs)
        track = _GRAD_ENABLED and any(needs)
        result = Tensor(out, requires_grad=track)
        if track:
            result._ctx = ctx
            result._fn = cls
            result._parents = tuple(tensors)
        return result


class Tensor:
    """An n-dimensional array that can compute its gradient.

    ``data``: the ``np.ndarray``; ``grad``: ``None`` or an array of the same
    shape, filled in by :meth:`backward` for tensors with ``requires_grad``.
    """

    __array_priority__ = 1000  # make ``ndarray + Tensor`` call Tensor.__radd__

    def __init__(self, data: Any, requires_grad: bool = False, dtype: Any = None) -> None:
        if isinstance(data, Tensor):
            data = data.data
        array = np.asarray(data, dtype=dtype)
        if array.dtype.kind not in "fiub":
            raise TypeError(f"Tensor data must be numeric, got dtype {array.dtype}")
        if requires_grad and array.dtype.kind != "f":
            array = array.astype(np.float64)
        self.data: np.ndarray = array
        self.grad: np.ndarray | None = None
        self.requires_grad = bool(requires_grad)
        self._ctx: Context | None = None
        self._fn: type[Function] | None = None
        self._parents: tuple[Tensor | None, ...] = ()

    # ---- basic facts -------------------------------------------------
    @property
    def shape(self) -> tuple[int, ...]:
        return self.data.shape

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def dtype(self) -> np.dtype:
        return self.data.dtype

    @property
    def size(self) -> int:
        return self.data.size

    def __len__(self) -> int:
        return len(self.data)

    def numpy(self) -> np.ndarray:
        """The underlying array (shared, not copied)."""
        return self.data

    def item(self) -> float:
        return self.data.item()

    def detach(self) -> Tensor:
        """The same values, cut off from the graph."""
        return Tensor(self.data)

    def __repr__(self) -> str:
        grad = ", requires_grad=True" if self.requires_grad else ""
        body = np.array2string(self.data, precision=4, separator=", ", prefix="Tensor(")
        return f"Tensor({body}{grad})"

    # ---- backpropagation (§3.2) -------------------------------------
    def backward(self, grad: Any = None) -> None:
        """Fill ``.grad`` of every leaf this tensor depends on.  Implements (eq-chain-rule).

        1. Order the graph so that every node comes after the nodes it was
           made from (a topological sort).
        2. Seed ``dL/dL = 1`` (or the given ``grad``), walk the order in
           reverse and hand each node's gradient to its ``Function.backward``,
           which returns the gradients of its inputs; add them up where a
           tensor was used more than once.
        """
        if not self.requires_grad:
            raise ValueError("backward(): this tensor does not require grad (no graph was recorded)")
        if grad is None:
            if self.data.size != 1:
                raise ValueError(
                    f"backward(): grad can be omitted only for a scalar, but this tensor has shape {self.shape}; "
                    "pass grad= with that shape"
                )
            seed = np.ones_like(self.data)
        else:
            seed = np.asarray(grad.data if isinstance(grad, Tensor) else grad, dtype=self.dtype)
            if seed.shape != self.shape:
                raise ValueError(f"backward(): grad must have shape {self.shape}, got {seed.shape}")

        order = _topological_order(self)
        grads: dict[int, np.ndarray] = {id(self): seed}
        for node in reversed(order):
            g = grads.pop(id(node), None)
            if g is None:
                continue
            if node._fn is None:  # a leaf: accumulate
                node.grad = g.copy() if node.grad is None else node.grad + g
                continue
            input_grads = node._fn.backward(node._ctx, g)
            if not isinstance(input_grads, tuple):
                input_grads = (input_grads,)
            for parent, pg in zip(node._parents, input_grads):
                if parent is None or pg is None or not parent.requires_grad:
                    continue
                key = id(parent)
                grads[key] = pg if key not in grads else grads[key] + pg

    def zero_grad(self) -> None:
        self.grad = None

    # ---- operators: defined in dlbook.functional ---------------------
    def __add__(self, other: Any) -> Tensor:
        return _F().add(self, other)

    def __radd__(self, other: Any) -> Tensor:
        return _F().add(other, self)

    def __sub__(self, other: Any) -> Tensor:
        return _F().sub(self, other)

    def __rsub__(self, other: Any) -> Tensor:
        return _F().sub(other, self)

    def __mul__(self, other: Any) -> Tensor:
        return _F().mul(self, other)

    def __rmul__(self, other: Any) -> Tensor:
        return _F().mul(other, self)

    def __truediv__(self, other: Any) -> Tensor:
        return _F().div(self, other)

    def __rtruediv__(self, other: Any) -> Tensor:
        return _F().div(other, self)

    def __neg__(self) -> Tensor:
        return _F().neg(self)

    def __pow__(self, exponent: float) -> Tensor:
        return _F().pow(self, exponent)

    def __matmul__(self, other: Any) -> Tensor:
        return _F().matmul(self, other)

    def __rmatmul__(self, other: Any) -> Tensor:
        return _F().matmul(other, self)

    def __getitem__(self, index: Any) -> Tensor:
        return _F().getitem(self, index)

    def sum(self, axis: int | Sequence[int] | None = None, keepdims: bool = False) -> Tensor:
        return _F().sum(self, axis=axis, keepdims=keepdims)

    def mean(self, axis: int | Sequence[int] | None = None, keepdims: bool = False) -> Tensor:
        return _F().mean(self, axis=axis, keepdims=keepdims)

    def max(self, axis: int | Sequence[int] | None = None, keepdims: bool = False) -> Tensor:
        return _F().max(self, axis=axis, keepdims=keepdims)

    def reshape(self, *shape: Any) -> Tensor:
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = tuple(shape[0])
        return _F().reshape(self, shape)

    def transpose(self, *axes: int) -> Tensor:
        return _F().transpose(self, axes or None)

    @property
    def T(self) -> Tensor:
        return _F().transpose(self, None)

    def exp(self) -> Tensor:
        return _F().exp(self)

    def log(self) -> Tensor:
        return _F().log(self)

    def sqrt(self) -> Tensor:
        return _F().sqrt(self)

    def tanh(self) -> Tensor:
        return _F().tanh(self)

    def sigmoid(self) -> Tensor:
        return _F().sigmoid(self)

    def relu(self) -> Tensor:
        return _F().relu(self)


def _F() -> Any:
    """dlbook.functional, imported late because it is built on this module."""
    from dlbook import functional

    return functional


def _topological_order(root: Tensor) -> list[Tensor]:
    """Nodes reachable from ``root``, each after all of its inputs (iterative DFS)."""
    order: list[Tensor] = []
    visited: set[int] = set()
    stack: list[tuple[Tensor, bool]] = [(root, False)]
    while stack:
        node, expanded = stack.pop()
        if expanded:
            order.append(node)
            continue
        if id(node) in visited:
            continue
        visited.add(id(node))
        stack.append((node, True))
        for parent in node._parents:
            if parent is not None and parent.requires_grad and id(parent) not in visited:
                stack.append((parent, False))
    return order
