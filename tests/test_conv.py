"""Convolution and pooling (§3.3, §4.3): formula, reference == fast, gradients, bad input, the CNN, the widgets."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dlbook import nn
from dlbook.autograd import Tensor
from dlbook.functional.conv import (
    avg_pool2d,
    conv2d,
    conv2d_im2col,
    conv2d_reference,
    conv_output_size,
    im2col,
    max_pool2d,
)
from dlbook.gradcheck import gradcheck

SETTINGS = settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _t(a: np.ndarray) -> Tensor:
    return Tensor(np.asarray(a, dtype=np.float64), requires_grad=True)


@st.composite
def conv_setups(draw: st.DrawFn) -> dict:
    """A small random conv2d problem: shapes, stride and padding with a valid output."""
    k = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    p = draw(st.integers(0, 2))
    s = draw(st.integers(1, 3))
    h = draw(st.integers(max(1, k[0] - 2 * p), 6))
    w = draw(st.integers(max(1, k[1] - 2 * p), 6))
    return {"n": draw(st.integers(1, 2)), "c": draw(st.integers(1, 3)), "o": draw(st.integers(1, 3)),
            "h": h, "w": w, "k": k, "s": s, "p": p, "bias": draw(st.booleans()), "seed": draw(st.integers(0, 10**6))}


def _conv_inputs(cfg: dict) -> list[Tensor]:
    rng = np.random.default_rng(cfg["seed"])
    x = _t(rng.standard_normal((cfg["n"], cfg["c"], cfg["h"], cfg["w"])))
    w = _t(rng.standard_normal((cfg["o"], cfg["c"], *cfg["k"])))
    b = _t(rng.standard_normal(cfg["o"])) if cfg["bias"] else None
    return [x, w, b]


# ---- the formula -------------------------------------------------------------
def test_conv_matches_the_sum_and_scipy_correlate2d() -> None:
    """Verifies (eq-conv): Y(i,j) = Σₘ Σₙ X(i+m, j+n) K(m,n), a cross-correlation (no kernel flip)."""
    from scipy.signal import correlate2d

    rng = np.random.default_rng(0)
    X, K = rng.standard_normal((6, 7)), rng.standard_normal((3, 3))
    for fn in (conv2d, conv2d_reference):
        Y = fn(X[None, None], K[None, None]).data[0, 0]
        np.testing.assert_allclose(Y, correlate2d(X, K, mode="valid"), atol=1e-12)
        by_hand = sum(X[2 + m, 3 + n] * K[m, n] for m in range(3) for n in range(3))
        assert Y[2, 3] == pytest.approx(by_hand, abs=1e-12)
    # several input channels are summed as well; a bias is added per output channel
    X3, K3 = rng.standard_normal((1, 2, 5, 5)), rng.standard_normal((1, 2, 3, 3))
    Y3 = conv2d(X3, K3, np.array([0.5])).data[0, 0]
    want = correlate2d(X3[0, 0], K3[0, 0], mode="valid") + correlate2d(X3[0, 1], K3[0, 1], mode="valid") + 0.5
    np.testing.assert_allclose(Y3, want, atol=1e-12)


def test_output_size_formula() -> None:
    """Verifies (eq-conv-output-size): ⌊(H + 2p − k)/s⌋ + 1, and conv2d and the pools produce that size."""
    assert conv_output_size(8, 3, 1, 1) == 8
    assert conv_output_size(32, 5, 2, 0) == 14
    assert conv_output_size(7, 3, 2, 1) == 4
    assert conv_output_size(8, 2, 2) == 4
    rng = np.random.default_rng(1)
    for h, k, s, p in [(7, 3, 2, 1), (9, 4, 3, 0), (5, 5, 1, 2), (6, 1, 4, 0)]:
        y = conv2d(rng.standard_normal((1, 1, h, h)), rng.standard_normal((2, 1, k, k)), stride=s, padding=p)
        assert y.shape == (1, 2, (h + 2 * p - k) // s + 1, (h + 2 * p - k) // s + 1)
    assert max_pool2d(rng.standard_normal((1, 1, 7, 7)), 2).shape == (1, 1, 3, 3)
    assert avg_pool2d(rng.standard_normal((1, 1, 7, 7)), 3, 2, 1).shape == (1, 1, 4, 4)


def test_pooling_matches_the_window_formulas() -> None:
    """Max and mean of each window, by loops.  Verifies (eq-maxpool).  Verifies (eq-avgpool)."""
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, 3, 7, 6))
    k, s = 3, 2
    ho, wo = conv_output_size(7, k, s), conv_output_size(6, k, s)
    want_max, want_avg = np.zeros((2, 3, ho, wo)), np.zeros((2, 3, ho, wo))
    for i in range(ho):
        for j in range(wo):
            win = x[:, :, i * s:i * s + k, j * s:j * s + k]
            want_max[:, :, i, j] = win.max(axis=(2, 3))
            want_avg[:, :, i, j] = win.mean(axis=(2, 3))
    np.testing.assert_array_equal(max_pool2d(x, k, s).data, want_max)
    np.testing.assert_allclose(avg_pool2d(x, k, s).data, want_avg, atol=1e-14)


# ---- reference == fast, gradients -------------------------------------------
@SETTINGS
@given(conv_setups())
def test_reference_equals_fast_forward_and_backward(cfg: dict) -> None:
    xs_fast, xs_ref = _conv_inputs(cfg), _conv_inputs(cfg)
    y_fast = conv2d(*xs_fast, stride=cfg["s"], padding=cfg["p"])
    y_ref = conv2d_reference(*xs_ref, stride=cfg["s"], padding=cfg["p"])
    np.testing.assert_allclose(y_fast.data, y_ref.data, rtol=0, atol=1e-10)
    g = np.random.default_rng(cfg["seed"] + 1).standard_normal(y_fast.shape)
    y_fast.backward(g)
    y_ref.backward(g)
    for a, b in zip(xs_fast, xs_ref):
        if a is not None:
            np.testing.assert_allclose(a.grad, b.grad, rtol=0, atol=1e-10)


def test_fast_conv_in_chunks_of_one_image(monkeypatch: pytest.MonkeyPatch) -> None:
    """The fast stride-1 kernel walks the batch in cache-sized chunks; with one image per chunk nothing changes."""
    import dlbook.kernels.conv as conv_module

    stride = 1

    cfg = {"n": 3, "c": 2, "o": 3, "h": 7, "w": 6, "k": (3, 2), "s": stride, "p": 1, "bias": True, "seed": 11}
    whole = _conv_inputs(cfg)
    y_whole = conv2d(*whole, stride=stride, padding=1)
    g = np.random.default_rng(12).standard_normal(y_whole.shape)
    y_whole.backward(g)
    monkeypatch.setattr(conv_module, "_CHUNK_BYTES", 1)
    assert len(conv_module._chunks(3, 1000)) == 3
    parts = _conv_inputs(cfg)
    y_parts = conv2d(*parts, stride=stride, padding=1)
    y_parts.backward(g)
    np.testing.assert_allclose(y_parts.data, y_whole.data, rtol=0, atol=1e-12)
    for a, b in zip(parts, whole):
        np.testing.assert_allclose(a.grad, b.grad, rtol=0, atol=1e-12)


@SETTINGS
@given(conv_setups())
def test_conv2d_gradcheck_fast(cfg: dict) -> None:
    inputs = [t for t in _conv_inputs(cfg) if t is not None]
    assert gradcheck(lambda *a: conv2d(*a, stride=cfg["s"], padding=cfg["p"]), inputs)


@settings(max_examples=4, deadline=None)
@given(conv_setups())
def test_conv2d_gradcheck_reference(cfg: dict) -> None:
    inputs = [t for t in _conv_inputs(cfg) if t is not None]
    assert gradcheck(lambda *a: conv2d_reference(*a, stride=cfg["s"], padding=cfg["p"]), inputs)


@st.composite
def pool_setups(draw: st.DrawFn) -> dict:
    k = draw(st.integers(1, 3))
    s = draw(st.integers(1, 3))
    p = draw(st.integers(0, k // 2))
    return {"k": k, "s": s, "p": p, "h": draw(st.integers(max(1, k - 2 * p), 7)),
            "w": draw(st.integers(max(1, k - 2 * p), 7)), "seed": draw(st.integers(0, 10**6))}


@SETTINGS
@given(pool_setups())
def test_pooling_gradcheck(cfg: dict) -> None:
    rng = np.random.default_rng(cfg["seed"])
    n = 2 * 2 * cfg["h"] * cfg["w"]
    # distinct values at least 0.1 apart: no tie within the finite-difference step
    x = _t((rng.permutation(n) * 0.1).reshape(2, 2, cfg["h"], cfg["w"]))
    for fn in (max_pool2d, avg_pool2d):
        assert gradcheck(lambda a, fn=fn: fn(a, cfg["k"], cfg["s"], cfg["p"]), [x])


def test_max_pool_ties_go_to_the_first_maximum_in_row_major_order() -> None:
    x = np.array([[[[1.0, 3.0, 2.0, 2.0],
                    [3.0, 3.0, 2.0, 2.0],
                    [0.0, 0.0, 5.0, 1.0],
                    [0.0, 0.0, 1.0, 5.0]]]])
    xt = _t(x)
    y = max_pool2d(xt, 2)
    np.testing.assert_array_equal(y.data[0, 0], [[3.0, 2.0], [0.0, 5.0]])
    y.backward(np.array([[[[10.0, 20.0], [30.0, 40.0]]]]))
    np.testing.assert_array_equal(xt.grad[0, 0], [[0, 10, 20, 0], [0, 0, 0, 0], [30, 0, 40, 0], [0, 0, 0, 0]])
    # overlapping windows (stride 1): each window sends its gradient to its own first maximum
    xt = _t(np.ones((1, 1, 3, 3)))
    max_pool2d(xt, 2, 1).backward(np.ones((1, 1, 2, 2)))
    np.testing.assert_array_equal(xt.grad[0, 0], [[1, 1, 0], [1, 1, 0], [0, 0, 0]])


def _max_pool_grad_by_loops(x: np.ndarray, k: int, s: int, g: np.ndarray) -> np.ndarray:
    """Each window sends its gradient to its first maximum (row-major); no padding."""
    gx = np.zeros_like(x)
    for b, c, i, j in np.ndindex(g.shape):
        window = x[b, c, i * s:i * s + k, j * s:j * s + k]
        m, n = np.unravel_index(np.argmax(window), window.shape)
        gx[b, c, i * s + m, j * s + n] += g[b, c, i, j]
    return gx


@pytest.mark.parametrize("k, s", [(1, 2), (2, 3), (1, 3), (2, 2), (3, 2), (2, 1)])
def test_max_pool_gradient_is_zero_between_windows(k: int, s: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """stride > kernel leaves pixels that no window reads; their gradient is 0, never uninitialised memory.

    ``np.empty_like`` is made to return NaN-filled memory so that any pixel the backward
    pass does not write shows up (on the old code, k=1 s=2 gave 8e+295 here now and then).
    """
    real_empty_like = np.empty_like
    monkeypatch.setattr(np, "empty_like", lambda a, *args, **kw: real_empty_like(a, *args, **kw) * np.nan)
    rng = np.random.default_rng(k * 10 + s)
    x = _t(rng.permutation(2 * 3 * 7 * 7).reshape(2, 3, 7, 7) * 0.1)
    y = max_pool2d(x, k, s)
    g = rng.standard_normal(y.shape)
    y.backward(g)
    # overlapping windows add several gradients into one pixel, in another order than the loops
    np.testing.assert_allclose(x.grad, _max_pool_grad_by_loops(x.data, k, s, g), rtol=1e-13, atol=1e-15)


def test_max_pool_routes_the_gradient_to_a_nan_as_pytorch_does() -> None:
    """A NaN is the window's maximum: the output is NaN and the NaN gets the gradient (the last NaN of a window).

    Values as PyTorch 2.x gives for max_pool2d(x, 2) / (x, 2, stride=1) and backward of ones.
    """
    xt = _t([[[[np.nan, 1.0], [2.0, 3.0]]]])
    y = max_pool2d(xt, 2)
    assert np.isnan(y.data).all()
    y.backward(np.ones((1, 1, 1, 1)))
    np.testing.assert_array_equal(xt.grad[0, 0], [[1, 0], [0, 0]])
    xt = _t([[[[np.nan, 5.0, 1.0], [np.nan, 3.0, 2.0], [0.0, 0.0, 0.0]]]])
    y = max_pool2d(xt, 2, 1)
    np.testing.assert_array_equal(np.isnan(y.data[0, 0]), [[True, False], [True, False]])
    np.testing.assert_array_equal(y.data[0, 0, :, 1], [5.0, 3.0])
    y.backward(np.array([[[[1.0, 10.0], [100.0, 1000.0]]]]))
    # windows (0,0) and (1,0) both hold NaNs; the last NaN of (0,0) in row-major order is x[1,0], of (1,0) x[1,0]
    np.testing.assert_array_equal(xt.grad[0, 0], [[0, 10, 0], [101, 1000, 0], [0, 0, 0]])


@pytest.mark.parametrize("fn", [conv2d, conv2d_reference, conv2d_im2col])
def test_gradient_of_a_convolution_is_a_convolution(fn: Callable[..., Tensor]) -> None:
    """dL/dX = full correlation of dL/dY with the flipped kernel; dL/dK = correlation of X with dL/dY; both
    also as the sums of §4.3 written out.  Verifies (eq-conv-grad-kernel) and (eq-conv-grad-input)."""
    from scipy.signal import correlate2d

    rng = np.random.default_rng(3)
    X, K = _t(rng.standard_normal((1, 1, 6, 5))), _t(rng.standard_normal((1, 1, 3, 3)))
    y = fn(X, K)
    g = rng.standard_normal(y.shape)
    y.backward(g)
    np.testing.assert_allclose(X.grad[0, 0], correlate2d(g[0, 0], K.data[0, 0, ::-1, ::-1], mode="full"), atol=1e-12)
    np.testing.assert_allclose(K.grad[0, 0], correlate2d(X.data[0, 0], g[0, 0], mode="valid"), atol=1e-12)
    x, k, dy = X.data[0, 0], K.data[0, 0], g[0, 0]
    (ho, wo), (kh, kw) = dy.shape, k.shape
    dk = [[sum(dy[i, j] * x[i + m, j + n] for i in range(ho) for j in range(wo)) for n in range(kw)]
          for m in range(kh)]
    dx = [[sum(dy[i, j] * k[u - i, v - j] for i in range(ho) for j in range(wo)
               if 0 <= u - i < kh and 0 <= v - j < kw) for v in range(x.shape[1])] for u in range(x.shape[0])]
    np.testing.assert_allclose(K.grad[0, 0], dk, atol=1e-12)
    np.testing.assert_allclose(X.grad[0, 0], dx, atol=1e-12)


def test_conv_layer_sums_channels_with_stride_and_bias() -> None:
    """Y_o(i,j) = b_o + Σ_c Σₘ Σₙ X_c(i·s + m, j·s + n) K_{o,c}(m,n) on a zero-padded X, written out as loops.
    Verifies (eq-conv-layer)."""
    rng = np.random.default_rng(5)
    X, K, b = rng.standard_normal((2, 3, 7, 6)), rng.standard_normal((4, 3, 3, 2)), rng.standard_normal(4)
    s, p = 2, 1
    Xp = np.pad(X, ((0, 0), (0, 0), (p, p), (p, p)))
    ho, wo = conv_output_size(7, 3, s, p), conv_output_size(6, 2, s, p)
    want = np.array([[[[b[o] + sum(Xp[r, c, i * s + m, j * s + n] * K[o, c, m, n]
                                   for c in range(3) for m in range(3) for n in range(2))
                        for j in range(wo)] for i in range(ho)] for o in range(4)] for r in range(2)])
    for fn in (conv2d, conv2d_reference, conv2d_im2col):
        np.testing.assert_allclose(fn(X, K, b, stride=s, padding=p).data, want, atol=1e-12)


def test_im2col_columns_are_the_patches() -> None:
    """Column (i, j) of im2col(X) is the patch under the kernel at (i, j), and K̂ · im2col(X) is the convolution.
    Verifies (eq-im2col)."""
    rng = np.random.default_rng(6)
    X, K = rng.standard_normal((1, 2, 5, 6)), rng.standard_normal((3, 2, 3, 2))
    s = (2, 1)
    out = (conv_output_size(5, 3, 2), conv_output_size(6, 2, 1))
    cols = im2col(X, (3, 2), s, out)
    assert cols.shape == (1, 2 * 3 * 2, out[0] * out[1])
    for i in range(out[0]):
        for j in range(out[1]):
            patch = X[0, :, i * s[0]:i * s[0] + 3, j * s[1]:j * s[1] + 2]
            np.testing.assert_array_equal(cols[0, :, i * out[1] + j], patch.reshape(-1))
    Y = (K.reshape(3, -1) @ cols[0]).reshape(3, *out)
    np.testing.assert_allclose(Y, conv2d_reference(X, K, stride=s).data[0], atol=1e-12)
    np.testing.assert_allclose(conv2d_im2col(X, K, stride=s).data[0], Y, atol=1e-12)


def test_float32_stays_float32() -> None:
    rng = np.random.default_rng(4)
    x = Tensor(rng.standard_normal((2, 3, 6, 6)).astype(np.float32), requires_grad=True)
    layer = nn.Conv2d(3, 4, 3, padding=1, rng=rng, dtype=np.float32)
    y = avg_pool2d(max_pool2d(layer(x), 2, 1), 2)
    assert y.dtype == np.float32
    y.backward(np.ones(y.shape, dtype=np.float32))
    assert x.grad.dtype == np.float32 and layer.weight.grad.dtype == np.float32


def test_against_torch() -> None:
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(5)
    x, w, b = rng.standard_normal((2, 3, 9, 8)), rng.standard_normal((4, 3, 3, 2)), rng.standard_normal(4)
    xt, wt, bt = _t(x), _t(w), _t(b)
    y = conv2d(xt, wt, bt, stride=(2, 1), padding=(1, 0))
    g = rng.standard_normal(y.shape)
    y.backward(g)
    X, W_, B = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    Y = torch.nn.functional.conv2d(X, W_, B, stride=(2, 1), padding=(1, 0))
    Y.backward(torch.tensor(g))
    np.testing.assert_allclose(y.data, Y.detach().numpy(), atol=1e-12)
    for ours, theirs in ((xt, X), (wt, W_), (bt, B)):
        np.testing.assert_allclose(ours.grad, theirs.grad.numpy(), atol=1e-12)
    xp = _t(x)
    mp = max_pool2d(xp, 3, 2, 1)
    gp = rng.standard_normal(mp.shape)
    mp.backward(gp)
    XP = torch.tensor(x, requires_grad=True)
    torch.nn.functional.max_pool2d(XP, 3, 2, 1).backward(torch.tensor(gp))
    np.testing.assert_allclose(xp.grad, XP.grad.numpy(), atol=1e-12)


# ---- bad input ---------------------------------------------------------------
def test_bad_input_names_the_argument_and_shapes() -> None:
    x, w = np.zeros((1, 2, 4, 4)), np.zeros((3, 2, 3, 3))
    too_big = r"x of shape \(1, 1, 3, 3\), weight of shape \(1, 1, 5, 5\): kernel=5 is larger than the padded input"
    with pytest.raises(ValueError, match=too_big):
        conv2d(np.zeros((1, 1, 3, 3)), np.zeros((1, 1, 5, 5)), padding=0)
    with pytest.raises(ValueError, match=r"channel mismatch.*C_in=2.*\(1, 2, 4, 4\).*C_in=3.*\(3, 3, 3, 3\)"):
        conv2d(x, np.zeros((3, 3, 3, 3)))
    with pytest.raises(ValueError, match=r"x must be 4-D \(N, C, H, W\), got shape \(2, 4, 4\)"):
        conv2d(np.zeros((2, 4, 4)), w)
    with pytest.raises(ValueError, match=r"weight must be 4-D.*got shape \(3, 2, 3\)"):
        conv2d_reference(x, np.zeros((3, 2, 3)))
    with pytest.raises(ValueError, match=r"bias must have shape \(3,\), got \(2,\)"):
        conv2d(x, w, np.zeros(2))
    with pytest.raises(ValueError, match=r"non-integer output size.*\(8 \+ 0 − 3\) / 2 = 2.5"):
        conv_output_size(8, 3, 2, 0, exact=True)
    assert conv_output_size(8, 3, 2, 0) == 3  # floor by default, as PyTorch
    with pytest.raises(ValueError, match=r"stride must be an int >= 1, got 0"):
        conv2d(x, w, stride=0)
    with pytest.raises(TypeError, match=r"padding must be an int, got float"):
        conv2d(x, w, padding=1.5)
    with pytest.raises(ValueError, match=r"max_pool2d: x must be 4-D"):
        max_pool2d(np.zeros((4, 4)), 2)
    with pytest.raises(ValueError, match=r"avg_pool2d: x of shape \(1, 1, 2, 2\): kernel=3 is larger"):
        avg_pool2d(np.zeros((1, 1, 2, 2)), 3)
    with pytest.raises(ValueError, match=r"padding=\(2, 2\) must be at most half the kernel_size=\(2, 2\)"):
        max_pool2d(np.zeros((1, 1, 4, 4)), 2, padding=2)
    with pytest.raises(TypeError, match=r"x must hold floating-point numbers"):
        conv2d(np.zeros((1, 2, 4, 4), dtype=np.int64), w)


# ---- layers and the CNN --------------------------------------------------------
def test_conv2d_layer_shapes_and_he_init() -> None:
    rng = np.random.default_rng(6)
    layer = nn.Conv2d(8, 64, 3, padding=1, rng=rng)
    assert layer.weight.shape == (64, 8, 3, 3) and layer.bias.shape == (64,)
    assert layer.weight.data.std() == pytest.approx(np.sqrt(2.0 / (8 * 9)), rel=0.05)
    assert nn.Conv2d(8, 4, (3, 2), stride=2, bias=False, rng=rng)(Tensor(np.zeros((1, 8, 7, 7)))).shape == (1, 4, 3, 3)
    assert nn.MaxPool2d(2)(Tensor(np.zeros((1, 1, 6, 6)))).shape == (1, 1, 3, 3)
    assert nn.AvgPool2d(3, 1, 1)(Tensor(np.zeros((1, 1, 6, 6)))).shape == (1, 1, 6, 6)


@pytest.mark.slow
def test_digits_cnn_reaches_98_percent() -> None:
    """The chapter's recipe (seed 0; one-pixel shifts; 8 epochs of Adam; float32) reaches ≥ 98 % test accuracy."""
    from dlbook.recipes.digits import train_digits_cnn

    result = train_digits_cnn(seed=0, progress=False)
    assert result.test_accuracy >= 0.98
    assert result.history.loss[-1] < result.history.loss[0] / 10


