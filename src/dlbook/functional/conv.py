"""Convolution and pooling (§3.3, §4.3), from the formula.

The convolution layer of a CNN computes, for every output position (i, j),

    Y(i, j) = Σₘ Σₙ X(i + m, j + n) K(m, n)                      (eq-conv)

(a cross-correlation: the kernel is not flipped), summed also over the input
channels, for every output channel and every image of the batch.  Two
implementations, tested equal:

* :func:`conv2d_reference` — nested Python loops written exactly as the sum;
  for small inputs and for the text (about 1,000× slower).
* :func:`conv2d` — the fast one: *im2col* copies the k×k shifted views of the
  input into one matrix (k·k slice copies), and a single matrix product with
  the flattened kernels gives every output at once.  Its backward is the same
  product transposed, and *col2im* (k·k slice-adds) scatters the gradient back.
  (In practice a few images at a time, so that the columns stay in the CPU cache.)

Pooling: :func:`max_pool2d` and :func:`avg_pool2d`, built from the k·k strided
slices of the input (for the usual 2×2/stride-2 case: four slices and
``np.maximum``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from dlbook._checks import array_of
from dlbook.autograd import Context, Function, Tensor
from dlbook.functional._scratch import scratch


# ---------------------------------------------------------------------------
# shapes and argument checks
# ---------------------------------------------------------------------------
def _nonneg_int(name: str, value: Any, minimum: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an int, got {type(value).__name__} {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value}")
    return int(value)


def _pair(name: str, value: Any, minimum: int) -> tuple[int, int]:
    """An int or a pair of ints -> (vertical, horizontal)."""
    if isinstance(value, (tuple, list)):
        if len(value) != 2:
            raise ValueError(f"{name} must be an int or a pair of ints, got {value!r}")
        return _nonneg_int(name, value[0], minimum), _nonneg_int(name, value[1], minimum)
    v = _nonneg_int(name, value, minimum)
    return v, v


def conv_output_size(size: int, kernel: int, stride: int = 1, padding: int = 0, *, exact: bool = False) -> int:
    """Output length along one axis: ⌊(H + 2p − k) / s⌋ + 1.  Implements (eq-conv-output-size).

    size H, kernel k, stride s ≥ 1, padding p ≥ 0 (all ints).  The window must
    fit in the padded input (k ≤ H + 2p).  With ``exact=True`` the division
    must leave no remainder (every input row is covered by a window), else
    ValueError; by default the last partial window is dropped, as in PyTorch.
    """
    size = _nonneg_int("size", size, 1)
    kernel = _nonneg_int("kernel", kernel, 1)
    stride = _nonneg_int("stride", stride, 1)
    padding = _nonneg_int("padding", padding, 0)
    padded = size + 2 * padding
    if kernel > padded:
        raise ValueError(
            f"kernel={kernel} is larger than the padded input: size={size} + 2·padding={2 * padding} = {padded}"
        )
    span = padded - kernel
    if exact and span % stride:
        raise ValueError(
            f"non-integer output size: (size + 2·padding − kernel) / stride = ({size} + {2 * padding} − {kernel}) "
            f"/ {stride} = {span / stride:g}; choose a stride that divides {span}"
        )
    return span // stride + 1


def _check_image(where: str, x: Any) -> tuple[int, ...]:
    shape = array_of(x).shape
    if len(shape) != 4:
        raise ValueError(f"{where}: x must be 4-D (N, C, H, W), got shape {shape}")
    if array_of(x).dtype.kind != "f":
        raise TypeError(f"{where}: x must hold floating-point numbers, got dtype {array_of(x).dtype}")
    return shape


def _check_conv(where: str, x: Any, weight: Any, bias: Any, stride: Any, padding: Any
                ) -> tuple[tuple[int, int], tuple[int, int], tuple[int, int]]:
    """Validate conv2d's arguments; returns (stride, padding, output (Ho, Wo))."""
    sx = _check_image(where, x)
    sw = array_of(weight).shape
    if len(sw) != 4:
        raise ValueError(f"{where}: weight must be 4-D (C_out, C_in, kH, kW), got shape {sw}")
    if sx[1] != sw[1]:
        raise ValueError(
            f"{where}: channel mismatch: x has C_in={sx[1]} channels (shape {sx}) but weight expects "
            f"C_in={sw[1]} (shape {sw})"
        )
    if bias is not None and array_of(bias).shape != (sw[0],):
        raise ValueError(f"{where}: bias must have shape ({sw[0]},), got {array_of(bias).shape}")
    s = _pair("stride", stride, 1)
    p = _pair("padding", padding, 0)
    try:
        out = (conv_output_size(sx[2], sw[2], s[0], p[0]), conv_output_size(sx[3], sw[3], s[1], p[1]))
    except ValueError as e:
        raise ValueError(f"{where}: x of shape {sx}, weight of shape {sw}: {e}") from None
    return s, p, out


