"""Scaled dot-product attention (§4.5), forward and hand-written backward.

    Attention(Q, K, V) = softmax(Q Kᵀ / √d_k) V                       (eq-attention)

Q: (..., L, d_k) queries, K: (..., S, d_k) keys, V: (..., S, d_v) values.
Row i of the softmax is a probability distribution over the S keys: how much
query i reads from each value.  A mask sets the scores of forbidden pairs to
−∞ before the softmax, so their weights are exactly zero.

The array-level kernels :func:`attention_forward_arrays` and
:func:`attention_backward_arrays` are shared by the public
:func:`scaled_dot_product_attention` and by the packed multi-head op of
``nn.MultiheadAttention`` (which reads the heads straight out of the fused QKV
projection without copying).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from dlbook._checks import array_of, check_float
from dlbook.autograd import Context, Function, Tensor, unbroadcast


# ---- the kernels on plain arrays ------------------------------------------------
def causal_mask(length: int, source_length: int | None = None) -> np.ndarray:
    """(L, S) bool, True where query i may attend to key j, i.e. j ≤ i (top-left aligned, as PyTorch)."""
    s = length if source_length is None else source_length
    return np.tril(np.ones((length, s), dtype=bool))


def row_max(s: np.ndarray) -> np.ndarray:
    """max over the last axis, keepdims, by pairwise halving (elementwise maxima run vectorised).

    For short rows such as attention scores (S ≈ 64) this is about twice as fast as ``s.max(-1)``,
    whose reduction over a short contiguous axis is not vectorised.
    """
    t = s
    while t.shape[-1] > 1:
        n = t.shape[-1]
        h = n // 2
        u = np.maximum(t[..., :h], t[..., h:2 * h])
        if n % 2:
            u[..., :1] = np.maximum(u[..., :1], t[..., -1:])
        t = u
    return t if t is not s else s.copy()


def attention_forward_arrays(q: np.ndarray, k: np.ndarray, v: np.ndarray, mask: np.ndarray | None,
                             scale: float, keep: np.ndarray | None = None,
                             out: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """softmax(q kᵀ · scale, masked) v on arrays.  Returns (output, weights P, dropped weights P̃).

    q: (..., L, d), k: (..., S, d), v: (..., S, d_v); mask: bool broadcastable to
    (..., L, S), True = may attend; keep: None or the inverted-dropout factors
    (0 or 1/(1−p)) with P's shape.  Rows with no allowed key get all-zero weights.
    """
    s = np.matmul(q, np.swapaxes(k, -1, -2))
    s *= scale
    if mask is not None:
        np.copyto(s, -np.inf, where=~mask)
    m = row_max(s)
    if mask is not None:
        m[~np.isfinite(m)] = 0.0  # a fully masked row: exp(−∞) = 0 everywhere, no NaN
    s -= m
    np.exp(s, out=s)
    denom = np.einsum("...j->...", s)[..., None]  # row sums; einsum is several times faster than .sum here
    if mask is not None:
        denom[denom == 0] = 1.0
    s *= 1.0 / denom
    p = s
    pd = p if keep is None else p * keep
    o = np.matmul(pd, v, out=out)
    return o, p, pd


def attention_backward_arrays(g: np.ndarray, q: np.ndarray, k: np.ndarray, v: np.ndarray, p: np.ndarray,
                              pd: np.ndarray, keep: np.ndarray | None, scale: float,
                              outs: tuple[Any, Any, Any] = (None, None, None)) -> tuple:
    """Gradients of (eq-attention) w.r.t. q, k, v given g = dL/d(output).

    O = P̃ V  ⇒  dV = P̃ᵀ g,  dP̃ = g Vᵀ;  P̃ = P ⊙ keep  ⇒  dP = dP̃ ⊙ keep;
    softmax  ⇒  dS = P ⊙ (dP − Σⱼ dP ⊙ P);  S = scale · Q Kᵀ  ⇒  dQ = scale · dS K,  dK = scale · dSᵀ Q.
    ``outs`` optionally gives arrays (or views) to write dQ, dK, dV into.
    """
    gv = np.matmul(np.swapaxes(pd, -1, -2), g, out=outs[2])
    gp = np.matmul(g, np.swapaxes(v, -1, -2))
    if keep is not None:
        gp *= keep
    gp -= np.einsum("...ij,...ij->...i", gp, p)[..., None]
    gp *= p
    gp *= scale
    gq = np.matmul(gp, k, out=outs[0])
    gk = np.matmul(np.swapaxes(gp, -1, -2), q, out=outs[1])
    return gq, gk, gv


def dropout_keep(shape: tuple[int, ...], p: float, rng: np.random.Generator, dtype: Any) -> np.ndarray:
    """Inverted-dropout factors: 0 with probability p, else 1/(1−p) (so the expectation is unchanged)."""
    return (rng.random(shape) >= p).astype(dtype) * (1.0 / (1.0 - p))


# ---- the differentiable op --------------------------------------------------------
class ScaledDotProductAttention(Function):
    """O = softmax(Q Kᵀ/√d_k) V with an optional mask and dropout on the weights; see the kernels."""

    @staticmethod
    def forward(ctx: Context, q: np.ndarray, k: np.ndarray, v: np.ndarray, mask: np.ndarray | None,
                scale: float, keep: np.ndarray | None, sink: list) -> np.ndarray:
        o, p, pd = attention_forward_arrays(q, k, v, mask, scale, keep)
        ctx.save(q, k, v, p, pd, keep, scale)
        sink.append(p)
        return o

    @staticmethod
    def backward(ctx: Context, g: np.ndarray) -> tuple:
        q, k, v, p, pd, keep, scale = ctx.saved
        gq, gk, gv = attention_backward_arrays(g, q, k, v, p, pd, keep, scale)
        # q and k/v may have been broadcast against each other's batch axes: each copy's gradient adds up.
        return unbroadcast(gq, q.shape), unbroadcast(gk, k.shape), unbroadcast(gv, v.shape), None, None, None, None


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
    with no allowed key gets all-zero weights and a zero output.
    """
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
    sc = 1.0 / math.sqrt(qa.shape[-1]) if scale is None else float(scale)
    sink: list = []
    out = ScaledDotProductAttention.apply(q, k, v, mask, sc, keep, sink)
    return out, sink[0]
