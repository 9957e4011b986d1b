"""Convolution and pooling layers (§3.3), named and shaped as in ``torch.nn``."""

from __future__ import annotations

from typing import Any

import numpy as np

from dlbook._checks import check_positive_int, layer_input
from dlbook.autograd import Tensor
from dlbook.functional import conv as C
from dlbook.nn.init import he_normal
from dlbook.nn.module import Module, Parameter


def _size_pair(name: str, value: Any) -> tuple[int, int]:
    if isinstance(value, (tuple, list)):
        if len(value) != 2:
            raise ValueError(f"{name} must be an int or a pair of ints, got {value!r}")
        return check_positive_int(name, value[0]), check_positive_int(name, value[1])
    v = check_positive_int(name, value)
    return v, v


class Conv2d(Module):
    """A convolution layer: Y = K ⋆ X + b (eq-conv).  x: (N, in_channels, H, W) -> (N, out_channels, Ho, Wo).

    ``weight``: (out_channels, in_channels, kH, kW), He-initialised
    (N(0, 2/fan_in) with fan_in = in_channels·kH·kW, suited to a ReLU after
    it); ``bias``: (out_channels,), zeros.  Ho = ⌊(H + 2p − kH)/s⌋ + 1
    (eq-conv-output-size).  Runs :func:`dlbook.functional.conv.conv2d` (the fast kernel at stride 1).
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int | tuple[int, int], stride: Any = 1,
                 padding: Any = 0, bias: bool = True, *, rng: np.random.Generator, dtype: Any = np.float64) -> None:
        super().__init__()
        self.in_channels = check_positive_int("in_channels", in_channels)
        self.out_channels = check_positive_int("out_channels", out_channels)
        self.kernel_size = _size_pair("kernel_size", kernel_size)
        self.stride = C._pair("stride", stride, 1)
        self.padding = C._pair("padding", padding, 0)
        shape = (self.out_channels, self.in_channels, *self.kernel_size)
        self.weight = Parameter(he_normal(shape, rng).astype(dtype))
        self.bias = Parameter(np.zeros(self.out_channels, dtype=dtype)) if bias else None

    def forward(self, x: Tensor) -> Tensor:
        x = layer_input("x", x, self.weight.dtype)
        if x.ndim >= 1 and x.shape[0] == 0:      # numpy cannot reshape an empty batch in the backward pass
            raise ValueError(f"Conv2d: x has batch size 0 (shape {x.shape}); give at least one image")
        return C.conv2d(x, self.weight, self.bias, stride=self.stride, padding=self.padding)

    def extra_repr(self) -> str:
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}, "
                f"padding={self.padding}, bias={self.bias is not None}")


class MaxPool2d(Module):
    """Max pooling (eq-maxpool): (N, C, H, W) -> (N, C, Ho, Wo); stride defaults to kernel_size."""

    def __init__(self, kernel_size: Any = 2, stride: Any = None, padding: Any = 0) -> None:
        super().__init__()
        self.kernel_size, self.stride, self.padding = kernel_size, stride, padding

    def forward(self, x: Tensor) -> Tensor:
        return C.max_pool2d(x, self.kernel_size, self.stride, self.padding)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride or self.kernel_size}, padding={self.padding}"


class AvgPool2d(Module):
    """Average pooling (eq-avgpool): (N, C, H, W) -> (N, C, Ho, Wo); stride defaults to kernel_size."""

    def __init__(self, kernel_size: Any = 2, stride: Any = None, padding: Any = 0) -> None:
        super().__init__()
        self.kernel_size, self.stride, self.padding = kernel_size, stride, padding

    def forward(self, x: Tensor) -> Tensor:
        return C.avg_pool2d(x, self.kernel_size, self.stride, self.padding)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride or self.kernel_size}, padding={self.padding}"