def _pad(x: np.ndarray, p: tuple[int, int], value: float = 0.0) -> np.ndarray:
    """x: (N, C, H, W) -> (N, C, H + 2p₀, W + 2p₁), the border filled with ``value`` (no copy if p = 0)."""
    if p == (0, 0):
        return x
    n, c, h, w = x.shape
    out = np.full((n, c, h + 2 * p[0], w + 2 * p[1]), value, dtype=x.dtype)
    out[:, :, p[0]:p[0] + h, p[1]:p[1] + w] = x
    return out


def _unpad(xp: np.ndarray, p: tuple[int, int]) -> np.ndarray:
    if p == (0, 0):
        return xp
    return xp[:, :, p[0]:xp.shape[2] - p[0], p[1]:xp.shape[3] - p[1]]


def _window(a: np.ndarray, m: int, n: int, s: tuple[int, int], out: tuple[int, int]) -> np.ndarray:
    """The strided view a[:, :, i·s + m, j·s + n] for all output positions (i, j): shape (N, C, Ho, Wo)."""
    return a[:, :, m:m + s[0] * (out[0] - 1) + 1:s[0], n:n + s[1] * (out[1] - 1) + 1:s[1]]


# ---------------------------------------------------------------------------
# conv2d, the readable reference
# ---------------------------------------------------------------------------
class Conv2dReference(Function):
    """Y[b, o, i, j] = bias[o] + Σ_c Σₘ Σₙ X[b, c, i·s + m, j·s + n] K[o, c, m, n]   (eq-conv), as loops.

    Backward, from the same sum: each product X·K sends g·K to X and g·X to K.
    """

    @staticmethod
    def forward(ctx: Context, x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None, *,
                stride: tuple[int, int], padding: tuple[int, int], out_size: tuple[int, int]) -> np.ndarray:
        xp = _pad(x, padding)
        batch, c_in = x.shape[:2]
        c_out, _, kh, kw = weight.shape
        (ho, wo), (sh, sw) = out_size, stride
        y = np.zeros((batch, c_out, ho, wo), dtype=np.result_type(x, weight))
        for b in range(batch):
            for o in range(c_out):
                for i in range(ho):
                    for j in range(wo):
                        total = 0.0 if bias is None else bias[o]
                        for c in range(c_in):
                            for m in range(kh):
                                for n in range(kw):
                                    total += xp[b, c, i * sh + m, j * sw + n] * weight[o, c, m, n]
                        y[b, o, i, j] = total
        ctx.save(xp, weight, bias is not None, stride, padding)
        return y

    @staticmethod
    def backward(ctx: Context, g: np.ndarray) -> tuple:
        xp, weight, has_bias, (sh, sw), padding = ctx.saved
        gxp, gw = np.zeros_like(xp), np.zeros_like(weight)
        batch, c_out, ho, wo = g.shape
        _, c_in, kh, kw = weight.shape
        for b in range(batch):
            for o in range(c_out):
                for i in range(ho):
                    for j in range(wo):
                        for c in range(c_in):
                            for m in range(kh):
                                for n in range(kw):
                                    gxp[b, c, i * sh + m, j * sw + n] += g[b, o, i, j] * weight[o, c, m, n]
                                    gw[o, c, m, n] += g[b, o, i, j] * xp[b, c, i * sh + m, j * sw + n]
        gb = g.sum(axis=(0, 2, 3)) if has_bias and ctx.needs_grad[2] else None
        return _unpad(gxp, padding), gw, gb


