"""One training step of one block (§5.5): the GPT's pre-LN block and the Llama block (RMSNorm, RoPE, SwiGLU,
grouped-query attention, no biases) at about the same parameter count — forward on x (N, T, d), backward of a
fixed upstream gradient, AdamW — each against the same block written in PyTorch, in the same run.

The PyTorch Llama block is written from the formulas as Llama's Hugging Face code writes them (``torch.nn.RMSNorm``,
``rotate_half``, ``repeat_interleave`` of the key/value heads, ``scaled_dot_product_attention``); PyTorch has no
layer for RoPE, SwiGLU or GQA.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from bench.common import Case, torch_available

N, T, D, HEADS, KV_HEADS = 16, 128, 128, 4, 2
#: The SwiGLU width that gives the Llama block the GPT block's parameters (the GPT's feed-forward is 4·D wide).
GPT_BLOCK = (4 * D * D + 4 * D) + (2 * D * 4 * D + 4 * D + D) + 4 * D
HIDDEN = round((GPT_BLOCK - 2 * D * D - 2 * D * KV_HEADS * (D // HEADS) - 2 * D) / (3 * D))


def _inputs() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(1)
    return rng.standard_normal((N, T, D)).astype(np.float32), rng.standard_normal((N, T, D)).astype(np.float32)


def _ours(kind: str) -> tuple[Any, int]:
    from dlbook import nn
    from dlbook.autograd import Tensor
    from dlbook.models.llama import LlamaBlock, LlamaConfig
    from dlbook.optim import AdamW

    rng = np.random.default_rng(0)
    if kind == "gpt":
        block = nn.TransformerEncoderLayer(D, HEADS, 4 * D, activation="gelu", norm_first=True, rng=rng,
                                           dtype=np.float32)

        def forward(x: Tensor) -> Tensor:
            return block(x, is_causal=True)
    else:
        config = LlamaConfig(vocab_size=1, context=T, d_model=D, num_layers=1, nhead=HEADS, n_kv_heads=KV_HEADS,
                             hidden=HIDDEN)
        block = LlamaBlock(config, rng=rng, dtype=np.float32)
        forward = block
    opt = AdamW(block.parameters(), lr=1e-4)
    x, g = _inputs()

    def step() -> None:
        opt.zero_grad()
        forward(Tensor(x)).backward(g)
        opt.step()

    return step, block.num_parameters()


def _torch_llama_block() -> Any:
    import torch

    d = D // HEADS

    def rope(x: Any) -> Any:
        inv_freq = 1.0 / (10000.0 ** (torch.arange(0, d, 2, dtype=torch.float32) / d))
        freqs = torch.outer(torch.arange(T, dtype=torch.float32), inv_freq)
        emb = torch.cat((freqs, freqs), dim=-1)
        return x * emb.cos() + torch.cat((-x[..., d // 2:], x[..., : d // 2]), dim=-1) * emb.sin()

    class Block(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.attn_norm, self.ffn_norm = torch.nn.RMSNorm(D, eps=1e-5), torch.nn.RMSNorm(D, eps=1e-5)
            self.q = torch.nn.Linear(D, D, bias=False)
            self.k = torch.nn.Linear(D, KV_HEADS * d, bias=False)
            self.v = torch.nn.Linear(D, KV_HEADS * d, bias=False)
            self.o = torch.nn.Linear(D, D, bias=False)
            self.w1 = torch.nn.Linear(D, HIDDEN, bias=False)
            self.w3 = torch.nn.Linear(D, HIDDEN, bias=False)
            self.w2 = torch.nn.Linear(HIDDEN, D, bias=False)

        def forward(self, x: Any) -> Any:
            n, t, _ = x.shape
            a = self.attn_norm(x)
            q = rope(self.q(a).view(n, t, HEADS, d).transpose(1, 2))
            k = rope(self.k(a).view(n, t, KV_HEADS, d).transpose(1, 2)).repeat_interleave(HEADS // KV_HEADS, 1)
            v = self.v(a).view(n, t, KV_HEADS, d).transpose(1, 2).repeat_interleave(HEADS // KV_HEADS, 1)
            out = torch.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True)
            h = x + self.o(out.transpose(1, 2).reshape(n, t, D))
            f = self.ffn_norm(h)
            return h + self.w2(torch.nn.functional.silu(self.w1(f)) * self.w3(f))

    return Block()


def _reference(kind: str) -> Any:
    import torch

    torch.manual_seed(0)
    if kind == "gpt":
        layer = torch.nn.TransformerEncoderLayer(D, HEADS, 4 * D, dropout=0.0, activation="gelu", batch_first=True,
                                                 norm_first=True)
        mask = torch.nn.Transformer.generate_square_subsequent_mask(T)

        def forward(x: Any) -> Any:
            return layer(x, src_mask=mask, is_causal=True)
        block = layer
    else:
        block = forward = _torch_llama_block()
    opt = torch.optim.AdamW(block.parameters(), lr=1e-4)
    x, g = (torch.from_numpy(a) for a in _inputs())

    def step() -> None:
        opt.zero_grad()
        forward(x).backward(g)
        opt.step()

    return step


def cases() -> list[Case]:
    out = []
    for kind, label in (("gpt", "GPT block (LayerNorm, GELU, MHA)"), ("llama", "Llama block (RMSNorm, RoPE, "
                                                                              f"SwiGLU {HIDDEN}, GQA {KV_HEADS}kv)")):
        ours, params = _ours(kind)
        ref, ref_name = (_reference(kind), "torch") if torch_available() else (None, "none")
        out.append(Case(name=f"{label} step N={N} T={T} d={D}", ours=ours, reference=ref, reference_name=ref_name,
                        target=1.5, unit_of_work=N * T, unit_name="tokens", notes=f"{params:,} parameters"))
    return out
