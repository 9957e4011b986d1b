"""Recurrent networks (§3.4, §4.4): RNN, LSTM and GRU, one step and whole sequences.

What the book teaches lives here, written as the formulas read:

* **cells** — :func:`rnn_cell`, :func:`lstm_cell`, :func:`gru_cell` — one time
  step, the gate formulas with the ordinary autograd ops (their gradients come
  from autograd);
* **sequences as loops of cells** — :func:`rnn_reference`, :func:`lstm_reference`,
  :func:`gru_reference` — hₜ for t = 1..T by calling the cell T times; autograd
  through the unrolled loop is backpropagation through time (eq-bptt).

The sequence functions the layers call, :func:`rnn`, :func:`lstm` and :func:`gru`,
check their arguments here and run the fused kernels of
:mod:`dlbook.kernels.recurrent` (the loop over time inside one op with a
hand-written backward, laid out for speed); ``tests/test_fast_equals_readable.py``
holds them equal to the loops of cells, forward and backward.

Shapes are batch-first as in PyTorch: x: (N, T, input_size), states
(N, hidden_size).  Weights are PyTorch's: ``w_ih``: (G·H, input_size),
``w_hh``: (G·H, H), biases (G·H,), with G = 1 (RNN), 4 (LSTM, gates i, f, g, o)
or 3 (GRU, gates r, z, n).

**Truncated BPTT.**  ``truncate=k`` cuts the recurrent gradient at the
boundaries t = k, 2k, 3k, … (0-based step index): the forward values are
unchanged, and the gradient is exactly what you get by running the sequence in
chunks of k steps and *detaching* the state between chunks (stateful
truncated BPTT).  The last chunk's gradient therefore reaches at most k steps
back, and only the first chunk's gradient reaches the initial state.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from dlbook._checks import array_of, check_int
from dlbook.autograd import Tensor
from dlbook.functional.activations import sigmoid, tanh
from dlbook.functional.linalg import linear
from dlbook.functional.shape import stack
from dlbook.kernels import recurrent as fused

GATES = {"rnn": 1, "lstm": 4, "gru": 3}

# ---------------------------------------------------------------------------
# cells: one time step, as the formulas read
# ---------------------------------------------------------------------------
def rnn_cell(x: Any, h: Any, w_ih: Any, w_hh: Any, b_ih: Any = None, b_hh: Any = None,
             nonlinearity: str = "tanh") -> Tensor:
    """One step of the plain RNN: hₜ = f(W_hh hₜ₋₁ + W_xh xₜ + b_h).  Implements (eq-rnn).

    x: (N, input_size), h: (N, H), w_ih: (H, input_size), w_hh: (H, H) -> (N, H).
    ``nonlinearity`` f is "tanh" or "relu"; the bias b_h is b_ih + b_hh (PyTorch keeps two).
    """
    _check_cell("rnn_cell", x, h, None, w_ih, w_hh, b_ih, b_hh, 1)
    z = linear(x, w_ih, b_ih) + linear(h, w_hh, b_hh)
    return _activation(nonlinearity)(z)


def lstm_cell(x: Any, h: Any, c: Any, w_ih: Any, w_hh: Any, b_ih: Any = None,
              b_hh: Any = None) -> tuple[Tensor, Tensor]:
    """One LSTM step; returns (hₜ, cₜ).  Implements (eq-lstm).

    iₜ = σ(W_ii xₜ + W_hi hₜ₋₁ + b_i)      input gate
    fₜ = σ(W_if xₜ + W_hf hₜ₋₁ + b_f)      forget gate
    gₜ = tanh(W_ig xₜ + W_hg hₜ₋₁ + b_g)   candidate cell
    oₜ = σ(W_io xₜ + W_ho hₜ₋₁ + b_o)      output gate
    cₜ = fₜ ⊙ cₜ₋₁ + iₜ ⊙ gₜ,   hₜ = oₜ ⊙ tanh(cₜ)

    x: (N, input_size), h, c: (N, H), w_ih: (4H, input_size), w_hh: (4H, H),
    rows stacked in PyTorch's order i, f, g, o.
    """
    hidden = _check_cell("lstm_cell", x, h, c, w_ih, w_hh, b_ih, b_hh, 4)
    gates = linear(x, w_ih, b_ih) + linear(h, w_hh, b_hh)
    i = sigmoid(gates[:, 0 * hidden:1 * hidden])
    f = sigmoid(gates[:, 1 * hidden:2 * hidden])
    g = tanh(gates[:, 2 * hidden:3 * hidden])
    o = sigmoid(gates[:, 3 * hidden:4 * hidden])
    c_new = f * c + i * g
    return o * tanh(c_new), c_new


def gru_cell(x: Any, h: Any, w_ih: Any, w_hh: Any, b_ih: Any = None, b_hh: Any = None) -> Tensor:
    """One GRU step.  Implements (eq-gru).

    rₜ = σ(W_ir xₜ + b_ir + W_hr hₜ₋₁ + b_hr)            reset gate
    zₜ = σ(W_iz xₜ + b_iz + W_hz hₜ₋₁ + b_hz)            update gate
    nₜ = tanh(W_in xₜ + b_in + rₜ ⊙ (W_hn hₜ₋₁ + b_hn))  candidate
    hₜ = (1 − zₜ) ⊙ nₜ + zₜ ⊙ hₜ₋₁

    x: (N, input_size), h: (N, H), w_ih: (3H, input_size), w_hh: (3H, H),
    rows stacked in PyTorch's order r, z, n.
    """
    hidden = _check_cell("gru_cell", x, h, None, w_ih, w_hh, b_ih, b_hh, 3)
    gi = linear(x, w_ih, b_ih)
    gh = linear(h, w_hh, b_hh)
    r = sigmoid(gi[:, :hidden] + gh[:, :hidden])
    z = sigmoid(gi[:, hidden:2 * hidden] + gh[:, hidden:2 * hidden])
    n = tanh(gi[:, 2 * hidden:] + r * gh[:, 2 * hidden:])
    return (1.0 - z) * n + z * h


def _activation(nonlinearity: str) -> Any:
    from dlbook.functional.activations import relu

    if nonlinearity == "tanh":
        return tanh
    if nonlinearity == "relu":
        return relu
    raise ValueError(f"nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")


# ---------------------------------------------------------------------------
# input checks shared by cells and sequences
# ---------------------------------------------------------------------------
def _check_weights(where: str, w_ih: Any, w_hh: Any, b_ih: Any, b_hh: Any, gates: int) -> tuple[int, int]:
    """(input_size, hidden_size) implied by the weights, or a ValueError naming the bad one."""
    si, sh = array_of(w_ih).shape, array_of(w_hh).shape
    if len(sh) != 2 or sh[0] != gates * sh[1]:
        raise ValueError(f"{where}: w_hh must have shape ({gates}·hidden_size, hidden_size), got {sh}")
    hidden = sh[1]
    if len(si) != 2 or si[0] != gates * hidden:
        raise ValueError(f"{where}: w_ih must have shape ({gates * hidden}, input_size), got {si}")
    for name, b in (("b_ih", b_ih), ("b_hh", b_hh)):
        if b is not None and array_of(b).shape != (gates * hidden,):
            raise ValueError(f"{where}: {name} must have shape ({gates * hidden},), got {array_of(b).shape}")
    return si[1], hidden


def _check_state(where: str, name: str, s: Any, batch: int, hidden: int) -> None:
    if s is not None and array_of(s).shape != (batch, hidden):
        raise ValueError(f"{where}: {name} must have shape (N, hidden_size) = ({batch}, {hidden}), "
                         f"got {array_of(s).shape}")


def _check_cell(where: str, x: Any, h: Any, c: Any, w_ih: Any, w_hh: Any, b_ih: Any, b_hh: Any,
                gates: int) -> int:
    size, hidden = _check_weights(where, w_ih, w_hh, b_ih, b_hh, gates)
    sx = array_of(x).shape
    if len(sx) != 2 or sx[1] != size:
        raise ValueError(f"{where}: x must have shape (N, input_size={size}), got {sx}")
    _check_state(where, "h", h, sx[0], hidden)
    if gates == 4:
        _check_state(where, "c", c, sx[0], hidden)
    return hidden


def check_sequence(where: str, x: Any, h0: Any, c0: Any, w_ih: Any, w_hh: Any, b_ih: Any, b_hh: Any,
                   gates: int, truncate: int | None) -> None:
    """Check a sequence op's x (N, T, I), states, weights of ``gates`` blocks and truncate; errors name ``where``."""
    size, hidden = _check_weights(where, w_ih, w_hh, b_ih, b_hh, gates)
    ax = array_of(x)
    if ax.ndim != 3:
        raise ValueError(f"{where}: x must have shape (N, T, input_size), got {ax.shape}")
    if ax.shape[1] == 0:
        raise ValueError(f"{where}: x is an empty sequence (T = 0), got shape {ax.shape}")
    if ax.shape[2] != size:
        raise ValueError(f"{where}: x's last axis must be input_size={size}, got shape {ax.shape}")
    if ax.dtype.kind != "f":
        raise TypeError(f"{where}: x must hold floating-point numbers, got dtype {ax.dtype}")
    _check_state(where, "h0", h0, ax.shape[0], hidden)
    _check_state(where, "c0", c0, ax.shape[0], hidden)
    if truncate is not None:
        check_int(f"{where}: truncate", truncate, minimum=1)


