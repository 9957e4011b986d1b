"""Cases of ``make_torch_references.py``: recurrent layers and cells, scaled dot-product attention and
multi-head attention.  Importing this module adds them to ``CASES``."""

from __future__ import annotations

from typing import Any

import numpy as np
from torch_reference_cases import (
    CASES,
    Arrays,
    add_case,
    draw_weights,
    leaf,
    load_ours,
    load_theirs,
    ours_backward,
    ours_grads,
    theirs_backward,
    theirs_grads,
    tleaf,
    to_numpy,
    torch_module,
)

from dlbook import functional as F
from dlbook import nn

__all__ = ["CASES"]

_RNG0 = np.random.default_rng   # dlbook's constructors need an rng; its draws are replaced by the case's


def _unroll(cell: Any, leaves: dict[str, Any], steps: int, lstm: bool) -> Any:
    """Run a recurrent cell (dlbook's or PyTorch's, same call signature) over ``steps``; the last hidden state."""
    h, c = leaves["h0"], leaves.get("c0")
    for i in range(steps):
        if lstm:
            h, c = cell(leaves["x"][:, i], (h, c))
        else:
            h = cell(leaves["x"][:, i], h)
    return h


# ---- recurrent layers --------------------------------------------------------------------
def _recurrent(name: str, cell: str, layers: int = 2, bias: bool = True, state: bool = True,
               truncate: int | None = None, nonlinearity: str = "tanh", n: int = 3, t: int = 7) -> None:
    size, hidden = 5, 6
    lstm = cell == "lstm"

    def build() -> nn.Module:
        kw: dict[str, Any] = dict(num_layers=layers, bias=bias, rng=_RNG0(0), truncate=truncate)
        if cell == "rnn":
            return nn.RNN(size, hidden, nonlinearity=nonlinearity, **kw)
        return {"lstm": nn.LSTM, "gru": nn.GRU}[cell](size, hidden, **kw)

    def make(rng: np.random.Generator) -> Arrays:
        inp = {**draw_weights(build(), rng), "x": rng.standard_normal((n, t, size))}
        if state:
            inp["h0"] = rng.standard_normal((layers, n, hidden)) * 0.5
            if lstm:
                inp["c0"] = rng.standard_normal((layers, n, hidden)) * 0.5
        inp["g_out"] = rng.standard_normal((n, t, hidden))
        inp["g_h"] = rng.standard_normal((layers, n, hidden))
        if lstm:
            inp["g_c"] = rng.standard_normal((layers, n, hidden))
        return inp

    def ours(inp: Arrays) -> Arrays:
        m = load_ours(build(), inp)
        leaves = {k: leaf(inp[k]) for k in ("x", "h0", "c0") if k in inp}
        s = None if not state else ((leaves["h0"], leaves["c0"]) if lstm else leaves["h0"])
        out, final = m(leaves["x"], s)
        finals = list(final) if lstm else [final]
        ours_backward([out, *finals], [inp["g_out"], inp["g_h"], *([inp["g_c"]] if lstm else [])])
        names = ["h_n", "c_n"] if lstm else ["h_n"]
        return {"out": out.data, **{k: f.data for k, f in zip(names, finals)},
                **{f"grad:{k}": v.grad for k, v in leaves.items()}, **ours_grads(m, inp)}

    def theirs(inp: Arrays) -> Arrays:
        torch = torch_module()
        kw: dict[str, Any] = dict(num_layers=layers, bias=bias, batch_first=True)
        if cell == "rnn":
            kw["nonlinearity"] = nonlinearity
        m = load_theirs({"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[cell](size, hidden, **kw),
                         inp)
        leaves = {k: tleaf(inp[k]) for k in ("x", "h0", "c0") if k in inp}
        s = None if not state else ((leaves["h0"], leaves["c0"]) if lstm else leaves["h0"])
        # truncated BPTT as PyTorch users write it: run chunks of k steps, detach the state between them
        k = truncate or t
        chunks = []
        for start in range(0, t, k):
            if start:
                s = tuple(a.detach() for a in s) if lstm else s.detach()
            o, s = m(leaves["x"][:, start:start + k], s)
            chunks.append(o)
        out = torch.cat(chunks, dim=1)
        finals = list(s) if lstm else [s]
        theirs_backward([out, *finals], [inp["g_out"], inp["g_h"], *([inp["g_c"]] if lstm else [])])
        names = ["h_n", "c_n"] if lstm else ["h_n"]
        return {"out": to_numpy(out), **{k: to_numpy(f) for k, f in zip(names, finals)},
                **{f"grad:{k}": to_numpy(v.grad) for k, v in leaves.items()}, **theirs_grads(m, inp)}

    add_case(name, make, ours, theirs)


for _cell in ("rnn", "lstm", "gru"):
    _recurrent(f"{_cell}_2_layers_given_state", _cell)
    _recurrent(f"{_cell}_1_layer_zero_state_no_bias", _cell, layers=1, bias=False, state=False)
    _recurrent(f"{_cell}_2_layers_truncate_3", _cell, truncate=3, t=8)
_recurrent("rnn_relu_2_layers_given_state", "rnn", nonlinearity="relu")


def _cell_case(cell: str, steps: int = 3, n: int = 2) -> None:
    """The readable cells (the chapter's loop of cells over a sequence) against torch.nn.*Cell."""
    size, hidden = 4, 5
    lstm = cell == "lstm"
    ours_cls = {"rnn": nn.RNNCell, "lstm": nn.LSTMCell, "gru": nn.GRUCell}[cell]

    def make(rng: np.random.Generator) -> Arrays:
        inp = {**draw_weights(ours_cls(size, hidden, rng=_RNG0(0)), rng), "x": rng.standard_normal((n, steps, size)),
               "h0": rng.standard_normal((n, hidden))}
        if lstm:
            inp["c0"] = rng.standard_normal((n, hidden))
        inp["g_h"] = rng.standard_normal((n, hidden))
        return inp

    def ours(inp: Arrays) -> Arrays:
        m = load_ours(ours_cls(size, hidden, rng=_RNG0(0)), inp)
        leaves = {k: leaf(inp[k]) for k in ("x", "h0", "c0") if k in inp}
        h = _unroll(m, leaves, steps, lstm)
        h.backward(inp["g_h"])
        return {"h": h.data, **{f"grad:{k}": v.grad for k, v in leaves.items()}, **ours_grads(m, inp)}

    def theirs(inp: Arrays) -> Arrays:
        torch = torch_module()
        m = load_theirs({"rnn": torch.nn.RNNCell, "lstm": torch.nn.LSTMCell, "gru": torch.nn.GRUCell}[cell](
            size, hidden), inp)
        leaves = {k: tleaf(inp[k]) for k in ("x", "h0", "c0") if k in inp}
        h = _unroll(m, leaves, steps, lstm)
        h.backward(torch.tensor(inp["g_h"]))
        return {"h": to_numpy(h), **{f"grad:{k}": to_numpy(v.grad) for k, v in leaves.items()}, **theirs_grads(m, inp)}

    add_case(f"{cell}_cell_3_steps", make, ours, theirs)


for _cell in ("rnn", "lstm", "gru"):
    _cell_case(_cell)


# ---- scaled dot-product attention --------------------------------------------------------
def _sdpa(name: str, q_batch: tuple[int, ...] = (2, 3), kv_batch: tuple[int, ...] = (2, 3), length: int = 5,
          source: int = 7, mask: tuple[int, ...] | None = None, causal: bool = False,
          scale: float | None = None) -> None:
    d, dv = 4, 3

    def make(rng: np.random.Generator) -> Arrays:
        inp = {"q": rng.standard_normal((*q_batch, length, d)), "k": rng.standard_normal((*kv_batch, source, d)),
               "v": rng.standard_normal((*kv_batch, source, dv))}
        batch = np.broadcast_shapes(q_batch, kv_batch)
        if mask is not None:
            allowed = rng.random(mask) > 0.3
            allowed[..., 0] = True    # no fully masked row: dlbook gives it zero weights, PyTorch NaN
            inp["allowed"] = allowed
        inp["g"] = rng.standard_normal((*batch, length, dv))
        return inp

    def ours(inp: Arrays) -> Arrays:
        q, k, v = (leaf(inp[n]) for n in "qkv")
        out, w = F.scaled_dot_product_attention(q, k, v, attn_mask=inp.get("allowed"), is_causal=causal, scale=scale)
        out.backward(inp["g"])
        return {"out": out.data, "weights": w, "grad:q": q.grad, "grad:k": k.grad, "grad:v": v.grad}

    def theirs(inp: Arrays) -> Arrays:
        torch = torch_module()
        q, k, v = (tleaf(inp[n]) for n in "qkv")
        allowed = None if mask is None else torch.tensor(inp["allowed"])
        if causal and allowed is not None:   # PyTorch takes a mask or is_causal, not both: combine them
            allowed = allowed & torch.ones(length, source, dtype=torch.bool).tril()
        out = torch.nn.functional.scaled_dot_product_attention(
            q, k, v, attn_mask=allowed, is_causal=causal and allowed is None, scale=scale)
        out.backward(torch.tensor(inp["g"]))
        with torch.no_grad():  # PyTorch's op returns no weights: softmax of its masked, scaled scores
            s = q @ k.transpose(-1, -2) * (d ** -0.5 if scale is None else scale)
            full = allowed if allowed is not None else (
                torch.ones(length, source, dtype=torch.bool).tril() if causal else None)
            if full is not None:
                s = s.masked_fill(~full, float("-inf"))
            w = torch.softmax(s, -1)
        return {"out": to_numpy(out), "weights": to_numpy(w), "grad:q": to_numpy(q.grad), "grad:k": to_numpy(k.grad),
                "grad:v": to_numpy(v.grad)}

    add_case(f"sdpa_{name}", make, ours, theirs)


_sdpa("plain", source=5)
_sdpa("kv_longer_than_q")
_sdpa("causal", source=5, causal=True)
_sdpa("causal_kv_longer", causal=True)
_sdpa("causal_kv_shorter", length=7, source=5, causal=True)
_sdpa("bool_mask_broadcast_heads", mask=(2, 1, 5, 7))
_sdpa("bool_mask_2d_and_causal", mask=(5, 7), causal=True)
_sdpa("scale", scale=0.3)
_sdpa("broadcast_batch_kv", kv_batch=(1, 3))
_sdpa("broadcast_heads_q", q_batch=(2, 1), kv_batch=(2, 3))


# ---- multi-head attention ----------------------------------------------------------------
def _mha(name: str, kind: str = "self", attn_mask: str | None = None, padding: bool = False,
         bias: bool = True, length: int = 5, source: int = 6) -> None:
    e, h, n = 8, 2, 2
    s_len = length if kind == "self" else source

    def build() -> nn.Module:
        return nn.MultiheadAttention(e, h, bias=bias, rng=_RNG0(0))

    def make(rng: np.random.Generator) -> Arrays:
        inp = {**draw_weights(build(), rng), "query": rng.standard_normal((n, length, e))}
        if kind != "self":
            inp["key"] = rng.standard_normal((n, s_len, e))
        if kind == "k_v":
            inp["value"] = rng.standard_normal((n, s_len, e))
        if attn_mask == "causal":
            inp["attn_mask"] = ~np.tril(np.ones((length, s_len), bool))
        elif attn_mask is not None:   # "2d" (L, S) or "3d" (N·H, L, S); True = not allowed; key 0 always allowed
            m = rng.random((length, s_len) if attn_mask == "2d" else (n * h, length, s_len)) < 0.3
            m[..., 0] = False
            inp["attn_mask"] = m
        if padding:
            pad = np.zeros((n, s_len), bool)
            pad[0, -2:] = True
            pad[1, -1] = True
            inp["key_padding_mask"] = pad
        inp["g"] = rng.standard_normal((n, length, e))
        return inp

    def ours(inp: Arrays) -> Arrays:
        m = load_ours(build(), inp)
        leaves = {k: leaf(inp[k]) for k in ("query", "key", "value") if k in inp}
        key = leaves.get("key")
        value = leaves.get("value", key)   # key=value: the same Tensor, so dlbook takes its packed K,V path
        out, w = m(leaves["query"], key, value, attn_mask=inp.get("attn_mask"),
                   key_padding_mask=inp.get("key_padding_mask"), need_weights=True)
        out.backward(inp["g"])
        return {"out": out.data, "weights": w, **{f"grad:{k}": v.grad for k, v in leaves.items()},
                **ours_grads(m, inp)}

    def theirs(inp: Arrays) -> Arrays:
        torch = torch_module()
        m = load_theirs(torch.nn.MultiheadAttention(e, h, bias=bias, batch_first=True), inp)
        leaves = {k: tleaf(inp[k]) for k in ("query", "key", "value") if k in inp}
        q = leaves["query"]
        key = leaves.get("key", q)
        value = leaves.get("value", key)
        masks = {k: torch.tensor(inp[k]) for k in ("attn_mask", "key_padding_mask") if k in inp}
        out, w = m(q, key, value, need_weights=True, average_attn_weights=False, **masks)
        out.backward(torch.tensor(inp["g"]))
        return {"out": to_numpy(out), "weights": to_numpy(w),
                **{f"grad:{k}": to_numpy(v.grad) for k, v in leaves.items()}, **theirs_grads(m, inp)}

    add_case(f"mha_{name}", make, ours, theirs)


_mha("self")
_mha("self_causal_mask", attn_mask="causal")
_mha("self_key_padding", padding=True)
_mha("cross_kv_longer_key_padding", kind="kv", padding=True)
_mha("cross_k_v_mask_2d_and_padding", kind="k_v", attn_mask="2d", padding=True)
_mha("cross_kv_shorter_mask_3d", kind="kv", attn_mask="3d", source=3)
_mha("self_no_bias_causal", attn_mask="causal", bias=False)
