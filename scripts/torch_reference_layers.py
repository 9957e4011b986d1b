"""The layer cases of ``make_torch_references.py``: recurrent layers and cells, attention, Transformer layers,
the GPT, LoRA, and the optimisers, schedule and clipping.  Importing this module adds them to ``CASES``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from torch_reference_cases import (
    CASES,
    Arrays,
    _case,
    _leaf,
    _load_ours,
    _load_theirs,
    _np,
    _ours_backward,
    _ours_grads,
    _theirs_backward,
    _theirs_grads,
    _tleaf,
    _torch,
    _torch_activation,
    _weights,
)

from dlbook import functional as F
from dlbook import nn, optim
from dlbook.finetune.lora import LoRALinear
from dlbook.models.gpt import GPT, GPTConfig

__all__ = ["CASES"]

_RNG0 = np.random.default_rng   # dlbook's constructors need an rng; its draws are replaced by the case's


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
        inp = {**_weights(build(), rng), "x": rng.standard_normal((n, t, size))}
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
        m = _load_ours(build(), inp)
        leaves = {k: _leaf(inp[k]) for k in ("x", "h0", "c0") if k in inp}
        s = None if not state else ((leaves["h0"], leaves["c0"]) if lstm else leaves["h0"])
        out, final = m(leaves["x"], s)
        finals = list(final) if lstm else [final]
        _ours_backward([out, *finals], [inp["g_out"], inp["g_h"], *([inp["g_c"]] if lstm else [])])
        names = ["h_n", "c_n"] if lstm else ["h_n"]
        return {"out": out.data, **{k: f.data for k, f in zip(names, finals)},
                **{f"grad:{k}": v.grad for k, v in leaves.items()}, **_ours_grads(m, inp)}

    def theirs(inp: Arrays) -> Arrays:
        torch = _torch()
        kw: dict[str, Any] = dict(num_layers=layers, bias=bias, batch_first=True)
        if cell == "rnn":
            kw["nonlinearity"] = nonlinearity
        m = _load_theirs({"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[cell](size, hidden, **kw),
                         inp)
        leaves = {k: _tleaf(inp[k]) for k in ("x", "h0", "c0") if k in inp}
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
        _theirs_backward([out, *finals], [inp["g_out"], inp["g_h"], *([inp["g_c"]] if lstm else [])])
        names = ["h_n", "c_n"] if lstm else ["h_n"]
        return {"out": _np(out), **{k: _np(f) for k, f in zip(names, finals)},
                **{f"grad:{k}": _np(v.grad) for k, v in leaves.items()}, **_theirs_grads(m, inp)}

    _case(name, make, ours, theirs)


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
        inp = {**_weights(ours_cls(size, hidden, rng=_RNG0(0)), rng), "x": rng.standard_normal((n, steps, size)),
               "h0": rng.standard_normal((n, hidden))}
        if lstm:
            inp["c0"] = rng.standard_normal((n, hidden))
        inp["g_h"] = rng.standard_normal((n, hidden))
        return inp

    def ours(inp: Arrays) -> Arrays:
        m = _load_ours(ours_cls(size, hidden, rng=_RNG0(0)), inp)
        leaves = {k: _leaf(inp[k]) for k in ("x", "h0", "c0") if k in inp}
        h, c = leaves["h0"], leaves.get("c0")
        for i in range(steps):
            if lstm:
                h, c = m(leaves["x"][:, i], (h, c))
            else:
                h = m(leaves["x"][:, i], h)
        h.backward(inp["g_h"])
        return {"h": h.data, **{f"grad:{k}": v.grad for k, v in leaves.items()}, **_ours_grads(m, inp)}

    def theirs(inp: Arrays) -> Arrays:
        torch = _torch()
        m = _load_theirs({"rnn": torch.nn.RNNCell, "lstm": torch.nn.LSTMCell, "gru": torch.nn.GRUCell}[cell](
            size, hidden), inp)
        leaves = {k: _tleaf(inp[k]) for k in ("x", "h0", "c0") if k in inp}
        h, c = leaves["h0"], leaves.get("c0")
        for i in range(steps):
            if lstm:
                h, c = m(leaves["x"][:, i], (h, c))
            else:
                h = m(leaves["x"][:, i], h)
        h.backward(torch.tensor(inp["g_h"]))
        return {"h": _np(h), **{f"grad:{k}": _np(v.grad) for k, v in leaves.items()}, **_theirs_grads(m, inp)}

    _case(f"{cell}_cell_3_steps", make, ours, theirs)


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
        q, k, v = (_leaf(inp[n]) for n in "qkv")
        out, w = F.scaled_dot_product_attention(q, k, v, attn_mask=inp.get("allowed"), is_causal=causal, scale=scale)
        out.backward(inp["g"])
        return {"out": out.data, "weights": w, "grad:q": q.grad, "grad:k": k.grad, "grad:v": v.grad}

    def theirs(inp: Arrays) -> Arrays:
        torch = _torch()
        q, k, v = (_tleaf(inp[n]) for n in "qkv")
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
        return {"out": _np(out), "weights": _np(w), "grad:q": _np(q.grad), "grad:k": _np(k.grad),
                "grad:v": _np(v.grad)}

    _case(f"sdpa_{name}", make, ours, theirs)


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
        inp = {**_weights(build(), rng), "query": rng.standard_normal((n, length, e))}
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
        m = _load_ours(build(), inp)
        leaves = {k: _leaf(inp[k]) for k in ("query", "key", "value") if k in inp}
        key = leaves.get("key")
        value = leaves.get("value", key)   # key=value: the same Tensor, so dlbook takes its packed K,V path
        out, w = m(leaves["query"], key, value, attn_mask=inp.get("attn_mask"),
                   key_padding_mask=inp.get("key_padding_mask"), need_weights=True)
        out.backward(inp["g"])
        return {"out": out.data, "weights": w, **{f"grad:{k}": v.grad for k, v in leaves.items()},
                **_ours_grads(m, inp)}

    def theirs(inp: Arrays) -> Arrays:
        torch = _torch()
        m = _load_theirs(torch.nn.MultiheadAttention(e, h, bias=bias, batch_first=True), inp)
        leaves = {k: _tleaf(inp[k]) for k in ("query", "key", "value") if k in inp}
        q = leaves["query"]
        key = leaves.get("key", q)
        value = leaves.get("value", key)
        masks = {k: torch.tensor(inp[k]) for k in ("attn_mask", "key_padding_mask") if k in inp}
        out, w = m(q, key, value, need_weights=True, average_attn_weights=False, **masks)
        out.backward(torch.tensor(inp["g"]))
        return {"out": _np(out), "weights": _np(w), **{f"grad:{k}": _np(v.grad) for k, v in leaves.items()},
                **_theirs_grads(m, inp)}

    _case(f"mha_{name}", make, ours, theirs)


_mha("self")
_mha("self_causal_mask", attn_mask="causal")
_mha("self_key_padding", padding=True)
_mha("cross_kv_longer_key_padding", kind="kv", padding=True)
_mha("cross_k_v_mask_2d_and_padding", kind="k_v", attn_mask="2d", padding=True)
_mha("cross_kv_shorter_mask_3d", kind="kv", attn_mask="3d", source=3)
_mha("self_no_bias_causal", attn_mask="causal", bias=False)


# ---- Transformer layers and stacks ---------------------------------------------------------
_D, _HEADS, _FF = 8, 2, 12


def _masks(n: int, length: int, source: int) -> dict[str, np.ndarray]:
    """A causal mask (True = not allowed) and padding on the last keys; key 0 is never masked."""
    pad = np.zeros((n, source), bool)
    pad[1, 3:] = True
    tgt_pad = np.zeros((n, length), bool)
    tgt_pad[0, -1] = True
    return {"causal": ~np.tril(np.ones((length, length), bool)), "pad": pad, "tgt_pad": tgt_pad}


def _transformer(name: str, decoder: bool, norm_first: bool, activation: str, masks: bool = True,
                 stack: int = 0) -> None:
    n, length, source = 2, 4 if decoder else 5, 5

    def layer(rng_seed: int) -> nn.Module:
        cls = nn.TransformerDecoderLayer if decoder else nn.TransformerEncoderLayer
        return cls(_D, _HEADS, _FF, activation=activation, norm_first=norm_first, rng=_RNG0(rng_seed))

    def build() -> nn.Module:
        if not stack:
            return layer(0)
        cls = nn.TransformerDecoder if decoder else nn.TransformerEncoder
        return cls([layer(i) for i in range(stack)], norm=nn.LayerNorm(_D))

    def make(rng: np.random.Generator) -> Arrays:
        inp = {**_weights(build(), rng), "x": rng.standard_normal((n, length, _D))}
        if decoder:
            inp["memory"] = rng.standard_normal((n, source, _D))
        inp["g"] = rng.standard_normal((n, length, _D))
        return inp

    def ours(inp: Arrays) -> Arrays:
        m = _load_ours(build(), inp)
        leaves = {k: _leaf(inp[k]) for k in ("x", "memory") if k in inp}
        mk = _masks(n, length, source)
        if decoder:
            kw = dict(tgt_is_causal=True, tgt_key_padding_mask=mk["tgt_pad"], memory_key_padding_mask=mk["pad"]) \
                if masks else {}
            out = m(leaves["x"], leaves["memory"], **kw)
        else:
            out = m(leaves["x"], **(dict(is_causal=True, src_key_padding_mask=mk["pad"]) if masks else {}))
        out.backward(inp["g"])
        return {"out": out.data, **{f"grad:{k}": v.grad for k, v in leaves.items()}, **_ours_grads(m, inp)}

    def theirs(inp: Arrays) -> Arrays:
        torch = _torch()
        act = _torch_activation(activation)

        def tlayer() -> Any:
            cls = torch.nn.TransformerDecoderLayer if decoder else torch.nn.TransformerEncoderLayer
            return cls(_D, _HEADS, _FF, dropout=0.0, activation=act, batch_first=True, norm_first=norm_first)

        if not stack:
            module = tlayer()
        elif decoder:
            module = torch.nn.TransformerDecoder(tlayer(), stack, norm=torch.nn.LayerNorm(_D))
        else:
            module = torch.nn.TransformerEncoder(tlayer(), stack, norm=torch.nn.LayerNorm(_D),
                                                 enable_nested_tensor=False)
        m = _load_theirs(module, inp)
        leaves = {k: _tleaf(inp[k]) for k in ("x", "memory") if k in inp}
        mk = {k: torch.tensor(v) for k, v in _masks(n, length, source).items()}
        if decoder:
            kw = dict(tgt_mask=mk["causal"], tgt_is_causal=True, tgt_key_padding_mask=mk["tgt_pad"],
                      memory_key_padding_mask=mk["pad"]) if masks else {}
            out = m(leaves["x"], leaves["memory"], **kw)
        else:
            kw = {"src_key_padding_mask": mk["pad"], "is_causal": True} if masks else {}
            if masks:
                kw["mask" if stack else "src_mask"] = mk["causal"]
            out = m(leaves["x"], **kw)
        out.backward(torch.tensor(inp["g"]))
        return {"out": _np(out), **{f"grad:{k}": _np(v.grad) for k, v in leaves.items()}, **_theirs_grads(m, inp)}

    _case(name, make, ours, theirs)


for _nf in (False, True):
    for _act in ("relu", "gelu"):
        _where = "pre_ln" if _nf else "post_ln"
        _transformer(f"encoder_layer_{_where}_{_act}_masks", False, _nf, _act)
        _transformer(f"decoder_layer_{_where}_{_act}_masks", True, _nf, _act)
_transformer("encoder_layer_post_ln_relu_no_mask", False, False, "relu", masks=False)
_transformer("decoder_layer_pre_ln_gelu_no_mask", True, True, "gelu", masks=False)
_transformer("encoder_stack_2_pre_ln_gelu_final_norm", False, True, "gelu", stack=2)
_transformer("decoder_stack_2_post_ln_relu_final_norm", True, False, "relu", stack=2)


# ---- the GPT -------------------------------------------------------------------------------
def _gpt(name: str, tied: bool) -> None:
    config = GPTConfig(vocab_size=13, context=8, d_model=_D, n_layers=2, n_heads=_HEADS, d_ff=_FF, tied=tied)

    def build() -> GPT:
        return GPT(config, rng=_RNG0(0), dtype=np.float64)

    def make(rng: np.random.Generator) -> Arrays:
        return {**_weights(build(), rng), "ids": rng.integers(0, 13, (2, 7)), "targets": rng.integers(0, 13, (2, 7))}

    def ours(inp: Arrays) -> Arrays:
        m = _load_ours(build(), inp)
        logits = m(inp["ids"])
        loss = F.cross_entropy(logits, inp["targets"])
        loss.backward()
        return {"logits": logits.data, "loss": loss.data, **_ours_grads(m, inp)}

    def theirs(inp: Arrays) -> Arrays:
        torch = _torch()
        tnn = torch.nn

        class TorchGPT(tnn.Module):
            """The same GPT from PyTorch parts: pre-LN encoder layers run causally, then the (tied) head."""

            def __init__(self) -> None:
                super().__init__()
                c = config
                self.tok_emb = tnn.Embedding(c.vocab_size, c.d_model)
                self.pos_emb = tnn.Embedding(c.context, c.d_model)
                self.blocks = tnn.Sequential(*[
                    tnn.TransformerEncoderLayer(c.d_model, c.n_heads, c.d_ff, dropout=0.0,
                                                activation=_torch_activation("gelu"), batch_first=True,
                                                norm_first=True) for _ in range(c.n_layers)])
                self.ln_f = tnn.LayerNorm(c.d_model)
                self.head = None if c.tied else tnn.Linear(c.d_model, c.vocab_size, bias=False)

            def forward(self, ids: Any) -> Any:
                length = ids.shape[1]
                x = self.tok_emb(ids) + self.pos_emb(torch.arange(length))
                causal = torch.ones(length, length, dtype=torch.bool).triu(1)
                for block in self.blocks:
                    x = block(x, src_mask=causal, is_causal=True)
                head = self.tok_emb.weight if self.head is None else self.head.weight
                return tnn.functional.linear(self.ln_f(x), head)

        m = _load_theirs(TorchGPT(), inp)
        logits = m(torch.tensor(inp["ids"]))
        loss = tnn.functional.cross_entropy(logits.reshape(-1, 13), torch.tensor(inp["targets"]).reshape(-1))
        loss.backward()
        return {"logits": _np(logits), "loss": _np(loss), **_theirs_grads(m, inp)}

    _case(name, make, ours, theirs)


_gpt("gpt_tied_head", tied=True)
_gpt("gpt_untied_head", tied=False)


# ---- LoRA ----------------------------------------------------------------------------------
def _lora(name: str, rank: int, alpha: float, bias: bool) -> None:
    fan_in, fan_out = 6, 5

    def build() -> LoRALinear:
        return LoRALinear(nn.Linear(fan_in, fan_out, bias=bias, rng=_RNG0(0)), rank, alpha, rng=_RNG0(1))

    def make(rng: np.random.Generator) -> Arrays:
        # B drawn non-zero (it starts at zero in training) so that A's gradient is not trivially zero
        return {**_weights(build(), rng), "x": rng.standard_normal((3, 4, fan_in)),
                "g": rng.standard_normal((3, 4, fan_out))}

    def ours(inp: Arrays) -> Arrays:
        m = _load_ours(build(), inp)
        x = _leaf(inp["x"])
        y = m(x)
        y.backward(inp["g"])
        frozen = [p.grad is not None for p in m.base.parameters()]
        return {"out": y.data, "merged_weight": m.merged().weight.data, "grad:x": x.grad,
                "grad:lora_A": m.lora_A.grad, "grad:lora_B": m.lora_B.grad,
                "base_grads_computed": np.array(float(any(frozen)))}

    def theirs(inp: Arrays) -> Arrays:
        torch = _torch()
        lin = torch.nn.functional.linear
        w = torch.tensor(inp["w:base.weight"])     # frozen: no gradient
        b = torch.tensor(inp["w:base.bias"]) if bias else None
        a_, b_ = _tleaf(inp["w:lora_A"]), _tleaf(inp["w:lora_B"])
        x = _tleaf(inp["x"])
        scaling = alpha / rank
        y = lin(x, w, b) + scaling * lin(lin(x, a_), b_)   # h = W x + b + (α/r) B (A x), as PEFT computes it
        y.backward(torch.tensor(inp["g"]))
        return {"out": _np(y), "merged_weight": _np(w + scaling * b_ @ a_), "grad:x": _np(x.grad),
                "grad:lora_A": _np(a_.grad), "grad:lora_B": _np(b_.grad),
                "base_grads_computed": np.array(float(w.grad is not None))}

    _case(name, make, ours, theirs)


_lora("lora_rank2_alpha4", 2, 4.0, True)
_lora("lora_rank3_alpha1_no_bias", 3, 1.0, False)


# ---- optimisers, schedule, clipping ----------------------------------------------------------
_SHAPES = ((3, 4), (4,), (2, 2))
_STEPS = 6


def _optimiser(name: str, ours_opt: Callable[[list], Any], theirs_opt: Callable[[Any, list], Any],
               gaps: bool, schedule: tuple[int, int, float] | None = None) -> None:
    """``_STEPS`` steps from the same start with the same gradients; the last parameter has no gradient on
    steps 1 and 2 when ``gaps`` (frozen, or unused by that batch).  ``schedule`` = (total, warmup, min_lr)
    sets the learning rate by dlbook's WarmupCosine, and by LinearLR then CosineAnnealingLR in PyTorch."""

    def make(rng: np.random.Generator) -> Arrays:
        inp: Arrays = {}
        for i, shape in enumerate(_SHAPES):
            inp[f"p{i}"] = rng.standard_normal(shape)
            inp[f"g{i}"] = rng.standard_normal((_STEPS, *shape))
        has = np.ones((_STEPS, len(_SHAPES)), bool)
        if gaps:
            has[1:3, -1] = False
        inp["has_grad"] = has
        return inp

    def ours(inp: Arrays) -> Arrays:
        params = [nn.Parameter(inp[f"p{i}"].copy()) for i in range(len(_SHAPES))]
        opt = ours_opt(params)
        sched = None if schedule is None else optim.WarmupCosine(opt, schedule[0], schedule[1], schedule[2])
        traj: list[list[np.ndarray]] = [[] for _ in params]
        lrs = []
        for t in range(_STEPS):
            for i, p in enumerate(params):
                p.grad = inp[f"g{i}"][t].copy() if inp["has_grad"][t, i] else None
            lrs.append(opt.lr)
            opt.step()
            if sched is not None:
                sched.step()
            for i, p in enumerate(params):
                traj[i].append(p.data.copy())
        return {**{f"p{i}": np.stack(tr) for i, tr in enumerate(traj)}, "lr": np.array(lrs)}

    def theirs(inp: Arrays) -> Arrays:
        torch = _torch()
        params = [torch.tensor(inp[f"p{i}"].copy(), requires_grad=True) for i in range(len(_SHAPES))]
        opt = theirs_opt(torch, params)
        sched = None
        if schedule is not None:
            total, warm, low = schedule
            lr_sched = torch.optim.lr_scheduler
            sched = lr_sched.SequentialLR(opt, [
                lr_sched.LinearLR(opt, start_factor=1 / warm, end_factor=1.0, total_iters=warm - 1),
                lr_sched.CosineAnnealingLR(opt, T_max=total - warm, eta_min=low)], milestones=[warm])
        traj: list[list[np.ndarray]] = [[] for _ in params]
        lrs = []
        for t in range(_STEPS):
            for i, p in enumerate(params):
                p.grad = torch.tensor(inp[f"g{i}"][t].copy()) if inp["has_grad"][t, i] else None
            lrs.append(opt.param_groups[0]["lr"])
            opt.step()
            if sched is not None:
                sched.step()
            for i, p in enumerate(params):
                traj[i].append(_np(p))
        return {**{f"p{i}": np.stack(tr) for i, tr in enumerate(traj)}, "lr": np.array(lrs, dtype=np.float64)}

    _case(name, make, ours, theirs)