# ---------------------------------------------------------------------------
# sequences as loops of cells: the readable twins of the fused kernels
# ---------------------------------------------------------------------------
State = tuple[Any, ...]


def _unroll(x: Any, state: State, cell: Callable[[Any, State], State],
            truncate: int | None) -> tuple[Tensor, State]:
    """state ← cell(xₜ, state) for t = 0..T−1; returns (every step's h stacked (N, T, H), the last state).

    ``state`` is (h,) or (h, c), h first.  At a truncation boundary the state is
    detached: the values go on, the gradient stops there (see the module docstring).
    """
    outputs = []
    for t in range(array_of(x).shape[1]):
        if truncate is not None and t > 0 and t % truncate == 0:
            state = tuple(s.detach() for s in state)
        state = cell(x[:, t], state)
        outputs.append(state[0])
    return stack(outputs, axis=1), state


def _initial(s: Any, x: Any, w_hh: Any) -> Tensor:
    """A state given as None starts at zeros (N, H) in the dtype x and the weights make together."""
    if s is not None:
        return s if isinstance(s, Tensor) else Tensor(s)
    ax, aw = array_of(x), array_of(w_hh)
    return Tensor(np.zeros((ax.shape[0], aw.shape[1]), dtype=np.result_type(ax.dtype, aw.dtype)))


