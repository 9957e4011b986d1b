"""The differentiable ops, grouped by topic.  Each names the book equation it implements.

Each formula is written here once as the book reads it; where the layers run a faster
kernel (:mod:`dlbook.kernels`), the readable twin sits beside the public op
(``lstm`` / ``lstm_reference``, ``conv2d`` / ``conv2d_im2col``, ``scaled_dot_product_attention`` /
``attention_reference``, ``layer_norm`` / ``layer_norm_reference``).
"""

from dlbook.functional.activations import (
    gelu,
    log_softmax,
    log_softmax_array,
    relu,
    sigmoid,
    sigmoid_array,
    silu,
    softmax,
    softmax_array,
    tanh,
)
from dlbook.functional.attention import (
    attention_reference,
    causal_mask,
    multihead_attention_reference,
    scaled_dot_product_attention,
)
from dlbook.functional.conv import (
    avg_pool2d,
    conv2d,
    conv2d_im2col,
    conv2d_reference,
    conv_output_size,
    max_pool2d,
)
from dlbook.functional.elementwise import add, div, exp, log, mul, neg, pow, sqrt, sub
from dlbook.functional.grouped_attention import grouped_query_attention, offset_causal_mask, repeat_kv
from dlbook.functional.linalg import linear, matmul
from dlbook.functional.losses import cross_entropy, mse_loss
from dlbook.functional.normalization import layer_norm, layer_norm_reference, rms_norm
from dlbook.functional.recurrent import (
    gru,
    gru_cell,
    gru_reference,
    lstm,
    lstm_cell,
    lstm_reference,
    rnn,
    rnn_cell,
    rnn_reference,
)
from dlbook.functional.reduce import max, mean, sum
from dlbook.functional.rope import rope, rope_angles
from dlbook.functional.shape import concatenate, getitem, reshape, stack, transpose

__all__ = [
    "add", "sub", "mul", "div", "neg", "pow", "exp", "log", "sqrt",
    "matmul", "linear", "sum", "mean", "max", "reshape", "transpose", "getitem", "concatenate", "stack",
    "tanh", "sigmoid", "relu", "gelu", "softmax", "log_softmax",
    "sigmoid_array", "softmax_array", "log_softmax_array",
    "mse_loss", "cross_entropy",
    "conv2d", "conv2d_im2col", "conv2d_reference", "conv_output_size", "max_pool2d", "avg_pool2d",
    "rnn", "lstm", "gru", "rnn_cell", "lstm_cell", "gru_cell", "rnn_reference", "lstm_reference", "gru_reference",
    "scaled_dot_product_attention", "attention_reference", "multihead_attention_reference", "causal_mask",
    "layer_norm", "layer_norm_reference",
    "silu", "rms_norm", "rope", "rope_angles", "repeat_kv", "grouped_query_attention", "offset_causal_mask",
]
