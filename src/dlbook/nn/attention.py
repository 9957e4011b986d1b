"""``MultiheadAttention``: several scaled dot-product attentions side by side (§3.5, §4.5).

    headᵢ = Attention(X_q W_qᵢ, X_k W_kᵢ, X_v W_vᵢ),   MHA = Concat(head₁..head_H) W_o      (eq-multihead)

The H heads' projections are stacked into one ``in_proj`` (E → 3E, rows: Q, K, V,
each head a contiguous block of d = E/H), so self-attention is one GEMM; the
heads are then read as strided views of that one array (no copies) by the fused
kernel :class:`dlbook.kernels.attention.MultiheadCore`, whose backward writes the
three gradients straight back into one packed array.  Its readable twin, heads
split, attended and concatenated with the basic ops, is
:func:`dlbook.functional.attention.multihead_attention_reference`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from dlbook import functional as F
from dlbook._checks import array_of, check_float, check_nonnegative, check_positive_int, check_rng, layer_input
from dlbook.autograd import Tensor
from dlbook.functional.attention import causal_mask, check_mask, dropout_keep
from dlbook.kernels.attention import MultiheadCore
from dlbook.nn.linear import Linear
from dlbook.nn.module import Module


class MultiheadAttention(Module):
    """Multi-head attention, batch first.  Implements (eq-multihead).

    query: (N, L, E); key, value: (N, S, E) (``key=None`` → self-attention on
    ``query``, one fused QKV GEMM).  Returns (output (N, L, E), weights (N, H, L, S)
    as a plain array when ``need_weights`` else None).

    Masks follow ``torch.nn.MultiheadAttention``: ``attn_mask`` bool (L, S),
    (N·H, L, S) or broadcastable to (N, H, L, S), and ``key_padding_mask`` bool
    (N, S), both with **True = not allowed** (padding / future); ``is_causal``
    adds the causal mask.  Submodules ``in_proj`` = Linear(E, 3E) (rows Q, K, V)
    and ``out_proj`` = Linear(E, E).  ``dropout`` drops attention weights in
    training, drawn from ``rng``.
    """

    def __init__(self, embed_dim: int, num_heads: int, dropout: float = 0.0, bias: bool = True, *,
                 rng: np.random.Generator, dtype: Any = np.float64) -> None:
        super().__init__()
        self.embed_dim = check_positive_int("embed_dim", embed_dim)
        self.num_heads = check_positive_int("num_heads", num_heads)
        if embed_dim % num_heads:
            raise ValueError(f"embed_dim ({embed_dim}) must be divisible by num_heads ({num_heads})")
        self.dropout = check_nonnegative("dropout", dropout)
        if self.dropout >= 1:
            raise ValueError(f"dropout must lie in [0, 1), got {dropout}")
        self.head_dim = embed_dim // num_heads
        self.rng = check_rng(rng)
        self.in_proj = Linear(embed_dim, 3 * embed_dim, bias=bias, rng=rng, init="xavier", dtype=dtype)
        self.out_proj = Linear(embed_dim, embed_dim, bias=bias, rng=rng, dtype=dtype)
        if bias:  # PyTorch starts both biases at zero
            self.in_proj.bias.data[...] = 0
            self.out_proj.bias.data[...] = 0

    def _allowed(self, n: int, length: int, s: int, attn_mask: Any, key_padding_mask: Any,
                 is_causal: bool) -> np.ndarray | None:
        """One bool mask broadcastable to (N, H, L, S), True = may attend."""
        h = self.num_heads
        allowed = None
        if attn_mask is not None:
            m = np.asarray(array_of(attn_mask))
            if m.ndim == 3:
                if m.shape != (n * h, length, s):
                    raise ValueError(f"attn_mask must have shape (L, S)=({length}, {s}), "
                                     f"(N*H, L, S)=({n * h}, {length}, {s}) or broadcast to (N, H, L, S), "
                                     f"got {m.shape}")
                m = m.reshape(n, h, length, s)
            elif m.ndim not in (2, 4):
                raise ValueError(f"attn_mask must have shape (L, S)=({length}, {s}) or (N, H, L, S), got {m.shape}")
            allowed = ~check_mask("attn_mask", m, (n, h, length, s))
        if key_padding_mask is not None:
            kp = np.asarray(array_of(key_padding_mask))
            if kp.shape != (n, s):
                raise ValueError(f"key_padding_mask must have shape (N, S)=({n}, {s}), got {kp.shape}")
            kp = ~check_mask("key_padding_mask", kp, (n, s))[:, None, None, :]
            allowed = kp if allowed is None else (allowed & kp)
        if is_causal:
            c = causal_mask(length, s)
            allowed = c if allowed is None else (allowed & c)
        return allowed

    def forward(self, query: Tensor, key: Tensor | None = None, value: Tensor | None = None, *,
                attn_mask: Any = None, key_padding_mask: Any = None, is_causal: bool = False,
                need_weights: bool = False) -> tuple[Tensor, np.ndarray | None]:
        e = self.embed_dim
        dtype = self.out_proj.weight.dtype
        query = layer_input("query", query, dtype)
        key = None if key is None else layer_input("key", key, dtype)
        value = None if value is None else layer_input("value", value, dtype)
        for name, x in (("query", query), ("key", key), ("value", value)):
            if x is None:
                continue
            check_float(name, x)
            if x.ndim != 3 or x.shape[-1] != e:
                raise ValueError(f"MultiheadAttention: {name} must be (N, length, embed_dim={e}), got shape {x.shape}")
        if key is None and value is not None:
            raise ValueError("MultiheadAttention: value given without key")
        key = query if key is None else key
        value = key if value is None else value
        n, length = query.shape[:2]
        if key.shape[0] != n or value.shape[:2] != key.shape[:2]:
            raise ValueError(f"MultiheadAttention: batch and source lengths must agree, got query {query.shape}, "
                             f"key {key.shape}, value {value.shape}")
        s = key.shape[1]
        mask = self._allowed(n, length, s, attn_mask, key_padding_mask, is_causal)
        keep = None
        if self.training and self.dropout > 0:
            keep = dropout_keep((n, self.num_heads, length, s), self.dropout, self.rng, query.dtype)

        if key is query and value is query:  # self-attention: one GEMM for Q, K and V
            inputs: tuple = (self.in_proj(query), None, None)
            layout = "qkv"
        else:  # cross-attention: the Q rows and the K, V rows of in_proj applied separately
            w, b = self.in_proj.weight, self.in_proj.bias

            def rows(lo: int, hi: int, x: Tensor) -> Tensor:
                return F.linear(x, F.getitem(w, slice(lo, hi)), None if b is None else F.getitem(b, slice(lo, hi)))

            q = rows(0, e, query)
            if value is key:
                inputs, layout = (q, rows(e, 3 * e, key), None), "q_kv"
            else:
                inputs, layout = (q, rows(e, 2 * e, key), rows(2 * e, 3 * e, value)), "q_k_v"
        weights: list = []
        merged = MultiheadCore.apply(*inputs, layout=layout, heads=self.num_heads, mask=mask,
                                     scale=1.0 / float(np.sqrt(self.head_dim)), keep=keep, weights_out=weights)
        return self.out_proj(merged), (weights[0] if need_weights else None)

    def extra_repr(self) -> str:
        return f"embed_dim={self.embed_dim}, num_heads={self.num_heads}, dropout={self.dropout}"
