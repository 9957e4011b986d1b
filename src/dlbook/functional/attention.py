"""Scaled dot-product attention (§4.5), written as the formula reads.

    Attention(Q, K, V) = softmax(Q Kᵀ / √d_k) V                       (eq-attention)

Q: (..., L, d_k) queries, K: (..., S, d_k) keys, V: (..., S, d_v) values.
Row i of the softmax is a probability distribution over the S keys: how much
query i reads from each value.  A mask sets the scores of forbidden pairs to
−∞ before the softmax, so their weights are exactly zero.

:func:`attention_reference` and :func:`multihead_attention_reference` compose the
formula from the basic ops (matmul, softmax), and autograd derives the backward.
:func:`scaled_dot_product_attention`, what the layers call, checks its arguments
the same way and runs the fused kernel of :mod:`dlbook.kernels.attention` (its
backward written out by hand); the two are tested equal.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from dlbook._checks import array_of, check_float, check_positive_int
from dlbook.autograd import Tensor
from dlbook.functional.activations import softmax
from dlbook.functional.linalg import matmul
from dlbook.functional.shape import reshape, transpose
from dlbook.kernels.attention import ScaledDotProductAttention


def causal_mask(length: int, source_length: int | None = None) -> np.ndarray:
    """(L, S) bool, True where query i may attend to key j, i.e. j ≤ i (top-left aligned, as PyTorch)."""
    s = length if source_length is None else source_length
    return np.tril(np.ones((length, s), dtype=bool))


def dropout_keep(shape: tuple[int, ...], p: float, rng: np.random.Generator, dtype: Any) -> np.ndarray:
    """Inverted-dropout factors: 0 with probability p, else 1/(1−p) (so the expectation is unchanged)."""
    return (rng.random(shape) >= p).astype(dtype) * (1.0 / (1.0 - p))


def check_mask(name: str, mask: Any, target: tuple[int, ...]) -> np.ndarray:
    """``mask`` as a bool array broadcastable to ``target``, or a ValueError/TypeError naming ``name``."""
    m = np.asarray(mask)
    if m.dtype != np.bool_:
        raise TypeError(f"{name} must be a bool array, got dtype {m.dtype}")
    try:
        if np.broadcast_shapes(m.shape, target) != target:
            raise ValueError
    except ValueError:
        raise ValueError(f"{name} must have a shape broadcastable to {target}, got {m.shape}") from None
    return m


def _attention_args(q: Any, k: Any, v: Any, attn_mask: Any, is_causal: bool, dropout_p: float, rng: Any,
                    scale: float | None) -> tuple[np.ndarray | None, np.ndarray | None, float]:
    """Check the arguments of (eq-attention); returns (mask or None, dropout factors or None, scale)."""
    qa, ka, va = array_of(q), array_of(k), array_of(v)
    for name, a in (("q", qa), ("k", ka), ("v", va)):
        check_float(name, a)
        if a.ndim < 2:
            raise ValueError(f"{name} must have at least 2 dimensions (..., length, dim), got shape {a.shape}")
    if qa.shape[-1] != ka.shape[-1]:
        raise ValueError(f"q and k must have the same last axis d_k, got q {qa.shape} and k {ka.shape}")
    if ka.shape[:-1] != va.shape[:-1]:
        raise ValueError(f"k and v must agree on every axis but the last, got k {ka.shape} and v {va.shape}")
    try:
        batch = np.broadcast_shapes(qa.shape[:-2], ka.shape[:-2])
    except ValueError:
        raise ValueError(f"the batch axes of q {qa.shape} and k {ka.shape} do not broadcast") from None
    target = (*batch, qa.shape[-2], ka.shape[-2])
    mask = None if attn_mask is None else check_mask("attn_mask", attn_mask, target)
    if is_causal:
        c = causal_mask(qa.shape[-2], ka.shape[-2])
        mask = c if mask is None else (mask & c)
    if not 0.0 <= dropout_p < 1.0:
        raise ValueError(f"dropout_p must lie in [0, 1), got {dropout_p}")
    keep = None
    if dropout_p > 0:
        if not isinstance(rng, np.random.Generator):
            raise ValueError(f"dropout_p={dropout_p} needs rng= a numpy Generator, got {type(rng).__name__}")
        keep = dropout_keep(target, dropout_p, rng, np.result_type(qa, ka))
    return mask, keep, 1.0 / math.sqrt(qa.shape[-1]) if scale is None else float(scale)


# ---- the formula composed from basic ops (autograd does the backward) -----------
def _attend(q: Any, k: Any, v: Any, mask: np.ndarray | None, scale: float,
            keep: np.ndarray | None) -> tuple[Tensor, Tensor]:
    """(softmax(q kᵀ · scale, masked) ⊙ keep) v and the weights, from matmul and softmax."""
    nd = array_of(k).ndim
    k_t = transpose(k, (*range(nd - 2), nd - 1, nd - 2))                      # Kᵀ over the last two axes
    scores = matmul(q, k_t) * scale                                           # S = Q Kᵀ / √d_k
    if mask is None:
        weights = softmax(scores, axis=-1)
    else:
        # Forbidden pairs get −∞ (weight exactly 0); a query with no allowed key gets all-zero weights.
        allowed = np.broadcast_to(mask, scores.shape)
        has_key = allowed.any(axis=-1, keepdims=True)
        penalty = np.where(allowed | ~has_key, 0.0, -np.inf).astype(scores.dtype)
        weights = softmax(scores + penalty, axis=-1) * has_key.astype(scores.dtype)
    dropped = weights if keep is None else weights * keep                    # inverted dropout on the weights
    return matmul(dropped, v), weights


def attention_reference(q: Any, k: Any, v: Any, attn_mask: Any = None, is_causal: bool = False,
                        dropout_p: float = 0.0, rng: np.random.Generator | None = None,
                        scale: float | None = None) -> tuple[Tensor, np.ndarray]:
    """softmax(Q Kᵀ/√d_k) V from matmul and softmax; the readable twin of :func:`scaled_dot_product_attention`.

    Same arguments, shapes and results (output Tensor, weights array); the
    gradient comes from autograd through the composed ops.  Row by row: query
    i's weights over the keys, and its output as the weighted sum of the
    values.  Implements (eq-attention-weights).
    """
    mask, keep, sc = _attention_args(q, k, v, attn_mask, is_causal, dropout_p, rng, scale)
    out, weights = _attend(q, k, v, mask, sc, keep)
    return out, weights.data


def multihead_attention_reference(q: Any, k: Any, v: Any, num_heads: int, mask: Any = None,
                                  keep: Any = None) -> tuple[Tensor, np.ndarray]:
    """Split into heads → (eq-attention) per head → concatenate the heads; the readable twin of the packed
    multi-head core (:class:`dlbook.kernels.attention.MultiheadCore`) that ``nn.MultiheadAttention`` runs.

    q: (N, L, E), k and v: (N, S, E), already projected; ``num_heads`` H divides E,
    each head reads d = E/H consecutive features.  ``mask``: bool broadcastable to
    (N, H, L, S), True = may attend; ``keep``: dropout factors (N, H, L, S) or None.
    Returns (the heads side by side (N, L, E), weights (N, H, L, S)); scale 1/√d.
    """
    num_heads = check_positive_int("num_heads", num_heads)
    for name, x in (("q", q), ("k", k), ("v", v)):
        check_float(name, x)
        if array_of(x).ndim != 3 or array_of(x).shape[2] % num_heads:
            raise ValueError(f"{name} must be (N, length, E) with E divisible by num_heads={num_heads}, "
                             f"got shape {array_of(x).shape}")
    n, length, e = array_of(q).shape
    d = e // num_heads

    def heads(x: Any) -> Tensor:                                              # (N, T, E) -> (N, H, T, d)
        return transpose(reshape(x, (n, array_of(x).shape[1], num_heads, d)), (0, 2, 1, 3))

    out, weights = _attend(heads(q), heads(k), heads(v), mask, 1.0 / math.sqrt(d), keep)
    return reshape(transpose(out, (0, 2, 1, 3)), (n, length, e)), weights.data


# ---- what the layers call: checked here, run by the fused kernel ----------------
def scaled_dot_product_attention(q: Any, k: Any, v: Any, attn_mask: Any = None, is_causal: bool = False,
                                 dropout_p: float = 0.0, rng: np.random.Generator | None = None,
                                 scale: float | None = None) -> tuple[Tensor, np.ndarray]:
    """softmax(Q Kᵀ/√d_k) V.  Implements (eq-attention).

    q: (N, H, L, d_k), k: (N, H, S, d_k), v: (N, H, S, d_v) Tensors (any number
    of leading axes works, and the leading axes of q and of k, v broadcast against
    each other; each input's gradient is summed back to its own shape).
    ``attn_mask``: bool, broadcastable to (N, H, L, S)
    (e.g. (L, S)), **True = may attend** (as ``torch.nn.functional.scaled_dot_product_attention``);
    ``is_causal``: query i attends to keys j ≤ i.  ``dropout_p`` > 0 drops
    weights at random (needs ``rng``).  ``scale`` defaults to 1/√d_k.

    Returns (output (N, H, L, d_v), weights (N, H, L, S) as a plain array, before
    dropout, for display).  Masked positions get exactly zero weight; a query
    with no allowed key gets all-zero weights and a zero output.  Runs the fused
    kernel :class:`dlbook.kernels.attention.ScaledDotProductAttention`; its readable
    twin is :func:`attention_reference`.
    """
    mask, keep, sc = _attention_args(q, k, v, attn_mask, is_causal, dropout_p, rng, scale)
    weights: list = []
    out = ScaledDotProductAttention.apply(q, k, v, mask, sc, keep, weights)
    return out, weights[0]
