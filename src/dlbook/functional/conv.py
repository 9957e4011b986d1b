"""Convolution and pooling (§3.3, §4.3), from the formula.

For every output position (i, j) the convolution layer of a CNN computes

    Y(i, j) = Σₘ Σₙ X(i + m, j + n) K(m, n)                      (eq-conv)

(a cross-correlation: the kernel is not flipped), summed also over the input channels,
for every output channel and every image of the batch.  Written two ways, tested equal:

* :func:`conv2d_reference` — nested Python loops written exactly as the sum (for the text).
* :func:`conv2d_im2col` — *im2col* copies the k×k shifted views of the input into one
  matrix (k·k slice copies), and one matrix product with the flattened kernels gives
  every output at once: Y = K̂ · im2col(X).  Its backward is the same product
  transposed, and *col2im* (k·k slice-adds) scatters the gradient back.

:func:`conv2d` (what the layers call) runs it through the kernel :mod:`dlbook.kernels.conv`
at stride 1.  Pooling is built from the k·k strided slices of the input; 2×2 max-pool runs
:mod:`dlbook.kernels.pool`.  Kernels and readable twins: ``tests/test_fast_equals_readable.py``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from dlbook._checks import array_of, check_float, check_int
from dlbook.autograd import Context, Function, Tensor
from dlbook.kernels.conv import Conv2dWide
from dlbook.kernels.pool import MaxPool2x2


# ---- shapes and argument checks ----------------------------------------------
def _pair(name: str, value: Any, minimum: int) -> tuple[int, int]:
    """An int or a pair of ints -> (vertical, horizontal)."""
    if isinstance(value, (tuple, list)):
        if len(value) != 2:
            raise ValueError(f"{name} must be an int or a pair of ints, got {value!r}")
        return check_int(name, value[0], minimum), check_int(name, value[1], minimum)
    return (check_int(name, value, minimum),) * 2


def conv_output_size(size: int, kernel: int, stride: int = 1, padding: int = 0, *, exact: bool = False) -> int:
    """Output length along one axis: ⌊(H + 2p − k) / s⌋ + 1.  Implements (eq-conv-output-size).

    size H, kernel k, stride s ≥ 1, padding p ≥ 0 (all ints).  The window must
    fit in the padded input (k ≤ H + 2p).  With ``exact=True`` the division
    must leave no remainder (every input row is covered by a window), else
    ValueError; by default the last partial window is dropped, as in PyTorch.
    """
    size = check_int("size", size, 1)
    kernel = check_int("kernel", kernel, 1)
    stride = check_int("stride", stride, 1)
    padding = check_int("padding", padding, 0)
    padded = size + 2 * padding
    if kernel > padded:
        raise ValueError(f"kernel={kernel} is larger than the padded input: "
                         f"size={size} + 2·padding={2 * padding} = {padded}")
    span = padded - kernel
    if exact and span % stride:
        raise ValueError(f"non-integer output size: (size + 2·padding − kernel) / stride = "
                         f"({size} + {2 * padding} − {kernel}) / {stride} = {span / stride:g}; "
                         f"choose a stride that divides {span}")
    return span // stride + 1


def _check_image(where: str, x: Any) -> tuple[int, ...]:
    shape = array_of(x).shape
    if len(shape) != 4:
        raise ValueError(f"{where}: x must be 4-D (N, C, H, W), got shape {shape}")
    check_float(f"{where}: x", x)
    return shape


def _check_conv(where: str, x: Any, weight: Any, bias: Any, stride: Any, padding: Any
                ) -> tuple[tuple[int, int], tuple[int, int], tuple[int, int]]:
    """Validate conv2d's arguments; returns (stride, padding, output (Ho, Wo))."""
    sx = _check_image(where, x)
    sw = array_of(weight).shape
    if len(sw) != 4:
        raise ValueError(f"{where}: weight must be 4-D (C_out, C_in, kH, kW), got shape {sw}")
    if sx[1] != sw[1]:
        raise ValueError(f"{where}: channel mismatch: x has C_in={sx[1]} channels (shape {sx}) but weight "
                         f"expects C_in={sw[1]} (shape {sw})")
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


