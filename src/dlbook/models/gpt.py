"""A small GPT: a decoder-only Transformer language model.

    x₀ = E[ids] + P[0..L−1]                  token + position embeddings
    xₗ = Blockₗ(xₗ₋₁), l = 1..num_layers     pre-LN causal Transformer blocks
    logits = LN(x_L) Wₒᵀ                      Wₒ = E when the head is tied

Each block is ``nn.TransformerEncoderLayer(norm_first=True, activation="gelu")``
run with ``is_causal=True``, so position t attends only to positions ≤ t (the
causal mask, 因果掩码): the model can be trained on every position of a window
at once to predict the next token.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, fields
from typing import Any

import numpy as np

from dlbook import functional as F
from dlbook import nn
from dlbook._checks import array_of, check_integer, check_positive_int
from dlbook.autograd import Tensor
from dlbook.checkpoint import load_checkpoint, save_checkpoint
from dlbook.models.decoding import generate
from dlbook.modes import eval_mode
from dlbook.sampling import next_token_distribution

#: Model shapes by name (the vocabulary size comes from the tokenizer).
PRESETS: dict[str, dict[str, Any]] = {
    # for tests and the notebook's quick run: ~0.1 M parameters besides the embeddings
    "tiny": dict(context=64, d_model=64, num_layers=2, nhead=4, dim_feedforward=256),
    # the shipped pretraining run and the benchmark shape: d=128, 4 layers, 4 heads, context 64
    "small": dict(context=64, d_model=128, num_layers=4, nhead=4, dim_feedforward=512),
    # the long pretraining runs of Part IV: context 128, width 192 or 256
    "base": dict(context=128, d_model=192, num_layers=4, nhead=4, dim_feedforward=768),
    "wide": dict(context=128, d_model=256, num_layers=4, nhead=4, dim_feedforward=1024),
}


#: Field names of GPT checkpoints saved before the config took PyTorch's names → today's names.
#: :meth:`GPTConfig.from_dict` reads either; new checkpoints are written with today's.
OLD_CONFIG_NAMES: dict[str, str] = {"n_layers": "num_layers", "n_heads": "nhead", "d_ff": "dim_feedforward"}


@dataclass(frozen=True)
class GPTConfig:
    """The numbers that fix a GPT's shape: its parameters can only be loaded into the same config.

    The names are PyTorch's (``nn.Transformer``), as in :class:`~dlbook.models.seq2seq.Seq2SeqConfig`:
    ``d_model`` the width, ``num_layers`` blocks of ``nhead`` heads with a feed-forward
    of width ``dim_feedforward``; ``context`` is the longest window (the position table's
    length) and ``tied`` shares the token embedding with the output layer.
    """

    vocab_size: int
    context: int = 64
    d_model: int = 128
    num_layers: int = 4
    nhead: int = 4
    dim_feedforward: int = 512
    dropout: float = 0.0
    tied: bool = True

    def __post_init__(self) -> None:
        for name in ("vocab_size", "context", "d_model", "num_layers", "nhead", "dim_feedforward"):
            check_positive_int(name, getattr(self, name))
        if self.d_model % self.nhead:
            raise ValueError(f"d_model ({self.d_model}) must be divisible by nhead ({self.nhead})")
        if not 0 <= self.dropout < 1:
            raise ValueError(f"dropout must lie in [0, 1), got {self.dropout}")

    @classmethod
    def preset(cls, name: str, vocab_size: int, **overrides: Any) -> GPTConfig:
        """The config of preset ``name`` (a key of :data:`PRESETS`) for a vocabulary of ``vocab_size``."""
        if name not in PRESETS:
            raise ValueError(f"unknown preset {name!r}; choose one of {sorted(PRESETS)}")
        return cls(vocab_size=vocab_size, **{**PRESETS[name], **overrides})

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> GPTConfig:
        """The config saved as ``d`` (by :meth:`to_dict`), including checkpoints written before the
        renaming to PyTorch's names (see :data:`OLD_CONFIG_NAMES`)."""
        d = {OLD_CONFIG_NAMES.get(k, k): v for k, v in d.items()}
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})


