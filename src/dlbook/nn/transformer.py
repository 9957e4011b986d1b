"""Transformer layers (§3.5): positional encodings, encoder and decoder layers and their stacks.

Names and conventions follow ``torch.nn`` (batch first): masks are bool with
**True = not allowed**; ``norm_first=False`` is the original post-LN layer
(x = LN(x + Sublayer(x))), ``norm_first=True`` the pre-LN one used by GPT
(x = x + Sublayer(LN(x))).
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np

from dlbook import functional as F
from dlbook._checks import check_positive_int
from dlbook.autograd import Tensor
from dlbook.nn.activation import ACTIVATIONS
from dlbook.nn.attention import MultiheadAttention
from dlbook.nn.dropout import Dropout
from dlbook.nn.linear import Linear
from dlbook.nn.module import Module, Parameter
from dlbook.nn.normalization import LayerNorm


# ---- positions ---------------------------------------------------------------------
def sinusoidal_positional_encoding(max_len: int, d_model: int) -> np.ndarray:
    """The fixed table P: (max_len, d_model).  Implements (eq-positional-encoding).

    P[pos, 2i] = sin(pos / 10000^(2i/d_model)),  P[pos, 2i+1] = cos(pos / 10000^(2i/d_model)).
    """
    check_positive_int("max_len", max_len)
    check_positive_int("d_model", d_model)
    pos = np.arange(max_len, dtype=np.float64)[:, None]
    freq = np.exp(-np.log(10000.0) * np.arange(0, d_model, 2, dtype=np.float64) / d_model)
    table = np.zeros((max_len, d_model))
    table[:, 0::2] = np.sin(pos * freq)
    table[:, 1::2] = np.cos(pos * freq[: d_model // 2])
    return table


def _check_length(module: str, x: Tensor, max_len: int, d_model: int) -> None:
    if x.ndim != 3 or x.shape[-1] != d_model:
        raise ValueError(f"{module}: x must be (N, length, d_model={d_model}), got shape {x.shape}")
    if x.shape[1] > max_len:
        raise ValueError(f"{module}: sequence length {x.shape[1]} is longer than the table's max_len={max_len}")


class PositionalEncoding(Module):
    """x + P[:L] with the fixed sinusoidal table (no parameters).  x: (N, L, d_model) -> same."""

    def __init__(self, max_len: int, d_model: int, *, dtype: Any = np.float64) -> None:
        super().__init__()
        self.max_len, self.d_model = max_len, d_model
        self.table = sinusoidal_positional_encoding(max_len, d_model).astype(dtype)

    def forward(self, x: Tensor) -> Tensor:
        _check_length("PositionalEncoding", x, self.max_len, self.d_model)
        return x + self.table[: x.shape[1]].astype(x.dtype, copy=False)


class PositionalEmbedding(Module):
    """x + P[:L] with a learned table ``weight``: (max_len, d_model) ~ N(0, std²).  x: (N, L, d_model) -> same."""

    def __init__(self, max_len: int, d_model: int, *, rng: np.random.Generator, std: float = 0.02,
                 dtype: Any = np.float64) -> None:
        super().__init__()
        self.max_len = check_positive_int("max_len", max_len)
        self.d_model = check_positive_int("d_model", d_model)
        self.weight = Parameter((rng.standard_normal((max_len, d_model)) * std).astype(dtype))

    def forward(self, x: Tensor) -> Tensor:
        _check_length("PositionalEmbedding", x, self.max_len, self.d_model)
        return x + F.getitem(self.weight, slice(0, x.shape[1]))


# ---- layers ------------------------------------------------------------------------
def _activation(name: str) -> Module:
    if name not in ("relu", "gelu"):
        raise ValueError(f"activation must be 'relu' or 'gelu', got {name!r}")
    return ACTIVATIONS[name]()


class TransformerEncoderLayer(Module):
    """Self-attention + feed-forward, each in a residual connection with LayerNorm.

    src: (N, L, d_model) -> (N, L, d_model).  Post-LN (default), the original layer:
    x = norm1(x + dropout1(SA(x))); x = norm2(x + dropout2(FF(x))).  Pre-LN
    (``norm_first=True``): x = x + dropout1(SA(norm1(x))); x = x + dropout2(FF(norm2(x))).
    FF(x) = linear2(dropout(activation(linear1(x)))) acts on each position alone.
    With ``norm_first=True``, ``activation="gelu"`` and ``is_causal=True`` it is a
    GPT block.  When ``keep_weights`` is True the last attention weights
    (N, nhead, L, L) are kept in ``last_attn_weights``.
    """

    def __init__(self, d_model: int, nhead: int, dim_feedforward: int = 2048, dropout: float = 0.0,
                 activation: str = "relu", norm_first: bool = False, *, rng: np.random.Generator,
                 dtype: Any = np.float64) -> None:
        super().__init__()
        # Built in PyTorch's order, which is also the order the weights are drawn from rng.
        self.self_attn = MultiheadAttention(d_model, nhead, dropout=dropout, rng=rng, dtype=dtype)
        self.linear1 = Linear(d_model, dim_feedforward, rng=rng, dtype=dtype)
        self.dropout = Dropout(dropout, rng=rng)
        self.linear2 = Linear(dim_feedforward, d_model, rng=rng, dtype=dtype)
        self.activation = _activation(activation)
        self.norm1 = LayerNorm(d_model, dtype=dtype)
        self.norm2 = LayerNorm(d_model, dtype=dtype)
        self.dropout1 = Dropout(dropout, rng=rng)
        self.dropout2 = Dropout(dropout, rng=rng)
        self.norm_first = bool(norm_first)
        self.keep_weights = False
        self.last_attn_weights: np.ndarray | None = None

    def forward(self, src: Tensor, src_mask: Any = None, src_key_padding_mask: Any = None,
                is_causal: bool = False) -> Tensor:
        x = src
        if self.norm_first:
            x = x + self.dropout1(self.self_attention(self.norm1(x), src_mask, src_key_padding_mask, is_causal))
            x = x + self.dropout2(self.feed_forward(self.norm2(x)))
        else:
            x = self.norm1(x + self.dropout1(self.self_attention(x, src_mask, src_key_padding_mask, is_causal)))
            x = self.norm2(x + self.dropout2(self.feed_forward(x)))
        return x

    def self_attention(self, x: Tensor, attn_mask: Any, key_padding_mask: Any, is_causal: bool) -> Tensor:
        """The self-attention sub-layer: x (N, L, d_model) attends to itself -> (N, L, d_model)."""
        out, weights = self.self_attn(x, attn_mask=attn_mask, key_padding_mask=key_padding_mask,
                                      is_causal=is_causal, need_weights=self.keep_weights)
        if self.keep_weights:
            self.last_attn_weights = weights
        return out

    def feed_forward(self, x: Tensor) -> Tensor:
        """The position-wise feed-forward sub-layer: (N, L, d_model) -> (N, L, d_model)."""
        return self.linear2(self.dropout(self.activation(self.linear1(x))))


class TransformerDecoderLayer(Module):
    """Masked self-attention, encoder–decoder (cross) attention, feed-forward; each residual + LayerNorm.

    tgt: (N, T, d_model), memory: (N, S, d_model) -> (N, T, d_model).  Pre-LN
    (``norm_first=True``): x = x + dropout1(SA(norm1(x))); x = x + dropout2(CA(norm2(x), memory));
    x = x + dropout3(FF(norm3(x))); post-LN puts each norm after its residual sum,
    as in :class:`TransformerEncoderLayer`.  The queries of ``multihead_attn``
    (CA) come from the decoder, its keys and values from the encoder's output
    ``memory``.  When ``keep_weights`` is True the last weights are kept in
    ``last_attn_weights`` (self, (N, nhead, T, T)) and ``last_cross_weights``
    (cross, (N, nhead, T, S)).
    """

    def __init__(self, d_model: int, nhead: int, dim_feedforward: int = 2048, dropout: float = 0.0,
                 activation: str = "relu", norm_first: bool = False, *, rng: np.random.Generator,
                 dtype: Any = np.float64) -> None:
        super().__init__()
        # Built in PyTorch's order, which is also the order the weights are drawn from rng.
        self.self_attn = MultiheadAttention(d_model, nhead, dropout=dropout, rng=rng, dtype=dtype)
        self.multihead_attn = MultiheadAttention(d_model, nhead, dropout=dropout, rng=rng, dtype=dtype)
        self.linear1 = Linear(d_model, dim_feedforward, rng=rng, dtype=dtype)
        self.dropout = Dropout(dropout, rng=rng)
        self.linear2 = Linear(dim_feedforward, d_model, rng=rng, dtype=dtype)
        self.activation = _activation(activation)
        self.norm1 = LayerNorm(d_model, dtype=dtype)
        self.norm2 = LayerNorm(d_model, dtype=dtype)
        self.norm3 = LayerNorm(d_model, dtype=dtype)
        self.dropout1 = Dropout(dropout, rng=rng)
        self.dropout2 = Dropout(dropout, rng=rng)
        self.dropout3 = Dropout(dropout, rng=rng)
        self.norm_first = bool(norm_first)
        self.keep_weights = False
        self.last_attn_weights: np.ndarray | None = None
        self.last_cross_weights: np.ndarray | None = None

    def forward(self, tgt: Tensor, memory: Tensor, tgt_mask: Any = None, memory_mask: Any = None,
                tgt_key_padding_mask: Any = None, memory_key_padding_mask: Any = None,
                tgt_is_causal: bool = False) -> Tensor:
        x = tgt
        if self.norm_first:
            x = x + self.dropout1(self.self_attention(self.norm1(x), tgt_mask, tgt_key_padding_mask, tgt_is_causal))
            x = x + self.dropout2(self.cross_attention(self.norm2(x), memory, memory_mask, memory_key_padding_mask))
            x = x + self.dropout3(self.feed_forward(self.norm3(x)))
        else:
            x = self.norm1(x + self.dropout1(self.self_attention(x, tgt_mask, tgt_key_padding_mask, tgt_is_causal)))
            x = self.norm2(x + self.dropout2(self.cross_attention(x, memory, memory_mask, memory_key_padding_mask)))
            x = self.norm3(x + self.dropout3(self.feed_forward(x)))
        return x

    # The same two sub-layers as the encoder layer's (same submodule names, same code).
    self_attention = TransformerEncoderLayer.self_attention
    feed_forward = TransformerEncoderLayer.feed_forward

    def cross_attention(self, x: Tensor, memory: Tensor, attn_mask: Any, key_padding_mask: Any) -> Tensor:
        """The encoder–decoder sub-layer: x (N, T, d_model) attends to memory (N, S, d_model) -> (N, T, d_model)."""
        out, weights = self.multihead_attn(x, memory, memory, attn_mask=attn_mask, key_padding_mask=key_padding_mask,
                                           need_weights=self.keep_weights)
        if self.keep_weights:
            self.last_cross_weights = weights
        return out


class _LayerStack(Module):
    """Layers applied in a row (given as a list, or ``num_layers`` copies of one layer), then an optional norm.

    The layers are registered as ``layers_0``, ``layers_1``, … (the names saved checkpoints use).
    """

    def __init__(self, layer: Module | list, num_layers: int | None, norm: Module | None) -> None:
        super().__init__()
        if isinstance(layer, list):
            layers = list(layer)
        else:
            n = check_positive_int("num_layers", 1 if num_layers is None else num_layers)
            layers = [layer] + [copy.deepcopy(layer) for _ in range(n - 1)]
        self.num_layers = len(layers)
        for i, each in enumerate(layers):
            self.add_module(f"layers_{i}", each)
        self.norm = norm

    @property
    def layers(self) -> list[Module]:
        return [self._modules[f"layers_{i}"] for i in range(self.num_layers)]


class TransformerEncoder(_LayerStack):
    """``num_layers`` encoder layers in a row (copies of ``encoder_layer``), then an optional final ``norm``.

    Copies start from the same weights, as in PyTorch; pass a list of layers
    for independent initialisations.  src: (N, L, d_model) -> same.
    """

    def __init__(self, encoder_layer: TransformerEncoderLayer | list, num_layers: int | None = None,
                 norm: Module | None = None) -> None:
        super().__init__(encoder_layer, num_layers, norm)

    def forward(self, src: Tensor, mask: Any = None, src_key_padding_mask: Any = None,
                is_causal: bool = False) -> Tensor:
        x = src
        for layer in self.layers:
            x = layer(x, mask, src_key_padding_mask, is_causal)
        return self.norm(x) if self.norm is not None else x


class TransformerDecoder(_LayerStack):
    """``num_layers`` decoder layers in a row, then an optional final ``norm``.  tgt: (N, T, d_model) -> same."""

    def __init__(self, decoder_layer: TransformerDecoderLayer | list, num_layers: int | None = None,
                 norm: Module | None = None) -> None:
        super().__init__(decoder_layer, num_layers, norm)

    def forward(self, tgt: Tensor, memory: Tensor, tgt_mask: Any = None, memory_mask: Any = None,
                tgt_key_padding_mask: Any = None, memory_key_padding_mask: Any = None,
                tgt_is_causal: bool = False) -> Tensor:
        x = tgt
        for layer in self.layers:
            x = layer(x, memory, tgt_mask, memory_mask, tgt_key_padding_mask, memory_key_padding_mask,
                      tgt_is_causal)
        return self.norm(x) if self.norm is not None else x
