"""Attention, LayerNorm, dropout, positional encodings and Transformer layers (§3.5, §4.5)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dlbook import functional as F
from dlbook import nn
from dlbook.autograd import Tensor
from dlbook.gradcheck import gradcheck


def _t(rng: np.random.Generator, *shape: int, scale: float = 1.0) -> Tensor:
    return Tensor(rng.standard_normal(shape) * scale, requires_grad=True)


def _naive_attention(q: np.ndarray, k: np.ndarray, v: np.ndarray, allowed: np.ndarray | None) -> tuple:
    """(eq-attention) written out with loops over batch, head and query."""
    n, h, length, d = q.shape
    s_len = k.shape[2]
    out = np.zeros((n, h, length, v.shape[-1]))
    weights = np.zeros((n, h, length, s_len))
    ok_all = np.ones((n, h, length, s_len), bool) if allowed is None else np.broadcast_to(allowed, weights.shape)
    for b in range(n):
        for hh in range(h):
            for i in range(length):
                scores = np.array([q[b, hh, i] @ k[b, hh, j] / math.sqrt(d) for j in range(s_len)])
                ok = ok_all[b, hh, i]
                e = np.where(ok, np.exp(scores - scores[ok].max()), 0.0)
                weights[b, hh, i] = e / e.sum()
                out[b, hh, i] = weights[b, hh, i] @ v[b, hh]
    return out, weights


# ---- scaled dot-product attention ----------------------------------------------------
def test_attention_matches_the_formula_written_out() -> None:
    """Verifies (eq-attention): softmax(QKᵀ/√d_k)V against explicit loops, with and without a mask."""
    rng = np.random.default_rng(0)
    q, k, v = (rng.standard_normal((2, 3, 4, 5)), rng.standard_normal((2, 3, 6, 5)), rng.standard_normal((2, 3, 6, 2)))
    allowed = rng.random((2, 1, 4, 6)) > 0.3
    allowed[..., 0] = True
    for mask in (None, allowed):
        out, w = F.scaled_dot_product_attention(Tensor(q), Tensor(k), Tensor(v), attn_mask=mask)
        ref_out, ref_w = _naive_attention(q, k, v, mask)
        np.testing.assert_allclose(out.data, ref_out, atol=1e-12)
        np.testing.assert_allclose(w, ref_w, atol=1e-12)


@pytest.mark.parametrize("mask_kind", ["none", "causal", "padding", "both"])
def test_attention_gradcheck_each_mask(mask_kind: str) -> None:
    rng = np.random.default_rng(1)
    q, k, v = _t(rng, 2, 2, 4, 3), _t(rng, 2, 2, 4, 3), _t(rng, 2, 2, 4, 3)
    pad = np.ones((2, 1, 1, 4), bool)
    pad[0, ..., 3] = False
    pad[1, ..., 2:] = False
    mask = pad if mask_kind in ("padding", "both") else None
    causal = mask_kind in ("causal", "both")

    def f(q: Tensor, k: Tensor, v: Tensor) -> Tensor:
        return F.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=causal)[0]

    assert gradcheck(f, [q, k, v])


def test_masked_positions_get_exactly_zero_weight() -> None:
    rng = np.random.default_rng(2)
    q, k, v = (Tensor(rng.standard_normal((2, 2, 5, 4)) * 10) for _ in range(3))
    pad = np.ones((2, 1, 1, 5), bool)
    pad[1, ..., 3:] = False
    _, w = F.scaled_dot_product_attention(q, k, v, attn_mask=pad, is_causal=True)
    allowed = np.broadcast_to(pad & np.tril(np.ones((5, 5), bool)), w.shape)
    assert np.all(w[~allowed] == 0.0)
    assert np.all(w[allowed] > 0.0)
    np.testing.assert_allclose(w.sum(-1), 1.0)


def test_fully_masked_row_gives_zeros_not_nan() -> None:
    rng = np.random.default_rng(3)
    q, k, v = (Tensor(rng.standard_normal((1, 1, 2, 3))) for _ in range(3))
    mask = np.array([[True, False], [False, False]])
    out, w = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    assert np.all(np.isfinite(out.data)) and np.all(w[0, 0, 1] == 0) and np.all(out.data[0, 0, 1] == 0)


@settings(max_examples=8, deadline=None)
@given(n=st.integers(1, 2), h=st.integers(1, 3), length=st.integers(1, 4), s=st.integers(1, 4), d=st.integers(1, 4))
@pytest.mark.slow
def test_attention_gradcheck_random_shapes(n: int, h: int, length: int, s: int, d: int) -> None:
    rng = np.random.default_rng(n * 1000 + h * 100 + length * 10 + s)
    q, k, v = _t(rng, n, h, length, d), _t(rng, n, h, s, d), _t(rng, n, h, s, d + 1)
    assert gradcheck(lambda q, k, v: F.scaled_dot_product_attention(q, k, v)[0], [q, k, v])


@pytest.mark.parametrize("q_batch, kv_batch", [((2, 3), (1, 3)), ((1, 3), (2, 1)), ((2, 3), (3,)), ((3,), (2, 3))])
def test_attention_gradients_of_broadcast_batch_axes_keep_each_input_shape(q_batch: tuple, kv_batch: tuple) -> None:
    """q's and k/v's leading axes broadcast; each gradient is summed back to its input's own shape."""
    rng = np.random.default_rng(11)
    q, k, v = _t(rng, *q_batch, 4, 3), _t(rng, *kv_batch, 5, 3), _t(rng, *kv_batch, 5, 2)
    out, _ = F.scaled_dot_product_attention(q, k, v)
    assert out.shape == (*np.broadcast_shapes(q_batch, kv_batch), 4, 2)
    out.backward(rng.standard_normal(out.shape))
    assert (q.grad.shape, k.grad.shape, v.grad.shape) == (q.shape, k.shape, v.shape)
    # the same gradients as attention on explicitly repeated copies, summed over the copies
    assert gradcheck(lambda q, k, v: F.scaled_dot_product_attention(q, k, v)[0], [q, k, v])


