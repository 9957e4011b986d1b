"""Grouped-query attention (GQA, Ainslie et al. 2023): fewer key/value heads than query heads.

H query heads share H_kv key/value heads, H_kv dividing H: query head h reads key/value head
⌊h / (H/H_kv)⌋, so each group of g = H/H_kv consecutive query heads attends over the same keys:

    headₕ = Attention(Q_h, K_⌊h/g⌋, V_⌊h/g⌋),   h = 0 .. H − 1,   g = H / H_kv

H_kv = H is ordinary multi-head attention; H_kv = 1 is multi-query attention (one key/value head).
The point is the KV cache: it stores H_kv heads instead of H, a factor g less memory per token.

Written as it reads: repeat each key/value head g times (:func:`repeat_kv`), then run the package's
scaled dot-product attention (eq-attention) over H heads.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from dlbook._checks import array_of, check_float, check_positive_int
from dlbook.autograd import Context, Function, Tensor
from dlbook.functional.attention import scaled_dot_product_attention


class RepeatKV(Function):
    """(N, H_kv, S, d) -> (N, H_kv·g, S, d), each head repeated g times in a row; the backward adds the
    g copies' gradients back into their head."""

    @staticmethod
    def forward(ctx: Context, x: np.ndarray, repeats: int) -> np.ndarray:
        ctx.save(repeats)
        return np.repeat(x, repeats, axis=1)

    @staticmethod
    def backward(ctx: Context, g: np.ndarray) -> tuple:
        (repeats,) = ctx.saved
        n, h, s, d = g.shape
        return g.reshape(n, h // repeats, repeats, s, d).sum(axis=2), None


def repeat_kv(x: Any, repeats: int) -> Tensor:
    """Repeat every key/value head ``repeats`` times: (N, H_kv, S, d) -> (N, H_kv·repeats, S, d).

    Head j of the result is head ⌊j / repeats⌋ of x (as ``torch.repeat_interleave(x, repeats, dim=1)``).
    """
    repeats = check_positive_int("repeats", repeats)
    if array_of(x).ndim != 4:
        raise ValueError(f"x must be (N, heads, length, head_dim), got shape {array_of(x).shape}")
    return RepeatKV.apply(x, repeats)


def offset_causal_mask(length: int, source_length: int) -> np.ndarray:
    """(L, S) bool, True where query i may attend to key j: j ≤ i + (S − L).

    The L queries are the *last* L positions of the S keys (bottom-right aligned), as when L new
    tokens attend over S − L cached ones and themselves; with L = S it is the usual causal mask.
    """
    return np.tril(np.ones((length, source_length), dtype=bool), k=source_length - length)


def grouped_query_attention(q: Any, k: Any, v: Any, is_causal: bool = True) -> Tensor:
    """softmax(Q_h K_⌊h/g⌋ᵀ / √d) V_⌊h/g⌋ for every query head h, g = H / H_kv.

    q: (N, H, L, d); k, v: (N, H_kv, S, d) with H_kv dividing H and S ≥ L (when causal) -> (N, H, L, d).
    ``is_causal``: the queries are the last L of the S positions and each attends only to keys at
    or before its own position (:func:`offset_causal_mask`), so a cached prefix of S − L keys works.
    Implements (eq-gqa).
    """
    qa, ka, va = array_of(q), array_of(k), array_of(v)
    for name, a in (("q", qa), ("k", ka), ("v", va)):
        check_float(name, a)
        if a.ndim != 4:
            raise ValueError(f"{name} must be (N, heads, length, head_dim), got shape {a.shape}")
    if ka.shape != va.shape:
        raise ValueError(f"k and v must have the same shape, got k {ka.shape} and v {va.shape}")
    heads, kv_heads = qa.shape[1], ka.shape[1]
    if heads % kv_heads:
        raise ValueError(f"k's {kv_heads} heads must divide q's {heads} heads")
    if qa.shape[0] != ka.shape[0] or qa.shape[3] != ka.shape[3]:
        raise ValueError(f"q and k must agree on batch and head_dim, got q {qa.shape} and k {ka.shape}")
    length, source = qa.shape[2], ka.shape[2]
    if is_causal and source < length:
        raise ValueError(f"is_causal needs at least as many keys as queries (the queries are the last positions), "
                         f"got q length {length} and k length {source}")
    g = heads // kv_heads
    mask = offset_causal_mask(length, source) if is_causal else None
    out, _ = scaled_dot_product_attention(q, repeat_kv(k, g), repeat_kv(v, g), attn_mask=mask)
    return out
