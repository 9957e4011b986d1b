"""Cases of ``make_torch_references.py`` for the pieces of a modern LLM (issue 18): SiLU, RMSNorm
(``torch.nn.RMSNorm``), SwiGLU, rotary position embeddings, grouped-query attention and a whole Llama-style
model.  PyTorch has no SwiGLU, RoPE or GQA layer, so those are written here in PyTorch from the same formulas,
the way Llama's Hugging Face code writes them (``rotate_half``, ``repeat_interleave`` of the kv heads,
``F.scaled_dot_product_attention``).  Importing this module adds the cases to ``CASES``."""

from __future__ import annotations

from typing import Any

import numpy as np
from torch_reference_cases import (
    CASES,
    Arrays,
    _elementwise,
    _module_case,
    add_case,
    leaf,
    tleaf,
    to_numpy,
    torch_module,
)
from torch_reference_lm import language_model_case

from dlbook import functional as F
from dlbook import nn
from dlbook.models.llama import Llama, LlamaConfig

__all__ = ["CASES"]

_RNG0 = np.random.default_rng   # dlbook's constructors need an rng; its draws are replaced by the case's


# ---- the formulas in PyTorch ---------------------------------------------------------------
def torch_rope(x: Any, offset: int = 0, base: float = 10000.0) -> Any:
    """Llama's rotary embedding as Hugging Face writes it: x cos + rotate_half(x) sin, x: (..., T, d)."""
    torch = torch_module()
    d, length = x.shape[-1], x.shape[-2]
    inv_freq = 1.0 / (base ** (torch.arange(0, d, 2, dtype=torch.float64) / d))
    freqs = torch.outer(torch.arange(offset, offset + length, dtype=torch.float64), inv_freq)
    emb = torch.cat((freqs, freqs), dim=-1)
    rotated = torch.cat((-x[..., d // 2:], x[..., : d // 2]), dim=-1)
    return x * emb.cos() + rotated * emb.sin()


def torch_swiglu(d_model: int, hidden: int) -> Any:
    torch = torch_module()

    class SwiGLU(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.w1 = torch.nn.Linear(d_model, hidden, bias=False)
            self.w2 = torch.nn.Linear(hidden, d_model, bias=False)
            self.w3 = torch.nn.Linear(d_model, hidden, bias=False)

        def forward(self, x: Any) -> Any:
            return self.w2(torch.nn.functional.silu(self.w1(x)) * self.w3(x))

    return SwiGLU()


def torch_gqa(embed_dim: int, heads: int, kv_heads: int, rope: bool, base: float = 10000.0) -> Any:
    torch = torch_module()
    d = embed_dim // heads

    class GQA(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.q_proj = torch.nn.Linear(embed_dim, heads * d, bias=False)
            self.k_proj = torch.nn.Linear(embed_dim, kv_heads * d, bias=False)
            self.v_proj = torch.nn.Linear(embed_dim, kv_heads * d, bias=False)
            self.o_proj = torch.nn.Linear(heads * d, embed_dim, bias=False)

        def forward(self, x: Any) -> Any:
            n, t, _ = x.shape
            q = self.q_proj(x).view(n, t, heads, d).transpose(1, 2)
            k = self.k_proj(x).view(n, t, kv_heads, d).transpose(1, 2)
            v = self.v_proj(x).view(n, t, kv_heads, d).transpose(1, 2)
            if rope:
                q, k = torch_rope(q, 0, base), torch_rope(k, 0, base)
            k = k.repeat_interleave(heads // kv_heads, dim=1)
            v = v.repeat_interleave(heads // kv_heads, dim=1)
            out = torch.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True)
            return self.o_proj(out.transpose(1, 2).reshape(n, t, heads * d))

    return GQA()


def _x(*shape: int, scale: float = 1.0) -> Any:
    """Draw x of ``shape`` (times ``scale``) and an upstream gradient of the same shape."""
    return lambda rng: {"x": rng.standard_normal(shape) * scale, "g": rng.standard_normal(shape)}


# ---- SiLU, RMSNorm, SwiGLU -----------------------------------------------------------------
_elementwise("silu", F.silu, lambda t, x: t.nn.functional.silu(x))
_module_case("rms_norm", lambda: nn.RMSNorm(6, eps=1e-5), lambda t: t.nn.RMSNorm(6, eps=1e-5), _x(3, 4, 6),
             scale=1.0)
# values ~1e-8: mean(x²) ~1e-16 is of the order of the default ε (float64's machine epsilon), so ε matters
_module_case("rms_norm_default_eps_tiny_x", lambda: nn.RMSNorm(5), lambda t: t.nn.RMSNorm(5), _x(4, 5, scale=1e-8),
             scale=1.0)
_module_case("swiglu", lambda: nn.SwiGLU(6, 10, rng=_RNG0(0)), lambda t: torch_swiglu(6, 10), _x(2, 3, 6))


# ---- RoPE ----------------------------------------------------------------------------------
def _rope(name: str, shape: tuple[int, ...], offset: int, base: float) -> None:
    def ours(inp: Arrays) -> Arrays:
        x = leaf(inp["x"])
        y = F.rope(x, offset, base)
        y.backward(inp["g"])
        return {"out": y.data, "grad:x": x.grad}

    def theirs(inp: Arrays) -> Arrays:
        torch = torch_module()
        x = tleaf(inp["x"])
        y = torch_rope(x, offset, base)
        y.backward(torch.tensor(inp["g"]))
        return {"out": to_numpy(y), "grad:x": to_numpy(x.grad)}

    add_case(name, _x(*shape), ours, theirs)


_rope("rope_heads_offset_3", (2, 3, 5, 8), 3, 10000.0)
_rope("rope_base_500_offset_40", (6, 4), 40, 500.0)


# ---- grouped-query attention ---------------------------------------------------------------
def _gqa(name: str, heads: int, kv_heads: int, rope: bool) -> None:
    _module_case(name, lambda: nn.GroupedQueryAttention(8, heads, kv_heads, rope=rope, rng=_RNG0(0)),
                 lambda t: torch_gqa(8, heads, kv_heads, rope), _x(2, 5, 8))


_gqa("gqa_4_heads_2_kv_rope", 4, 2, True)
_gqa("gqa_multi_query_rope", 4, 1, True)
_gqa("gqa_all_kv_heads_no_rope", 2, 2, False)


# ---- a whole Llama-style model ---------------------------------------------------------------
def _llama(name: str, tied: bool) -> None:
    config = LlamaConfig(vocab_size=13, context=8, d_model=8, num_layers=2, nhead=4, n_kv_heads=2, hidden=12,
                         tied=tied)

    def build() -> Llama:
        return Llama(config, rng=_RNG0(0), dtype=np.float64)

    def build_theirs(torch: Any) -> Any:
        tnn = torch.nn
        c = config

        class Block(tnn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.attn_norm = tnn.RMSNorm(c.d_model, eps=c.norm_eps)
                self.attn = torch_gqa(c.d_model, c.nhead, c.n_kv_heads, True, c.rope_base)
                self.ffn_norm = tnn.RMSNorm(c.d_model, eps=c.norm_eps)
                self.ffn = torch_swiglu(c.d_model, c.hidden)

            def forward(self, x: Any) -> Any:
                h = x + self.attn(self.attn_norm(x))
                return h + self.ffn(self.ffn_norm(h))

        class TorchLlama(tnn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.tok_emb = tnn.Embedding(c.vocab_size, c.d_model)
                self.blocks = tnn.Sequential(*[Block() for _ in range(c.num_layers)])
                self.norm = tnn.RMSNorm(c.d_model, eps=c.norm_eps)
                self.head = None if c.tied else tnn.Linear(c.d_model, c.vocab_size, bias=False)

            def forward(self, ids: Any) -> Any:
                head = self.tok_emb.weight if self.head is None else self.head.weight
                return tnn.functional.linear(self.norm(self.blocks(self.tok_emb(ids))), head)

        return TorchLlama()

    language_model_case(name, build, build_theirs, 13, (2, 7))


_llama("llama_tied_head", tied=True)
_llama("llama_untied_head", tied=False)