@pytest.mark.slow
def test_attention_dropout_gradcheck_and_expectation() -> None:
    rng = np.random.default_rng(4)
    q, k, v = _t(rng, 1, 2, 3, 4), _t(rng, 1, 2, 3, 4), _t(rng, 1, 2, 3, 4)

    def f(q: Tensor, k: Tensor, v: Tensor) -> Tensor:  # the same dropout mask on every call
        return F.scaled_dot_product_attention(q, k, v, dropout_p=0.3, rng=np.random.default_rng(7))[0]

    assert gradcheck(f, [q, k, v])
    plain = F.scaled_dot_product_attention(q, k, v)[0].data
    mean = np.mean([F.scaled_dot_product_attention(q, k, v, dropout_p=0.3, rng=np.random.default_rng(i))[0].data
                    for i in range(3000)], axis=0)
    np.testing.assert_allclose(mean, plain, atol=0.1)


@pytest.mark.slow
def test_attention_matches_torch() -> None:
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(5)
    q, k, v = rng.standard_normal((2, 3, 5, 4)), rng.standard_normal((2, 3, 7, 4)), rng.standard_normal((2, 3, 7, 4))
    allowed = rng.random((2, 1, 5, 7)) > 0.3
    allowed[..., 0] = True
    for mask, causal in ((None, False), (None, True), (allowed, False)):
        tq, tk, tv = (torch.tensor(a, requires_grad=True) for a in (q, k, v))
        ref = torch.nn.functional.scaled_dot_product_attention(
            tq, tk, tv, attn_mask=None if mask is None else torch.tensor(mask), is_causal=causal)
        g = rng.standard_normal(ref.shape)
        ref.backward(torch.tensor(g))
        xq, xk, xv = (Tensor(a, requires_grad=True) for a in (q, k, v))
        out, _ = F.scaled_dot_product_attention(xq, xk, xv, attn_mask=mask, is_causal=causal)
        out.backward(g)
        np.testing.assert_allclose(out.data, ref.detach().numpy(), atol=1e-10)
        for ours, theirs in ((xq, tq), (xk, tk), (xv, tv)):
            np.testing.assert_allclose(ours.grad, theirs.grad.numpy(), atol=1e-10)


def test_attention_bad_input() -> None:
    x = Tensor(np.zeros((1, 1, 3, 4)))
    with pytest.raises(ValueError, match="attn_mask"):
        F.scaled_dot_product_attention(x, x, x, attn_mask=np.ones((2, 3, 3), bool))
    with pytest.raises(TypeError, match="attn_mask"):
        F.scaled_dot_product_attention(x, x, x, attn_mask=np.ones((3, 3)))
    with pytest.raises(ValueError, match="d_k"):
        F.scaled_dot_product_attention(x, Tensor(np.zeros((1, 1, 3, 5))), Tensor(np.zeros((1, 1, 3, 5))))
    with pytest.raises(ValueError, match="rng"):
        F.scaled_dot_product_attention(x, x, x, dropout_p=0.5)


