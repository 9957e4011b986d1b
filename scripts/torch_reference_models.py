"""Cases of ``make_torch_references.py``: Transformer encoder and decoder layers and stacks, the models (GPT,
character LSTM language model, encoder–decoder translator), LoRA, and the optimisers, the warmup + cosine
schedule and gradient clipping.  Importing this module adds them to
``CASES``."""

from __future__ import annotations

from collections.abc import Callable
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
    ours_grads,
    theirs_grads,
    tleaf,
    to_numpy,
    torch_activation,
    torch_module,
)
from torch_reference_lm import language_model_case

from dlbook import nn, optim
from dlbook.data import CharTokenizer
from dlbook.finetune.lora import LoRALinear
from dlbook.models.char_lm import CharLM
from dlbook.models.gpt import GPT, GPTConfig
from dlbook.models.seq2seq import Seq2SeqConfig, Seq2SeqTransformer

__all__ = ["CASES"]

_RNG0 = np.random.default_rng   # dlbook's constructors need an rng; its draws are replaced by the case's


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
        inp = {**draw_weights(build(), rng), "x": rng.standard_normal((n, length, _D))}
        if decoder:
            inp["memory"] = rng.standard_normal((n, source, _D))
        inp["g"] = rng.standard_normal((n, length, _D))
        return inp

    def ours(inp: Arrays) -> Arrays:
        m = load_ours(build(), inp)
        leaves = {k: leaf(inp[k]) for k in ("x", "memory") if k in inp}
        mk = _masks(n, length, source)
        if decoder:
            kw = dict(tgt_is_causal=True, tgt_key_padding_mask=mk["tgt_pad"], memory_key_padding_mask=mk["pad"]) \
                if masks else {}
            out = m(leaves["x"], leaves["memory"], **kw)
        else:
            out = m(leaves["x"], **(dict(is_causal=True, src_key_padding_mask=mk["pad"]) if masks else {}))
        out.backward(inp["g"])
        return {"out": out.data, **{f"grad:{k}": v.grad for k, v in leaves.items()}, **ours_grads(m, inp)}

    def theirs(inp: Arrays) -> Arrays:
        torch = torch_module()
        act = torch_activation(activation)

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
        m = load_theirs(module, inp)
        leaves = {k: tleaf(inp[k]) for k in ("x", "memory") if k in inp}
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
        return {"out": to_numpy(out), **{f"grad:{k}": to_numpy(v.grad) for k, v in leaves.items()},
                **theirs_grads(m, inp)}

    add_case(name, make, ours, theirs)


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
    config = GPTConfig(vocab_size=13, context=8, d_model=_D, num_layers=2, nhead=_HEADS, dim_feedforward=_FF,
                       tied=tied)

    def build() -> GPT:
        return GPT(config, rng=_RNG0(0), dtype=np.float64)

    def build_theirs(torch: Any) -> Any:
        tnn = torch.nn

        class TorchGPT(tnn.Module):
            """The same GPT from PyTorch parts: pre-LN encoder layers run causally, then the (tied) head."""

            def __init__(self) -> None:
                super().__init__()
                c = config
                self.tok_emb = tnn.Embedding(c.vocab_size, c.d_model)
                self.pos_emb = tnn.Embedding(c.context, c.d_model)
                self.blocks = tnn.Sequential(*[
                    tnn.TransformerEncoderLayer(c.d_model, c.nhead, c.dim_feedforward, dropout=0.0,
                                                activation=torch_activation("gelu"), batch_first=True,
                                                norm_first=True) for _ in range(c.num_layers)])
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

        return TorchGPT()

    language_model_case(name, build, build_theirs, 13, (2, 7))


_gpt("gpt_tied_head", tied=True)
_gpt("gpt_untied_head", tied=False)


_V = 8   # the seven letters below and the tokenizer's <unk>