def conv2d_reference(x: Any, weight: Any, bias: Any = None, stride: int | tuple[int, int] = 1,
                     padding: int | tuple[int, int] = 0) -> Tensor:
    """2-D convolution (cross-correlation) by nested loops, exactly as the formula.  Implements (eq-conv).

    x: (N, C_in, H, W); weight: (C_out, C_in, kH, kW); bias: (C_out,) or None
    -> (N, C_out, Ho, Wo) with Ho = ⌊(H + 2p − kH)/s⌋ + 1 (eq-conv-output-size).
    Slow: for small inputs and for the text; use :func:`conv2d` otherwise.
    """
    s, p, out = _check_conv("conv2d_reference", x, weight, bias, stride, padding)
    return Conv2dReference.apply(x, weight, bias, stride=s, padding=p, out_size=out)


# ---------------------------------------------------------------------------
# conv2d, the fast one: im2col + one GEMM
# ---------------------------------------------------------------------------
def im2col(xp: np.ndarray, kernel: tuple[int, int], stride: tuple[int, int], out: tuple[int, int],
           buffer: np.ndarray | None = None) -> np.ndarray:
    """Padded input (N, C, Hp, Wp) -> columns (N, C·kH·kW, Ho·Wo), built from kH·kW strided slice copies.

    Row (c, m, n) of image b's column matrix holds X[b, c, i·s + m, j·s + n]
    for every output position (i, j): the inputs that K[:, c, m, n] multiplies.
    ``buffer`` (optional, that many elements) receives the columns.
    """
    batch, c_in = xp.shape[:2]
    kh, kw = kernel
    shape = (batch, c_in, kh, kw, out[0], out[1])
    cols = np.empty(shape, dtype=xp.dtype) if buffer is None else buffer.reshape(shape)
    for m in range(kh):
        for n in range(kw):
            cols[:, :, m, n] = _window(xp, m, n, stride, out)
    return cols.reshape(batch, c_in * kh * kw, out[0] * out[1])


def col2im(cols: np.ndarray, padded_shape: tuple[int, ...], kernel: tuple[int, int], stride: tuple[int, int],
           out: tuple[int, int], dest: np.ndarray | None = None) -> np.ndarray:
    """The adjoint of :func:`im2col`: columns (N, C·kH·kW, Ho·Wo) -> (N, C, Hp, Wp) by kH·kW slice-adds.

    An input pixel that sat in several windows receives the sum of its columns' gradients.
    ``dest`` (optional, zero-filled, shape ``padded_shape``) receives the sums.
    """
    batch, c_in = padded_shape[:2]
    kh, kw = kernel
    cols = cols.reshape(batch, c_in, kh, kw, out[0], out[1])
    xp = np.zeros(padded_shape, dtype=cols.dtype) if dest is None else dest
    for m in range(kh):
        for n in range(kw):
            _window(xp, m, n, stride, out)[...] += cols[:, :, m, n]
    return xp


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


