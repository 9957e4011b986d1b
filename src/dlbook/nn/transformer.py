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


class _FeedForward(Module):
    """What both layers share: the position-wise feed-forward part, linear2(dropout(act(linear1(x)))),
    the self-attention sub-layer (which keeps its weights for display when asked), and one LayerNorm and
    one Dropout per residual sub-layer (``norm1``, ``dropout1``, … as PyTorch names them)."""

    def _init_ff(self, d_model: int, dim_feedforward: int, dropout: float, activation: str,
                 rng: np.random.Generator, dtype: Any) -> None:
        self.linear1 = Linear(d_model, dim_feedforward, rng=rng, dtype=dtype)
        self.dropout = Dropout(dropout, rng=rng)
        self.linear2 = Linear(dim_feedforward, d_model, rng=rng, dtype=dtype)
        self.activation = _activation(activation)
        self.keep_weights = False

    def _init_residuals(self, sublayers: int, d_model: int, dropout: float, norm_first: bool,
                        rng: np.random.Generator, dtype: Any) -> None:
        for k in range(1, sublayers + 1):
            setattr(self, f"norm{k}", LayerNorm(d_model, dtype=dtype))
        for k in range(1, sublayers + 1):
            setattr(self, f"dropout{k}", Dropout(dropout, rng=rng))
        self.norm_first = bool(norm_first)
        self.last_attn_weights: np.ndarray | None = None

    def _ff(self, x: Tensor) -> Tensor:
        return self.linear2(self.dropout(self.activation(self.linear1(x))))

    def _sa(self, x: Tensor, mask: Any, padding: Any, is_causal: bool) -> Tensor:
        out, w = self.self_attn(x, attn_mask=mask, key_padding_mask=padding, is_causal=is_causal,
                                need_weights=self.keep_weights)
        if self.keep_weights:
            self.last_attn_weights = w
        return self.dropout1(out)


class TransformerEncoderLayer(_FeedForward):
    """Self-attention + feed-forward, each in a residual connection with LayerNorm.

    src: (N, L, d_model) -> (N, L, d_model).  Post-LN (default):
    x = norm1(x + SA(x)); x = norm2(x + FF(x)).  Pre-LN (``norm_first=True``):
    x = x + SA(norm1(x)); x = x + FF(norm2(x)).  With ``norm_first=True``,
    ``activation="gelu"`` and ``is_causal=True`` it is a GPT block.  When
    ``keep_weights`` is True the last attention weights (N, H, L, L) are kept in
    ``last_attn_weights``.
    """

    def __init__(self, d_model: int, nhead: int, dim_feedforward: int = 2048, dropout: float = 0.0,
                 activation: str = "relu", norm_first: bool = False, *, rng: np.random.Generator,
                 dtype: Any = np.float64) -> None:
        super().__init__()
        self.self_attn = MultiheadAttention(d_model, nhead, dropout=dropout, rng=rng, dtype=dtype)
        self._init_ff(d_model, dim_feedforward, dropout, activation, rng, dtype)
        self._init_residuals(2, d_model, dropout, norm_first, rng, dtype)

    def forward(self, src: Tensor, src_mask: Any = None, src_key_padding_mask: Any = None,
                is_causal: bool = False) -> Tensor:
        x = src
        if self.norm_first:
            x = x + self._sa(self.norm1(x), src_mask, src_key_padding_mask, is_causal)
            return x + self.dropout2(self._ff(self.norm2(x)))
        x = self.norm1(x + self._sa(x, src_mask, src_key_padding_mask, is_causal))
        return self.norm2(x + self.dropout2(self._ff(x)))


class TransformerDecoderLayer(_FeedForward):
    """Masked self-attention, encoder–decoder (cross) attention, feed-forward; each residual + LayerNorm.

    tgt: (N, T, d_model), memory: (N, S, d_model) -> (N, T, d_model).  The
    queries of ``multihead_attn`` come from the decoder, its keys and values from
    the encoder's output ``memory``.  When ``keep_weights`` is True the last
    weights are kept in ``last_attn_weights`` (self, (N, H, T, T)) and
    ``last_cross_weights`` (cross, (N, H, T, S)).
    """

    def __init__(self, d_model: int, nhead: int, dim_feedforward: int = 2048, dropout: float = 0.0,
                 activation: str = "relu", norm_first: bool = False, *, rng: np.random.Generator,
                 dtype: Any = np.float64) -> None:
        super().__init__()
        self.self_attn = MultiheadAttention(d_model, nhead, dropout=dropout, rng=rng, dtype=dtype)
        self.multihead_attn = MultiheadAttention(d_model, nhead, dropout=dropout, rng=rng, dtype=dtype)
        self._init_ff(d_model, dim_feedforward, dropout, activation, rng, dtype)
        self._init_residuals(3, d_model, dropout, norm_first, rng, dtype)
        self.last_cross_weights: np.ndarray | None = None

    def _ca(self, x: Tensor, memory: Tensor, mask: Any, padding: Any) -> Tensor:
        out, w = self.multihead_attn(x, memory, memory, attn_mask=mask, key_padding_mask=padding,
                                     need_weights=self.keep_weights)
        if self.keep_weights:
            self.last_cross_weights = w
        return self.dropout2(out)

    def forward(self, tgt: Tensor, memory: Tensor, tgt_mask: Any = None, memory_mask: Any = None,
                tgt_key_padding_mask: Any = None, memory_key_padding_mask: Any = None,
                tgt_is_causal: bool = False) -> Tensor:
        x = tgt
        if self.norm_first:
            x = x + self._sa(self.norm1(x), tgt_mask, tgt_key_padding_mask, tgt_is_causal)
            x = x + self._ca(self.norm2(x), memory, memory_mask, memory_key_padding_mask)
            return x + self.dropout3(self._ff(self.norm3(x)))
        x = self.norm1(x + self._sa(x, tgt_mask, tgt_key_padding_mask, tgt_is_causal))
        x = self.norm2(x + self._ca(x, memory, memory_mask, memory_key_padding_mask))
        return self.norm3(x + self.dropout3(self._ff(x)))


def _clones(layer: Module, num_layers: int) -> list[Module]:
    check_positive_int("num_layers", num_layers)
    return [layer] + [copy.deepcopy(layer) for _ in range(num_layers - 1)]


class _LayerStack(Module):
    """Layers applied in a row (given as a list, or ``num_layers`` copies of one layer), then an optional norm."""

    def __init__(self, layer: Module | list, num_layers: int | None, norm: Module | None) -> None:
        super().__init__()
        layers = list(layer) if isinstance(layer, list) else _clones(layer, num_layers or 1)
        self.num_layers = len(layers)
        for i, each in enumerate(layers):
            setattr(self, f"layers_{i}", each)
        self.norm = norm

    @property
    def layers(self) -> list[Module]:
        return [getattr(self, f"layers_{i}") for i in range(self.num_layers)]


class TransformerEncoder(_LayerStack):
    """``num_layers`` encoder layers in a row (copies of ``encoder_layer``), then an optional final ``norm``.

    Copies start from the same weights, as in PyTorch; build the layers yourself
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
