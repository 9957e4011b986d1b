"""The fast stride-1 convolution: im2col on a flat "wide" image layout, a few images at a time.

It computes what :func:`dlbook.functional.conv.conv2d_im2col` computes (Y = K̂ · im2col(X) + b,
tested equal in ``tests/test_fast_equals_readable.py``) with two speed-ups that the readable
version leaves out: the columns come from contiguous shifts of flat images instead of
strided 2-D windows, and the batch goes through in chunks whose columns stay in the CPU
cache, with the work arrays kept in scratch buffers between calls.
"""

from __future__ import annotations

import numpy as np

from dlbook.autograd import Context, Function
from dlbook.kernels._scratch import scratch


# Stride 1, the common case, has a faster layout.  Lay each padded image out
# flat, row after row, with Wp entries per row: the W pixels, then z zero
# columns that serve as the right padding of this row *and* the left padding
# of the next (z = p suffices, since the window only reaches p columns beyond
# either edge).  Output (i, j) reads X at flat index (i + m)·Wp + (j + n) =
# (i·Wp + j) + (m·Wp + n): every kernel offset (m, n) is one *contiguous* shift
# of the flat image.  So the columns for offset (m, n) are the single slice
# [m·Wp + n, m·Wp + n + L) with L = (Ho − 1)·Wp + Wo: long rows that numpy
# copies (and adds) fast.  The price: positions j ≥ Wo of each output row are
# computed too (Wp/Wo − 1 extra work, 1/16 for a 16×16 map) and thrown away.
def _wide_length(padded_width: int, out: tuple[int, int]) -> int:
    return (out[0] - 1) * padded_width + out[1]


def _pad_flat(x: np.ndarray, kernel_width: int, p: tuple[int, int]) -> tuple[np.ndarray, int]:
    """x: (N, C, H, W) -> (flat (N, C, p₁ + (H + 2p₀)·Wp) with zeros around the pixels, row length Wp)."""
    batch, c, h, w = x.shape
    zeros = max(p[1], 2 * p[1] - kernel_width + 1)        # a row of output must fit in a row of the layout
    wp = w + zeros
    flat = np.zeros((batch, c, p[1] + (h + 2 * p[0]) * wp), dtype=x.dtype)
    _flat_pixels(flat, (h, w), p, wp)[...] = x
    return flat, wp


def _flat_pixels(flat: np.ndarray, size: tuple[int, int], p: tuple[int, int], wp: int) -> np.ndarray:
    """The view (N, C, H, W) of the image's own pixels inside the flat layout of :func:`_pad_flat`."""
    rows = (flat.shape[2] - p[1]) // wp
    grid = flat[:, :, p[1]:].reshape(*flat.shape[:2], rows, wp)
    return grid[:, :, p[0]:p[0] + size[0], :size[1]]


def _im2col_shifted(flat: np.ndarray, wp: int, kernel: tuple[int, int], out: tuple[int, int],
                    buffer: np.ndarray | None = None) -> np.ndarray:
    """Stride-1 im2col: flat images (N, C, F) -> (N, C·kH·kW, L), L = (Ho − 1)·Wp + Wo, from kH·kW flat shifts."""
    batch, c_in = flat.shape[:2]
    kh, kw = kernel
    length = _wide_length(wp, out)
    shape = (batch, c_in, kh, kw, length)
    cols = np.empty(shape, dtype=flat.dtype) if buffer is None else buffer.reshape(shape)
    for m in range(kh):
        for n in range(kw):
            shift = m * wp + n
            cols[:, :, m, n] = flat[:, :, shift:shift + length]
    return cols.reshape(batch, c_in * kh * kw, length)


def _col2im_shifted(cols: np.ndarray, dest: np.ndarray, wp: int, kernel: tuple[int, int],
                    out: tuple[int, int]) -> np.ndarray:
    """The adjoint of :func:`_im2col_shifted`: adds (N, C·kH·kW, L) into the flat images ``dest`` (N, C, F)."""
    batch, c_in = dest.shape[:2]
    kh, kw = kernel
    length = _wide_length(wp, out)
    cols = cols.reshape(batch, c_in, kh, kw, length)
    for m in range(kh):
        for n in range(kw):
            shift = m * wp + n
            dest[:, :, shift:shift + length] += cols[:, :, m, n]
    return dest


def _from_wide(y: np.ndarray, padded_width: int, out: tuple[int, int]) -> np.ndarray:
    """A view (N, C, Ho, Wo) of (N, C, L) on the wide grid, skipping the thrown-away positions j ≥ Wo."""
    item = y.itemsize
    return np.lib.stride_tricks.as_strided(
        y, shape=(*y.shape[:2], *out), strides=(y.strides[0], y.strides[1], padded_width * item, item),
        writeable=False)