def test_scaling_keeps_dot_product_variance_at_one() -> None:
    """The √d_k claim, measured: Var(q·k) ≈ d_k for unit-variance q, k; Var(q·k/√d_k) ≈ 1."""
    rng = np.random.default_rng(6)
    for d in (4, 64, 512):
        q, k = rng.standard_normal((4000, d)), rng.standard_normal((4000, d))
        dots = np.einsum("nd,nd->n", q, k)
        assert abs(dots.var() / d - 1) < 0.1
        assert abs((dots / math.sqrt(d)).var() - 1) < 0.1


# ---- LayerNorm, dropout --------------------------------------------------------------
def test_layernorm_formula_and_gradcheck() -> None:
    """Verifies (eq-layernorm): (x − μ)/√(σ²+ε)·γ + β, and its hand-written backward."""
    rng = np.random.default_rng(7)
    x, w, b = _t(rng, 2, 3, 5), _t(rng, 5), _t(rng, 5)
    out = F.layer_norm(x, w, b, eps=1e-5).data
    xd = x.data
    ref = (xd - xd.mean(-1, keepdims=True)) / np.sqrt(xd.var(-1, keepdims=True) + 1e-5) * w.data + b.data
    np.testing.assert_allclose(out, ref, atol=1e-12)
    assert gradcheck(lambda x, w, b: F.layer_norm(x, w, b), [x, w, b])
    ln = nn.LayerNorm(5)
    np.testing.assert_allclose(ln(Tensor(xd)).data.mean(-1), 0, atol=1e-12)
    assert gradcheck(lambda x: ln(x), [x])


def test_layernorm_matches_torch() -> None:
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(8)
    x = rng.standard_normal((3, 4, 6))
    ln = nn.LayerNorm(6)
    ln.weight.data[:] = rng.standard_normal(6)
    ln.bias.data[:] = rng.standard_normal(6)
    tln = torch.nn.LayerNorm(6, dtype=torch.float64)
    with torch.no_grad():
        tln.weight[:] = torch.tensor(ln.weight.data)
        tln.bias[:] = torch.tensor(ln.bias.data)
    tx = torch.tensor(x, requires_grad=True)
    ref = tln(tx)
    g = rng.standard_normal(x.shape)
    ref.backward(torch.tensor(g))
    xx = Tensor(x, requires_grad=True)
    out = ln(xx)
    out.backward(g)
    np.testing.assert_allclose(out.data, ref.detach().numpy(), atol=1e-12)
    np.testing.assert_allclose(xx.grad, tx.grad.numpy(), atol=1e-10)
    np.testing.assert_allclose(ln.weight.grad, tln.weight.grad.numpy(), atol=1e-10)
    np.testing.assert_allclose(ln.bias.grad, tln.bias.grad.numpy(), atol=1e-10)


@pytest.mark.parametrize("dtype, scale", [(np.float32, 1e20), (np.float64, 1e160), (np.float64, 1e300)])
def test_layernorm_of_huge_inputs_does_not_overflow_to_zero(dtype: type, scale: float) -> None:
    """(x − μ)² overflows for such x; the output must still be the normalised ramp, not zeros (S11)."""
    ramp = np.arange(8.0)
    want = (ramp - ramp.mean()) / ramp.std()        # ε is negligible next to a variance of ~scale²
    x = Tensor((ramp * scale).astype(dtype)[None], requires_grad=True)
    y = F.layer_norm(x)
    assert y.dtype == dtype
    np.testing.assert_allclose(y.data[0], want, rtol=2e-6 if dtype == np.float32 else 1e-12)
    # the gradient is the unit ramp's gradient (ε → 0) scaled by 1/scale
    g = np.random.default_rng(0).standard_normal((1, 8))
    y.backward(g.astype(dtype))
    unit = Tensor(ramp[None], requires_grad=True)
    F.layer_norm(unit, eps=1e-300).backward(g)
    np.testing.assert_allclose(x.grad * scale, unit.grad, rtol=1e-4 if dtype == np.float32 else 1e-10, atol=1e-12)


