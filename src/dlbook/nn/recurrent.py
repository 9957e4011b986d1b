"""Recurrent layers named and shaped as in ``torch.nn``: RNN, LSTM, GRU and their cells (§3.4).

Parameters per layer k: ``weight_ih_l{k}`` (G·H, input), ``weight_hh_l{k}``
(G·H, H), ``bias_ih_l{k}``, ``bias_hh_l{k}`` (G·H,), with the gate rows in
PyTorch's order (LSTM: i, f, g, o; GRU: r, z, n), all drawn from
U(−1/√H, 1/√H) — so a state dict copies straight into ``torch.nn.LSTM``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from dlbook import functional as F
from dlbook._checks import array_of, check_int, check_positive_int, check_rng
from dlbook.autograd import Tensor
from dlbook.functional.recurrent import GATES
from dlbook.nn.module import Module, Parameter


def _uniform(shape: tuple[int, ...], hidden: int, rng: np.random.Generator, dtype: Any) -> Parameter:
    bound = 1.0 / math.sqrt(hidden)
    return Parameter(rng.uniform(-bound, bound, size=shape).astype(dtype))


class _RecurrentBase(Module):
    """Shared by RNN, LSTM and GRU: parameters, input checks, the loop over layers."""

    cell = "rnn"

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = True, *, rng: np.random.Generator, dtype: Any = np.float64,
                 truncate: int | None = None) -> None:
        super().__init__()
        self.input_size = check_positive_int("input_size", input_size)
        self.hidden_size = check_positive_int("hidden_size", hidden_size)
        self.num_layers = check_positive_int("num_layers", num_layers)
        if batch_first is not True:
            raise ValueError("batch_first must be True: dlbook's recurrent layers take x as (N, T, input_size)")
        if truncate is not None:
            check_int("truncate", truncate, minimum=1)
        check_rng(rng)
        self.bias, self.batch_first, self.truncate = bool(bias), True, truncate
        gates = GATES[self.cell] * self.hidden_size
        for k in range(self.num_layers):
            size = self.input_size if k == 0 else self.hidden_size
            setattr(self, f"weight_ih_l{k}", _uniform((gates, size), self.hidden_size, rng, dtype))
            setattr(self, f"weight_hh_l{k}", _uniform((gates, self.hidden_size), self.hidden_size, rng, dtype))
            if self.bias:
                setattr(self, f"bias_ih_l{k}", _uniform((gates,), self.hidden_size, rng, dtype))
                setattr(self, f"bias_hh_l{k}", _uniform((gates,), self.hidden_size, rng, dtype))

    def layer_weights(self, k: int) -> tuple[Parameter, Parameter, Parameter | None, Parameter | None]:
        """(w_ih, w_hh, b_ih, b_hh) of layer k."""
        get = self._parameters.get
        return get(f"weight_ih_l{k}"), get(f"weight_hh_l{k}"), get(f"bias_ih_l{k}"), get(f"bias_hh_l{k}")

    def _check_input(self, x: Any) -> np.ndarray:
        ax = array_of(x)
        name = type(self).__name__
        if ax.ndim != 3:
            raise ValueError(f"{name}: x must have shape (N, T, input_size={self.input_size}), got {ax.shape}")
        if ax.shape[1] == 0:
            raise ValueError(f"{name}: x is an empty sequence (T = 0), got shape {ax.shape}")
        if ax.shape[0] == 0:                     # the fused backward cannot reshape an empty batch
            raise ValueError(f"{name}: x has batch size 0 (N = 0), got shape {ax.shape}")
        if ax.shape[2] != self.input_size:
            raise ValueError(f"{name}: x's last axis must be input_size={self.input_size}, got shape {ax.shape}")
        return ax

    def _check_state(self, name: str, s: Any, batch: int) -> None:
        want = (self.num_layers, batch, self.hidden_size)
        if s is not None and array_of(s).shape != want:
            raise ValueError(f"{type(self).__name__}: {name} must have shape (num_layers, N, hidden_size) = "
                             f"{want}, got {array_of(s).shape}")

    def extra_repr(self) -> str:
        return (f"{self.input_size}, {self.hidden_size}, num_layers={self.num_layers}, bias={self.bias}, "
                f"batch_first=True")


def _layer_state(s: Any, k: int) -> Any:
    """Layer k's slice of a (num_layers, N, H) state, or None."""
    if s is None:
        return None
    return s[k] if isinstance(s, Tensor) else np.asarray(s)[k]


class RNN(_RecurrentBase):
    """Elman RNN: hₜ = f(W_hh hₜ₋₁ + W_ih xₜ + b) per layer (eq-rnn); ``nonlinearity`` "tanh" or "relu".

    forward(x (N, T, input_size), h0 (num_layers, N, H) or None)
    -> (output (N, T, H) of the last layer, h_n (num_layers, N, H)).
    """

    cell = "rnn"

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, nonlinearity: str = "tanh",
                 bias: bool = True, batch_first: bool = True, *, rng: np.random.Generator,
                 dtype: Any = np.float64, truncate: int | None = None) -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, rng=rng, dtype=dtype,
                         truncate=truncate)
        self.nonlinearity = nonlinearity

    def forward(self, x: Any, h0: Any = None) -> tuple[Tensor, Tensor]:
        ax = self._check_input(x)
        self._check_state("h0", h0, ax.shape[0])
        finals = []
        for k in range(self.num_layers):
            x, h = F.rnn(x, _layer_state(h0, k), *self.layer_weights(k), nonlinearity=self.nonlinearity,
                         truncate=self.truncate)
            finals.append(h)
        return x, F.stack(finals, axis=0)