class Conv2d(Function):
    """Y = K̂ · cols + b per image, with cols = im2col(X) and K̂ = K reshaped to (C_out, C_in·kH·kW).

    Backward (the same product, transposed):
    dL/dK̂ = Σ_b dL/dY_b · cols_bᵀ,   dL/dcols = K̂ᵀ · dL/dY  (then col2im),   dL/db = Σ dL/dY.
    """

    @staticmethod
    def _columns(xs: np.ndarray, wp: int, kernel: tuple[int, int], stride: tuple[int, int],
                 out_size: tuple[int, int], buffer: np.ndarray) -> np.ndarray:
        if stride == (1, 1):
            return _im2col_shifted(xs, wp, kernel, out_size, buffer)
        return im2col(xs, kernel, stride, out_size, buffer)

    @staticmethod
    def forward(ctx: Context, x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None, *,
                stride: tuple[int, int], padding: tuple[int, int], out_size: tuple[int, int]) -> np.ndarray:
        batch = x.shape[0]
        c_out, _, kh, kw = weight.shape
        if stride == (1, 1):
            xs, wp = _pad_flat(x, kw, padding)                        # flat padded images (N, C, F)
            length = _wide_length(wp, out_size)
        else:
            xs = _pad(x, padding)                                     # padded images (N, C, Hp, Wp)
            wp, length = xs.shape[3], out_size[0] * out_size[1]
        rows = weight[0].size                                         # C·k·k
        w2 = weight.reshape(c_out, rows)                              # (C_out, C·k·k)
        dtype = np.result_type(xs, weight)
        y = np.empty((batch, c_out, *out_size), dtype=dtype)
        for part in _chunks(batch, rows * length * dtype.itemsize):
            n = part.stop - part.start
            cols = Conv2d._columns(xs[part], wp, (kh, kw), stride, out_size,
                                   scratch("conv.cols", (n, rows, length), dtype))
            yc = np.matmul(w2, cols, out=scratch("conv.y", (n, c_out, length), dtype))  # (n, C_out, L): GEMM per image
            if bias is not None:
                yc += bias.reshape(1, c_out, 1)
            y[part] = _from_wide(yc, wp, out_size) if stride == (1, 1) else yc.reshape(n, c_out, *out_size)
        ctx.save(xs, wp, x.shape, weight, bias is not None, stride, padding, out_size)
        return y

    @staticmethod
    def backward(ctx: Context, g: np.ndarray) -> tuple:
        xs, wp, x_shape, weight, has_bias, stride, padding, out_size = ctx.saved
        c_out, _, kh, kw = weight.shape
        batch, rows = x_shape[0], weight[0].size
        length = _wide_length(wp, out_size) if stride == (1, 1) else out_size[0] * out_size[1]
        w2 = weight.reshape(c_out, rows)
        dtype = np.result_type(g, weight)
        gw = np.zeros((c_out, rows), dtype=dtype) if ctx.needs_grad[1] else None
        gxs = np.zeros(xs.shape, dtype=dtype) if ctx.needs_grad[0] else None
        for part in _chunks(batch, rows * length * dtype.itemsize):
            n = part.stop - part.start
            if stride == (1, 1):
                g2 = _to_wide(g[part], wp)                            # (n, C_out, L)
            else:
                g2 = np.ascontiguousarray(g[part]).reshape(n, c_out, length)
            cols = Conv2d._columns(xs[part], wp, (kh, kw), stride, out_size,
                                   scratch("conv.cols", (n, rows, length), dtype))
            if gw is not None:
                per_image = np.matmul(g2, cols.transpose(0, 2, 1), out=scratch("conv.gw", (n, c_out, rows), dtype))
                gw += per_image.sum(axis=0)
            if gxs is not None:
                gcols = np.matmul(w2.T, g2, out=scratch("conv.gcols", (n, rows, length), dtype))
                if stride == (1, 1):
                    _col2im_shifted(gcols, gxs[part], wp, (kh, kw), out_size)
                else:
                    col2im(gcols, (n, *xs.shape[1:]), (kh, kw), stride, out_size, gxs[part])
        gx = None
        if gxs is not None:
            gx = _flat_pixels(gxs, x_shape[2:], padding, wp) if stride == (1, 1) else _unpad(gxs, padding)
        gb = g.reshape(batch, c_out, -1).sum(axis=2).sum(axis=0) if has_bias and ctx.needs_grad[2] else None
        return gx, None if gw is None else gw.reshape(weight.shape), gb