def rnn_reference(x: Any, h0: Any, w_ih: Any, w_hh: Any, b_ih: Any = None, b_hh: Any = None,
                  nonlinearity: str = "tanh", truncate: int | None = None) -> tuple[Tensor, Tensor]:
    """:func:`rnn` as a loop of :func:`rnn_cell` steps; returns (output (N, T, H), h_T (N, H)).

    hₜ = f(W_hh hₜ₋₁ + W_xh xₜ + b_h) for t = 1..T, one cell per step; the gradient is
    autograd through the unrolled loop.  Same arguments and results as :func:`rnn`.
    """
    _activation(nonlinearity)
    check_sequence("rnn_reference", x, h0, None, w_ih, w_hh, b_ih, b_hh, 1, truncate)
    out, (h,) = _unroll(x, (_initial(h0, x, w_hh),),
                        lambda xt, s: (rnn_cell(xt, s[0], w_ih, w_hh, b_ih, b_hh, nonlinearity),), truncate)
    return out, h


def lstm_reference(x: Any, h0: Any, c0: Any, w_ih: Any, w_hh: Any, b_ih: Any = None, b_hh: Any = None,
                   truncate: int | None = None) -> tuple[Tensor, Tensor, Tensor]:
    """:func:`lstm` as a loop of :func:`lstm_cell` steps; returns (output (N, T, H), h_T, c_T (N, H)).

    (hₜ, cₜ) = lstm_cell(xₜ, hₜ₋₁, cₜ₋₁) for t = 1..T; the gradient is autograd through
    the unrolled loop, through both h and c.  Same arguments and results as :func:`lstm`.
    """
    check_sequence("lstm_reference", x, h0, c0, w_ih, w_hh, b_ih, b_hh, 4, truncate)
    start = (_initial(h0, x, w_hh), _initial(c0, x, w_hh))
    out, (h, c) = _unroll(x, start, lambda xt, s: lstm_cell(xt, s[0], s[1], w_ih, w_hh, b_ih, b_hh), truncate)
    return out, h, c


