"""Recurrent networks (§3.4, §4.4): RNN, LSTM and GRU, one step and whole sequences.

Two forms of each network live here:

* **cells** — :func:`rnn_cell`, :func:`lstm_cell`, :func:`gru_cell` — one time
  step, written as the gate formulas with the ordinary autograd ops, so the
  book can show them line by line (their gradients come from autograd);
* **fused sequence ops** — :func:`rnn`, :func:`lstm`, :func:`gru` — the loop
  over time inside one :class:`Function` with a hand-written backpropagation
  through time (eq-bptt).  They are built for speed in float32: each step is
  one matrix product [b | W_ih | W_hh] [1; xₜ; hₜ₋₁] plus elementwise work on
  contiguous (features × batch) blocks, the backward loop holds only
  W_hhᵀ ∂L/∂zₜ and elementwise work, and after it every weight gradient comes
  out of one matrix product over all steps (see "the layout inside the fused
  ops" below).

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

from typing import Any

import numpy as np

from dlbook._checks import array_of
from dlbook.autograd import Context, Function, Tensor
from dlbook.functional._scratch import scratch
from dlbook.functional.activations import sigmoid, tanh
from dlbook.functional.linalg import linear

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


def _check_sequence(where: str, x: Any, h0: Any, c0: Any, w_ih: Any, w_hh: Any, b_ih: Any, b_hh: Any,
                    gates: int, truncate: int | None) -> None:
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
    if truncate is not None and (isinstance(truncate, bool) or not isinstance(truncate, (int, np.integer))
                                 or truncate < 1):
        raise ValueError(f"{where}: truncate must be a positive int or None, got {truncate!r}")


def _cut(t: int, truncate: int | None) -> bool:
    """True if the gradient must not flow from step t back to step t − 1 (a chunk boundary)."""
    return truncate is not None and t > 0 and t % truncate == 0


# ---------------------------------------------------------------------------
# the layout inside the fused ops
# ---------------------------------------------------------------------------
# Inside the loop over time every array is kept *step-major, features × batch*:
# one block per step, with the features as rows and the N samples as columns
# (pre-activations (T, G·H, N), cell states (T, H, N)).  One step's block is
# then contiguous, each gate's rows are one contiguous slice of it (so the
# elementwise gate work never runs on strided views), and the recurrent product
# W (G·H, K) @ block (K, N) has both operands contiguous.  On the benchmark's
# LSTM step (H = 128, N = 32) OpenBLAS takes 22 µs for W_hh (4H, H) @ h (H, N)
# against 41 µs for h (N, H) @ W_hhᵀ, whose transposed operand takes a slower
# kernel.  Only the entry (x) and the exit (the output) are transposed.
#
# The inputs of step t are stacked as one block [1; xₜ; hₜ₋₁] (see _stacked_inputs), so
# W_hh hₜ₋₁ + W_ih xₜ + b is one product with the stacked matrix [b | W_ih | W_hh], and after
# the backward loop all three weight gradients come out of one product as well.


def _stacked_inputs(x: np.ndarray, h0: np.ndarray | None, hidden: int, dtype: Any) -> np.ndarray:
    """The buffer the loop reads and writes: (T + 1, 1 + I + H, N), block t = [1; xₜ; hₜ₋₁].

    Block t holds what step t reads (steps counted from 0 here): row 0 is ones
    (it picks up the bias), rows 1..I the step's inputs (one column per sample)
    and the last H rows the state before the step — ``h0`` (None: zeros) in
    block 0.  Step t writes its new state into the last H rows of block t + 1,
    so those rows of blocks 1..T are the outputs; the last block's other rows
    are unused.
    """
    n, t_len, size = x.shape
    xh = np.empty((t_len + 1, 1 + size + hidden, n), dtype=dtype)
    xh[:, 0] = 1
    xh[:t_len, 1:1 + size] = x.transpose(1, 2, 0)
    xh[0, 1 + size:] = 0 if h0 is None else h0.T
    return xh


def _stacked_weights(bias: np.ndarray | None, w_ih: np.ndarray, w_hh: np.ndarray | None, dtype: Any) -> np.ndarray:
    """[b | W_ih | W_hh] (G·H, 1 + I + H), the matrix that multiplies a block of :func:`_stacked_inputs`.

    ``bias`` None gives a zero column; ``w_hh`` None leaves it out ([b | W_ih], for
    the rows 0..I of a block).
    """
    size = w_ih.shape[1]
    hidden = 0 if w_hh is None else w_hh.shape[1]
    w = np.empty((w_ih.shape[0], 1 + size + hidden), dtype=dtype)
    w[:, 0] = 0 if bias is None else bias
    w[:, 1:1 + size] = w_ih
    if w_hh is not None:
        w[:, 1 + size:] = w_hh
    return w


def _transposed(a: np.ndarray, axes: tuple[int, ...], tag: str) -> np.ndarray:
    """``a.transpose(axes)`` copied into a contiguous scratch buffer (a temporary of one call)."""
    view = a.transpose(axes)
    out = scratch(tag, view.shape, a.dtype)
    np.copyto(out, view)
    return out


def _features_by_batch(g: np.ndarray, tag: str) -> np.ndarray:
    """A batch-first (N, T, D) array as step-major (T, D, N), copied into a scratch buffer."""
    return _transposed(g, (1, 2, 0), tag)


def _batch_first(states: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """Step-major (T, H, N) states as batch-first (N, T, H), written into ``out`` or a new array.

    Done as two copies, (T, H, N) -> (T, N, H) -> (N, T, H): each reads whole rows,
    and together they are 1.7× faster than one copy that gathers every element.
    """
    t_len, hidden, n = states.shape
    steps = _transposed(states, (0, 2, 1), "rnn.batch_first")
    if out is None:
        out = np.empty((n, t_len, hidden), dtype=states.dtype)
    np.copyto(out, steps.transpose(1, 0, 2))
    return out


def _sigmoid_(z: np.ndarray) -> np.ndarray:
    """σ(z) = ½ tanh(z/2) + ½, in place (no overflow, float32 stays float32)."""
    z *= 0.5
    np.tanh(z, out=z)
    z *= 0.5
    z += 0.5
    return z


def _weight_grads(dz: np.ndarray, xh: np.ndarray, w_ih: np.ndarray, need_dx: bool,
                  dz_h: np.ndarray | None = None) -> tuple:
    """After the backward loop: every gradient that is a sum over time, from one matrix product.

    dz: (T, G·H, N), the gradient of the pre-activations fed by the whole block
    [1; xₜ; hₜ₋₁] (unless dz_h is given: then dz is fed by [1; xₜ] and dz_h by
    hₜ₋₁ and the hidden-side bias, as in the GRU); xh: the :func:`_stacked_inputs`
    buffer.  With the steps laid side by side as columns,
    [∂L/∂b | ∂L/∂W_ih | ∂L/∂W_hh] = Σₜ dzₜ [1; xₜ; hₜ₋₁]ᵀ is one product.
    Returns (dx (N, T, I) or None, dW_ih, dW_hh, db_ih, db_hh).
    """
    t_len, gh, n = dz.shape
    split = 1 + w_ih.shape[1]                     # columns of [1; x] in a row of ``rows``

    def columns(a: np.ndarray, tag: str) -> np.ndarray:       # (T, G·H, N) -> (G·H, T·N)
        return _transposed(a, (1, 0, 2), tag).reshape(gh, t_len * n)

    # row t·N + n: [1; xₜ; hₜ₋₁] of sample n
    rows = _transposed(xh[:-1], (0, 2, 1), "rnn.rows").reshape(t_len * n, -1)
    flat = columns(dz, "rnn.dz")
    if dz_h is None:
        dw = flat @ rows                                  # [db | dW_ih | dW_hh]
        db_ih = db_hh = dw[:, 0].copy()
        dw_ih, dw_hh = dw[:, 1:split].copy(), dw[:, split:].copy()
    else:
        dw = flat @ rows[:, :split]                       # [db_ih | dW_ih]
        db_ih, dw_ih = dw[:, 0].copy(), dw[:, 1:].copy()
        flat_h = columns(dz_h, "rnn.dz_h")
        dw_hh = flat_h @ rows[:, split:]
        db_hh = flat_h @ rows[:, 0]
    dx = (flat.T @ w_ih).reshape(t_len, n, -1).transpose(1, 0, 2) if need_dx else None
    return dx, dw_ih, dw_hh, db_ih, db_hh


# ---------------------------------------------------------------------------
# plain RNN over a sequence
# ---------------------------------------------------------------------------
class RNNSequence(Function):
    """hₜ = f(W_hh hₜ₋₁ + W_ih xₜ + b) for t = 1..T (eq-rnn); the backward pass implements (eq-bptt).

    Backward, with δₜ = ∂L/∂hₜ (from the output at t plus from step t + 1):
    ∂L/∂zₜ = δₜ ⊙ f′(zₜ),   δₜ₋₁ += W_hhᵀ ∂L/∂zₜ,
    ∂L/∂W_hh = Σₜ ∂L/∂zₜ hₜ₋₁ᵀ,  ∂L/∂W_ih = Σₜ ∂L/∂zₜ xₜᵀ.
    """

    @staticmethod
    def forward(ctx: Context, x: np.ndarray, h0: np.ndarray | None, w_ih: np.ndarray, w_hh: np.ndarray,
                b_ih: np.ndarray | None, b_hh: np.ndarray | None, nonlinearity: str,
                truncate: int | None) -> np.ndarray:
        t_len, size = x.shape[1:]
        hidden = w_hh.shape[1]
        dtype = np.result_type(x.dtype, w_hh.dtype)
        xh = _stacked_inputs(x, h0, hidden, dtype)        # block t = [1; xₜ; hₜ₋₁]
        w = _stacked_weights(_sum_biases(b_ih, b_hh), w_ih, w_hh, dtype)
        hs = xh[:, 1 + size:]                              # (T + 1, H, N) view: h₀..h_T
        relu = nonlinearity == "relu"
        for t in range(t_len):
            h = hs[t + 1]
            np.matmul(w, xh[t], out=h)                     # zₜ = [b | W_ih | W_hh] [1; xₜ; hₜ₋₁]
            if relu:
                np.maximum(h, 0, out=h)
            else:
                np.tanh(h, out=h)
        ctx.save(xh, w_ih, w_hh, relu, truncate)
        return _batch_first(hs[1:])

    @staticmethod
    def backward(ctx: Context, g: np.ndarray) -> tuple:
        xh, w_ih, w_hh, relu, truncate = ctx.saved
        hs = xh[:, 1 + w_ih.shape[1]:]
        t_len = hs.shape[0] - 1
        dout = _features_by_batch(g, "rnn.dout")
        # f'(z) from the outputs: tanh' = 1 − h², relu' = [h > 0]; vectorised over all steps.
        slope = scratch("rnn.slope", hs[1:].shape, hs.dtype)
        if relu:
            np.greater(hs[1:], 0, out=slope)
        else:
            np.multiply(hs[1:], hs[1:], out=slope)
            np.subtract(1, slope, out=slope)
        dz = scratch("rnn.dz_steps", slope.shape, slope.dtype)
        w_hh_t = np.ascontiguousarray(w_hh.T)
        dh = np.zeros_like(hs[0])
        for t in range(t_len - 1, -1, -1):
            dh += dout[t]
            np.multiply(dh, slope[t], out=dz[t])
            if _cut(t, truncate):
                dh[:] = 0
            else:
                np.matmul(w_hh_t, dz[t], out=dh)
        need = ctx.needs_grad
        dx, dw_ih, dw_hh, db, _ = _weight_grads(dz, xh, w_ih, need[0])
        return (dx, dh.T.copy() if need[1] else None, dw_ih, dw_hh,
                db if need[4] else None, db if need[5] else None)


def _sum_biases(b_ih: np.ndarray | None, b_hh: np.ndarray | None) -> np.ndarray | None:
    if b_ih is None:
        return b_hh
    return b_ih if b_hh is None else b_ih + b_hh


# ---------------------------------------------------------------------------
# LSTM over a sequence
# ---------------------------------------------------------------------------
# Inside the fused op the gate rows are reordered from PyTorch's (i, f, g, o) to (o, i, f, g):
# then the three sigmoids (o, i, f) are one contiguous block in the forward pass, and the three
# gates whose gradient is driven by ∂L/∂c (i, f, g) are one contiguous block in the backward pass.
_LSTM_ORDER = np.array([3, 0, 1, 2])


def _gate_rows(order: np.ndarray, hidden: int) -> np.ndarray:
    return (order[:, None] * hidden + np.arange(hidden)).reshape(-1)


class LSTMSequence(Function):
    """The LSTM (eq-lstm) over t = 1..T; backward by (eq-bptt) through both h and c.

    Returns one array (N, T + 1, H): rows 0..T−1 are h₁..h_T (the output) and
    row T is c_T (the final cell state), so that both can carry gradient.

    Backward, with δₜ = ∂L/∂hₜ and γₜ = ∂L/∂cₜ:
    γₜ = δₜ ⊙ oₜ ⊙ (1 − tanh²cₜ) + γₜ₊₁ ⊙ fₜ₊₁   (the additive path: only ⊙ f, no W_hh),
    ∂L/∂(i, f, g) pre-activations = γₜ ⊙ (gₜ iₜ(1−iₜ), cₜ₋₁ fₜ(1−fₜ), iₜ(1−gₜ²)),
    ∂L/∂o pre-activation = δₜ ⊙ tanh(cₜ) oₜ(1−oₜ),  δₜ₋₁ += W_hhᵀ ∂L/∂gatesₜ.
    """

    @staticmethod
    def forward(ctx: Context, x: np.ndarray, h0: np.ndarray | None, c0: np.ndarray | None, w_ih: np.ndarray,
                w_hh: np.ndarray, b_ih: np.ndarray | None, b_hh: np.ndarray | None,
                truncate: int | None) -> np.ndarray:
        n, t_len, size = x.shape
        hidden = w_hh.shape[1]
        h3 = 3 * hidden
        rows = _gate_rows(_LSTM_ORDER, hidden)
        w_ih_r, w_hh_r = w_ih[rows], w_hh[rows]
        bias = _sum_biases(b_ih, b_hh)
        dtype = np.result_type(x.dtype, w_hh.dtype)
        xh = _stacked_inputs(x, h0, hidden, dtype)        # block t = [1; xₜ; hₜ₋₁]
        hs = xh[:, 1 + size:]                              # (T + 1, H, N) view: h₀..h_T
        w = _stacked_weights(None if bias is None else bias[rows], w_ih_r, w_hh_r, dtype)
        # σ(z) = ½ tanh(z/2) + ½: with the o, i, f rows halved, one tanh serves all four gates.
        w[:h3] *= 0.5
        gates = np.empty((t_len, 4 * hidden, n), dtype=dtype)   # o, i, f, g blocks per step
        cs = np.empty((t_len + 1, hidden, n), dtype=dtype)
        tcs = np.empty((t_len, hidden, n), dtype=dtype)
        cs[0] = 0 if c0 is None else c0.T
        ig = np.empty((hidden, n), dtype=dtype)
        for t in range(t_len):
            a = gates[t]
            np.matmul(w, xh[t], out=a)                     # [b | W_ih | W_hh] [1; xₜ; hₜ₋₁], o, i, f rows halved
            np.tanh(a, out=a)                              # g = tanh(z_g); o, i, f still need ½(·) + ½
            sig = a[:h3]
            sig *= 0.5
            sig += 0.5
            o, i, f, g = a[:hidden], a[hidden:2 * hidden], a[2 * hidden:h3], a[h3:]
            c = cs[t + 1]
            np.multiply(f, cs[t], out=c)                   # cₜ = fₜ ⊙ cₜ₋₁ + iₜ ⊙ gₜ
            np.multiply(i, g, out=ig)
            c += ig
            np.tanh(c, out=tcs[t])
            np.multiply(o, tcs[t], out=hs[t + 1])          # hₜ = oₜ ⊙ tanh(cₜ)
        ctx.save(xh, cs, tcs, gates, w_ih_r, w_hh_r, rows, truncate)
        out = np.empty((n, t_len + 1, hidden), dtype=dtype)
        _batch_first(hs[1:], out[:, :t_len])
        out[:, t_len] = cs[t_len].T
        return out

    @staticmethod
    def backward(ctx: Context, g: np.ndarray) -> tuple:
        xh, cs, tcs, gates, w_ih_r, w_hh_r, rows, truncate = ctx.saved
        t_len, hidden, n = tcs.shape
        dout = _features_by_batch(g[:, :t_len], "lstm.dout")
        gates4 = gates.reshape(t_len, 4, hidden, n)
        o, i, f, gg = gates4[:, 0], gates4[:, 1], gates4[:, 2], gates4[:, 3]
        # Everything that does not depend on the recursion, vectorised over all steps.
        a = scratch("lstm.a", tcs.shape, tcs.dtype)
        np.multiply(tcs, tcs, out=a)                       # ∂hₜ/∂cₜ = oₜ (1 − tanh² cₜ)
        np.subtract(1, a, out=a)
        a *= o
        p = scratch("lstm.p", gates4.shape, gates.dtype)
        np.subtract(1, gates4[:, :3], out=p[:, :3])        # σ′ = s(1 − s) for o, i, f
        p[:, :3] *= gates4[:, :3]
        p[:, 0] *= tcs                                     # ∂hₜ/∂(o pre-activation) = tanh(cₜ) σ′(o)
        p[:, 1] *= gg                                      # ∂cₜ/∂(i pre-activation) = gₜ σ′(i)
        p[:, 2] *= cs[:-1]                                 # ∂cₜ/∂(f pre-activation) = cₜ₋₁ σ′(f)
        np.multiply(gg, gg, out=p[:, 3])                   # ∂cₜ/∂(g pre-activation) = iₜ (1 − gₜ²)
        np.subtract(1, p[:, 3], out=p[:, 3])
        p[:, 3] *= i
        dgates = scratch("lstm.dgates", p.shape, p.dtype)
        w_hh_t = np.ascontiguousarray(w_hh_r.T)           # (H, 4H)
        dh = np.zeros((hidden, n), dtype=gates.dtype)
        dc = np.array(g[:, t_len].T, dtype=gates.dtype, order="C")  # gradient arriving at c_T
        through_c = np.empty_like(dh)
        for t in range(t_len - 1, -1, -1):
            dh += dout[t]
            np.multiply(dh, a[t], out=through_c)
            dc += through_c
            np.multiply(dh, p[t, 0], out=dgates[t, 0])
            np.multiply(dc, p[t, 1:], out=dgates[t, 1:])
            if _cut(t, truncate):
                dh[:] = 0
                dc[:] = 0
            else:
                np.matmul(w_hh_t, dgates[t].reshape(4 * hidden, n), out=dh)
                dc *= f[t]
        need = ctx.needs_grad
        dgates = dgates.reshape(t_len, 4 * hidden, n)
        dx, dw_ih_r, dw_hh_r, db_r, _ = _weight_grads(dgates, xh, w_ih_r, need[0])
        dw_ih, dw_hh, db = np.empty_like(dw_ih_r), np.empty_like(dw_hh_r), np.empty_like(db_r)
        dw_ih[rows], dw_hh[rows], db[rows] = dw_ih_r, dw_hh_r, db_r
        return (dx, dh.T.copy() if need[1] else None, dc.T.copy() if need[2] else None, dw_ih, dw_hh,
                db if need[5] else None, db if need[6] else None)


# ---------------------------------------------------------------------------
# GRU over a sequence
# ---------------------------------------------------------------------------
class GRUSequence(Function):
    """The GRU (eq-gru) over t = 1..T; backward by (eq-bptt).

    With δₜ = ∂L/∂hₜ, every gate's gradient is δₜ times a factor known from
    the forward pass: ∂L/∂n-pre = δₜ(1−zₜ)(1−nₜ²), ∂L/∂z-pre = δₜ(hₜ₋₁−nₜ)zₜ(1−zₜ),
    ∂L/∂r-pre = ∂L/∂n-pre ⊙ (W_hn hₜ₋₁ + b_hn) rₜ(1−rₜ);  δₜ₋₁ = δₜ ⊙ zₜ + W_hhᵀ ∂L/∂(W_hh h)ₜ.
    """

    @staticmethod
    def forward(ctx: Context, x: np.ndarray, h0: np.ndarray | None, w_ih: np.ndarray, w_hh: np.ndarray,
                b_ih: np.ndarray | None, b_hh: np.ndarray | None, truncate: int | None) -> np.ndarray:
        n, t_len, size = x.shape
        hidden = w_hh.shape[1]
        h2 = 2 * hidden
        dtype = np.result_type(x.dtype, w_hh.dtype)
        xh = _stacked_inputs(x, h0, hidden, dtype)        # block t = [1; xₜ; hₜ₋₁]
        hs = xh[:, 1 + size:]                              # (T + 1, H, N) view: h₀..h_T
        # W_ih xₜ + b_ih for all steps in one batched product [b_ih | W_ih] [1; xₜ]: (T, 3H, N).
        # Its r, z parts become the gates; r multiplies only the hidden side of n, hence two products.
        gi = np.matmul(_stacked_weights(b_ih, w_ih, None, dtype), xh[:-1, :1 + size])
        hn = np.empty((t_len, hidden, n), dtype=dtype)     # W_hn hₜ₋₁ + b_hn, needed by the backward pass
        ns = np.empty((t_len, hidden, n), dtype=dtype)
        gh = np.empty((3 * hidden, n), dtype=dtype)
        b_col = None if b_hh is None else b_hh[:, None]
        for t in range(t_len):
            np.matmul(w_hh, hs[t], out=gh)
            if b_col is not None:
                gh += b_col
            rz = gi[t, :h2]
            rz += gh[:h2]
            _sigmoid_(rz)
            r, z = rz[:hidden], rz[hidden:]
            hn[t] = gh[h2:]
            nt = ns[t]
            np.multiply(r, hn[t], out=nt)                  # nₜ = tanh(W_in x + b_in + rₜ ⊙ (W_hn h + b_hn))
            nt += gi[t, h2:]
            np.tanh(nt, out=nt)
            h = hs[t + 1]
            np.subtract(hs[t], nt, out=h)                  # hₜ = nₜ + zₜ ⊙ (hₜ₋₁ − nₜ)
            h *= z
            h += nt
        ctx.save(xh, gi, hn, ns, w_ih, w_hh, truncate)
        return _batch_first(hs[1:])

    @staticmethod
    def backward(ctx: Context, g: np.ndarray) -> tuple:
        xh, gi, hn, ns, w_ih, w_hh, truncate = ctx.saved
        t_len, hidden, n = ns.shape
        hs = xh[:, 1 + w_ih.shape[1]:]
        r, z = gi[:, :hidden], gi[:, hidden:2 * hidden]
        dout = _features_by_batch(g, "gru.dout")
        # ∂L/∂(pre-activations fed by x) = δₜ ⊙ q[t]; fed by h: the same but r's candidate part times rₜ.
        q = scratch("gru.q", (t_len, 3, hidden, n), ns.dtype)
        q[:, 2] = (1 - z) * (1 - ns * ns)
        q[:, 1] = (hs[:-1] - ns) * z * (1 - z)
        q[:, 0] = q[:, 2] * hn * r * (1 - r)
        qh = scratch("gru.qh", q.shape, q.dtype)
        np.copyto(qh, q)
        qh[:, 2] *= r
        dgi = scratch("gru.dgi", q.shape, q.dtype)
        dgh = scratch("gru.dgh", q.shape, q.dtype)
        w_hh_t = np.ascontiguousarray(w_hh.T)
        dh = np.zeros((hidden, n), dtype=ns.dtype)
        rec = np.empty_like(dh)
        for t in range(t_len - 1, -1, -1):
            dh += dout[t]
            np.multiply(dh, q[t], out=dgi[t])
            np.multiply(dh, qh[t], out=dgh[t])
            if _cut(t, truncate):
                dh[:] = 0
            else:
                dh *= z[t]
                np.matmul(w_hh_t, dgh[t].reshape(3 * hidden, n), out=rec)
                dh += rec
        need = ctx.needs_grad
        dgi = dgi.reshape(t_len, 3 * hidden, n)
        dgh = dgh.reshape(t_len, 3 * hidden, n)
        dx, dw_ih, dw_hh, db_ih, db_hh = _weight_grads(dgi, xh, w_ih, need[0], dz_h=dgh)
        return (dx, dh.T.copy() if need[1] else None, dw_ih, dw_hh,
                db_ih if need[4] else None, db_hh if need[5] else None)


# ---------------------------------------------------------------------------
# slicing the packed result along time (assignment backward: no scatter-add needed)
# ---------------------------------------------------------------------------
class TimeSlice(Function):
    """y = a[:, start:stop] (or a[:, start] when ``keep`` is False); dL/da is g placed back."""

    @staticmethod
    def forward(ctx: Context, a: np.ndarray, start: int, stop: int, keep: bool) -> np.ndarray:
        ctx.save(a.shape, start, stop, keep)
        return a[:, start:stop] if keep else a[:, start]

    @staticmethod
    def backward(ctx: Context, g: np.ndarray) -> tuple:
        shape, start, stop, keep = ctx.saved
        out = np.zeros(shape, dtype=g.dtype)
        out[:, start:stop] = g if keep else g[:, None]
        return out, None, None, None


def _steps(a: Tensor, start: int, stop: int) -> Tensor:
    return TimeSlice.apply(a, start, stop, True)


def _step(a: Tensor, t: int) -> Tensor:
    return TimeSlice.apply(a, t, t + 1, False)


# ---------------------------------------------------------------------------
# public sequence functions
# ---------------------------------------------------------------------------
def rnn(x: Any, h0: Any, w_ih: Any, w_hh: Any, b_ih: Any = None, b_hh: Any = None, nonlinearity: str = "tanh",
        truncate: int | None = None) -> tuple[Tensor, Tensor]:
    """A plain RNN over a whole sequence; returns (output (N, T, H), h_T (N, H)).

    Implements (eq-rnn) for every step, hₜ = f(W_hh hₜ₋₁ + W_xh xₜ + b_h), and its
    gradient by backpropagation through time (eq-bptt).  x: (N, T, input_size);
    h0: (N, H) or None (zeros); w_ih: (H, input_size); w_hh: (H, H); biases (H,) or
    None.  ``truncate``: see the module docstring (stateful chunks of k steps).
    """
    _activation(nonlinearity)
    _check_sequence("rnn", x, h0, None, w_ih, w_hh, b_ih, b_hh, 1, truncate)
    out = RNNSequence.apply(x, h0, w_ih, w_hh, b_ih, b_hh, nonlinearity=nonlinearity, truncate=truncate)
    return out, _step(out, out.shape[1] - 1)


def lstm(x: Any, h0: Any, c0: Any, w_ih: Any, w_hh: Any, b_ih: Any = None, b_hh: Any = None,
         truncate: int | None = None) -> tuple[Tensor, Tensor, Tensor]:
    """An LSTM over a whole sequence; returns (output (N, T, H), h_T (N, H), c_T (N, H)).

    Implements (eq-lstm) for every step and its gradient by backpropagation
    through time (eq-bptt), through both the hidden state and the cell state.
    x: (N, T, input_size); h0, c0: (N, H) or None (zeros); w_ih: (4H, input_size),
    w_hh: (4H, H) in PyTorch's gate order i, f, g, o; biases (4H,) or None.
    ``truncate``: see the module docstring (stateful chunks of k steps).
    """
    _check_sequence("lstm", x, h0, c0, w_ih, w_hh, b_ih, b_hh, 4, truncate)
    packed = LSTMSequence.apply(x, h0, c0, w_ih, w_hh, b_ih, b_hh, truncate=truncate)
    t_len = packed.shape[1] - 1
    return _steps(packed, 0, t_len), _step(packed, t_len - 1), _step(packed, t_len)


def gru(x: Any, h0: Any, w_ih: Any, w_hh: Any, b_ih: Any = None, b_hh: Any = None,
        truncate: int | None = None) -> tuple[Tensor, Tensor]:
    """A GRU over a whole sequence; returns (output (N, T, H), h_T (N, H)).

    Implements (eq-gru) for every step and its gradient by backpropagation
    through time (eq-bptt).  x: (N, T, input_size); h0: (N, H) or None (zeros);
    w_ih: (3H, input_size), w_hh: (3H, H) in PyTorch's gate order r, z, n;
    biases (3H,) or None.  ``truncate``: see the module docstring.
    """
    _check_sequence("gru", x, h0, None, w_ih, w_hh, b_ih, b_hh, 3, truncate)
    out = GRUSequence.apply(x, h0, w_ih, w_hh, b_ih, b_hh, truncate=truncate)
    return out, _step(out, out.shape[1] - 1)


def bptt_hidden_grads(cell: str, x: Any, w_ih: Any, w_hh: Any, b_ih: Any = None, b_hh: Any = None,
                      nonlinearity: str = "tanh") -> tuple[np.ndarray, np.ndarray]:
    """‖∂L/∂hₜ‖ for t = 0..T with L = Σ h_T (the loss on the last step only), and the hidden states.

    Implements (eq-bptt) on the unrolled cells: the sequence is run step by step
    with the cell functions above (for the LSTM through (h, c) together), and one
    backward pass carries δₜ = ∂L/∂hₜ from t = T back to the initial state.  To read
    δₜ, a zero "probe" is added to each hₜ (its gradient is δₜ; the values are
    unchanged).  x: (N, T, input_size); the weights are used as constants.
    Returns (norms (T + 1,) — index 0 is the initial state —, states (T, N, H)).
    Used by the gradient-through-time explorer and §4.4.
    """
    if cell not in GATES:
        raise ValueError(f"cell must be one of {sorted(GATES)}, got {cell!r}")
    ax = np.asarray(array_of(x), dtype=np.float64)
    _check_sequence("bptt_hidden_grads", ax, None, None, w_ih, w_hh, b_ih, b_hh, GATES[cell], None)
    weights = [None if w is None else array_of(w) for w in (w_ih, w_hh, b_ih, b_hh)]
    n, t_len, _ = ax.shape
    hidden = weights[1].shape[1]
    h = Tensor(np.zeros((n, hidden)), requires_grad=True)
    c = Tensor(np.zeros((n, hidden))) if cell == "lstm" else None
    probes, states = [h], []
    for t in range(t_len):
        if cell == "rnn":
            h = rnn_cell(ax[:, t], h, *weights, nonlinearity)
        elif cell == "gru":
            h = gru_cell(ax[:, t], h, *weights)
        else:
            h, c = lstm_cell(ax[:, t], h, c, *weights)
        probe = Tensor(np.zeros((n, hidden)), requires_grad=True)
        h = h + probe
        probes.append(probe)
        states.append(h.data.copy())
    h.sum().backward()
    norms = np.array([np.linalg.norm(p.grad) if p.grad is not None else 0.0 for p in probes])
    return norms, np.stack(states)