# ---- widgets -------------------------------------------------------------------
def test_convolution_explorer_live_recomputes() -> None:
    from scipy.signal import correlate2d

    from dlbook.widgets.convolution import KERNELS, make_convolution_explorer

    images = np.random.default_rng(7).uniform(0, 1, (3, 8, 8))
    ex = make_convolution_explorer(images, mode="live")
    first = ex.last_png
    ex.controls["kernel"].value = "blur"
    ex.controls["i"].value, ex.controls["j"].value = 0, 6
    step = ex.state["step"]
    padded = np.pad(images[0], 1)
    assert (step.i, step.j) == (0, 6)
    assert step.value == pytest.approx(float(np.sum(padded[0:3, 6:9] * KERNELS["blur"])), abs=1e-12)
    np.testing.assert_allclose(step.feature_map, correlate2d(padded, KERNELS["blur"], mode="valid"), atol=1e-12)
    assert step.feature_map[0, 6] == pytest.approx(step.value)
    np.testing.assert_array_equal(step.pooled, step.feature_map.reshape(4, 2, 4, 2).max(axis=(1, 3)))
    assert ex.last_png != first
    # a custom kernel typed into the nine boxes
    ex.controls["kernel"].value = "custom"
    before = ex.last_png
    ex.controls["index"].value = 2
    ex.controls["k11"].value = 3.0
    step = ex.state["step"]
    assert step.kernel[1, 1] == 3.0 and step.kernel[0, 1] == -1.0  # the other boxes start at "sharpen"
    assert step.value == pytest.approx(float(np.sum(np.pad(images[2], 1)[0:3, 6:9] * step.kernel)), abs=1e-12)
    assert ex.last_png != before


