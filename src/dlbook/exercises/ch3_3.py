"""Exercises of §3.3, Convolutional neural networks: a feature map's shape, a convolution layer's parameters, the
convolution and max pooling written as loops or slices, and a CNN with fewer kernels.

Use in a notebook cell: ``from dlbook.exercises import ch3_3`` then ``ch3_3.check_conv_shape(answer)``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from dlbook.exercises._answers import Mistake, check_number, check_shape
from dlbook.exercises._compare import compare
from dlbook.exercises._registry import explore, register
from dlbook.functional.conv import MaxPool2d, conv2d_reference, conv_output_size

#: The layer of the shape and counting exercises: Conv2d(3, 24, kernel_size=5, stride=2, padding=2) applied to a
#: batch of 8 colour images of 32×32 pixels.
BATCH, C_IN, SIZE = 8, 3, 32
C_OUT, KERNEL, STRIDE, PADDING = 24, 5, 2, 2


@register("3.3-conv-shape", "3.3", "compute", "The output shape of a strided, padded convolution")
def check_conv_shape(answer: Any) -> bool:
    """The shape of ``Conv2d(3, 24, kernel_size=5, stride=2, padding=2)`` applied to x of shape (8, 3, 32, 32).

    ``answer``: a tuple of ints, (N, C, H, W); checked exactly.
    """
    side = conv_output_size(SIZE, KERNEL, STRIDE, PADDING)
    span = SIZE + 2 * PADDING - KERNEL

    def shape(h: int, c: int = C_OUT) -> tuple[int, int, int, int]:
        return (BATCH, c, h, h)

    mistakes = [
        Mistake(shape(side, C_IN), "The channel axis holds one feature map per kernel: C_out, not C_in."),
        Mistake(shape((SIZE - KERNEL) // STRIDE + 1), "The padding is missing: it adds p zeros on *both* sides, "
                                                       "so the padded size is H + 2p."),
        Mistake(shape((SIZE + PADDING - KERNEL) // STRIDE + 1), "Check two things: the padding goes on both sides "
                                                                 "(H + 2p), and the first position counts (+1)."),
        Mistake(shape(math.ceil(span / STRIDE) + 1), "A window that would run past the padded edge is dropped: "
                                                      "round the division down (⌊·⌋), not up."),
        Mistake(shape(span + 1), "The stride is missing: the kernel moves s pixels at a time, so divide by s."),
        Mistake((C_OUT, side, side), "The batch axis comes first and stays: a layer maps every image of the batch."),
        Mistake((BATCH, side, side, C_OUT), "dlbook (like PyTorch) puts the channels second: (N, C, H, W)."),
    ]
    return check_shape("answer", answer, shape(side), mistakes=mistakes,
                       hint="Each side is ⌊(H + 2p − k) / s⌋ + 1 (eq-conv-output-size); the channels are C_out.")


@register("3.3-conv-parameters", "3.3", "compute", "The parameters of a convolution layer")
def check_conv_parameters(answer: Any) -> bool:
    """The number of parameters of ``Conv2d(3, 24, kernel_size=5, stride=2, padding=2)``.

    ``answer``: an int; checked exactly.
    """
    weights = C_OUT * C_IN * KERNEL * KERNEL
    side = conv_output_size(SIZE, KERNEL, STRIDE, PADDING)
    mistakes = [
        Mistake(weights, "The bias is missing: each output channel (each kernel) has one bias."),
        Mistake(C_OUT * KERNEL * KERNEL + C_OUT, "A kernel spans all input channels: it is C_in × k × k, "
                                                 "not k × k."),
        Mistake(weights + C_IN * C_OUT, "There is one bias per output channel, not per pair of channels."),
        Mistake((weights + C_OUT) * side * side, "The same kernel is used at every position: the count does not "
                                                 "grow with the number of output positions."),
        Mistake(weights * BATCH + C_OUT, "Parameters belong to the layer, not to the batch."),
        Mistake(C_OUT * C_IN * KERNEL + C_OUT, "A k × k kernel has k² weights per input channel."),
    ]
    return check_number("answer", answer, weights + C_OUT, abs_tol=0.5, mistakes=mistakes, unit="parameters",
                        hint="The weight has shape (C_out, C_in, k, k), and there is one bias per output channel.")


# ---- implement: the convolution of one image with one kernel ---------------------------------------------------

def _conv_reference(x: np.ndarray, k: np.ndarray) -> np.ndarray:
    return conv2d_reference(x[None, None], k[None, None]).data[0, 0]


def _conv_cases() -> list[dict[str, Any]]:
    rng = np.random.default_rng(33)
    return [dict(x=rng.standard_normal(xs), k=rng.standard_normal(ks))
            for xs, ks in [((5, 5), (3, 3)), ((6, 4), (2, 3)), ((4, 7), (4, 1)), ((3, 3), (3, 3)), ((8, 6), (1, 2))]]


def _conv_hint(case: dict[str, Any], got: tuple[np.ndarray, ...]) -> str | None:
    x, k = case["x"], case["k"]
    if got[0].shape == _conv_reference(x, k).shape and np.allclose(got[0], _conv_reference(x, k[::-1, ::-1])):
        return ("You flipped the kernel, as the convolution of signal processing does; a CNN's convolution is "
                "a cross-correlation, Y(i, j) = Σ X(i + m, j + n) K(m, n), with the kernel as it is.")
    return None


@register("3.3-conv2d", "3.3", "implement", "A convolution of one image with one kernel")
def check_conv2d(fn: Any) -> bool:
    """``fn(x, k)`` -> Y with Y(i, j) = Σₘ Σₙ x(i + m, j + n) k(m, n), no padding, stride 1.

    x: (H, W), k: (kH, kW) -> (H − kH + 1, W − kW + 1).  Compared with ``dlbook.functional.conv2d_reference``.
    """
    return compare(fn, _conv_reference, _conv_cases(), argument="fn", diagnose=_conv_hint,
                   error_hint="The output has H − kH + 1 rows and W − kW + 1 columns: the kernel must fit inside "
                              "the image at every position.",
                   success="Your convolution agrees with dlbook's")


# ---- implement: k×k max pooling with stride k -----------------------------------------------------------------

def _pool_reference(x: np.ndarray, k: int) -> np.ndarray:
    out = (conv_output_size(x.shape[2], k, k), conv_output_size(x.shape[3], k, k))
    return MaxPool2d.apply(x, kernel=(k, k), stride=(k, k), padding=(0, 0), out_size=out).data


def _pool_cases() -> list[dict[str, Any]]:
    rng = np.random.default_rng(34)
    return [dict(x=rng.standard_normal(shape), k=k)
            for shape, k in [((2, 3, 4, 4), 2), ((1, 2, 6, 6), 3), ((2, 1, 6, 4), 2), ((1, 1, 5, 7), 2)]]


def _pool_hint(case: dict[str, Any], got: tuple[np.ndarray, ...]) -> str | None:
    x, k = case["x"], case["k"]
    n, c, h, w = x.shape
    ho, wo = h // k, w // k
    mean = x[:, :, :ho * k, :wo * k].reshape(n, c, ho, k, wo, k).mean(axis=(3, 5))
    if got[0].shape == mean.shape and np.allclose(got[0], mean):
        return "That is average pooling: max pooling keeps the largest value of each window."
    return None


@register("3.3-max-pool", "3.3", "implement", "k×k max pooling with stride k")
def check_max_pool(fn: Any) -> bool:
    """``fn(x, k)`` -> the maximum of each k×k window of x, windows side by side (stride k), no padding.

    x: (N, C, H, W), k an int -> (N, C, ⌊H/k⌋, ⌊W/k⌋) (rows and columns past the last whole window are dropped).
    Compared with dlbook's readable ``MaxPool2d`` (``dlbook.functional.conv``).
    """
    return compare(fn, _pool_reference, _pool_cases(), argument="fn", diagnose=_pool_hint,
                   error_hint="When H or W is not a multiple of k, drop the last rows or columns first "
                              "(x[:, :, :Ho * k, :Wo * k]).",
                   success="Your max pooling agrees with dlbook's")


explore("3.3-fewer-kernels", "3.3", "How few kernels does the digits CNN need? (retrain with fewer channels)")
