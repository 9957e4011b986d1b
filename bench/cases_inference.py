"""Inference (chapter 5.4): one decode step of the shipped GPT's shape (d_model 192, 4 layers, 4 heads, its
character vocabulary) with a context of 512, with and without the KV cache, at several lengths of the text —
dlbook against the same model in PyTorch (its own preallocated cache and ``scaled_dot_product_attention``, as
Hugging Face's decoders do it); and the int8 layer's dequantising product against the float32 Linear.

Without the cache a step runs all t positions (what ``generate(use_cache=False)`` does); with it, one position
after t − 1 cached ones.  Random weights: the time does not depend on their values.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from bench.common import Case, torch_available

CONTEXT, LENGTHS = 512, (32, 128, 512)


def _config() -> Any:
    from dlbook.models.gpt import GPTConfig, load_gpt
    from dlbook.recipes.pretrain import BASE_ASSET

    shipped = load_gpt(BASE_ASSET)[0].config
    return GPTConfig(**{**shipped.to_dict(), "context": CONTEXT})


def _ids(vocab: int) -> np.ndarray:
    return np.random.default_rng(1).integers(0, vocab, (1, CONTEXT))


def _ours(config: Any) -> tuple:
    from dlbook.autograd import no_grad
    from dlbook.models.gpt import GPT

    model = GPT(config, rng=np.random.default_rng(0))
    ids = _ids(config.vocab_size)
    cache = model.new_cache()
    with no_grad():
        model(ids[:, :-1], cache)                     # every position's keys and values, once

    def plain(t: int) -> Any:
        def run() -> None:
            with no_grad():
                model(ids[:, :t])
        return run

    def cached(t: int) -> Any:
        def run() -> None:
            with no_grad():
                cache.reset()
                cache.advance(t - 1)
                model(ids[:, t - 1:t], cache)
        return run

    return plain, cached


def _torch_model(config: Any) -> Any:
    """The GPT in PyTorch with a preallocated KV cache: ``forward(ids)`` runs every position, ``step(ids, start)``
    the new positions after ``start`` cached ones (their keys and values written into the cache)."""
    import torch
    import torch.nn.functional as tf

    c = config
    d, heads, dh = c.d_model, c.nhead, c.d_model // c.nhead

    class TorchGPT(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.tok = torch.nn.Embedding(c.vocab_size, d)
            self.pos = torch.nn.Embedding(c.context, d)
            self.blocks = torch.nn.ModuleList(
                torch.nn.TransformerEncoderLayer(d, heads, c.dim_feedforward, dropout=0.0, activation="gelu",
                                                 batch_first=True, norm_first=True) for _ in range(c.num_layers))
            self.ln = torch.nn.LayerNorm(d)
            self.cache_k = [torch.zeros(1, heads, c.context, dh) for _ in range(c.num_layers)]
            self.cache_v = [torch.zeros(1, heads, c.context, dh) for _ in range(c.num_layers)]

        def forward(self, ids: torch.Tensor) -> torch.Tensor:           # all positions, causal
            t = ids.shape[1]
            h = self.tok(ids) + self.pos.weight[:t]
            mask = torch.nn.Transformer.generate_square_subsequent_mask(t)
            for block in self.blocks:
                h = block(h, src_mask=mask, is_causal=True)
            return self.ln(h) @ self.tok.weight.T

        def step(self, ids: torch.Tensor, start: int) -> torch.Tensor:  # new positions after `start` cached
            n, t = ids.shape
            h = self.tok(ids) + self.pos.weight[start:start + t]
            for layer, block in enumerate(self.blocks):
                a = block.self_attn
                qkv = tf.linear(block.norm1(h), a.in_proj_weight, a.in_proj_bias)
                q, k, v = (part.view(n, t, heads, dh).transpose(1, 2) for part in qkv.split(d, dim=-1))
                self.cache_k[layer][:, :, start:start + t] = k
                self.cache_v[layer][:, :, start:start + t] = v
                out = tf.scaled_dot_product_attention(q, self.cache_k[layer][:, :, :start + t],
                                                      self.cache_v[layer][:, :, :start + t],
                                                      is_causal=t > 1)   # a prefill: only from start 0
                h = h + a.out_proj(out.transpose(1, 2).reshape(n, t, d))
                h = h + block.linear2(block.activation(block.linear1(block.norm2(h))))
            return self.ln(h) @ self.tok.weight.T

    torch.manual_seed(0)
    return TorchGPT().eval()


def _reference(config: Any) -> tuple:
    import torch

    model = _torch_model(config)
    ids = torch.from_numpy(_ids(config.vocab_size))
    with torch.no_grad():
        model.step(ids[:, :-1], 0)

    def plain(t: int) -> Any:
        def run() -> None:
            with torch.no_grad():
                model(ids[:, :t])
        return run

    def cached(t: int) -> Any:
        def run() -> None:
            with torch.no_grad():
                model.step(ids[:, t - 1:t], t - 1)
        return run

    return plain, cached


def _int8_cases() -> list[Case]:
    from dlbook.autograd import no_grad
    from dlbook.nn import Linear
    from dlbook.quantize import QuantizedLinear

    rng = np.random.default_rng(2)
    linear = Linear(192, 768, rng=rng, dtype=np.float32)
    quantized = QuantizedLinear.from_linear(linear)
    w, b = linear.weight.data, linear.bias.data
    cases = []
    for rows in (1, 128):
        x = rng.standard_normal((rows, 192)).astype(np.float32)

        def ours(x: np.ndarray = x) -> None:
            with no_grad():
                quantized(x)

        def reference(x: np.ndarray = x) -> None:        # the same layer in float32: the same checks and wrapping
            with no_grad():
                linear(x)

        cases.append(Case(name=f"int8 QuantizedLinear 192->768, x ({rows}, 192)", ours=ours,
                          reference=reference, reference_name="Linear",
                          unit_of_work=rows, unit_name="tokens",
                          notes=f"weights {quantized.nbytes:,} bytes vs {w.nbytes + b.nbytes:,} in float32; numpy "
                                "converts the int8 matrix to float32 on every call"))
    return cases


def cases() -> list[Case]:
    config = _config()
    ours_plain, ours_cached = _ours(config)
    if torch_available():
        ref_plain, ref_cached = _reference(config)
        name = "torch"
    else:
        ref_plain = ref_cached = None
        name = "none"
    found = []
    for t in LENGTHS:
        found.append(Case(name=f"GPT decode step at t={t}, KV cache (1 position)", ours=ours_cached(t),
                          reference=ref_cached(t) if ref_cached else None, reference_name=name, unit_of_work=1,
                          unit_name="tokens"))
        found.append(Case(name=f"GPT decode step at t={t}, no cache ({t} positions)", ours=ours_plain(t),
                          reference=ref_plain(t) if ref_plain else None, reference_name=name, unit_of_work=1,
                          unit_name="tokens"))
    found[-1].notes = (f"d_model {config.d_model}, {config.num_layers} layers, {config.nhead} heads, vocabulary "
                       f"{config.vocab_size:,}, float32; compare the tokens/s of the two rows at each t")
    return found + _int8_cases()