def test_layernorm_bad_input() -> None:
    with pytest.raises(ValueError, match="normalized_shape"):
        nn.LayerNorm(4)(Tensor(np.zeros((2, 5))))


def test_dropout_train_and_eval() -> None:
    d = nn.Dropout(0.25, rng=np.random.default_rng(0))
    x = Tensor(np.ones((200, 100)))
    y = d(x).data
    assert set(np.unique(y)) <= {0.0, 1 / 0.75}
    assert abs((y == 0).mean() - 0.25) < 0.02
    d.eval()
    assert d(x) is x
    assert nn.Dropout(0.0, rng=np.random.default_rng(0))(x) is x
    with pytest.raises(ValueError, match="p must"):
        nn.Dropout(1.0, rng=np.random.default_rng(0))


# ---- multi-head attention -------------------------------------------------------------
def _mha(e: int = 6, h: int = 2, seed: int = 0) -> nn.MultiheadAttention:
    m = nn.MultiheadAttention(e, h, rng=np.random.default_rng(seed))
    rng = np.random.default_rng(seed + 1)
    for p in m.parameters():  # non-zero biases so their gradients are checked too
        p.data[...] = rng.standard_normal(p.shape) * 0.5
    return m


def test_multihead_is_heads_side_by_side() -> None:
    """Verifies (eq-multihead): concat of per-head attentions on the projected inputs, then W_o."""
    m = _mha(8, 2)
    rng = np.random.default_rng(9)
    x = rng.standard_normal((2, 5, 8))
    out, w = m(Tensor(x), need_weights=True)
    wi, bi = m.in_proj.weight.data, m.in_proj.bias.data
    q, k, v = (x @ wi[i * 8:(i + 1) * 8].T + bi[i * 8:(i + 1) * 8] for i in range(3))
    heads = []
    for hh in range(2):
        sl = slice(hh * 4, (hh + 1) * 4)
        o, wh = _naive_attention(q[:, None, :, sl], k[:, None, :, sl], v[:, None, :, sl], None)
        heads.append(o[:, 0])
        np.testing.assert_allclose(w[:, hh], wh[:, 0], atol=1e-12)
    ref = np.concatenate(heads, axis=-1) @ m.out_proj.weight.data.T + m.out_proj.bias.data
    np.testing.assert_allclose(out.data, ref, atol=1e-12)


@pytest.mark.parametrize("kind", ["self", "self_causal", "self_padding", "cross_kv", "cross_k_v"])
def test_multihead_gradcheck(kind: str) -> None:
    m = _mha(4, 2)
    rng = np.random.default_rng(10)
    x, mem, val = _t(rng, 2, 3, 4), _t(rng, 2, 4, 4), _t(rng, 2, 4, 4)
    pad = np.zeros((2, 3), bool)
    pad[1, 2] = True
    params = list(m.parameters())

    def f(x: Tensor, mem: Tensor, val: Tensor, *ps: Tensor) -> Tensor:
        if kind == "self":
            return m(x)[0]
        if kind == "self_causal":
            return m(x, is_causal=True)[0]
        if kind == "self_padding":
            return m(x, key_padding_mask=pad)[0]
        if kind == "cross_kv":
            return m(x, mem, mem)[0]
        return m(x, mem, val)[0]

    assert gradcheck(f, [x, mem, val, *params])


def _torch_mha(m: nn.MultiheadAttention, torch: object) -> object:
    t = torch.nn.MultiheadAttention(m.embed_dim, m.num_heads, batch_first=True, dtype=torch.float64)
    with torch.no_grad():
        t.in_proj_weight[:] = torch.tensor(m.in_proj.weight.data)
        t.in_proj_bias[:] = torch.tensor(m.in_proj.bias.data)
        t.out_proj.weight[:] = torch.tensor(m.out_proj.weight.data)
        t.out_proj.bias[:] = torch.tensor(m.out_proj.bias.data)
    return t


