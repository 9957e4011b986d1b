"""The fast attention kernels: scaled dot-product attention with a hand-written backward, and the
packed multi-head core that ``nn.MultiheadAttention`` runs.

    Attention(Q, K, V) = softmax(Q Kᵀ / √d_k) V                       (eq-attention)

The readable twins, composed from the basic ops with autograd doing the backward, are
:func:`dlbook.functional.attention.attention_reference` and
:func:`~dlbook.functional.attention.multihead_attention_reference`; they are tested equal
in ``tests/test_fast_equals_readable.py``.  What makes these fast: the softmax runs in
place on the score array, row maxima and sums avoid numpy's slow short-row reductions, and
:class:`MultiheadCore` reads the heads as strided views straight out of the packed
projections (no copies) and writes the three gradients straight back into packed arrays.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from dlbook.autograd import Context, Function, unbroadcast


# ---- the kernels on plain arrays ------------------------------------------------
def row_max(s: np.ndarray) -> np.ndarray:
    """max over the last axis, keepdims, by pairwise halving (elementwise maxima run vectorised).

    For short rows such as attention scores numpy's ``s.max(-1)`` reduces each row on its own,
    without SIMD; halving the rows with ``np.maximum`` runs over whole blocks at once.
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
    denom = np.einsum("...j->...", s)[..., None]  # row sums (einsum: a vectorised loop for these short rows)
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


# ---- the differentiable ops ------------------------------------------------------
class ScaledDotProductAttention(Function):
    """O = softmax(Q Kᵀ/√d_k) V with an optional mask and dropout on the weights; see the array kernels above.

    The weights P (before dropout) are appended to ``weights_out``, for display: they are not an output
    that gradient flows through.
    """

    @staticmethod
    def forward(ctx: Context, q: np.ndarray, k: np.ndarray, v: np.ndarray, mask: np.ndarray | None,
                scale: float, keep: np.ndarray | None, weights_out: list) -> np.ndarray:
        o, p, pd = attention_forward_arrays(q, k, v, mask, scale, keep)
        ctx.save(q, k, v, p, pd, keep, scale)
        weights_out.append(p)
        return o

    @staticmethod
    def backward(ctx: Context, g: np.ndarray) -> tuple:
        q, k, v, p, pd, keep, scale = ctx.saved
        gq, gk, gv = attention_backward_arrays(g, q, k, v, p, pd, keep, scale)
        # q and k/v may have been broadcast against each other's batch axes: each copy's gradient adds up.
        return unbroadcast(gq, q.shape), unbroadcast(gk, k.shape), unbroadcast(gv, v.shape), None, None, None, None


#: How the projected inputs are packed: "qkv" one (N, L, 3E) array; "q_kv" (N, L, E) and (N, S, 2E);
#: "q_k_v" three (N, ·, E) arrays.
_PARTS = {"qkv": (3,), "q_kv": (1, 2), "q_k_v": (1, 1, 1)}


def _head_views(arrays: tuple[np.ndarray, ...], layout: str, heads: int) -> list[np.ndarray]:
    """The q, k, v heads (N, H, T, d) as strided views of the packed projection arrays."""
    views = []
    for a, parts in zip(arrays, _PARTS[layout]):
        n, t, w = a.shape
        d = w // parts // heads
        split = a.reshape(n, t, parts, heads, d)
        views.extend(split[:, :, i].transpose(0, 2, 1, 3) for i in range(parts))
    return views


class MultiheadCore(Function):
    """Split heads → (eq-attention) per head → merge heads, on packed projections, in one op."""

    @staticmethod
    def forward(ctx: Context, a: np.ndarray, b: np.ndarray | None, c: np.ndarray | None, layout: str,
                heads: int, mask: np.ndarray | None, scale: float, keep: np.ndarray | None,
                weights_out: list) -> np.ndarray:
        arrays = tuple(x for x in (a, b, c) if x is not None)
        q, k, v = _head_views(arrays, layout, heads)
        n, _, length, d = q.shape
        merged = np.empty((n, length, heads, d), dtype=np.result_type(q, v))
        _, p, pd = attention_forward_arrays(q, k, v, mask, scale, keep, out=merged.transpose(0, 2, 1, 3))
        ctx.save(arrays, layout, heads, p, pd, keep, scale)
        weights_out.append(p)
        return merged.reshape(n, length, heads * d)

    @staticmethod
    def backward(ctx: Context, g: np.ndarray) -> tuple:
        arrays, layout, heads, p, pd, keep, scale = ctx.saved
        q, k, v = _head_views(arrays, layout, heads)
        n, length, e = g.shape
        gh = g.reshape(n, length, heads, e // heads).transpose(0, 2, 1, 3)
        grads = tuple(np.empty_like(x) for x in arrays)
        outs = _head_views(grads, layout, heads)
        attention_backward_arrays(gh, q, k, v, p, pd, keep, scale, outs=tuple(outs))
        grads = grads + (None,) * (3 - len(grads))
        return (*grads, None, None, None, None, None, None)