def test_convolution_explorer_static_frames() -> None:
    from dlbook.widgets.convolution import make_convolution_explorer

    images = np.random.default_rng(8).uniform(0, 1, (2, 8, 8))
    ex = make_convolution_explorer(images, mode="static", kernels=("edge", "blur"), positions=((1, 1), (4, 5)))
    assert len(ex.frames) == 4
    a = ex.select(kernel="edge", position=(1, 1))
    b = ex.select(kernel="blur", position=(4, 5))
    assert a != b and ex.state["step"].kernel is not None


def test_saliency_is_the_input_gradient_and_the_widget_redraws() -> None:
    from dlbook.gradcheck import numerical_grad
    from dlbook.models.cnn import DigitsCNN
    from dlbook.widgets.saliency import make_saliency_explorer, saliency_map

    rng = np.random.default_rng(9)
    model = DigitsCNN((4, 6), rng=rng, dtype=np.float64)
    images = rng.uniform(0, 1, (3, 8, 8))
    s = saliency_map(model, images[1], 7)
    x = images[1].copy()
    numeric = numerical_grad(lambda: model(Tensor(x[None, None])).data[0, 7], x)
    np.testing.assert_allclose(s.gradient, numeric, atol=1e-6)
    assert s.probabilities.sum() == pytest.approx(1.0)
    assert all(p.grad is None for p in model.parameters())
    ex = make_saliency_explorer(model, images, mode="live")
    first = ex.last_png
    ex.controls["target"].value = 3
    assert ex.state["saliency"].target == 3 and ex.last_png != first
    ex.controls["index"].value = 2
    np.testing.assert_allclose(ex.state["saliency"].gradient, saliency_map(model, images[2], 3).gradient)