def test_multihead_matches_torch() -> None:
    torch = pytest.importorskip("torch")
    m = _mha(8, 2)
    t = _torch_mha(m, torch)
    rng = np.random.default_rng(11)
    x, mem = rng.standard_normal((2, 5, 8)), rng.standard_normal((2, 6, 8))
    pad = np.zeros((2, 6), bool)
    pad[0, 4:] = True
    causal = ~np.tril(np.ones((5, 5), bool))
    for key, kw, tkw in (
        (None, {}, {}),
        (None, {"attn_mask": causal}, {"attn_mask": torch.tensor(causal)}),
        (mem, {"key_padding_mask": pad}, {"key_padding_mask": torch.tensor(pad)}),
    ):
        tx = torch.tensor(x, requires_grad=True)
        tk = tx if key is None else torch.tensor(key)
        ref, ref_w = t(tx, tk, tk, average_attn_weights=False, **tkw)
        g = rng.standard_normal(ref.shape)
        ref.backward(torch.tensor(g))
        xx = Tensor(x, requires_grad=True)
        out, w = m(xx, None if key is None else Tensor(key), None if key is None else Tensor(key),
                   need_weights=True, **kw)
        out.backward(g)
        np.testing.assert_allclose(out.data, ref.detach().numpy(), atol=1e-10)
        np.testing.assert_allclose(w, ref_w.detach().numpy(), atol=1e-10)
        np.testing.assert_allclose(xx.grad, tx.grad.numpy(), atol=1e-10)
        np.testing.assert_allclose(m.in_proj.weight.grad, t.in_proj_weight.grad.numpy(), atol=1e-10)
        m.zero_grad()
        t.zero_grad()


def test_multihead_bad_input() -> None:
    with pytest.raises(ValueError, match="embed_dim"):
        nn.MultiheadAttention(10, 3, rng=np.random.default_rng(0))
    m = _mha(4, 2)
    x = Tensor(np.zeros((2, 3, 4)))
    with pytest.raises(ValueError, match="attn_mask"):
        m(x, attn_mask=np.zeros((3, 4), bool))
    with pytest.raises(ValueError, match="key_padding_mask"):
        m(x, key_padding_mask=np.zeros((2, 4), bool))
    with pytest.raises(ValueError, match="query"):
        m(Tensor(np.zeros((2, 3, 5))))


# ---- Transformer layers and positions ------------------------------------------------------
@pytest.mark.parametrize("norm_first", [False, True])
def test_encoder_layer_gradcheck(norm_first: bool) -> None:
    rng = np.random.default_rng(12)
    layer = nn.TransformerEncoderLayer(4, 2, dim_feedforward=6, norm_first=norm_first, activation="gelu",
                                       rng=np.random.default_rng(0))
    x = _t(rng, 2, 3, 4)
    pad = np.array([[False, False, True], [False, False, False]])
    assert gradcheck(lambda x, *ps: layer(x, src_key_padding_mask=pad, is_causal=True),
                     [x, *layer.parameters()], atol=1e-5)


@pytest.mark.parametrize("norm_first", [False, True])
def test_decoder_layer_gradcheck(norm_first: bool) -> None:
    rng = np.random.default_rng(13)
    layer = nn.TransformerDecoderLayer(4, 2, dim_feedforward=6, norm_first=norm_first, rng=np.random.default_rng(0))
    tgt, mem = _t(rng, 2, 3, 4), _t(rng, 2, 5, 4)
    pad = np.zeros((2, 5), bool)
    pad[0, 3:] = True
    assert gradcheck(lambda t, m, *ps: layer(t, m, tgt_is_causal=True, memory_key_padding_mask=pad),
                     [tgt, mem, *layer.parameters()], atol=1e-5)


def _copy_layer_to_torch(ours: nn.Module, theirs: object, torch: object) -> None:
    sd = {}
    for name, p in ours.named_parameters():
        name = name.replace("in_proj.weight", "in_proj_weight").replace("in_proj.bias", "in_proj_bias")
        sd[name] = torch.tensor(p.data)
    theirs.load_state_dict(sd)


