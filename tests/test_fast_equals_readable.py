"""Every fast kernel of ``dlbook.kernels`` computes what its readable twin in ``dlbook.functional`` computes.

One table of pairs; each pair is run on the same random inputs, in float64 and in float32,
and compared twice: the forward outputs, and the gradients of every input after one
backward pass with the same random upstream gradient.  The readable twins get their
gradients from autograd through the composed ops, so a wrong hand-written backward in
a kernel shows up here (not only as a gradcheck on float64).  The 2×2 max-pool must agree
bit for bit (it only moves values around); the others to a tolerance set by the dtype.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest

from dlbook import functional as F
from dlbook.autograd import Tensor
from dlbook.functional.conv import MaxPool2d
from dlbook.kernels.attention import MultiheadCore

#: (rtol, atol) per dtype for the pairs that round differently (the sums run in another order).
TOLERANCE = {np.float64: (1e-10, 1e-12), np.float32: (2e-4, 2e-5)}


@dataclass
class Pair:
    """A fast op and its readable twin, called on the same leaves (Tensors) with the same options."""

    fast: Callable[..., Any]
    readable: Callable[..., Any]
    inputs: Callable[[np.random.Generator], list[np.ndarray | None]]   # float64 leaves; None = left out
    exact: bool = False


def _recurrent_inputs(gates: int, with_c: bool) -> Callable[[np.random.Generator], list[np.ndarray | None]]:
    def make(rng: np.random.Generator) -> list[np.ndarray | None]:
        n, t, i, h = 3, 7, 4, 5
        states = [rng.standard_normal((n, h)) * 0.5 for _ in range(2 if with_c else 1)]
        return [rng.standard_normal((n, t, i)), *states,
                *(rng.standard_normal(shape) * 0.4 for shape in ((gates * h, i), (gates * h, h), (gates * h,),
                                                                (gates * h,)))]
    return make


def _conv_inputs(rng: np.random.Generator) -> list[np.ndarray | None]:
    return [rng.standard_normal((3, 2, 7, 6)), rng.standard_normal((4, 2, 3, 2)), rng.standard_normal(4)]


def _pool_inputs(height: int, width: int, nans: bool) -> Callable[[np.random.Generator], list[np.ndarray | None]]:
    def make(rng: np.random.Generator) -> list[np.ndarray | None]:
        x = rng.integers(-2, 3, size=(2, 3, height, width)).astype(float)   # small integers: many ties
        x[x == 0] = np.where(rng.random(int((x == 0).sum())) < 0.5, 0.0, -0.0)   # +0 and −0 tie as well
        if nans:
            x[0, 0, 0, :2] = np.nan                                           # a window holding two NaNs
            x[1, 2, 4, 5] = np.nan
        return [x]
    return make


def _attention_inputs(rng: np.random.Generator) -> list[np.ndarray | None]:
    return [rng.standard_normal((2, 3, 5, 4)), rng.standard_normal((2, 3, 6, 4)), rng.standard_normal((2, 3, 6, 3))]


def _mask(length: int, source: int) -> np.ndarray:
    """A mask with a fully masked query row (row 1) and a ragged pattern elsewhere."""
    m = np.random.default_rng(3).random((length, source)) > 0.4
    m[:, 0] = True
    m[1] = False
    return m


def _keep(shape: tuple[int, ...]) -> np.ndarray:
    return (np.random.default_rng(4).random(shape) > 0.25) / 0.75


def _packed(layout: str) -> Callable[[np.random.Generator], list[np.ndarray | None]]:
    widths = {"qkv": (12, None, None), "q_kv": (4, 8, None), "q_k_v": (4, 4, 4)}[layout]
    lengths = {"qkv": (5, 5, 5), "q_kv": (5, 6, 6), "q_k_v": (5, 6, 6)}[layout]

    def make(rng: np.random.Generator) -> list[np.ndarray | None]:
        return [None if w is None else rng.standard_normal((2, t, w)) for w, t in zip(widths, lengths)]
    return make


def _multihead_fast(layout: str, heads: int, with_mask: bool) -> Callable[..., Any]:
    def run(a: Tensor, b: Tensor | None, c: Tensor | None) -> Any:
        source = (a if b is None else b).shape[1]
        mask = _mask(a.shape[1], source) if with_mask else None
        keep = _keep((a.shape[0], heads, a.shape[1], source)).astype(a.dtype) if with_mask else None
        weights: list = []
        out = MultiheadCore.apply(a, b, c, layout=layout, heads=heads, mask=mask,
                                  scale=1.0 / np.sqrt(4 // heads), keep=keep, weights_out=weights)
        return out, weights[0]
    return run


def _multihead_readable(layout: str, heads: int, with_mask: bool) -> Callable[..., Any]:
    def run(a: Tensor, b: Tensor | None, c: Tensor | None) -> Any:
        e = 4
        if layout == "qkv":
            q, k, v = a[:, :, :e], a[:, :, e:2 * e], a[:, :, 2 * e:]
        elif layout == "q_kv":
            q, k, v = a, b[:, :, :e], b[:, :, e:]
        else:
            q, k, v = a, b, c
        mask = _mask(q.shape[1], k.shape[1]) if with_mask else None
        keep = _keep((q.shape[0], heads, q.shape[1], k.shape[1])).astype(q.dtype) if with_mask else None
        return F.multihead_attention_reference(q, k, v, heads, mask=mask, keep=keep)
    return run


def _dropout(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``fn`` with dropout on the weights, drawn from the same seed for both twins."""
    return lambda q, k, v: fn(q, k, v, attn_mask=_mask(5, 6), dropout_p=0.3, rng=np.random.default_rng(9))


