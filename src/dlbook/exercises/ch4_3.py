"""Exercises of §4.3, The convolution formula: one output of a padded, strided convolution by hand, the shape of
the im2col matrix, the convolution layer as loops (channels, stride, padding), and its backward pass as
convolutions.

Use in a notebook cell: ``from dlbook.exercises import ch4_3`` then ``ch4_3.check_strided_output(answer)``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from dlbook.autograd import Tensor
from dlbook.exercises._answers import Mistake, check_number, check_shape
from dlbook.exercises._compare import compare
from dlbook.exercises._registry import register
from dlbook.functional import conv2d_reference, conv_output_size

#: The chapter's 5×5 image and its 3×3 kernel (the vertical-edge Sobel kernel).
IMAGE = ((1, 2, 0, 1, 3), (0, 1, 3, 2, 1), (2, 0, 1, 0, 2), (1, 3, 2, 1, 0), (0, 1, 0, 2, 1))
KERNEL = ((1, 0, -1), (2, 0, -2), (1, 0, -1))
#: The output asked for: Y(1, 2) with padding 1 and stride 2.
POSITION, PADDING, STRIDE = (1, 2), 1, 2
#: The layer of the im2col exercise: Conv2d(3, 24, kernel_size=5, stride=2, padding=2) on 32×32 images.
C_IN, C_OUT, SIZE, K, S, P = 3, 24, 32, 5, 2, 2


def _output(stride: int, padding: int, kernel: np.ndarray | None = None) -> float:
    x = np.array(IMAGE, dtype=np.float64)[None, None]
    k = np.array(KERNEL if kernel is None else kernel, dtype=np.float64)[None, None]
    y = conv2d_reference(x, k, stride=stride, padding=padding).data[0, 0]
    return float(y[POSITION])


@register("4.3-strided-output", "4.3", "compute", "One output of a padded, strided convolution, by hand")
def check_strided_output(answer: Any) -> bool:
    """Y(1, 2) of the chapter's 5×5 image X and 3×3 kernel K with padding 1 and stride 2 (eq-conv, zero padding).

    ``answer``: a number; right to within ±0.001.
    """
    flipped = np.array(KERNEL)[::-1, ::-1]
    mistakes = [
        Mistake(_output(1, 0), "That is Y(1, 2) without padding and stride, the output computed in the chapter."),
        Mistake(_output(1, PADDING), "The stride is missing: output (i, j) starts at row i·s and column j·s of the "
                                     "padded image."),
        Mistake(_output(STRIDE, PADDING, flipped), "You flipped the kernel: eq-conv slides K as it is (a "
                                                   "cross-correlation)."),
    ]
    return check_number("answer", answer, _output(STRIDE, PADDING), abs_tol=1e-3, mistakes=mistakes,
                        hint="Pad X with one ring of zeros; output (1, 2) is the 3×3 window whose top-left corner is "
                             "padded row 1·2 and padded column 2·2; multiply by K entry by entry and add.")


@register("4.3-im2col-shape", "4.3", "compute", "The shape of the im2col matrix of a convolution layer")
def check_im2col_shape(answer: Any) -> bool:
    """The shape of im2col(X) for one image of 3×32×32 and ``Conv2d(3, 24, kernel_size=5, stride=2, padding=2)``:
    (rows, columns), one column per output position.

    ``answer``: a tuple of two ints; checked exactly.
    """
    side = conv_output_size(SIZE, K, S, P)
    rows, columns = C_IN * K * K, side * side
    mistakes = [
        Mistake((columns, rows), "Transposed: the rows are the C_in·k_h·k_w entries of one patch, the columns the "
                                 "output positions (so that K̂ · im2col(X) works)."),
        Mistake((K * K, columns), "A patch spans all input channels: C_in·k_h·k_w entries, not k_h·k_w."),
        Mistake((rows, SIZE * SIZE), "One column per *output* position: H_out·W_out, after padding and stride."),
        Mistake((C_OUT * C_IN * K * K, columns), "im2col depends on the input and the kernel size only; the C_out "
                                                 "kernels are the rows of K̂, the other factor of the product."),
        Mistake((C_OUT, columns), "That is the shape of the product Y = K̂ · im2col(X), not of im2col(X)."),
    ]
    return check_shape("answer", answer, (rows, columns), mistakes=mistakes,
                       hint="Rows: the entries of one patch (C_in·k_h·k_w); columns: H_out·W_out "
                            "(eq-conv-output-size).")


# ---- implement: the layer as loops ----------------------------------------------------------------------------

def _layer_reference(x: np.ndarray, w: np.ndarray, b: np.ndarray, stride: int, padding: int) -> np.ndarray:
    return conv2d_reference(x, w, b, stride=stride, padding=padding).data


def _layer_cases() -> list[dict[str, Any]]:
    rng = np.random.default_rng(45)
    settings = [((1, 1, 5, 5), 1, 3, 1, 0), ((2, 3, 6, 5), 4, 3, 1, 1), ((1, 2, 7, 7), 3, 3, 2, 1),
                ((2, 1, 8, 6), 2, 2, 2, 0), ((1, 2, 5, 6), 2, 1, 3, 2)]
    cases = []
    for shape, c_out, k, s, p in settings:
        cases.append(dict(x=rng.standard_normal(shape), w=rng.standard_normal((c_out, shape[1], k, k)),
                          b=rng.standard_normal(c_out), stride=s, padding=p))
    return cases


def _layer_hint(case: dict[str, Any], got: tuple[np.ndarray, ...]) -> str | None:
    x, w, b, s, p = case.values()
    if got[0].shape != _layer_reference(x, w, b, s, p).shape:
        return None
    if np.allclose(got[0], _layer_reference(x, w, np.zeros_like(b), s, p)):
        return "The bias is missing: output channel o adds b[o] at every position."
    if np.allclose(got[0], _layer_reference(x, w[:, :, ::-1, ::-1], b, s, p)):
        return "You flipped the kernel: eq-conv uses K(m, n) as it is."
    one_side = np.pad(x, ((0, 0), (0, 0), (0, 2 * p), (0, 2 * p)))
    if p and np.allclose(got[0], _layer_reference(one_side, w, b, s, 0)):
        return "The padding goes on both sides: p zeros above and below, p to the left and to the right."
    return None


@register("4.3-conv-layer", "4.3", "implement", "A convolution layer as loops: channels, stride, padding")
def check_conv_layer(fn: Any) -> bool:
    """``fn(x, w, b, stride, padding)`` -> Y, the convolution layer of eq-conv:

        Y[N, o, i, j] = b[o] + Σ_c Σ_m Σ_n Xp[N, c, i·s + m, j·s + n] w[o, c, m, n],

    Xp the input padded with p zeros on every side.

    x: (N, C_in, H, W), w: (C_out, C_in, k, k), b: (C_out,), stride and padding ints -> (N, C_out, H_out, W_out).
    Compared with ``dlbook.functional.conv2d_reference``.
    """
    return compare(fn, _layer_reference, _layer_cases(), argument="fn", diagnose=_layer_hint,
                   error_hint="Pad only the two spatial axes: np.pad(x, ((0, 0), (0, 0), (p, p), (p, p))); "
                              "H_out = (H + 2p − k) // s + 1.",
                   success="Your convolution layer agrees with dlbook's")


# ---- implement: the backward pass -----------------------------------------------------------------------------

def _backward_reference(x: np.ndarray, k: np.ndarray, g: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    tx, tk = Tensor(x[None, None], requires_grad=True), Tensor(k[None, None], requires_grad=True)
    conv2d_reference(tx, tk).backward(g[None, None])
    return tx.grad[0, 0], tk.grad[0, 0]


def _backward_cases() -> list[dict[str, Any]]:
    rng = np.random.default_rng(46)
    cases = []
    for (h, w), (kh, kw) in [((5, 5), (3, 3)), ((6, 7), (3, 2)), ((4, 6), (1, 3)), ((5, 4), (4, 4))]:
        cases.append(dict(x=rng.standard_normal((h, w)), k=rng.standard_normal((kh, kw)),
                          g=rng.standard_normal((h - kh + 1, w - kw + 1))))
    return cases


def _full_correlation(g: np.ndarray, k: np.ndarray) -> np.ndarray:
    kh, kw = k.shape
    padded = np.pad(g, ((kh - 1, kh - 1), (kw - 1, kw - 1)))
    return conv2d_reference(padded[None, None], k[None, None]).data[0, 0]


def _backward_hint(case: dict[str, Any], got: tuple[np.ndarray, ...]) -> str | None:
    x, k, g = case.values()
    dx, dk = got
    if dx.shape == x.shape and np.allclose(dx, _full_correlation(g, k)) and not np.allclose(k, k[::-1, ::-1]):
        return ("dx: the kernel must be turned by 180° (k[::-1, ::-1]) when you correlate the padded ∂L/∂Y with it: "
                "pixel (u, v) meets K(u − i, v − j).")
    if dk.shape == k.shape and np.allclose(dk, _backward_reference(x, k, g)[1][::-1, ::-1]):
        return "dk is turned by 180°: ∂L/∂K(m, n) = Σ_ij ∂L/∂Y(i, j) · X(i + m, j + n), no flip."
    return None


@register("4.3-conv-backward", "4.3", "implement", "The backward pass of a convolution, as convolutions")
def check_conv_backward(fn: Any) -> bool:
    """``fn(x, k, g)`` -> ``(dx, dk)`` for Y = x ⋆ k (eq-conv, no padding, stride 1) given g = ∂L/∂Y.

    x: (H, W), k: (kH, kW), g: (H − kH + 1, W − kW + 1); dx like x, dk like k.  Compared with the gradients
    autograd computes through ``dlbook.functional.conv2d_reference``.
    """
    return compare(fn, _backward_reference, _backward_cases(), argument="fn", outputs=("dx", "dk"),
                   diagnose=_backward_hint,
                   error_hint="dk has the kernel's shape: correlate x with g (g as the kernel). dx has x's shape: "
                              "pad g by k − 1 zeros on each side first.",
                   success="Your convolution backward agrees with dlbook's")
