"""The differentiable ops, grouped by topic.  Each names the book equation it implements."""

from dlbook.functional.activations import (
    gelu,
    log_softmax,
    log_softmax_array,
    relu,
    sigmoid,
    sigmoid_array,
    softmax,
    softmax_array,
    tanh,
)
from dlbook.functional.attention import causal_mask, scaled_dot_product_attention
from dlbook.functional.conv import avg_pool2d, conv2d, conv2d_reference, conv_output_size, max_pool2d
from dlbook.functional.elementwise import add, div, exp, log, mul, neg, pow, sqrt, sub
from dlbook.functional.linalg import linear, matmul
from dlbook.functional.losses import cross_entropy, mse_loss
from dlbook.functional.normalization import layer_norm
from dlbook.functional.recurrent import bptt_hidden_grads, gru, gru_cell, lstm, lstm_cell, rnn, rnn_cell
from dlbook.functional.reduce import max, mean, sum
from dlbook.functional.shape import concatenate, getitem, reshape, stack, transpose

__all__ = [
    "add", "sub", "mul", "div", "neg", "pow", "exp", "log", "sqrt",
    "matmul", "linear", "sum", "mean", "max", "reshape", "transpose", "getitem", "concatenate", "stack",
    "tanh", "sigmoid", "relu", "gelu", "softmax", "log_softmax",
    "sigmoid_array", "softmax_array", "log_softmax_array",
    "mse_loss", "cross_entropy",
    "conv2d", "conv2d_reference", "conv_output_size", "max_pool2d", "avg_pool2d",
    "rnn", "lstm", "gru", "rnn_cell", "lstm_cell", "gru_cell", "bptt_hidden_grads",
    "scaled_dot_product_attention", "causal_mask", "layer_norm",
]