# ---- conv2d, the readable reference ------------------------------------------
class Conv2dReference(Function):
    """Y[b, o, i, j] = bias[o] + Σ_c Σₘ Σₙ X[b, c, i·s + m, j·s + n] K[o, c, m, n]   (eq-conv), as loops.

    Backward, from the same sum: each product X·K sends g·K to X and g·X to K.  Implements (eq-conv-layer), and
    (eq-conv-grad-kernel) and (eq-conv-grad-input) in its backward.
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
    """2-D convolution (cross-correlation) by nested loops, as the formula.  Implements (eq-conv), (eq-conv-layer).

    x: (N, C_in, H, W); weight: (C_out, C_in, kH, kW); bias: (C_out,) or None
    -> (N, C_out, Ho, Wo) with Ho = ⌊(H + 2p − kH)/s⌋ + 1 (eq-conv-output-size).
    Slow: for small inputs and for the text; use :func:`conv2d` otherwise.
    """
    s, p, out = _check_conv("conv2d_reference", x, weight, bias, stride, padding)
    return Conv2dReference.apply(x, weight, bias, stride=s, padding=p, out_size=out)


# ---- conv2d as im2col + one matrix product -----------------------------------
def im2col(xp: np.ndarray, kernel: tuple[int, int], stride: tuple[int, int], out: tuple[int, int]) -> np.ndarray:
    """Padded input (N, C, Hp, Wp) -> columns (N, C·kH·kW, Ho·Wo), built from kH·kW strided slice copies.

    Row (c, m, n) of image b's column matrix holds X[b, c, i·s + m, j·s + n]
    for every output position (i, j): the inputs that K[:, c, m, n] multiplies.
    """
    batch, c_in = xp.shape[:2]
    kh, kw = kernel
    cols = np.empty((batch, c_in, kh, kw, out[0], out[1]), dtype=xp.dtype)
    for m in range(kh):
        for n in range(kw):
            cols[:, :, m, n] = _window(xp, m, n, stride, out)
    return cols.reshape(batch, c_in * kh * kw, out[0] * out[1])


def col2im(cols: np.ndarray, padded_shape: tuple[int, ...], kernel: tuple[int, int], stride: tuple[int, int],
           out: tuple[int, int]) -> np.ndarray:
    """The adjoint of :func:`im2col`: columns (N, C·kH·kW, Ho·Wo) -> (N, C, Hp, Wp) by kH·kW slice-adds.

    An input pixel that sat in several windows receives the sum of its columns' gradients.
    """
    batch, c_in = padded_shape[:2]
    kh, kw = kernel
    cols = cols.reshape(batch, c_in, kh, kw, out[0], out[1])
    xp = np.zeros(padded_shape, dtype=cols.dtype)
    for m in range(kh):
        for n in range(kw):
            _window(xp, m, n, stride, out)[...] += cols[:, :, m, n]
    return xp


class Conv2dIm2col(Function):
    """Y_b = K̂ · cols_b + b for each image b, with cols = im2col(X) and K̂ = K reshaped to (C_out, C_in·kH·kW).

    Backward (the same product, transposed):
    dL/dK̂ = Σ_b dL/dY_b · cols_bᵀ,   dL/dcols = K̂ᵀ · dL/dY  (then col2im),   dL/db = Σ dL/dY.
    Implements (eq-im2col), and (eq-conv-grad-kernel) and (eq-conv-grad-input) as matrix products.
    """

    @staticmethod
    def forward(ctx: Context, x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None, *,
                stride: tuple[int, int], padding: tuple[int, int], out_size: tuple[int, int]) -> np.ndarray:
        c_out = weight.shape[0]
        xp = _pad(x, padding)
        cols = im2col(xp, weight.shape[2:], stride, out_size)          # (N, C·kH·kW, Ho·Wo)
        y = np.matmul(weight.reshape(c_out, -1), cols)                 # K̂ · cols: (N, C_out, Ho·Wo)
        if bias is not None:
            y += bias.reshape(1, c_out, 1)
        ctx.save(xp.shape, cols, weight, bias is not None, stride, padding, out_size)
        return y.reshape(x.shape[0], c_out, *out_size)

    @staticmethod
    def backward(ctx: Context, g: np.ndarray) -> tuple:
        padded_shape, cols, weight, has_bias, stride, padding, out_size = ctx.saved
        c_out = weight.shape[0]
        g2 = np.ascontiguousarray(g).reshape(g.shape[0], c_out, -1)   # dL/dY: (N, C_out, Ho·Wo)
        k2 = weight.reshape(c_out, -1)
        gw = np.matmul(g2, cols.transpose(0, 2, 1)).sum(axis=0).reshape(weight.shape) if ctx.needs_grad[1] else None
        gcols = np.matmul(k2.T, g2) if ctx.needs_grad[0] else None               # dL/dcols = K̂ᵀ · dL/dY
        gx = None if gcols is None else _unpad(col2im(gcols, padded_shape, weight.shape[2:], stride, out_size), padding)
        gb = g2.sum(axis=2).sum(axis=0) if has_bias and ctx.needs_grad[2] else None
        return gx, gw, gb


def conv2d_im2col(x: Any, weight: Any, bias: Any = None, stride: int | tuple[int, int] = 1,
                  padding: int | tuple[int, int] = 0) -> Tensor:
    """2-D convolution as Y = K̂·im2col(X) + b (§4.3), the readable twin of :func:`conv2d`.  Implements (eq-im2col).

    x: (N, C_in, H, W); weight: (C_out, C_in, kH, kW); bias: (C_out,) or None;
    stride, padding: int or (vertical, horizontal) -> (N, C_out, Ho, Wo).  Whole
    batch at once, no buffers reused: clear, and slower than :func:`conv2d` at stride 1.
    """
    s, p, out = _check_conv("conv2d_im2col", x, weight, bias, stride, padding)
    return Conv2dIm2col.apply(x, weight, bias, stride=s, padding=p, out_size=out)


def conv2d(x: Any, weight: Any, bias: Any = None, stride: int | tuple[int, int] = 1,
           padding: int | tuple[int, int] = 0) -> Tensor:
    """2-D convolution (cross-correlation) via im2col and one product.  Implements (eq-conv), (eq-conv-layer).

    x: (N, C_in, H, W); weight: (C_out, C_in, kH, kW); bias: (C_out,) or None;
    stride, padding: int or (vertical, horizontal) -> (N, C_out, Ho, Wo) with
    Ho = ⌊(H + 2p − kH)/s⌋ + 1 (eq-conv-output-size).  Same numbers as
    :func:`conv2d_reference` (and ``torch.nn.functional.conv2d``); keeps float32 in float32.
    Stride 1 runs the fast kernel :class:`dlbook.kernels.conv.Conv2dWide`; other strides
    :func:`conv2d_im2col`.
    """
    s, p, out = _check_conv("conv2d", x, weight, bias, stride, padding)
    if s == (1, 1):
        return Conv2dWide.apply(x, weight, bias, padding=p, out_size=out)
    return Conv2dIm2col.apply(x, weight, bias, stride=s, padding=p, out_size=out)


# ---- pooling -----------------------------------------------------------------
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
        covered = tuple(s * (o - 1) + k for s, o, k in zip(stride, out_size, kernel))   # what disjoint windows tile
        tiles = stride == kernel and padding == (0, 0) and xp.shape[2:] == covered
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
    if k == s == (2, 2) and p == (0, 0):
        return MaxPool2x2.apply(x, out_size=out)                     # the fast kernel for the usual case
    return MaxPool2d.apply(x, kernel=k, stride=s, padding=p, out_size=out)


def avg_pool2d(x: Any, kernel_size: int | tuple[int, int] = 2, stride: int | tuple[int, int] | None = None,
               padding: int | tuple[int, int] = 0) -> Tensor:
    """Average pooling: the mean of each kH×kW window.  Implements (eq-avgpool).

    x: (N, C, H, W) -> (N, C, Ho, Wo), Ho = ⌊(H + 2p − k)/s⌋ + 1; stride
    defaults to kernel_size; zero padding counts in the mean (as PyTorch's default).
    """
    k, s, p, out = _pool_args("avg_pool2d", x, kernel_size, stride, padding)
    return AvgPool2d.apply(x, kernel=k, stride=s, padding=p, out_size=out)