def _char_lm() -> CharLM:
    """The §3.4 character model, small: 8 ids → 4 → two LSTM layers of 5 → 8."""
    return CharLM(CharTokenizer.fit("abcdefg"), embedding_dim=4, hidden_size=5, num_layers=2, cell="lstm",
                  rng=_RNG0(0), dtype=np.float64)


def _torch_char_lm(torch: Any) -> Any:
    tnn = torch.nn

    class TorchCharLM(tnn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.embedding = tnn.Embedding(_V, 4)
            self.rnn = tnn.LSTM(4, 5, num_layers=2, batch_first=True)
            self.head = tnn.Linear(5, _V)

        def forward(self, ids: Any) -> Any:
            return self.head(self.rnn(self.embedding(ids))[0])

    return TorchCharLM()


language_model_case("char_lstm_language_model", _char_lm, _torch_char_lm, _V, (3, 6))

_S2S = Seq2SeqConfig(vocab_size=11, d_model=_D, nhead=_HEADS, num_encoder_layers=2, num_decoder_layers=2,
                     dim_feedforward=_FF, max_len=8)


def _seq2seq() -> Seq2SeqTransformer:
    return Seq2SeqTransformer(_S2S, rng=_RNG0(0), dtype=np.float64)


def _seq2seq_make(rng: np.random.Generator) -> Arrays:
    src = rng.integers(3, 11, (2, 6))
    src[0, 4:] = _S2S.pad_id          # padding in the source: masked in the encoder and the cross attention
    tgt = rng.integers(3, 11, (2, 6))
    tgt[:, 0] = _S2S.bos_id
    tgt[1, 4:] = _S2S.pad_id          # padding in the target: ignored by the loss
    return {**draw_weights(_seq2seq(), rng), "src": src, "tgt": tgt}


def _seq2seq_ours(inp: Arrays) -> Arrays:
    m = load_ours(_seq2seq(), inp)
    logits = m(inp["src"], inp["tgt"][:, :-1])
    loss = m.loss(inp["src"], inp["tgt"])
    loss.backward()
    return {"logits": logits.data, "loss": loss.data, **ours_grads(m, inp)}


def _seq2seq_theirs(inp: Arrays) -> Arrays:
    torch = torch_module()
    tnn = torch.nn
    c = _S2S
    # the sinusoidal table, written out here from its formula: P[p, 2i] = sin(p/10000^(2i/d)), P[p, 2i+1] = cos(…)
    pos = np.arange(c.max_len)[:, None] / 10000.0 ** (np.arange(0, c.d_model, 2) / c.d_model)
    table = np.zeros((c.max_len, c.d_model))
    table[:, 0::2], table[:, 1::2] = np.sin(pos), np.cos(pos)

    def layer(cls: Any) -> Any:
        return cls(c.d_model, c.nhead, c.dim_feedforward, dropout=0.0, batch_first=True, norm_first=True)

    class TorchSeq2Seq(tnn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.embed = tnn.Embedding(c.vocab_size, c.d_model)
            self.encoder = tnn.TransformerEncoder(layer(tnn.TransformerEncoderLayer), c.num_encoder_layers,
                                                  norm=tnn.LayerNorm(c.d_model), enable_nested_tensor=False)
            self.decoder = tnn.TransformerDecoder(layer(tnn.TransformerDecoderLayer), c.num_decoder_layers,
                                                  norm=tnn.LayerNorm(c.d_model))
            self.generator = tnn.Linear(c.d_model, c.vocab_size)

        def forward(self, src: Any, tgt_in: Any) -> Any:
            def embed(ids: Any) -> Any:
                return self.embed(ids) * c.d_model ** 0.5 + torch.tensor(table[:ids.shape[1]])

            pad = src == c.pad_id
            memory = self.encoder(embed(src), src_key_padding_mask=pad)
            length = tgt_in.shape[1]
            causal = torch.ones(length, length, dtype=torch.bool).triu(1)
            h = self.decoder(embed(tgt_in), memory, tgt_mask=causal, tgt_is_causal=True,
                             memory_key_padding_mask=pad)
            return self.generator(h)

    m = load_theirs(TorchSeq2Seq(), inp)
    src, tgt = torch.tensor(inp["src"]), torch.tensor(inp["tgt"])
    logits = m(src, tgt[:, :-1])
    loss = tnn.functional.cross_entropy(logits.reshape(-1, c.vocab_size), tgt[:, 1:].reshape(-1),
                                        ignore_index=c.pad_id)
    loss.backward()
    return {"logits": to_numpy(logits), "loss": to_numpy(loss), **theirs_grads(m, inp)}


add_case("seq2seq_translator", _seq2seq_make, _seq2seq_ours, _seq2seq_theirs)


# ---- LoRA ----------------------------------------------------------------------------------
def _lora(name: str, rank: int, alpha: float, bias: bool) -> None:
    fan_in, fan_out = 6, 5

    def build() -> LoRALinear:
        return LoRALinear(nn.Linear(fan_in, fan_out, bias=bias, rng=_RNG0(0)), rank, alpha, rng=_RNG0(1))

    def make(rng: np.random.Generator) -> Arrays:
        # B drawn non-zero (it starts at zero in training) so that A's gradient is not trivially zero
        return {**draw_weights(build(), rng), "x": rng.standard_normal((3, 4, fan_in)),
                "g": rng.standard_normal((3, 4, fan_out))}

    def ours(inp: Arrays) -> Arrays:
        m = load_ours(build(), inp)
        x = leaf(inp["x"])
        y = m(x)
        y.backward(inp["g"])
        frozen = [p.grad is not None for p in m.base.parameters()]
        return {"out": y.data, "merged_weight": m.merged().weight.data, "grad:x": x.grad,
                "grad:lora_A": m.lora_A.grad, "grad:lora_B": m.lora_B.grad,
                "base_grads_computed": np.array(float(any(frozen)))}

    def theirs(inp: Arrays) -> Arrays:
        torch = torch_module()
        lin = torch.nn.functional.linear
        w = torch.tensor(inp["w:base.weight"])     # frozen: no gradient
        b = torch.tensor(inp["w:base.bias"]) if bias else None
        a_, b_ = tleaf(inp["w:lora_A"]), tleaf(inp["w:lora_B"])
        x = tleaf(inp["x"])
        scaling = alpha / rank
        y = lin(x, w, b) + scaling * lin(lin(x, a_), b_)   # h = W x + b + (α/r) B (A x), as PEFT computes it
        y.backward(torch.tensor(inp["g"]))
        return {"out": to_numpy(y), "merged_weight": to_numpy(w + scaling * b_ @ a_), "grad:x": to_numpy(x.grad),
                "grad:lora_A": to_numpy(a_.grad), "grad:lora_B": to_numpy(b_.grad),
                "base_grads_computed": np.array(float(w.grad is not None))}

    add_case(name, make, ours, theirs)


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
        torch = torch_module()
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
                traj[i].append(to_numpy(p))
        return {**{f"p{i}": np.stack(tr) for i, tr in enumerate(traj)}, "lr": np.array(lrs, dtype=np.float64)}

    add_case(name, make, ours, theirs)


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
        torch = torch_module()
        params = [torch.zeros(s, dtype=torch.float64, requires_grad=True) for s in _SHAPES]
        for i, p in enumerate(params):
            p.grad = torch.tensor(inp[f"g{i}"].copy())
        norm = torch.nn.utils.clip_grad_norm_(params, max_norm)
        return {"norm": to_numpy(norm), **{f"grad{i}": to_numpy(p.grad) for i, p in enumerate(params)}}

    add_case(name, make, ours, theirs)


_clip("clip_grad_norm_clips", 1.0)
_clip("clip_grad_norm_leaves_small_grads", 100.0)


import torch_reference_llama  # noqa: E402, F401  (the pieces of a modern LLM, issue 18: added to CASES on import)