def conv2d(x: Any, weight: Any, bias: Any = None, stride: int | tuple[int, int] = 1,
           padding: int | tuple[int, int] = 0) -> Tensor:
    """2-D convolution (cross-correlation) via im2col and one matrix product.  Implements (eq-conv).

    x: (N, C_in, H, W); weight: (C_out, C_in, kH, kW); bias: (C_out,) or None;
    stride, padding: int or (vertical, horizontal) -> (N, C_out, Ho, Wo) with
    Ho = ⌊(H + 2p − kH)/s⌋ + 1 (eq-conv-output-size).  Same numbers as
    :func:`conv2d_reference` (and ``torch.nn.functional.conv2d``); keeps float32 in float32.
    """
    s, p, out = _check_conv("conv2d", x, weight, bias, stride, padding)
    return Conv2d.apply(x, weight, bias, stride=s, padding=p, out_size=out)


# ---------------------------------------------------------------------------
# pooling
# ---------------------------------------------------------------------------
def _pool_args(where: str, x: Any, kernel_size: Any, stride: Any, padding: Any
               ) -> tuple[tuple[int, int], tuple[int, int], tuple[int, int], tuple[int, int]]:
    sx = _check_image(where, x)
    k = _pair("kernel_size", kernel_size, 1)
    s = k if stride is None else _pair("stride", stride, 1)
    p = _pair("padding", padding, 0)
    if p[0] > k[0] // 2 or p[1] > k[1] // 2:
        raise ValueError(f"{where}: padding={p} must be at most half the kernel_size={k}")
    try:
        out = (conv_output_size(sx[2], k[0], s[0], p[0]), conv_output_size(sx[3], k[1], s[1], p[1]))
    except ValueError as e:
        raise ValueError(f"{where}: x of shape {sx}: {e}") from None
    return k, s, p, out


def _offsets(kernel: tuple[int, int]) -> list[tuple[int, int]]:
    """Window offsets (m, n) in row-major order: the order that breaks ties in max pooling."""
    return [(m, n) for m in range(kernel[0]) for n in range(kernel[1])]


def _scatter(gxp: np.ndarray, m: int, n: int, s: tuple[int, int], out: tuple[int, int], value: np.ndarray,
             overlap: bool) -> None:
    """Add ``value`` into the window slice (m, n) of the input gradient (plain assignment when windows are disjoint)."""
    view = _window(gxp, m, n, s, out)
    if overlap:
        view += value
    else:
        view[...] = value


class MaxPool2d(Function):
    """Y[b, c, i, j] = max over the window of X[b, c, i·s + m, j·s + n].

    Backward: the gradient goes to the input that was the maximum; when several
    inputs tie, to the first of them in row-major window order.  A NaN in the
    window is its maximum (the output is NaN) and takes the gradient, the last
    NaN in window order when there are several, as PyTorch's CPU kernel does.
    """

    @staticmethod
    def forward(ctx: Context, x: np.ndarray, *, kernel: tuple[int, int], stride: tuple[int, int],
                padding: tuple[int, int], out_size: tuple[int, int]) -> np.ndarray:
        xp = _pad(x, padding, -np.inf)
        offsets = _offsets(kernel)
        y = _window(xp, *offsets[0], stride, out_size).copy()
        for m, n in offsets[1:]:
            np.maximum(y, _window(xp, m, n, stride, out_size), out=y)
        ctx.save(xp, y, kernel, stride, padding, out_size)
        return y

    @staticmethod
    def backward(ctx: Context, g: np.ndarray) -> np.ndarray:
        xp, y, kernel, stride, padding, out_size = ctx.saved
        offsets = _offsets(kernel)
        nan_windows = np.isnan(y)
        has_nan = bool(nan_windows.any())
        # Plain assignment into uninitialised memory is only safe when the windows tile the input exactly:
        # no overlap (a pixel in two windows needs +=), no gaps (stride > kernel leaves pixels no window
        # writes), no padding, no rows or columns past the last window, and one write per pixel (no NaN pass).
        accumulate = stride[0] < kernel[0] or stride[1] < kernel[1] or has_nan
        tiles = stride == kernel and padding == (0, 0) and xp.shape[2:] == _covered(kernel, stride, out_size)
        gxp = np.empty_like(xp) if tiles and not accumulate else np.zeros_like(xp)
        zero = np.zeros((), dtype=g.dtype)
        unclaimed = ~nan_windows                                      # windows whose maximum is not yet found
        if has_nan:
            # y == x is False for NaN, so windows whose output is NaN are routed here: to their last NaN.
            for m, n in reversed(offsets):
                hit = np.isnan(_window(xp, m, n, stride, out_size))
                hit &= nan_windows
                nan_windows ^= hit
                _scatter(gxp, m, n, stride, out_size, np.where(hit, g, zero), accumulate)
        for m, n in offsets:
            hit = _window(xp, m, n, stride, out_size) == y
            hit &= unclaimed
            unclaimed ^= hit
            _scatter(gxp, m, n, stride, out_size, np.where(hit, g, zero), accumulate)
        return _unpad(gxp, padding)


