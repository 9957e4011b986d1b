"""Layers and models' building blocks, named as in ``torch.nn``.

Each topic lives in its own module; this file only gathers the names.
"""

from dlbook.nn import init
from dlbook.nn.activation import GELU, ReLU, Sigmoid, Softmax, Tanh
from dlbook.nn.attention import MultiheadAttention
from dlbook.nn.conv import AvgPool2d, Conv2d, MaxPool2d
from dlbook.nn.dropout import Dropout
from dlbook.nn.embedding import Embedding
from dlbook.nn.kv_cache import KVCache, kv_cache_bytes
from dlbook.nn.linear import Flatten, Identity, Linear, Sequential
from dlbook.nn.llama_layers import GroupedQueryAttention, RMSNorm, SwiGLU
from dlbook.nn.loss import CrossEntropyLoss, MSELoss
from dlbook.nn.module import Module, Parameter
from dlbook.nn.normalization import LayerNorm
from dlbook.nn.recurrent import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNCell
from dlbook.nn.transformer import (
    PositionalEmbedding,
    PositionalEncoding,
    TransformerDecoder,
    TransformerDecoderLayer,
    TransformerEncoder,
    TransformerEncoderLayer,
    sinusoidal_positional_encoding,
)

__all__ = [
    "init", "Embedding", "Module", "Parameter", "Linear", "Sequential", "Flatten", "Identity",
    "Conv2d", "MaxPool2d", "AvgPool2d",
    "ReLU", "Tanh", "Sigmoid", "GELU", "Softmax", "CrossEntropyLoss", "MSELoss",
    "RNN", "LSTM", "GRU", "RNNCell", "LSTMCell", "GRUCell",
    "MultiheadAttention", "Dropout", "LayerNorm", "PositionalEmbedding", "PositionalEncoding",
    "TransformerEncoderLayer", "TransformerDecoderLayer", "TransformerEncoder", "TransformerDecoder",
    "sinusoidal_positional_encoding",
    "RMSNorm", "SwiGLU", "GroupedQueryAttention", "KVCache", "kv_cache_bytes",
]
