"""The step-major layout the fused recurrent kernels of :mod:`dlbook.kernels.recurrent` work in.

Layout only: stacking [1; xₜ; hₜ₋₁] and [b | W_ih | W_hh], transposing between
batch-first and (features × batch) blocks, the weight gradients summed over time
in one product, and :class:`TimeSlice` to cut the packed result along time.
The formulas themselves are the cells of :mod:`dlbook.functional.recurrent`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from dlbook.autograd import Context, Function, Tensor
from dlbook.kernels._scratch import scratch


def cut(t: int, truncate: int | None) -> bool:
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
# W (G·H, K) @ block (K, N) has both operands contiguous: OpenBLAS multiplies
# that faster than h (N, H) @ W_hhᵀ, whose transposed operand takes a slower
# kernel (``make bench TOPICS=rnn`` times the whole loop).  Only the entry (x)
# and the exit (the output) are transposed.
#
# The inputs of step t are stacked as one block [1; xₜ; hₜ₋₁] (see stacked_inputs), so
# W_hh hₜ₋₁ + W_ih xₜ + b is one product with the stacked matrix [b | W_ih | W_hh], and after
# the backward loop all three weight gradients come out of one product as well.


def stacked_inputs(x: np.ndarray, h0: np.ndarray | None, hidden: int, dtype: Any) -> np.ndarray:
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


def stacked_weights(bias: np.ndarray | None, w_ih: np.ndarray, w_hh: np.ndarray | None, dtype: Any) -> np.ndarray:
    """[b | W_ih | W_hh] (G·H, 1 + I + H), the matrix that multiplies a block of :func:`stacked_inputs`.

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


def transposed(a: np.ndarray, axes: tuple[int, ...], tag: str) -> np.ndarray:
    """``a.transpose(axes)`` copied into a contiguous scratch buffer (a temporary of one call)."""
    view = a.transpose(axes)
    out = scratch(tag, view.shape, a.dtype)
    np.copyto(out, view)
    return out


def features_by_batch(g: np.ndarray, tag: str) -> np.ndarray:
    """A batch-first (N, T, D) array as step-major (T, D, N), copied into a scratch buffer."""
    return transposed(g, (1, 2, 0), tag)


def batch_first(states: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """Step-major (T, H, N) states as batch-first (N, T, H), written into ``out`` or a new array.

    Done as two copies, (T, H, N) -> (T, N, H) -> (N, T, H): each reads and writes
    whole rows, where a single copy would gather every element on its own.
    """
    t_len, hidden, n = states.shape
    steps = transposed(states, (0, 2, 1), "rnn.batch_first")
    if out is None:
        out = np.empty((n, t_len, hidden), dtype=states.dtype)
    np.copyto(out, steps.transpose(1, 0, 2))
    return out


def sigmoid_(z: np.ndarray) -> np.ndarray:
    """σ(z) = ½ tanh(z/2) + ½, in place (no overflow, float32 stays float32)."""
    z *= 0.5
    np.tanh(z, out=z)
    z *= 0.5
    z += 0.5
    return z


def weight_grads(dz: np.ndarray, xh: np.ndarray, w_ih: np.ndarray, need_dx: bool,
                  dz_h: np.ndarray | None = None) -> tuple:
    """After the backward loop: every gradient that is a sum over time, from one matrix product.

    dz: (T, G·H, N), the gradient of the pre-activations fed by the whole block
    [1; xₜ; hₜ₋₁] (unless dz_h is given: then dz is fed by [1; xₜ] and dz_h by
    hₜ₋₁ and the hidden-side bias, as in the GRU); xh: the :func:`stacked_inputs`
    buffer.  With the steps laid side by side as columns,
    [∂L/∂b | ∂L/∂W_ih | ∂L/∂W_hh] = Σₜ dzₜ [1; xₜ; hₜ₋₁]ᵀ is one product.
    Returns (dx (N, T, I) or None, dW_ih, dW_hh, db_ih, db_hh).
    """
    t_len, gh, n = dz.shape
    split = 1 + w_ih.shape[1]                     # columns of [1; x] in a row of ``rows``

    def columns(a: np.ndarray, tag: str) -> np.ndarray:       # (T, G·H, N) -> (G·H, T·N)
        return transposed(a, (1, 0, 2), tag).reshape(gh, t_len * n)

    # row t·N + n: [1; xₜ; hₜ₋₁] of sample n
    rows = transposed(xh[:-1], (0, 2, 1), "rnn.rows").reshape(t_len * n, -1)
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
# slicing the packed result along time (assignment backward: no scatter-add needed)
# ---------------------------------------------------------------------------
class TimeSlice(Function):
    """y = a[:, start:stop] (or a[:, start] when ``time_axis`` is False); dL/da is g placed back."""

    @staticmethod
    def forward(ctx: Context, a: np.ndarray, start: int, stop: int, time_axis: bool) -> np.ndarray:
        ctx.save(a.shape, start, stop, time_axis)
        return a[:, start:stop] if time_axis else a[:, start]

    @staticmethod
    def backward(ctx: Context, g: np.ndarray) -> tuple:
        shape, start, stop, time_axis = ctx.saved
        out = np.zeros(shape, dtype=g.dtype)
        out[:, start:stop] = g if time_axis else g[:, None]
        return out, None, None, None


def steps(a: Tensor, start: int, stop: int) -> Tensor:
    """Steps start..stop − 1 of a batch-first (N, T, ...) Tensor: (N, stop − start, ...)."""
    return TimeSlice.apply(a, start, stop, True)


def step(a: Tensor, t: int) -> Tensor:
    """Step t of a batch-first (N, T, ...) Tensor: (N, ...)."""
    return TimeSlice.apply(a, t, t + 1, False)
