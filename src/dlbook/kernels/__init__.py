"""Fast kernels: the ops the models run, kept apart from the readable ops the book teaches.

Each kernel here computes what a readable op of :mod:`dlbook.functional` computes, but
laid out for speed — fused loops over time, a flat "wide" image layout, packed
attention heads, scratch buffers.  ``tests/test_fast_equals_readable.py`` holds every
kernel to its readable twin, forward and backward, in float64 and float32:

* ``recurrent.RNNSequence``, ``LSTMSequence``, ``GRUSequence`` — ``functional.recurrent.rnn_reference``,
  ``lstm_reference``, ``gru_reference`` (loops of the cells);
* ``conv.Conv2dWide`` (stride 1) — ``functional.conv.conv2d_im2col``;
* ``pool.MaxPool2x2`` — the general ``functional.conv.MaxPool2d`` (bit for bit);
* ``attention.ScaledDotProductAttention`` — ``functional.attention.attention_reference``;
* ``attention.MultiheadCore`` — ``functional.attention.multihead_attention_reference``.

The public functions (``F.lstm``, ``F.conv2d``, ``F.max_pool2d``,
``F.scaled_dot_product_attention``) check their arguments and then call these kernels.
A kernel module imports nothing from :mod:`dlbook.functional`, so the functional ops can
call it without an import cycle.
"""