def _to_wide(g: np.ndarray, padded_width: int) -> np.ndarray:
    """(N, C, Ho, Wo) -> (N, C, L) on the wide grid, zeros at the thrown-away positions."""
    batch, c, ho, wo = g.shape
    full = scratch("conv.to_wide", (batch, c, ho, padded_width), g.dtype)
    full[..., wo:] = 0
    full[..., :wo] = g
    return full.reshape(batch, c, ho * padded_width)[:, :, :_wide_length(padded_width, (ho, wo))]


# The columns of a whole batch are large (C·k·k times the input).  So the batch
# is processed a few images at a time — a chunk whose columns fit in the CPU
# cache — and the backward pass rebuilds each chunk's columns from the saved
# input rather than keeping them all: slice copies are cheap, memory traffic is not.
_CHUNK_BYTES = 1 << 20


def _chunks(batch: int, per_image: int) -> list[slice]:
    size = max(1, _CHUNK_BYTES // max(1, per_image))
    return [slice(start, min(start + size, batch)) for start in range(0, batch, size)]


class Conv2dWide(Function):
    """Stride-1 conv2d: Y = K̂ · cols + b per image, cols = the wide im2col of X, K̂ = K as (C_out, C_in·kH·kW).

    Backward (the same product, transposed):
    dL/dK̂ = Σ_b dL/dY_b · cols_bᵀ,   dL/dcols = K̂ᵀ · dL/dY  (then the wide col2im),   dL/db = Σ dL/dY.
    """

    @staticmethod
    def forward(ctx: Context, x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None, *,
                padding: tuple[int, int], out_size: tuple[int, int]) -> np.ndarray:
        batch = x.shape[0]
        c_out, _, kh, kw = weight.shape
        flat, wp = _pad_flat(x, kw, padding)                          # flat padded images (N, C, F)
        length = _wide_length(wp, out_size)
        rows = weight[0].size                                         # C·k·k
        w2 = weight.reshape(c_out, rows)                              # (C_out, C·k·k)
        dtype = np.result_type(flat, weight)
        y = np.empty((batch, c_out, *out_size), dtype=dtype)
        for part in _chunks(batch, rows * length * dtype.itemsize):
            n = part.stop - part.start
            cols = _im2col_shifted(flat[part], wp, (kh, kw), out_size, scratch("conv.cols", (n, rows, length), dtype))
            yc = np.matmul(w2, cols, out=scratch("conv.y", (n, c_out, length), dtype))  # (n, C_out, L): GEMM per image
            if bias is not None:
                yc += bias.reshape(1, c_out, 1)
            y[part] = _from_wide(yc, wp, out_size)
        ctx.save(flat, wp, x.shape, weight, bias is not None, padding, out_size)
        return y

    @staticmethod
    def backward(ctx: Context, g: np.ndarray) -> tuple:
        flat, wp, x_shape, weight, has_bias, padding, out_size = ctx.saved
        c_out, _, kh, kw = weight.shape
        batch, rows = x_shape[0], weight[0].size
        length = _wide_length(wp, out_size)
        w2 = weight.reshape(c_out, rows)
        dtype = np.result_type(g, weight)
        gw = np.zeros((c_out, rows), dtype=dtype) if ctx.needs_grad[1] else None
        gflat = np.zeros(flat.shape, dtype=dtype) if ctx.needs_grad[0] else None
        for part in _chunks(batch, rows * length * dtype.itemsize):
            n = part.stop - part.start
            g2 = _to_wide(g[part], wp)                                # (n, C_out, L)
            cols = _im2col_shifted(flat[part], wp, (kh, kw), out_size, scratch("conv.cols", (n, rows, length), dtype))
            if gw is not None:
                per_image = np.matmul(g2, cols.transpose(0, 2, 1), out=scratch("conv.gw", (n, c_out, rows), dtype))
                gw += per_image.sum(axis=0)
            if gflat is not None:
                gcols = np.matmul(w2.T, g2, out=scratch("conv.gcols", (n, rows, length), dtype))
                _col2im_shifted(gcols, gflat[part], wp, (kh, kw), out_size)
        gx = None if gflat is None else _flat_pixels(gflat, x_shape[2:], padding, wp)
        gb = g.reshape(batch, c_out, -1).sum(axis=2).sum(axis=0) if has_bias and ctx.needs_grad[2] else None
        return gx, None if gw is None else gw.reshape(weight.shape), gb