for _gaps in (False, True):
    _tail = "_missing_grads" if _gaps else ""
    _optimiser(f"sgd_plain{_tail}", lambda ps: optim.SGD(ps, lr=0.1), lambda t, ps: t.optim.SGD(ps, lr=0.1), _gaps)
    _optimiser(f"sgd_momentum_weight_decay{_tail}",
               lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9, weight_decay=0.01),
               lambda t, ps: t.optim.SGD(ps, lr=0.1, momentum=0.9, weight_decay=0.01), _gaps)
    _optimiser(f"adam_l2_weight_decay{_tail}",
               lambda ps: optim.Adam(ps, lr=0.01, betas=(0.8, 0.95), eps=1e-3, weight_decay=0.1),
               lambda t, ps: t.optim.Adam(ps, lr=0.01, betas=(0.8, 0.95), eps=1e-3, weight_decay=0.1), _gaps)
    _optimiser(f"adamw{_tail}", lambda ps: optim.AdamW(ps, lr=0.01, weight_decay=0.5),
               lambda t, ps: t.optim.AdamW(ps, lr=0.01, weight_decay=0.5), _gaps)
_optimiser("adamw_warmup_cosine", lambda ps: optim.AdamW(ps, lr=0.05, weight_decay=0.1),
           lambda t, ps: t.optim.AdamW(ps, lr=0.05, weight_decay=0.1), False, schedule=(_STEPS - 1, 2, 0.005))


def _clip(name: str, max_norm: float) -> None:
    def make(rng: np.random.Generator) -> Arrays:
        return {f"g{i}": rng.standard_normal(shape) for i, shape in enumerate(_SHAPES)}

    def ours(inp: Arrays) -> Arrays:
        params = [nn.Parameter(np.zeros(s)) for s in _SHAPES]
        for i, p in enumerate(params):
            p.grad = inp[f"g{i}"].copy()
        norm = optim.clip_grad_norm(params, max_norm)
        return {"norm": np.array(norm), **{f"grad{i}": p.grad for i, p in enumerate(params)}}

    def theirs(inp: Arrays) -> Arrays:
        torch = _torch()
        params = [torch.zeros(s, dtype=torch.float64, requires_grad=True) for s in _SHAPES]
        for i, p in enumerate(params):
            p.grad = torch.tensor(inp[f"g{i}"].copy())
        norm = torch.nn.utils.clip_grad_norm_(params, max_norm)
        return {"norm": _np(norm), **{f"grad{i}": _np(p.grad) for i, p in enumerate(params)}}

    _case(name, make, ours, theirs)


_clip("clip_grad_norm_clips", 1.0)
_clip("clip_grad_norm_leaves_small_grads", 100.0)