def _pool_readable(x: Tensor) -> Tensor:
    return MaxPool2d.apply(x, kernel=(2, 2), stride=(2, 2), padding=(0, 0), out_size=(x.shape[2] // 2,
                                                                                      x.shape[3] // 2))


PAIRS = {
    "rnn tanh": Pair(F.rnn, F.rnn_reference, _recurrent_inputs(1, False)),
    "rnn relu, truncated": Pair(lambda *a: F.rnn(*a, nonlinearity="relu", truncate=3),
                                lambda *a: F.rnn_reference(*a, nonlinearity="relu", truncate=3),
                                _recurrent_inputs(1, False)),
    "lstm": Pair(F.lstm, F.lstm_reference, _recurrent_inputs(4, True)),
    "lstm truncated": Pair(lambda *a: F.lstm(*a, truncate=2), lambda *a: F.lstm_reference(*a, truncate=2),
                           _recurrent_inputs(4, True)),
    "gru": Pair(F.gru, F.gru_reference, _recurrent_inputs(3, False)),
    "gru truncated": Pair(lambda *a: F.gru(*a, truncate=4), lambda *a: F.gru_reference(*a, truncate=4),
                          _recurrent_inputs(3, False)),
    "conv2d stride 1": Pair(F.conv2d, F.conv2d_im2col, _conv_inputs),
    "conv2d stride 1 padded": Pair(lambda *a: F.conv2d(*a, padding=(1, 2)),
                                   lambda *a: F.conv2d_im2col(*a, padding=(1, 2)), _conv_inputs),
    "max_pool2d 2×2": Pair(lambda x: F.max_pool2d(x, 2), _pool_readable, _pool_inputs(8, 6, False), exact=True),
    "max_pool2d 2×2 odd size": Pair(lambda x: F.max_pool2d(x, 2), _pool_readable, _pool_inputs(7, 9, False),
                                    exact=True),
    "max_pool2d 2×2 NaN": Pair(lambda x: F.max_pool2d(x, 2), _pool_readable, _pool_inputs(7, 9, True), exact=True),
    "attention": Pair(F.scaled_dot_product_attention, F.attention_reference, _attention_inputs),
    "attention causal": Pair(lambda *a: F.scaled_dot_product_attention(*a, is_causal=True),
                             lambda *a: F.attention_reference(*a, is_causal=True), _attention_inputs),
    "attention masked, dropout": Pair(_dropout(F.scaled_dot_product_attention), _dropout(F.attention_reference),
                                      _attention_inputs),
    **{f"multi-head core {layout}{', masked, dropout' if m else ''}":
       Pair(_multihead_fast(layout, 2, m), _multihead_readable(layout, 2, m), _packed(layout))
       for layout in ("qkv", "q_kv", "q_k_v") for m in (False, True)},
    "layer_norm": Pair(F.layer_norm, F.layer_norm_reference,
                       lambda rng: [rng.standard_normal((3, 4, 6)) * 3 + 1, *rng.standard_normal((2, 6))]),
}


def _as_tuple(result: Any) -> tuple:
    return result if isinstance(result, tuple) else (result,)


def _run(fn: Callable[..., Any], arrays: list[np.ndarray | None], dtype: type,
         upstream: list[np.ndarray]) -> tuple[list[np.ndarray], list[np.ndarray | None]]:
    """fn's outputs and the gradients of its inputs for the loss Σᵢ Σ outᵢ ⊙ upstreamᵢ."""
    leaves = [None if a is None else Tensor(a.astype(dtype), requires_grad=True) for a in arrays]
    outputs = _as_tuple(fn(*leaves))
    tensors = [o for o in outputs if isinstance(o, Tensor)]
    loss = sum(((t * u.astype(dtype)).sum() for t, u in zip(tensors, upstream)), Tensor(np.zeros((), dtype)))
    loss.backward()
    values = [o.data if isinstance(o, Tensor) else np.asarray(o) for o in outputs]
    return values, [None if leaf is None else leaf.grad for leaf in leaves]


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("name", list(PAIRS))
def test_fast_kernel_equals_its_readable_twin(name: str, dtype: type) -> None:
    """Forward outputs and every input's gradient agree (bit for bit for the max-pool)."""
    pair = PAIRS[name]
    rng = np.random.default_rng(0)
    arrays = pair.inputs(rng)
    probe = [Tensor(a) if a is not None else None for a in arrays]
    shapes = [o.shape for o in _as_tuple(pair.readable(*probe)) if isinstance(o, Tensor)]
    upstream = [rng.standard_normal(s) for s in shapes]
    fast_out, fast_grads = _run(pair.fast, arrays, dtype, upstream)
    ref_out, ref_grads = _run(pair.readable, arrays, dtype, upstream)
    assert len(fast_out) == len(ref_out)
    rtol, atol = (0, 0) if pair.exact else TOLERANCE[dtype]
    for i, (a, b) in enumerate(zip(fast_out, ref_out)):
        assert a.dtype == b.dtype == dtype, f"output {i}: dtypes {a.dtype} and {b.dtype}"
        if pair.exact:
            np.testing.assert_array_equal(a.view(np.uint8), b.view(np.uint8), err_msg=f"{name}: output {i}")
        np.testing.assert_allclose(a, b, rtol=rtol, atol=atol, err_msg=f"{name}: output {i}")
    for i, (a, b) in enumerate(zip(fast_grads, ref_grads)):
        assert (a is None) == (b is None), f"{name}: only one twin gives input {i} a gradient"
        if a is not None:
            assert a.dtype == b.dtype == dtype
            if pair.exact:
                np.testing.assert_array_equal(a.view(np.uint8), b.view(np.uint8), err_msg=f"{name}: grad {i}")
            else:
                np.testing.assert_allclose(a, b, rtol=rtol, atol=atol, err_msg=f"{name}: gradient of input {i}")


def test_every_kernel_has_a_pair() -> None:
    """The table covers each fused op the models run, so a new kernel cannot slip in untested."""
    import dlbook.kernels.attention
    import dlbook.kernels.conv
    import dlbook.kernels.pool
    import dlbook.kernels.recurrent
    from dlbook.autograd import Function

    kernels = {name for module in (dlbook.kernels.attention, dlbook.kernels.conv, dlbook.kernels.pool,
                                   dlbook.kernels.recurrent)
               for name, obj in vars(module).items()
               if isinstance(obj, type) and issubclass(obj, Function) and obj.__module__ == module.__name__}
    covered = {"ScaledDotProductAttention": "attention", "MultiheadCore": "multi-head core qkv",
               "Conv2dWide": "conv2d stride 1", "MaxPool2x2": "max_pool2d 2×2", "RNNSequence": "rnn tanh",
               "LSTMSequence": "lstm", "GRUSequence": "gru"}
    assert kernels == set(covered)
    assert all(pair in PAIRS for pair in covered.values())


@pytest.mark.parametrize(("call", "error", "message"), [
    (lambda: F.lstm_reference(np.zeros((2, 3)), None, None, np.zeros((8, 3)), np.zeros((8, 2))), ValueError,
     "lstm_reference: x must have shape"),
    (lambda: F.gru_reference(np.zeros((2, 3, 4)), None, np.zeros((6, 4)), np.zeros((6, 2)), truncate=0), ValueError,
     "truncate must be an int >= 1"),
    (lambda: F.conv2d_im2col(np.zeros((1, 2, 5, 5)), np.zeros((3, 1, 3, 3))), ValueError, "channel mismatch"),
    (lambda: F.attention_reference(np.zeros((2, 3)), np.zeros((2, 4)), np.zeros((2, 4))), ValueError,
     "same last axis"),
    (lambda: F.multihead_attention_reference(*[np.zeros((1, 2, 6))] * 3, num_heads=4), ValueError,
     "divisible by num_heads=4"),
    (lambda: F.layer_norm_reference(np.zeros((2, 3)), weight=np.ones(4)), ValueError,
     "layer_norm_reference: weight must have shape"),
])
def test_readable_twins_reject_bad_input_by_name(call: Callable[[], Any], error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        call()
