"""The layers that turn a GPT block into a Llama block: ``RMSNorm``, ``SwiGLU``, ``GroupedQueryAttention``.

    RMSNorm(x) = x / √(mean(x²) + ε) · γ                                  (no centring, no bias)
    SwiGLU(x)  = W₂ (SiLU(W₁ x) ⊙ W₃ x)                                   (a gated feed-forward)
    GQA:  headₕ = Attention(RoPE(Q_h), RoPE(K_⌊h/g⌋), V_⌊h/g⌋),  out = Concat(heads) W_o

None of them has a bias, as in Llama.  The formulas are the functional ops
:func:`~dlbook.functional.rms_norm`, :func:`~dlbook.functional.silu`, :func:`~dlbook.functional.rope`
and :func:`~dlbook.functional.grouped_query_attention`; these modules hold the weights.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from dlbook import functional as F
from dlbook._checks import check_float, check_positive_int, layer_input
from dlbook.autograd import Tensor
from dlbook.nn.kv_cache import KVCache
from dlbook.nn.linear import Linear
from dlbook.nn.module import Module, Parameter


class RMSNorm(Module):
    """y = x / √(mean(x²) + ε) · weight over the last axis, as ``torch.nn.RMSNorm``.

    x: (..., normalized_shape) -> the same shape.  ``weight`` starts at ones; ``eps`` None means the
    machine epsilon of x's dtype (PyTorch's default); ``elementwise_affine=False`` leaves out the weight.
    """

    def __init__(self, normalized_shape: int, eps: float | None = None, elementwise_affine: bool = True, *,
                 dtype: Any = np.float64) -> None:
        super().__init__()
        self.normalized_shape = check_positive_int("normalized_shape", normalized_shape)
        if eps is not None and not eps > 0:
            raise ValueError(f"eps must be positive or None, got {eps}")
        self.eps = None if eps is None else float(eps)
        self.weight = Parameter(np.ones(self.normalized_shape, dtype=dtype)) if elementwise_affine else None

    def forward(self, x: Tensor) -> Tensor:
        x = layer_input("x", x, np.float64 if self.weight is None else self.weight.dtype)
        if x.shape[-1:] != (self.normalized_shape,):
            raise ValueError(f"RMSNorm: x's last axis must be normalized_shape={self.normalized_shape}, "
                             f"got shape {x.shape}")
        return F.rms_norm(x, self.weight, self.eps)

    def extra_repr(self) -> str:
        return f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.weight is not None}"


class SwiGLU(Module):
    """The gated feed-forward of Llama (Shazeer 2020): y = W₂ (SiLU(W₁ x) ⊙ W₃ x).

    x: (..., d_model) -> (..., d_model).  ``w1`` (the gate) and ``w3`` (the value) are
    Linear(d_model, hidden), ``w2`` is Linear(hidden, d_model), all without bias by default.
    Three matrices instead of two, so a ``hidden`` of about (8/3)·d_model matches the parameter
    count of a GELU feed-forward of width 4·d_model.
    """

    def __init__(self, d_model: int, hidden: int, bias: bool = False, *, rng: np.random.Generator,
                 dtype: Any = np.float64) -> None:
        super().__init__()
        self.d_model = check_positive_int("d_model", d_model)
        self.hidden = check_positive_int("hidden", hidden)
        self.w1 = Linear(d_model, hidden, bias=bias, rng=rng, dtype=dtype)
        self.w3 = Linear(d_model, hidden, bias=bias, rng=rng, dtype=dtype)
        self.w2 = Linear(hidden, d_model, bias=bias, rng=rng, dtype=dtype)

    def forward(self, x: Tensor) -> Tensor:
        """y = W₂ (SiLU(W₁ x) ⊙ W₃ x): x (..., d_model) -> (..., d_model).  Implements (eq-swiglu)."""
        return self.w2(F.silu(self.w1(x)) * self.w3(x))

    def extra_repr(self) -> str:
        return f"d_model={self.d_model}, hidden={self.hidden}"


class GroupedQueryAttention(Module):
    """Causal self-attention with ``num_heads`` query heads sharing ``n_kv_heads`` key/value heads.

    x: (N, T, embed_dim) -> (N, T, embed_dim).  Submodules ``q_proj`` (E → H·d), ``k_proj`` and
    ``v_proj`` (E → H_kv·d), ``o_proj`` (H·d → E), d = E/H; no biases unless ``bias``.  With ``rope``
    the queries and keys are rotated by their positions (:func:`~dlbook.functional.rope`, base
    ``rope_base``) before the scores.  ``n_kv_heads`` None means ``num_heads`` (multi-head attention);
    1 is multi-query attention.

    With a :class:`~dlbook.nn.kv_cache.KVCache`, x holds the T tokens after the ``cache.length`` cached
    ones: they are rotated for positions ``cache.length`` .., their keys and values written into the
    cache's ``layer``, and the queries attend over every cached position and their own (inference only).
    """

    def __init__(self, embed_dim: int, num_heads: int, n_kv_heads: int | None = None, bias: bool = False,
                 rope: bool = True, rope_base: float = 10000.0, *, rng: np.random.Generator,
                 dtype: Any = np.float64) -> None:
        super().__init__()
        self.embed_dim = check_positive_int("embed_dim", embed_dim)
        self.num_heads = check_positive_int("num_heads", num_heads)
        self.n_kv_heads = self.num_heads if n_kv_heads is None else check_positive_int("n_kv_heads", n_kv_heads)
        if embed_dim % num_heads:
            raise ValueError(f"embed_dim ({embed_dim}) must be divisible by num_heads ({num_heads})")
        if self.num_heads % self.n_kv_heads:
            raise ValueError(f"n_kv_heads ({self.n_kv_heads}) must divide num_heads ({num_heads})")
        self.head_dim = embed_dim // num_heads
        if rope and self.head_dim % 2:
            raise ValueError(f"rope needs an even head size, got embed_dim / num_heads = {self.head_dim}")
        self.rope, self.rope_base = bool(rope), float(rope_base)
        self.dtype = np.dtype(dtype)                  # what a list given as x becomes (the projections may be int8)
        kv = self.n_kv_heads * self.head_dim
        self.q_proj = Linear(embed_dim, embed_dim, bias=bias, rng=rng, dtype=dtype)
        self.k_proj = Linear(embed_dim, kv, bias=bias, rng=rng, dtype=dtype)
        self.v_proj = Linear(embed_dim, kv, bias=bias, rng=rng, dtype=dtype)
        self.o_proj = Linear(embed_dim, embed_dim, bias=bias, rng=rng, dtype=dtype)

    def _heads(self, x: Tensor, heads: int) -> Tensor:
        """(N, T, heads·d) -> (N, heads, T, d): head j is features j·d .. (j+1)·d − 1."""
        n, t, _ = x.shape
        return F.transpose(F.reshape(x, (n, t, heads, self.head_dim)), (0, 2, 1, 3))

    def forward(self, x: Tensor, cache: KVCache | None = None, layer: int = 0) -> Tensor:
        x = layer_input("x", x, self.dtype)
        check_float("x", x)
        if x.ndim != 3 or x.shape[-1] != self.embed_dim:
            raise ValueError(f"GroupedQueryAttention: x must be (N, T, embed_dim={self.embed_dim}), got {x.shape}")
        if cache is not None and not isinstance(cache, KVCache):
            raise TypeError(f"cache must be a KVCache or None, got {type(cache).__name__}")
        n, t, _ = x.shape
        q = self._heads(self.q_proj(x), self.num_heads)                      # (N, H, T, d)
        k = self._heads(self.k_proj(x), self.n_kv_heads)                     # (N, H_kv, T, d)
        v = self._heads(self.v_proj(x), self.n_kv_heads)
        start = 0 if cache is None else cache.length
        if self.rope:
            q, k = F.rope(q, start, self.rope_base), F.rope(k, start, self.rope_base)
        if cache is not None:                                                # keys/values of positions 0 .. start+T−1
            k_all, v_all = cache.update(layer, k.data, v.data)
            k, v = Tensor(k_all), Tensor(v_all)
        out = F.grouped_query_attention(q, k, v, is_causal=True)            # (N, H, T, d)
        merged = F.reshape(F.transpose(out, (0, 2, 1, 3)), (n, t, self.embed_dim))
        return self.o_proj(merged)

    def extra_repr(self) -> str:
        return (f"embed_dim={self.embed_dim}, num_heads={self.num_heads}, n_kv_heads={self.n_kv_heads}, "
                f"rope={self.rope}")