def _covered(kernel: tuple[int, int], stride: tuple[int, int], out: tuple[int, int]) -> tuple[int, int]:
    """The input size that disjoint windows tile exactly (no uncovered rows/columns)."""
    return (stride[0] * (out[0] - 1) + kernel[0], stride[1] * (out[1] - 1) + kernel[1])


class AvgPool2d(Function):
    """Y[b, c, i, j] = (1/(kH·kW)) Σₘ Σₙ X[b, c, i·s + m, j·s + n].   Backward: each input gets g/(kH·kW)."""

    @staticmethod
    def forward(ctx: Context, x: np.ndarray, *, kernel: tuple[int, int], stride: tuple[int, int],
                padding: tuple[int, int], out_size: tuple[int, int]) -> np.ndarray:
        xp = _pad(x, padding)
        offsets = _offsets(kernel)
        y = _window(xp, *offsets[0], stride, out_size).copy()
        for m, n in offsets[1:]:
            y += _window(xp, m, n, stride, out_size)
        y *= 1.0 / (kernel[0] * kernel[1])
        ctx.save(xp.shape, kernel, stride, padding, out_size)
        return y

    @staticmethod
    def backward(ctx: Context, g: np.ndarray) -> np.ndarray:
        padded_shape, kernel, stride, padding, out_size = ctx.saved
        share = g * (1.0 / (kernel[0] * kernel[1]))
        gxp = np.zeros(padded_shape, dtype=g.dtype)
        overlap = stride[0] < kernel[0] or stride[1] < kernel[1]
        for m, n in _offsets(kernel):
            _scatter(gxp, m, n, stride, out_size, share, overlap)
        return _unpad(gxp, padding)


def max_pool2d(x: Any, kernel_size: int | tuple[int, int] = 2, stride: int | tuple[int, int] | None = None,
               padding: int | tuple[int, int] = 0) -> Tensor:
    """Max pooling: the largest value in each kH×kW window.  Implements (eq-maxpool).

    x: (N, C, H, W) -> (N, C, Ho, Wo), Ho = ⌊(H + 2p − k)/s⌋ + 1; stride
    defaults to kernel_size; padding (≤ k/2) counts as −∞.  Ties: the first
    maximum in row-major window order receives the gradient.
    """
    k, s, p, out = _pool_args("max_pool2d", x, kernel_size, stride, padding)
    return MaxPool2d.apply(x, kernel=k, stride=s, padding=p, out_size=out)


def avg_pool2d(x: Any, kernel_size: int | tuple[int, int] = 2, stride: int | tuple[int, int] | None = None,
               padding: int | tuple[int, int] = 0) -> Tensor:
    """Average pooling: the mean of each kH×kW window.  Implements (eq-avgpool).

    x: (N, C, H, W) -> (N, C, Ho, Wo), Ho = ⌊(H + 2p − k)/s⌋ + 1; stride
    defaults to kernel_size; zero padding counts in the mean (as PyTorch's default).
    """
    k, s, p, out = _pool_args("avg_pool2d", x, kernel_size, stride, padding)
    return AvgPool2d.apply(x, kernel=k, stride=s, padding=p, out_size=out)
