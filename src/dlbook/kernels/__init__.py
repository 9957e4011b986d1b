"""Fast kernels: the ops the models run, kept apart from the readable ops the book teaches.

Each kernel here computes what a readable op of :mod:`dlbook.functional` computes, but
laid out for speed — fused loops over time, a flat "wide" image layout, packed
attention heads, scratch buffers.  ``tests/test_fast_equals_readable.py`` holds every
kernel to its readable twin, forward and backward, in float64 and float32:

=================================================  ==================================================
kernel                                             readable twin (:mod:`dlbook.functional`)
=================================================  ==================================================
:class:`~dlbook.kernels.recurrent.RNNSequence`     :func:`~dlbook.functional.recurrent.rnn_reference`
:class:`~dlbook.kernels.recurrent.LSTMSequence`    :func:`~dlbook.functional.recurrent.lstm_reference`
:class:`~dlbook.kernels.recurrent.GRUSequence`     :func:`~dlbook.functional.recurrent.gru_reference`
:class:`~dlbook.kernels.conv.Conv2dWide`           :func:`~dlbook.functional.conv.conv2d_im2col`
:class:`~dlbook.kernels.pool.MaxPool2x2`           :class:`~dlbook.functional.conv.MaxPool2d`
:class:`~dlbook.kernels.attention.ScaledDotProductAttention`  :func:`~dlbook.functional.attention.attention_reference`
:class:`~dlbook.kernels.attention.MultiheadCore`   :func:`~dlbook.functional.attention.multihead_attention_reference`
=================================================  ==================================================

The public functions (``F.lstm``, ``F.conv2d``, ``F.max_pool2d``,
``F.scaled_dot_product_attention``) check their arguments and then call these kernels.
A kernel module imports nothing from :mod:`dlbook.functional`, so the functional ops can
call it without an import cycle.
"""
