"""Elementwise arithmetic with broadcasting: + - * / neg pow exp log sqrt.

Each op's backward sits under its forward and reads like the derivative on
paper; ``unbroadcast`` sums the gradient back to each input's own shape.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from dlbook.autograd import Context, Function, Tensor, unbroadcast


def _as_operand(x: Any, like: np.ndarray) -> Any:
    """Python numbers take the other operand's dtype (no float64 promotion of float32)."""
    if isinstance(x, (int, float)) and not isinstance(x, bool):
        return np.asarray(x, dtype=like.dtype if like.dtype.kind == "f" else np.float64)
    return x


def _binary(fn: type[Function], a: Any, b: Any) -> Tensor:
    da, db = getattr(a, "data", a), getattr(b, "data", b)
    if isinstance(da, np.ndarray):
        b = _as_operand(b, da)
    if isinstance(db, np.ndarray):
        a = _as_operand(a, db)
    return fn.apply(a, b)


class Add(Function):
    @staticmethod
    def forward(ctx: Context, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        ctx.save(np.shape(a), np.shape(b))
        return np.add(a, b)

    @staticmethod
    def backward(ctx: Context, g: np.ndarray) -> tuple:
        sa, sb = ctx.saved
        return unbroadcast(g, sa), unbroadcast(g, sb)


class Sub(Function):
    @staticmethod
    def forward(ctx: Context, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        ctx.save(np.shape(a), np.shape(b))
        return np.subtract(a, b)

    @staticmethod
    def backward(ctx: Context, g: np.ndarray) -> tuple:
        sa, sb = ctx.saved
        return unbroadcast(g, sa), unbroadcast(-g, sb)


class Mul(Function):
    @staticmethod
    def forward(ctx: Context, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        ctx.save(a, b)
        return np.multiply(a, b)

    @staticmethod
    def backward(ctx: Context, g: np.ndarray) -> tuple:
        a, b = ctx.saved
        ga = unbroadcast(g * b, np.shape(a)) if ctx.needs_grad[0] else None
        gb = unbroadcast(g * a, np.shape(b)) if ctx.needs_grad[1] else None
        return ga, gb


class Div(Function):
    @staticmethod
    def forward(ctx: Context, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        ctx.save(a, b)
        return np.divide(a, b)

    @staticmethod
    def backward(ctx: Context, g: np.ndarray) -> tuple:
        a, b = ctx.saved
        ga = unbroadcast(g / b, np.shape(a)) if ctx.needs_grad[0] else None
        gb = unbroadcast(-g * a / (b * b), np.shape(b)) if ctx.needs_grad[1] else None
        return ga, gb


class Neg(Function):
    @staticmethod
    def forward(ctx: Context, a: np.ndarray) -> np.ndarray:
        return np.negative(a)

    @staticmethod
    def backward(ctx: Context, g: np.ndarray) -> np.ndarray:
        return -g


class Pow(Function):
    """x ** p for a constant exponent p: d/dx = p x^(p-1)."""

    @staticmethod
    def forward(ctx: Context, a: np.ndarray, p: float) -> np.ndarray:
        ctx.save(a, p)
        return np.power(a, p)

    @staticmethod
    def backward(ctx: Context, g: np.ndarray) -> tuple:
        a, p = ctx.saved
        return g * p * np.power(a, p - 1), None


class Exp(Function):
    @staticmethod
    def forward(ctx: Context, a: np.ndarray) -> np.ndarray:
        out = np.exp(a)
        ctx.save(out)
        return out

    @staticmethod
    def backward(ctx: Context, g: np.ndarray) -> np.ndarray:
        (out,) = ctx.saved
        return g * out


class Log(Function):
    @staticmethod
    def forward(ctx: Context, a: np.ndarray) -> np.ndarray:
        ctx.save(a)
        return np.log(a)

    @staticmethod
    def backward(ctx: Context, g: np.ndarray) -> np.ndarray:
        (a,) = ctx.saved
        return g / a


class Sqrt(Function):
    @staticmethod
    def forward(ctx: Context, a: np.ndarray) -> np.ndarray:
        out = np.sqrt(a)
        ctx.save(out)
        return out

    @staticmethod
    def backward(ctx: Context, g: np.ndarray) -> np.ndarray:
        (out,) = ctx.saved
        return g / (2 * out)


def add(a: Any, b: Any) -> Tensor:
    """a + b with broadcasting."""
    return _binary(Add, a, b)


def sub(a: Any, b: Any) -> Tensor:
    """a - b with broadcasting."""
    return _binary(Sub, a, b)


def mul(a: Any, b: Any) -> Tensor:
    """a * b elementwise with broadcasting."""
    return _binary(Mul, a, b)


def div(a: Any, b: Any) -> Tensor:
    """a / b elementwise with broadcasting."""
    return _binary(Div, a, b)


def neg(a: Any) -> Tensor:
    """-a."""
    return Neg.apply(a)


def pow(a: Any, exponent: float) -> Tensor:  # noqa: A001 - mirrors torch.pow
    """a ** exponent for a constant (Python number) exponent."""
    if isinstance(exponent, Tensor) or not isinstance(exponent, (int, float)):
        raise TypeError(f"exponent must be a Python number, got {type(exponent).__name__}")
    return Pow.apply(a, exponent)


def exp(a: Any) -> Tensor:
    """e ** a."""
    return Exp.apply(a)


def log(a: Any) -> Tensor:
    """Natural logarithm."""
    return Log.apply(a)


def sqrt(a: Any) -> Tensor:
    """Square root."""
    return Sqrt.apply(a)
