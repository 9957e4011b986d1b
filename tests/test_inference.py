"""Chapter 5.4's equations against scalar arithmetic: the KV cache's memory (every model's cache, every shape),
int8 per-row absmax quantisation and the dequantising product, each written out entry by entry."""

from __future__ import annotations

import numpy as np
import pytest

from dlbook import nn
from dlbook.autograd import no_grad
from dlbook.models import GPT, GPTConfig, Llama, LlamaConfig
from dlbook.quantize import QMAX, QuantizedLinear, dequantize, quantize_int8


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(("layers", "heads", "n_kv", "d_model", "context", "batch"),
                         [(1, 1, 1, 4, 3, 1), (2, 4, 4, 16, 10, 3), (3, 4, 2, 24, 7, 2), (2, 6, 1, 12, 5, 4)])
def test_kv_cache_memory_of_every_model(layers: int, heads: int, n_kv: int, d_model: int, context: int, batch: int,
                                        dtype: type) -> None:
    """Verifies (eq-kv-cache-memory): M = 2 · L · H_kv · d_head · T · B · b for the caches the GPT (H_kv = H) and the
    Llama-style model (H_kv = n_kv_heads) allocate, counted from the arrays and multiplied out by hand."""
    rng = np.random.default_rng(0)
    d_head, itemsize = d_model // heads, np.dtype(dtype).itemsize
    gpt = GPT(GPTConfig(vocab_size=11, context=context, d_model=d_model, num_layers=layers, nhead=heads,
                        dim_feedforward=8), rng=rng, dtype=dtype)
    llama = Llama(LlamaConfig(vocab_size=11, context=context, d_model=d_model, num_layers=layers, nhead=heads,
                              n_kv_heads=n_kv, hidden=8), rng=rng, dtype=dtype)
    for model, kv in ((gpt, heads), (llama, n_kv)):
        cache = model.new_cache(batch_size=batch)
        by_hand = 2 * layers * kv * d_head * context * batch * itemsize
        in_arrays = sum(a.size * a.itemsize for a in cache.keys + cache.values)
        assert cache.nbytes == in_arrays == by_hand
        assert nn.kv_cache_bytes(layers, kv, d_head, context, dtype, batch_size=batch) == by_hand
        with no_grad():                                            # filling the cache allocates nothing more
            model(rng.integers(0, 11, (batch, context)), cache)
        assert cache.length == context and cache.nbytes == by_hand
        assert all(k.shape == (batch, kv, context, d_head) for k in cache.keys)


def test_int8_quantisation_entry_by_entry() -> None:
    """Verifies (eq-int8): s_o = max_i |W_oi| / 127, q_oi = round(W_oi / s_o), Ŵ_oi = q_oi s_o, computed with scalar
    loops; every |W_oi − Ŵ_oi| ≤ s_o / 2, and each row's largest magnitude becomes ±127."""
    rng = np.random.default_rng(1)
    w = rng.standard_normal((5, 9)) * np.array([0.01, 1.0, 30.0, 0.2, 5.0])[:, None]
    w[3, 4] = -9.0                                                  # a negative outlier sets its row's scale
    q, scale = quantize_int8(w)
    w_hat = dequantize(q, scale, np.float64)
    for o in range(w.shape[0]):
        s_o = max(abs(float(v)) for v in w[o]) / 127
        assert abs(float(scale[o]) - s_o) <= 1e-7 * s_o
        assert max(abs(int(v)) for v in q[o]) == QMAX
        for i in range(w.shape[1]):
            assert int(q[o, i]) == round(float(w[o, i]) / float(scale[o]))
            assert w_hat[o, i] == int(q[o, i]) * float(scale[o])
            assert abs(w[o, i] - w_hat[o, i]) <= float(scale[o]) / 2 * (1 + 1e-12)
    assert q[3, 4] == -QMAX


def test_int8_matmul_entry_by_entry() -> None:
    """Verifies (eq-int8-matmul): QuantizedLinear gives y_o = s_o Σ_i x_i q_oi + b_o, summed by scalar loops, which is
    also x Ŵᵀ + b: the scale of output o comes out of the sum."""
    rng = np.random.default_rng(2)
    linear = nn.Linear(7, 4, rng=rng)
    layer = QuantizedLinear.from_linear(linear)
    x = rng.standard_normal((3, 7))
    y = layer(x).data
    q, s, b = layer.qweight, layer.scale, layer.bias
    for n in range(3):
        for o in range(4):
            expected = float(s[o]) * sum(float(x[n, i]) * int(q[o, i]) for i in range(7)) + float(b[o])
            assert abs(y[n, o] - expected) <= 1e-12 * (1 + abs(expected))
    np.testing.assert_allclose(y, x @ dequantize(q, s, np.float64).T + b, rtol=1e-12)
    assert np.abs(y - linear(x).data).max() <= np.abs(x).sum(axis=1).max() * float(s.max()) / 2