def gru_reference(x: Any, h0: Any, w_ih: Any, w_hh: Any, b_ih: Any = None, b_hh: Any = None,
                  truncate: int | None = None) -> tuple[Tensor, Tensor]:
    """:func:`gru` as a loop of :func:`gru_cell` steps; returns (output (N, T, H), h_T (N, H)).

    hₜ = gru_cell(xₜ, hₜ₋₁) for t = 1..T; the gradient is autograd through the unrolled
    loop.  Same arguments and results as :func:`gru`.
    """
    check_sequence("gru_reference", x, h0, None, w_ih, w_hh, b_ih, b_hh, 3, truncate)
    out, (h,) = _unroll(x, (_initial(h0, x, w_hh),),
                        lambda xt, s: (gru_cell(xt, s[0], w_ih, w_hh, b_ih, b_hh),), truncate)
    return out, h


# ---------------------------------------------------------------------------
# the sequence functions the layers call: checked here, run by the fused kernels
# ---------------------------------------------------------------------------
def rnn(x: Any, h0: Any, w_ih: Any, w_hh: Any, b_ih: Any = None, b_hh: Any = None, nonlinearity: str = "tanh",
        truncate: int | None = None) -> tuple[Tensor, Tensor]:
    """A plain RNN over a whole sequence; returns (output (N, T, H), h_T (N, H)).

    Implements (eq-rnn) for every step, hₜ = f(W_hh hₜ₋₁ + W_xh xₜ + b_h), and its
    gradient by backpropagation through time (eq-bptt).  x: (N, T, input_size);
    h0: (N, H) or None (zeros); w_ih: (H, input_size); w_hh: (H, H); biases (H,) or
    None.  ``truncate``: see the module docstring (stateful chunks of k steps).
    Runs the fused kernel; its readable twin is :func:`rnn_reference`.
    """
    _activation(nonlinearity)
    check_sequence("rnn", x, h0, None, w_ih, w_hh, b_ih, b_hh, 1, truncate)
    return fused.rnn_sequence(x, h0, w_ih, w_hh, b_ih, b_hh, nonlinearity, truncate)


def lstm(x: Any, h0: Any, c0: Any, w_ih: Any, w_hh: Any, b_ih: Any = None, b_hh: Any = None,
         truncate: int | None = None) -> tuple[Tensor, Tensor, Tensor]:
    """An LSTM over a whole sequence; returns (output (N, T, H), h_T (N, H), c_T (N, H)).

    Implements (eq-lstm) for every step and its gradient by backpropagation
    through time (eq-bptt), through both the hidden state and the cell state.
    x: (N, T, input_size); h0, c0: (N, H) or None (zeros); w_ih: (4H, input_size),
    w_hh: (4H, H) in PyTorch's gate order i, f, g, o; biases (4H,) or None.
    ``truncate``: see the module docstring (stateful chunks of k steps).
    Runs the fused kernel; its readable twin is :func:`lstm_reference`.
    """
    check_sequence("lstm", x, h0, c0, w_ih, w_hh, b_ih, b_hh, 4, truncate)
    return fused.lstm_sequence(x, h0, c0, w_ih, w_hh, b_ih, b_hh, truncate)


def gru(x: Any, h0: Any, w_ih: Any, w_hh: Any, b_ih: Any = None, b_hh: Any = None,
        truncate: int | None = None) -> tuple[Tensor, Tensor]:
    """A GRU over a whole sequence; returns (output (N, T, H), h_T (N, H)).

    Implements (eq-gru) for every step and its gradient by backpropagation
    through time (eq-bptt).  x: (N, T, input_size); h0: (N, H) or None (zeros);
    w_ih: (3H, input_size), w_hh: (3H, H) in PyTorch's gate order r, z, n;
    biases (3H,) or None.  ``truncate``: see the module docstring.
    Runs the fused kernel; its readable twin is :func:`gru_reference`.
    """
    check_sequence("gru", x, h0, None, w_ih, w_hh, b_ih, b_hh, 3, truncate)
    return fused.gru_sequence(x, h0, w_ih, w_hh, b_ih, b_hh, truncate)