@pytest.mark.parametrize("norm_first", [False, True])
def test_layers_match_torch(norm_first: bool) -> None:
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(14)
    enc = nn.TransformerEncoderLayer(8, 2, 16, norm_first=norm_first, rng=np.random.default_rng(0))
    dec = nn.TransformerDecoderLayer(8, 2, 16, norm_first=norm_first, rng=np.random.default_rng(1))
    tenc = torch.nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, batch_first=True, norm_first=norm_first,
                                            dtype=torch.float64)
    tdec = torch.nn.TransformerDecoderLayer(8, 2, 16, dropout=0.0, batch_first=True, norm_first=norm_first,
                                            dtype=torch.float64)
    _copy_layer_to_torch(enc, tenc, torch)
    _copy_layer_to_torch(dec, tdec, torch)
    src, tgt = rng.standard_normal((2, 5, 8)), rng.standard_normal((2, 4, 8))
    pad = np.zeros((2, 5), bool)
    pad[1, 3:] = True
    causal = ~np.tril(np.ones((4, 4), bool))
    tenc.eval()
    tdec.eval()
    with torch.no_grad():
        tm = tenc(torch.tensor(src), src_key_padding_mask=torch.tensor(pad))
        ty = tdec(torch.tensor(tgt), tm, tgt_mask=torch.tensor(causal), memory_key_padding_mask=torch.tensor(pad))
    m = enc(Tensor(src), src_key_padding_mask=pad)
    y = dec(Tensor(tgt), m, tgt_is_causal=True, memory_key_padding_mask=pad)
    np.testing.assert_allclose(m.data[~pad], tm.numpy()[~pad], atol=1e-10)
    np.testing.assert_allclose(y.data, ty.numpy(), atol=1e-10)


def test_encoder_layer_keeps_weights() -> None:
    layer = nn.TransformerEncoderLayer(4, 2, 8, rng=np.random.default_rng(0))
    x = Tensor(np.random.default_rng(1).standard_normal((1, 3, 4)))
    layer(x)
    assert layer.last_attn_weights is None
    layer.keep_weights = True
    layer(x, is_causal=True)
    w = layer.last_attn_weights
    assert w.shape == (1, 2, 3, 3) and np.all(w[..., 0, 1:] == 0)


def test_positional_encoding_formula_and_bad_length() -> None:
    """Verifies (eq-positional-encoding): P[pos,2i] = sin(pos/10000^(2i/d)), P[pos,2i+1] = cos(…)."""
    table = nn.sinusoidal_positional_encoding(7, 6)
    for pos in range(7):
        for i in range(3):
            angle = pos / 10000 ** (2 * i / 6)
            assert table[pos, 2 * i] == pytest.approx(math.sin(angle))
            assert table[pos, 2 * i + 1] == pytest.approx(math.cos(angle))
    assert nn.sinusoidal_positional_encoding(3, 5).shape == (3, 5)
    pe = nn.PositionalEmbedding(4, 6, rng=np.random.default_rng(0))
    x = Tensor(np.zeros((1, 4, 6)))
    np.testing.assert_allclose(pe(x).data[0], pe.weight.data)
    with pytest.raises(ValueError, match="max_len"):
        pe(Tensor(np.zeros((1, 5, 6))))
    with pytest.raises(ValueError, match="max_len"):
        nn.PositionalEncoding(4, 6)(Tensor(np.zeros((1, 5, 6))))
    with pytest.raises(ValueError, match="d_model"):
        nn.PositionalEncoding(4, 6)(Tensor(np.zeros((1, 3, 5))))


@settings(max_examples=10, deadline=None)
@given(length=st.integers(1, 70))
def test_row_max_equals_numpy_max(length: int) -> None:
    from dlbook.kernels.attention import row_max

    rng = np.random.default_rng(length)
    s = rng.standard_normal((3, 2, length)).astype(np.float32)
    s[0, 0, :] = -np.inf
    np.testing.assert_array_equal(row_max(s), s.max(-1, keepdims=True))


def test_attention_one_query_at_a_time() -> None:
    """Verifies (eq-attention-weights): for each query i, a_ij = softmax_j(q_i·k_j/√d_k) and o_i = Σ_j a_ij v_j,
    computed with scalar loops, equal the readable attention's weights and output."""
    rng = np.random.default_rng(7)
    q, k, v = rng.standard_normal((1, 1, 3, 4)), rng.standard_normal((1, 1, 5, 4)), rng.standard_normal((1, 1, 5, 2))
    out, weights = F.attention_reference(Tensor(q), Tensor(k), Tensor(v))
    for i in range(3):
        scores = [sum(q[0, 0, i, c] * k[0, 0, j, c] for c in range(4)) / math.sqrt(4) for j in range(5)]
        a = [math.exp(s - max(scores)) for s in scores]
        a = [x / sum(a) for x in a]
        np.testing.assert_allclose(weights[0, 0, i], a, rtol=1e-12)
        o = [sum(a[j] * v[0, 0, j, c] for j in range(5)) for c in range(2)]
        np.testing.assert_allclose(out.data[0, 0, i], o, rtol=1e-12)