class GPT(nn.Module):
    """A decoder-only Transformer.  ids: (N, L) integers with L <= context -> logits (N, L, vocab_size).

    Embeddings are drawn from N(0, 0.02²); the blocks are pre-LN
    ``TransformerEncoderLayer`` s with GELU, run causally; the head is the
    token embedding matrix (``tied=True``) or its own ``Linear`` without bias.
    """

    def __init__(self, config: GPTConfig, *, rng: np.random.Generator, dtype: Any = np.float32) -> None:
        super().__init__()
        if not isinstance(config, GPTConfig):
            raise TypeError(f"config must be a GPTConfig, got {type(config).__name__}")
        self.config = config
        c = config
        self.tok_emb = nn.Embedding(c.vocab_size, c.d_model, rng=rng, std=0.02, dtype=dtype)
        self.pos_emb = nn.Embedding(c.context, c.d_model, rng=rng, std=0.02, dtype=dtype)
        self.blocks = nn.Sequential(*[
            nn.TransformerEncoderLayer(c.d_model, c.nhead, c.dim_feedforward, dropout=c.dropout,
                                       activation="gelu", norm_first=True, rng=rng, dtype=dtype)
            for _ in range(c.num_layers)])
        self.ln_f = nn.LayerNorm(c.d_model, dtype=dtype)
        self.head = None if c.tied else nn.Linear(c.d_model, c.vocab_size, bias=False, rng=rng, dtype=dtype)

    def _check_ids(self, ids: Any) -> np.ndarray:
        idx = array_of(ids)
        check_integer("ids", idx)
        if idx.ndim != 2:
            raise ValueError(f"ids must be 2-D (batch, length), got shape {idx.shape}")
        if idx.shape[1] == 0:
            raise ValueError("ids must hold at least one token per row, got length 0")
        if idx.shape[1] > self.config.context:
            raise ValueError(f"ids are {idx.shape[1]} tokens long, longer than the model's context "
                             f"({self.config.context})")
        return idx

    def features(self, ids: Any, cache: nn.KVCache | None = None) -> Tensor:
        """The final hidden states LN(x_L): (N, L, d_model) — what a classifier head reads.

        With a ``cache`` (inference only), ids are the L tokens after the ``cache.length`` cached ones:
        they take the positions after them and attend over the cached keys and values too.
        """
        idx = self._check_ids(ids)
        start = 0 if cache is None else cache.length
        if start + idx.shape[1] > self.config.context:
            raise ValueError(f"{start} cached + {idx.shape[1]} new tokens are longer than the model's context "
                             f"({self.config.context})")
        x = self.tok_emb(idx) + self.pos_emb(np.arange(start, start + idx.shape[1]))
        for layer, block in enumerate(self.blocks):
            x = block(x, is_causal=True) if cache is None else _cached_block(block, x, cache, layer)
        if cache is not None:
            cache.advance(idx.shape[1])
        return self.ln_f(x)

    def forward(self, ids: Any, cache: nn.KVCache | None = None) -> Tensor:
        """Next-token logits at every position: (N, L) -> (N, L, vocab_size) (``cache``: see :meth:`features`)."""
        return self.lm_logits(self.features(ids, cache))

    def lm_logits(self, h: Tensor) -> Tensor:
        """Next-token logits from final hidden states: (..., d_model) -> (..., vocab_size), z = h Eᵀ when tied."""
        return self.head(h) if self.head is not None else F.linear(h, self.tok_emb.weight)

    def new_cache(self, batch_size: int = 1) -> nn.KVCache:
        """An empty KV cache for ``batch_size`` sequences of up to ``context`` tokens (every head is a kv head)."""
        c = self.config
        return nn.KVCache(c.num_layers, batch_size, c.nhead, c.context, c.d_model // c.nhead,
                          dtype=self.tok_emb.weight.dtype)

    def loss(self, x: np.ndarray, y: np.ndarray) -> Tensor:
        """Mean next-token cross-entropy (nats per token) of windows x -> targets y, both (N, L).

        Implements (eq-lm-loss): −(1/T) Σₜ log p(x_{t+1} | x_{≤t}), averaged over the batch too.
        """
        return F.cross_entropy(self(x), y)

    # ---- looking inside -------------------------------------------------------
    def attention_weights(self, ids: Any) -> list[np.ndarray]:
        """Every block's attention weights for ``ids`` (N, L): a list of (N, nhead, L, L) arrays."""
        for block in self.blocks:
            block.keep_weights = True
        try:
            with eval_mode(self):
                self.features(ids)
            return [np.array(block.last_attn_weights) for block in self.blocks]
        finally:
            for block in self.blocks:
                block.keep_weights = False

    # ---- generation ------------------------------------------------------------
    def next_token_probs(self, ids: Any, temperature: float = 1.0, top_k: int | None = None,
                         top_p: float | None = None) -> np.ndarray:
        """The distribution the sampler draws the token after ``ids`` (1-D) from: (vocab_size,)."""
        idx = np.asarray(ids)
        if idx.size == 0:
            raise ValueError("ids is empty: give at least one token to predict the next one from")
        check_integer("ids", idx)                # 1.7 must not silently become token 1
        idx = idx.astype(np.int64).reshape(1, -1)
        with eval_mode(self):
            logits = self(idx[:, -self.config.context:]).data[0, -1]
        return next_token_distribution(logits, temperature, top_k, top_p)

    def generate(self, prompt: Any, max_new_tokens: int, *, rng: np.random.Generator, temperature: float = 1.0,
                 top_k: int | None = None, top_p: float | None = None,
                 use_cache: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """Sample ``max_new_tokens`` tokens after ``prompt`` (1-D ids).

        Returns (new ids (T,), the probability each had when it was drawn (T,)).
        The window slides once the text outgrows the context; the prompt itself
        must fit in it.  ``use_cache=True`` keeps the keys and values in a KV cache (prompt and new
        tokens must then fit in the context); it is off by default, so the chapters' stored samples
        stay bit for bit what they were (see :func:`~dlbook.models.decoding.generate`).
        """
        return generate(self, prompt, max_new_tokens, rng=rng, temperature=temperature, top_k=top_k, top_p=top_p,
                        use_cache=use_cache)

    def extra_repr(self) -> str:
        return ", ".join(f"{k}={v}" for k, v in self.config.to_dict().items())


def _cached_block(block: nn.TransformerEncoderLayer, x: Tensor, cache: nn.KVCache, layer: int) -> Tensor:
    """A pre-LN GPT block on the new positions x (N, T, d), its keys and values appended to ``cache``'s ``layer``:
    x + SA(LN₁(x)) with the new queries over all cached keys, then + FF(LN₂(·)), as the block computes it."""
    attn = block.self_attn
    n, t, e = x.shape
    qkv = attn.in_proj(block.norm1(x))                                       # (N, T, 3E): Q, K, V side by side

    def heads(i: int) -> Tensor:                                             # block i of Q|K|V -> (N, H, T, d)
        part = F.getitem(qkv, (..., slice(i * e, (i + 1) * e)))
        return F.transpose(F.reshape(part, (n, t, attn.num_heads, attn.head_dim)), (0, 2, 1, 3))

    q, k, v = heads(0), heads(1), heads(2)
    k_all, v_all = cache.update(layer, k.data, v.data)                       # (N, H, start+T, d)
    out, _ = F.scaled_dot_product_attention(q, k_all, v_all, attn_mask=F.offset_causal_mask(t, k_all.shape[2]))
    x = x + attn.out_proj(F.reshape(F.transpose(out, (0, 2, 1, 3)), (n, t, e)))
    return x + block.feed_forward(block.norm2(x))


# ---- checkpoints ---------------------------------------------------------------
def save_gpt(path: str | os.PathLike, model: GPT, tokenizer: Any, extra: dict[str, np.ndarray] | None = None,
             info: dict[str, Any] | None = None) -> None:
    """Write ``model`` with its config and tokenizer (as JSON in the checkpoint's config) to ``path`` (.npz)."""
    config = {"model": model.config.to_dict(), "tokenizer": tokenizer.to_json(), **(info or {})}
    save_checkpoint(path, model, config, extra)


def load_gpt(path: str | os.PathLike, dtype: Any = np.float32) -> tuple[GPT, Any, dict[str, Any],
                                                                        dict[str, np.ndarray]]:
    """(model, tokenizer, checkpoint config, extra arrays) from a file written by :func:`save_gpt`."""
    from dlbook.data.bpe import tokenizer_from_json

    state, config, extra = load_checkpoint(path)
    if "model" not in config or "tokenizer" not in config:
        raise ValueError(f"{path} is not a GPT checkpoint (its config has no 'model'/'tokenizer' entry)")
    model = GPT(GPTConfig.from_dict(config["model"]), rng=np.random.default_rng(0), dtype=dtype)
    load_gpt_state(model, state, source=str(path))
    return model, tokenizer_from_json(config["tokenizer"]), config, extra


def load_gpt_state(model: GPT, state: dict[str, np.ndarray], source: str = "the state") -> None:
    """Load parameters into ``model``, with a clear error if they come from a model of another shape."""
    own = model.state_dict()
    wrong = [f"{k}: model {own[k].shape} vs {np.shape(state[k])}" for k in own if k in state
             and own[k].shape != np.shape(state[k])]
    if wrong or set(own) != set(state):
        missing = sorted(set(own) - set(state))
        raise ValueError(f"{source} was made for a different GPT config than {model.config}: "
                         f"{'; '.join(wrong[:3]) or ''}{' missing ' + str(missing[:3]) if missing else ''}")
    model.load_state_dict(state)

