"""The fast 2×2, stride-2 max-pool (no padding): the case every CNN in the book runs.

It computes what the general :class:`dlbook.functional.conv.MaxPool2d` computes for that
case — the same outputs and the same gradients, bit for bit, ties and NaNs included
(``tests/test_fast_equals_readable.py``) — with fewer and cheaper passes over memory:

* the four window positions are four strided views of the input, so the forward pass
  is three ``np.maximum`` calls, in the general kernel's order (which decides the sign
  of a zero maximum when +0 and −0 tie);
* the backward pass writes each view's gradient once, as an integer product of g's
  bit pattern with the "this position was the maximum" mask: the bits of g where it
  was, +0.0 elsewhere — what ``np.where(hit, g, 0)`` gives, without its slow
  masked-select loop and without a temporary array.
"""

from __future__ import annotations

import numpy as np

from dlbook.autograd import Context, Function


def _quarters(a: np.ndarray, out: tuple[int, int]) -> list[np.ndarray]:
    """The four strided views a[:, :, 2i + m, 2j + n], (m, n) in row-major order: each (N, C, Ho, Wo)."""
    rows, cols = 2 * out[0], 2 * out[1]
    return [a[:, :, m:rows:2, n:cols:2] for m in (0, 1) for n in (0, 1)]


class MaxPool2x2(Function):
    """Y[b, c, i, j] = max(X[b, c, 2i, 2j], X[b, c, 2i, 2j + 1], X[b, c, 2i + 1, 2j], X[b, c, 2i + 1, 2j + 1]).

    Backward: the gradient goes to the first maximum of the window in row-major order;
    a window holding NaN gives it to its last NaN (as PyTorch's CPU kernel does).
    Inputs in rows or columns past the last window (odd H or W) get zero.
    """

    @staticmethod
    def forward(ctx: Context, x: np.ndarray, *, out_size: tuple[int, int]) -> np.ndarray:
        q = _quarters(x, out_size)
        y = np.maximum(q[0], q[1])
        np.maximum(y, q[2], out=y)
        np.maximum(y, q[3], out=y)
        ctx.save(x, y, out_size)
        return y

    @staticmethod
    def backward(ctx: Context, g: np.ndarray) -> np.ndarray:
        x, y, out_size = ctx.saved
        g = g.astype(x.dtype, copy=False)
        nan_windows = np.isnan(y)
        has_nan = bool(nan_windows.any())
        tiled = x.shape[2:] == (2 * out_size[0], 2 * out_size[1])
        gx = np.empty_like(x) if tiled and not has_nan else np.zeros_like(x)   # every element written, or zeros
        unclaimed = ~nan_windows                                      # windows whose maximum is not yet found
        if has_nan:   # rare: as the general kernel, sums into zeros — NaN windows to their last NaN first
            zero = np.zeros((), dtype=g.dtype)
            for xq, gq in zip(reversed(_quarters(x, out_size)), reversed(_quarters(gx, out_size))):
                hit = np.isnan(xq)
                hit &= nan_windows
                nan_windows ^= hit
                gq += np.where(hit, g, zero)
            for xq, gq in zip(_quarters(x, out_size), _quarters(gx, out_size)):
                hit = xq == y
                hit &= unclaimed
                unclaimed ^= hit
                gq += np.where(hit, g, zero)
            return gx
        bits = np.dtype(f"u{x.dtype.itemsize}")                       # g's bit pattern as unsigned integers
        g_bits = g.view(bits)
        for xq, gq in zip(_quarters(x, out_size), _quarters(gx.view(bits), out_size)):
            hit = xq == y
            hit &= unclaimed
            unclaimed ^= hit
            np.multiply(g_bits, hit, out=gq)                          # g where this position is the maximum, else +0
        return gx
