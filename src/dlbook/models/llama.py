"""A small Llama-style decoder: the GPT of Part IV with the four changes modern models share.

    x₀ = E[ids]                                        token embeddings only: no position table
    h  = x + GQA(RMSNorm(x))                           pre-norm, rotary positions inside attention
    x' = h + SwiGLU(RMSNorm(h))                        gated feed-forward
    logits = RMSNorm(x_L) Wₒᵀ                          Wₒ = E when the head is tied

No layer has a bias.  Generation can keep each layer's keys and values in a
:class:`~dlbook.nn.KVCache`: the prompt is run once (prefill), then each new token alone.

For ablations (§5.5) each of the four changes can be switched back to the GPT's piece alone:
``norm="layer"`` (LayerNorm), ``positions="learned"`` (a learned position table added to the token
embeddings, no rotation), ``ffn="gelu"`` (Linear → GELU → Linear of width ``hidden``), ``n_kv_heads = nhead``
(multi-head attention) and ``bias=True``.  With all five the model is the GPT of Part IV — the same function
of the same weights (``tests/test_modern_block.py`` loads a GPT's weights into it).
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, fields
from typing import Any

import numpy as np

from dlbook import functional as F
from dlbook import nn
from dlbook._checks import array_of, check_integer, check_positive_int, check_rng
from dlbook.autograd import Tensor
from dlbook.checkpoint import load_checkpoint, save_checkpoint
from dlbook.models.decoding import generate


@dataclass(frozen=True)
class LlamaConfig:
    """The numbers that fix a Llama's shape.  Names as :class:`~dlbook.models.gpt.GPTConfig` where they mean the same.

    ``d_model`` the width, ``num_layers`` blocks, ``nhead`` query heads sharing ``n_kv_heads`` key/value
    heads (dividing ``nhead``), a SwiGLU feed-forward of width ``hidden``; ``context`` the longest window
    (and the KV cache's length), ``rope_base`` the base of the rotary angles, ``norm_eps`` RMSNorm's ε,
    ``tied`` shares the token embedding with the output layer.  The default ``hidden`` ≈ (8/3)·d_model
    gives SwiGLU's three matrices about the parameters of a GELU feed-forward of width 4·d_model.

    The ablation switches (the defaults are Llama's): ``norm`` "rms" or "layer", ``positions`` "rope" or
    "learned", ``ffn`` "swiglu" or "gelu" (``hidden`` is then the GELU layer's width), ``bias`` on every Linear.
    """

    vocab_size: int
    context: int = 64
    d_model: int = 128
    num_layers: int = 4
    nhead: int = 4
    n_kv_heads: int = 2
    hidden: int = 352
    rope_base: float = 10000.0
    norm_eps: float = 1e-5
    tied: bool = True
    norm: str = "rms"
    positions: str = "rope"
    ffn: str = "swiglu"
    bias: bool = False

    def __post_init__(self) -> None:
        for name, allowed in (("norm", ("rms", "layer")), ("positions", ("rope", "learned")),
                              ("ffn", ("swiglu", "gelu"))):
            if getattr(self, name) not in allowed:
                raise ValueError(f"{name} must be one of {allowed}, got {getattr(self, name)!r}")
        if not isinstance(self.bias, bool):
            raise TypeError(f"bias must be a bool, got {type(self.bias).__name__}")
        for name in ("vocab_size", "context", "d_model", "num_layers", "nhead", "n_kv_heads", "hidden"):
            check_positive_int(name, getattr(self, name))
        if self.d_model % self.nhead:
            raise ValueError(f"d_model ({self.d_model}) must be divisible by nhead ({self.nhead})")
        if self.positions == "rope" and (self.d_model // self.nhead) % 2:
            raise ValueError(f"the head size d_model / nhead = {self.d_model // self.nhead} must be even for RoPE")
        if self.nhead % self.n_kv_heads:
            raise ValueError(f"n_kv_heads ({self.n_kv_heads}) must divide nhead ({self.nhead})")
        if not self.rope_base > 1:
            raise ValueError(f"rope_base must be > 1, got {self.rope_base}")
        if not self.norm_eps > 0:
            raise ValueError(f"norm_eps must be positive, got {self.norm_eps}")

    @property
    def head_dim(self) -> int:
        return self.d_model // self.nhead

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> LlamaConfig:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})


def _norm(c: LlamaConfig, dtype: Any) -> nn.Module:
    """RMSNorm, or the GPT's LayerNorm when ``c.norm == "layer"``."""
    if c.norm == "rms":
        return nn.RMSNorm(c.d_model, eps=c.norm_eps, dtype=dtype)
    return nn.LayerNorm(c.d_model, eps=c.norm_eps, dtype=dtype)


class LlamaBlock(nn.Module):
    """x → h = x + GQA(RMSNorm(x)) → h + SwiGLU(RMSNorm(h)).  x: (N, T, d_model) -> the same shape.

    With the config's ablation switches, LayerNorm for RMSNorm, no rotation, Linear → GELU → Linear for
    SwiGLU, biases (see :class:`LlamaConfig`).
    """

    def __init__(self, c: LlamaConfig, *, rng: np.random.Generator, dtype: Any) -> None:
        super().__init__()
        self.attn_norm = _norm(c, dtype)
        self.attn = nn.GroupedQueryAttention(c.d_model, c.nhead, c.n_kv_heads, bias=c.bias,
                                             rope=c.positions == "rope", rope_base=c.rope_base, rng=rng, dtype=dtype)
        self.ffn_norm = _norm(c, dtype)
        if c.ffn == "swiglu":
            self.ffn: nn.Module = nn.SwiGLU(c.d_model, c.hidden, bias=c.bias, rng=rng, dtype=dtype)
        else:
            self.ffn = nn.Sequential(nn.Linear(c.d_model, c.hidden, bias=c.bias, rng=rng, dtype=dtype), nn.GELU(),
                                     nn.Linear(c.hidden, c.d_model, bias=c.bias, rng=rng, dtype=dtype))

    def forward(self, x: Tensor, cache: nn.KVCache | None = None, layer: int = 0) -> Tensor:
        h = x + self.attn(self.attn_norm(x), cache, layer)
        return h + self.ffn(self.ffn_norm(h))


class Llama(nn.Module):
    """A decoder-only Transformer, Llama-style.  ids: (N, T) integers -> logits (N, T, vocab_size).

    Embeddings are drawn from N(0, 0.02²); blocks are :class:`LlamaBlock`; the head is the token
    embedding (``tied``) or its own Linear without bias.
    """

    def __init__(self, config: LlamaConfig, *, rng: np.random.Generator, dtype: Any = np.float32) -> None:
        super().__init__()
        if not isinstance(config, LlamaConfig):
            raise TypeError(f"config must be a LlamaConfig, got {type(config).__name__}")
        check_rng(rng)
        self.config = c = config
        self.tok_emb = nn.Embedding(c.vocab_size, c.d_model, rng=rng, std=0.02, dtype=dtype)
        self.pos_emb = (nn.Embedding(c.context, c.d_model, rng=rng, std=0.02, dtype=dtype)
                        if c.positions == "learned" else None)
        self.blocks = nn.Sequential(*[LlamaBlock(c, rng=rng, dtype=dtype) for _ in range(c.num_layers)])
        self.norm = _norm(c, dtype)
        self.head = None if c.tied else nn.Linear(c.d_model, c.vocab_size, bias=False, rng=rng, dtype=dtype)

    def new_cache(self, batch_size: int = 1) -> nn.KVCache:
        """An empty KV cache for ``batch_size`` sequences of up to ``context`` tokens, in the model's dtype."""
        c = self.config
        return nn.KVCache(c.num_layers, batch_size, c.n_kv_heads, c.context, c.head_dim,
                          dtype=self.tok_emb.weight.dtype)

    def forward(self, ids: Any, cache: nn.KVCache | None = None) -> Tensor:
        """Next-token logits (N, T, vocab_size) for ids (N, T).

        With a ``cache``, ids are the T tokens after the ``cache.length`` cached ones (prefill: the whole
        prompt into an empty cache; then one token per step); their keys and values are added to the cache.
        """
        idx = array_of(ids)
        check_integer("ids", idx)
        if idx.ndim != 2 or idx.shape[1] == 0:
            raise ValueError(f"ids must be 2-D (batch, length) with length >= 1, got shape {idx.shape}")
        start = 0 if cache is None else cache.length
        if start + idx.shape[1] > self.config.context:
            raise ValueError(f"{start} cached + {idx.shape[1]} new tokens are longer than the model's context "
                             f"({self.config.context})")
        x = self.tok_emb(idx)
        if self.pos_emb is not None:
            x = x + self.pos_emb(np.arange(start, start + idx.shape[1]))
        for layer, block in enumerate(self.blocks):
            x = block(x, cache, layer)
        if cache is not None:
            cache.advance(idx.shape[1])
        h = self.norm(x)
        return self.head(h) if self.head is not None else F.linear(h, self.tok_emb.weight)

    def loss(self, x: np.ndarray, y: np.ndarray) -> Tensor:
        """Mean next-token cross-entropy (nats per token) of windows x -> targets y, both (N, T)."""
        return F.cross_entropy(self(x), y)

    def generate(self, prompt: Any, max_new_tokens: int, *, rng: np.random.Generator, temperature: float = 1.0,
                 top_k: int | None = None, top_p: float | None = None,
                 use_cache: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """Sample ``max_new_tokens`` tokens after ``prompt`` (1-D ids): (new ids (n,), each one's probability (n,)).

        ``use_cache=True``: the prompt is run once and each new token alone, attending over the cached keys
        and values; prompt and new tokens must then fit in ``context``.  ``use_cache=False`` runs the whole
        window for every token (sliding once the text outgrows the context).  Within the context both
        compute the same logits (to rounding) and draw the same tokens from the same ``rng``
        (see :func:`~dlbook.models.decoding.generate`).
        """
        return generate(self, prompt, max_new_tokens, rng=rng, temperature=temperature, top_k=top_k, top_p=top_p,
                        use_cache=use_cache)

    def extra_repr(self) -> str:
        return ", ".join(f"{k}={v}" for k, v in self.config.to_dict().items())


# ---- checkpoints ---------------------------------------------------------------
def save_llama(path: str | os.PathLike, model: Llama, tokenizer: Any, extra: dict[str, np.ndarray] | None = None,
               info: dict[str, Any] | None = None) -> None:
    """Write ``model`` with its config and tokenizer (as JSON) to ``path`` (.npz, no pickle)."""
    if not isinstance(model, Llama):
        raise TypeError(f"model must be a Llama, got {type(model).__name__}")
    config = {"architecture": "llama", "model": model.config.to_dict(), "tokenizer": tokenizer.to_json(),
              **(info or {})}
    save_checkpoint(path, model, config, extra)


def load_llama(path: str | os.PathLike, dtype: Any = np.float32) -> tuple[Llama, Any, dict[str, Any],
                                                                          dict[str, np.ndarray]]:
    """(model, tokenizer, checkpoint config, extra arrays) from a file written by :func:`save_llama`."""
    from dlbook.data.bpe import tokenizer_from_json

    state, config, extra = load_checkpoint(path)
    if config.get("architecture") != "llama" or "model" not in config or "tokenizer" not in config:
        raise ValueError(f"{path} is not a Llama checkpoint (its config has no architecture 'llama', "
                         "'model' and 'tokenizer' entries)")
    model = Llama(LlamaConfig.from_dict(config["model"]), rng=np.random.default_rng(0), dtype=dtype)
    model.load_state_dict(state)
    return model, tokenizer_from_json(config["tokenizer"]), config, extra