class LSTM(_RecurrentBase):
    """Long short-term memory (eq-lstm), gates i, f, g, o, stacked ``num_layers`` deep.

    forward(x (N, T, input_size), (h0, c0) each (num_layers, N, H), or None)
    -> (output (N, T, H), (h_n, c_n) each (num_layers, N, H)).
    """

    cell = "lstm"

    def forward(self, x: Any, state: Any = None) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        ax = self._check_input(x)
        if state is None:
            h0 = c0 = None
        elif isinstance(state, (tuple, list)) and len(state) == 2:
            h0, c0 = state
        else:
            raise TypeError(f"LSTM: state must be a pair (h0, c0) or None, got {type(state).__name__}")
        self._check_state("h0", h0, ax.shape[0])
        self._check_state("c0", c0, ax.shape[0])
        hs, cs = [], []
        for k in range(self.num_layers):
            x, h, c = F.lstm(x, _layer_state(h0, k), _layer_state(c0, k), *self.layer_weights(k),
                             truncate=self.truncate)
            hs.append(h)
            cs.append(c)
        return x, (F.stack(hs, axis=0), F.stack(cs, axis=0))


class GRU(_RecurrentBase):
    """Gated recurrent unit (eq-gru), gates r, z, n, stacked ``num_layers`` deep.

    forward(x (N, T, input_size), h0 (num_layers, N, H) or None)
    -> (output (N, T, H), h_n (num_layers, N, H)).
    """

    cell = "gru"

    def forward(self, x: Any, h0: Any = None) -> tuple[Tensor, Tensor]:
        ax = self._check_input(x)
        self._check_state("h0", h0, ax.shape[0])
        finals = []
        for k in range(self.num_layers):
            x, h = F.gru(x, _layer_state(h0, k), *self.layer_weights(k), truncate=self.truncate)
            finals.append(h)
        return x, F.stack(finals, axis=0)


# ---------------------------------------------------------------------------
# cells: one step, parameters weight_ih, weight_hh, bias_ih, bias_hh as in torch.nn.*Cell
# ---------------------------------------------------------------------------
class _CellBase(Module):
    cell = "rnn"

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, *, rng: np.random.Generator,
                 dtype: Any = np.float64) -> None:
        super().__init__()
        self.input_size = check_positive_int("input_size", input_size)
        self.hidden_size = check_positive_int("hidden_size", hidden_size)
        check_rng(rng)
        gates = GATES[self.cell] * self.hidden_size
        self.weight_ih = _uniform((gates, self.input_size), self.hidden_size, rng, dtype)
        self.weight_hh = _uniform((gates, self.hidden_size), self.hidden_size, rng, dtype)
        self.bias_ih = _uniform((gates,), self.hidden_size, rng, dtype) if bias else None
        self.bias_hh = _uniform((gates,), self.hidden_size, rng, dtype) if bias else None

    def _zeros(self, x: Any) -> Tensor:
        ax = array_of(x)
        if ax.ndim != 2:
            raise ValueError(f"{type(self).__name__}: x must have shape (N, input_size={self.input_size}), "
                             f"got {ax.shape}")
        return Tensor(np.zeros((ax.shape[0], self.hidden_size), dtype=ax.dtype))

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}, bias={self.bias_ih is not None}"


class RNNCell(_CellBase):
    """One step h′ = f(W_hh h + W_ih x + b) (eq-rnn).  forward(x (N, input), h (N, H) or None) -> (N, H)."""

    cell = "rnn"

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, nonlinearity: str = "tanh", *,
                 rng: np.random.Generator, dtype: Any = np.float64) -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
        super().__init__(input_size, hidden_size, bias, rng=rng, dtype=dtype)
        self.nonlinearity = nonlinearity

    def forward(self, x: Any, h: Any = None) -> Tensor:
        h = self._zeros(x) if h is None else h
        return F.rnn_cell(x, h, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh, self.nonlinearity)


class LSTMCell(_CellBase):
    """One LSTM step (eq-lstm).  forward(x (N, input), (h, c) or None) -> (h′, c′), each (N, H)."""

    cell = "lstm"

    def forward(self, x: Any, state: Any = None) -> tuple[Tensor, Tensor]:
        if state is None:
            h = c = self._zeros(x)
        elif isinstance(state, (tuple, list)) and len(state) == 2:
            h, c = state
        else:
            raise TypeError(f"LSTMCell: state must be a pair (h, c) or None, got {type(state).__name__}")
        return F.lstm_cell(x, h, c, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)


class GRUCell(_CellBase):
    """One GRU step (eq-gru).  forward(x (N, input), h (N, H) or None) -> (N, H)."""

    cell = "gru"

    def forward(self, x: Any, h: Any = None) -> Tensor:
        h = self._zeros(x) if h is None else h
        return F.gru_cell(x, h, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)
