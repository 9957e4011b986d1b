"""Layers and models' building blocks, named as in ``torch.nn``.

Each topic lives in its own module; this file only gathers the names.
"""

from dlbook.nn import init
from dlbook.nn.activation import GELU, ReLU, Sigmoid, Softmax, Tanh
from dlbook.nn.embedding import Embedding
from dlbook.nn.linear import Flatten, Identity, Linear, Sequential
from dlbook.nn.loss import CrossEntropyLoss, MSELoss
from dlbook.nn.module import Module, Parameter

__all__ = [
    "init", "Embedding", "Module", "Parameter", "Linear", "Sequential", "Flatten", "Identity",
    "ReLU", "Tanh", "Sigmoid", "GELU", "Softmax", "CrossEntropyLoss", "MSELoss",
]
