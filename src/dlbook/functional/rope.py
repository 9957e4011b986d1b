"""Rotary position embeddings (RoPE, Su et al. 2021): position enters attention as a rotation.

Split a query or key vector x of even size d into two halves x = [x₁, x₂] (d/2 each) and
rotate each pair (x₁[i], x₂[i]) by the angle m·θᵢ, where m is the token's position:

    θᵢ = base^(−2i/d),  i = 0 .. d/2 − 1                          (base = 10000)
    RoPE(x, m) = x ⊙ cos(m θ) + rotate_half(x) ⊙ sin(m θ),   rotate_half([x₁, x₂]) = [−x₂, x₁]

with cos(m θ) and sin(m θ) repeated over both halves (length d).  This is the *half-split*
convention of Llama's Hugging Face code (``rotate_half``): pair i is (x[i], x[i + d/2]); the
original paper and Meta's reference code pair neighbours (x[2i], x[2i+1]) instead, which is the
same rotation of a permuted vector.  A rotation keeps lengths and composes by adding angles, so

    RoPE(q, m) · RoPE(k, n) = q · R((n − m)θ) k,

a score that depends on the positions only through the offset n − m.

The backward is the rotation's transpose, the rotation by −mθ:
dx = g ⊙ cos(m θ) − rotate_half(g ⊙ sin(m θ)).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from dlbook._checks import array_of, check_float, check_int
from dlbook.autograd import Context, Function, Tensor


def rope_angles(positions: Any, head_dim: int, base: float = 10000.0) -> tuple[np.ndarray, np.ndarray]:
    """(cos(m θ), sin(m θ)), each (T, head_dim) float64, for the positions m: (T,) integers.

    θᵢ = base^(−2i/head_dim) for i < head_dim/2, repeated over the two halves (the half-split layout).
    """
    head_dim = check_int("head_dim", head_dim, 2)
    if head_dim % 2:
        raise ValueError(f"head_dim must be even (RoPE rotates pairs of features), got {head_dim}")
    if not base > 1:
        raise ValueError(f"base must be a number > 1, got {base}")
    m = np.asarray(positions)
    if m.ndim != 1 or m.dtype.kind not in "iu":
        raise TypeError(f"positions must be a 1-D array of integers, got dtype {m.dtype}, shape {m.shape}")
    theta = float(base) ** (-np.arange(0, head_dim, 2) / head_dim)          # (d/2,)
    angles = m[:, None] * theta[None, :]                                      # (T, d/2): m θᵢ
    angles = np.concatenate([angles, angles], axis=-1)                        # (T, d): both halves
    return np.cos(angles), np.sin(angles)


def rotate_half(x: np.ndarray) -> np.ndarray:
    """[x₁, x₂] -> [−x₂, x₁] over the last axis (an array op: a quarter turn of every pair)."""
    half = x.shape[-1] // 2
    return np.concatenate([-x[..., half:], x[..., :half]], axis=-1)


class Rotary(Function):
    """y = x cos + rotate_half(x) sin;  dx = g cos − rotate_half(g sin) (the transposed rotation)."""

    @staticmethod
    def forward(ctx: Context, x: np.ndarray, cos: np.ndarray, sin: np.ndarray) -> np.ndarray:
        ctx.save(cos, sin)
        return x * cos + rotate_half(x) * sin

    @staticmethod
    def backward(ctx: Context, g: np.ndarray) -> tuple:
        cos, sin = ctx.saved
        return g * cos - rotate_half(g * sin), None, None


def rope(x: Any, offset: int = 0, base: float = 10000.0) -> Tensor:
    """Rotate every query/key vector by its position (rotary position embedding, half-split convention).

    x: (..., T, head_dim), head_dim even -> the same shape.  Row t is at position ``offset`` + t
    (with a KV cache, ``offset`` is how many tokens are already cached).  Computes
    RoPE(x, m) = x ⊙ cos(mθ) + rotate_half(x) ⊙ sin(mθ), θᵢ = base^(−2i/head_dim),
    pairing feature i with feature i + head_dim/2 (Llama's Hugging Face layout; see the module docstring).
    Implements (eq-rope).
    """
    xa = array_of(x)
    check_float("x", xa)
    if xa.ndim < 2:
        raise ValueError(f"x must have at least 2 dimensions (..., T, head_dim), got shape {xa.shape}")
    offset = check_int("offset", offset, 0)
    cos, sin = rope_angles(np.arange(offset, offset + xa.shape[-2]), xa.shape[-1], base)
    return Rotary.apply(x, cos.astype(xa.dtype), sin.astype(xa.dtype))
