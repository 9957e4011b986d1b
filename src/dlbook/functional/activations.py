"""Activation functions (§4.1) and the softmax family, each with its derivative."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from dlbook._checks import array_of, check_float
from dlbook.autograd import Context, Function, Tensor

_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)  # a Python float: keeps float32 arrays float32


class Tanh(Function):
    @staticmethod
    def forward(ctx: Context, a: np.ndarray) -> np.ndarray:
        out = np.tanh(a)
        ctx.save(out)
        return out

    @staticmethod
    def backward(ctx: Context, g: np.ndarray) -> np.ndarray:
        (out,) = ctx.saved
        return g * (1 - out * out)  # tanh'(z) = 1 - tanh(z)^2


class Sigmoid(Function):
    @staticmethod
    def forward(ctx: Context, a: np.ndarray) -> np.ndarray:
        out = sigmoid_array(a)
        ctx.save(out)
        return out

    @staticmethod
    def backward(ctx: Context, g: np.ndarray) -> np.ndarray:
        (out,) = ctx.saved
        return g * out * (1 - out)  # σ'(z) = σ(z)(1 - σ(z))


class ReLU(Function):
    @staticmethod
    def forward(ctx: Context, a: np.ndarray) -> np.ndarray:
        mask = a > 0
        ctx.save(mask)
        return a * mask

    @staticmethod
    def backward(ctx: Context, g: np.ndarray) -> np.ndarray:
        (mask,) = ctx.saved
        return g * mask  # ReLU'(z) = 1 if z > 0 else 0


class GELU(Function):
    """The tanh approximation used by GPT-2: ½ z (1 + tanh(√(2/π)(z + 0.044715 z³)))."""

    @staticmethod
    def forward(ctx: Context, a: np.ndarray) -> np.ndarray:
        inner = _SQRT_2_OVER_PI * (a + 0.044715 * a * a * a)
        t = np.tanh(inner)
        ctx.save(a, t)
        return 0.5 * a * (1 + t)

    @staticmethod
    def backward(ctx: Context, g: np.ndarray) -> np.ndarray:
        a, t = ctx.saved
        dinner = _SQRT_2_OVER_PI * (1 + 3 * 0.044715 * a * a)
        return g * (0.5 * (1 + t) + 0.5 * a * (1 - t * t) * dinner)


class SiLU(Function):
    """SiLU(z) = z σ(z) (also called swish); SiLU'(z) = σ(z) (1 + z (1 − σ(z)))."""

    @staticmethod
    def forward(ctx: Context, a: np.ndarray) -> np.ndarray:
        s = sigmoid_array(a)
        ctx.save(a, s)
        return a * s

    @staticmethod
    def backward(ctx: Context, g: np.ndarray) -> np.ndarray:
        a, s = ctx.saved
        return g * s * (1 + a * (1 - s))


class Softmax(Function):
    @staticmethod
    def forward(ctx: Context, a: np.ndarray, axis: int) -> np.ndarray:
        out = softmax_array(a, axis)
        ctx.save(out, axis)
        return out

    @staticmethod
    def backward(ctx: Context, g: np.ndarray) -> tuple:
        out, axis = ctx.saved
        # J = diag(p) - p pᵀ, so Jᵀ g = p * (g - <g, p>)
        return out * (g - np.sum(g * out, axis=axis, keepdims=True)), None


class LogSoftmax(Function):
    @staticmethod
    def forward(ctx: Context, a: np.ndarray, axis: int) -> np.ndarray:
        out = log_softmax_array(a, axis)
        ctx.save(out, axis)
        return out

    @staticmethod
    def backward(ctx: Context, g: np.ndarray) -> tuple:
        out, axis = ctx.saved
        return g - np.exp(out) * np.sum(g, axis=axis, keepdims=True), None


def sigmoid_array(z: np.ndarray) -> np.ndarray:
    """σ(z) = 1 / (1 + e^(−z)) on a plain array, without overflow for large |z|."""
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1 / (1 + e), e / (1 + e))


def softmax_array(z: np.ndarray, axis: int = -1) -> np.ndarray:
    """softmax on a plain array, shifted by the maximum for stability (eq-softmax)."""
    shifted = z - np.max(z, axis=axis, keepdims=True)
    e = np.exp(shifted)
    return e / np.sum(e, axis=axis, keepdims=True)


def log_softmax_array(z: np.ndarray, axis: int = -1) -> np.ndarray:
    """log softmax on a plain array: z − max − log Σ exp(z − max)."""
    shifted = z - np.max(z, axis=axis, keepdims=True)
    return shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))


def _axis(name: str, x: Any, axis: int) -> int:
    nd = array_of(x).ndim
    if not -nd <= axis < nd:
        raise ValueError(f"{name}: axis {axis} is out of range for a tensor of shape {array_of(x).shape}")
    return axis % nd


def tanh(a: Any) -> Tensor:
    """tanh(z) = (e^z − e^(−z)) / (e^z + e^(−z)). Implements (eq-tanh)."""
    return Tanh.apply(a)


def sigmoid(a: Any) -> Tensor:
    """σ(z) = 1 / (1 + e^(−z)). Implements (eq-sigmoid)."""
    return Sigmoid.apply(a)


def relu(a: Any) -> Tensor:
    """ReLU(z) = max(0, z). Implements (eq-relu)."""
    return ReLU.apply(a)


def gelu(a: Any) -> Tensor:
    """GELU(z) ≈ ½ z (1 + tanh(√(2/π)(z + 0.044715 z³))). Implements (eq-gelu)."""
    return GELU.apply(a)


def silu(a: Any) -> Tensor:
    """SiLU(z) = z · σ(z) = z / (1 + e^(−z)), the gate of SwiGLU (``torch.nn.functional.silu``).

    a: any shape -> the same shape; its backward is σ(z)(1 + z(1 − σ(z))).  Implements (eq-silu).
    """
    check_float("a", a)
    return SiLU.apply(a)


def softmax(a: Any, axis: int = -1) -> Tensor:
    """softmax(z)_i = e^(z_i) / Σ_j e^(z_j) along ``axis``. Implements (eq-softmax)."""
    return Softmax.apply(a, _axis("softmax", a, axis))


def log_softmax(a: Any, axis: int = -1) -> Tensor:
    """log softmax(z)_i = z_i − log Σ_j e^(z_j), computed stably along ``axis``."""
    return LogSoftmax.apply(a, _axis("log_softmax", a, axis))
