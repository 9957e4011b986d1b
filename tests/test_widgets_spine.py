"""The spine's three explorers: compute functions against independent values, views driven like a reader would."""

from __future__ import annotations

import math

import numpy as np
import pytest

from dlbook import functional as F
from dlbook.autograd import Tensor
from dlbook.widgets import (
    compute_descent,
    compute_graph,
    compute_vanishing,
    make_descent_explorer,
    make_graph_explorer,
    make_vanishing_explorer,
)
from dlbook.widgets.base import LEGIBLE_DPI
from dlbook.widgets.descent import MINIMUM, STATIC_LRS, final_losses


def _png_width(png: bytes) -> int:
    import io

    from PIL import Image

    return Image.open(io.BytesIO(png)).size[0]


def _assert_every_slider_moves_in_order(ex) -> None:  # noqa: ANN001 - an Explorer
    """No slider with a single value (it would change nothing), and each slider's values increasing."""
    for name, slider in ex.sliders.items():
        labels = [label for label, _ in slider.options]
        assert len(labels) > 1, f"{name}: a slider with one value"
        values = ex.options[name]
        if all(isinstance(v, int | float) for v in values):
            assert values == sorted(values), f"{name}: values {values} not in increasing order"


# ---- computation graph --------------------------------------------------------------
def test_graph_values_and_gradients_match_hand_formulas() -> None:
    """Verifies (eq-chain-rule) on one neuron: ∂E/∂w₁ = 2(y − t)·σ(z)(1 − σ(z))·x₁ and so on."""
    x1, x2, w1, w2, b, t = 0.7, -1.2, 0.4, -0.9, 0.3, 1.0
    r = compute_graph(x1, x2, w1, w2, b, t)
    v = dict(zip(r["names"], r["values"]))
    g = dict(zip(r["names"], r["grads"]))
    z = w1 * x1 + w2 * x2 + b
    y = 1 / (1 + math.exp(-z))
    dE_dy = 2 * (y - t)
    dE_dz = dE_dy * y * (1 - y)
    assert v["z"] == pytest.approx(z) and v["y"] == pytest.approx(y) and v["E"] == pytest.approx((y - t) ** 2)
    expected = {"E": 1.0, "y": dE_dy, "t": -dE_dy, "z": dE_dz, "p1": dE_dz, "p2": dE_dz, "b": dE_dz,
                "w1": dE_dz * x1, "x1": dE_dz * w1, "w2": dE_dz * x2, "x2": dE_dz * w2}
    for name, value in expected.items():
        assert g[name] == pytest.approx(value, rel=1e-12), name


def test_graph_leaf_gradients_match_one_whole_graph_backward() -> None:
    x1, x2, w1, w2, b = (Tensor(v, requires_grad=True) for v in (1.5, 0.5, -0.3, 0.8, 0.1))
    E = (F.sigmoid(w1 * x1 + w2 * x2 + b) - 1.0) ** 2
    E.backward()
    r = compute_graph(1.5, 0.5, -0.3, 0.8, 0.1, 1.0)
    g = dict(zip(r["names"], r["grads"]))
    for name, leaf in zip(("x1", "x2", "w1", "w2", "b"), (x1, x2, w1, w2, b)):
        assert g[name] == pytest.approx(float(leaf.grad), rel=1e-12)


def test_graph_rejects_non_numbers() -> None:
    with pytest.raises(TypeError, match="w1 must be a number, got str"):
        compute_graph(1.0, 1.0, "0.5", 1.0, 0.0)


@pytest.mark.slow
def test_graph_explorer_live_redraws_on_a_slider_change() -> None:
    ex = make_graph_explorer(mode="live")
    before = ex.last_png
    ex.controls["w1"].value = -1.5
    assert ex.last_png != before
    assert ex.values()["w1"] == -1.5
    assert ex.output.outputs[0]["data"]["image/png"]
    r = compute_graph(**{k: ex.values()[k] for k in ("x1", "x2", "w1", "w2", "b")})
    assert r["values"][r["names"].index("p1")] == pytest.approx(-1.5 * ex.values()["x1"])


@pytest.mark.slow
def test_graph_explorer_static_frames() -> None:
    ex = make_graph_explorer(mode="static")
    assert len(ex.frames) == 18
    # x₂ and w₂ have one value in the frames: no inert slider for them, their values stated instead
    assert set(ex.sliders) == {"x1", "w1", "b"} and ex.fixed == {"x2": -1.0, "w2": 0.8}
    _assert_every_slider_moves_in_order(ex)
    assert _png_width(ex.last_png) == round(7.4 * LEGIBLE_DPI)     # the 7.4-inch figure at a legible dpi, not 72
    first = ex.last_png
    assert ex.select(w1=-1.0) != first
    assert ex.select(w1=0.5) == first
    assert sum(len(f) for f in ex.frames.values()) < 700_000  # under 1 MB once base64-encoded


# ---- gradient descent -------------------------------------------------------------------
def test_descent_path_is_sgd_with_momentum_by_hand() -> None:
    """Verifies (eq-momentum) on the ravine: v ← μv + ∇L, w ← w − ηv with ∇L = (u − 1, 10(v − 1))."""
    lr, mu = 0.05, 0.5
    r = compute_descent("ravine", lr, mu, 5, start=(-2.0, 2.5))
    w, vel, path = np.array([-2.0, 2.5]), np.zeros(2), [np.array([-2.0, 2.5])]
    for _ in range(5):
        grad = np.array([w[0] - 1.0, 10.0 * (w[1] - 1.0)])
        vel = mu * vel + grad
        w = w - lr * vel
        path.append(w)
    np.testing.assert_allclose(r["path"], path, rtol=1e-12)
    np.testing.assert_allclose(r["grads"][-1], [w[0] - 1.0, 10 * (w[1] - 1.0)], rtol=1e-12)
    np.testing.assert_allclose(r["loss"], [0.5 * (p[0] - 1) ** 2 + 5 * (p[1] - 1) ** 2 for p in path])


def test_descent_converges_with_a_good_step_and_diverges_with_a_big_one() -> None:
    good = compute_descent("ravine", 0.09, 0.0, 200)
    np.testing.assert_allclose(good["path"][-1], MINIMUM, atol=1e-6)
    bad = compute_descent("ravine", 0.21, 0.0, 200)  # η > 2/10: the v direction blows up
    assert bad["loss"][-1] > bad["loss"][0]
    banana = compute_descent("banana", 0.02, 0.9, 400)
    assert banana["loss"][-1] < 1e-4 < banana["loss"][0]


def test_descent_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="surface must be one of"):
        compute_descent("bowl", 0.1, 0.0, 10)
    with pytest.raises(ValueError, match="momentum must lie in"):
        compute_descent("ravine", 0.1, 1.0, 10)
    with pytest.raises(ValueError, match="steps must be an int >= 0, got -1"):
        compute_descent("ravine", 0.1, 0.0, -1)


@pytest.mark.slow
def test_descent_explorer_live_and_static() -> None:
    ex = make_descent_explorer(mode="live", steps=20)
    before = ex.last_png
    ex.controls["momentum"].value = 0.9
    assert ex.last_png != before
    after_momentum = ex.last_png
    ex.controls["surface"].value = "banana"
    assert ex.last_png != after_momentum
    static = make_descent_explorer(mode="static", steps=20)
    assert len(static.frames) == 2 * 4 * 3
    first = static.last_png
    assert static.select(momentum=0.9) != first
    assert static.select(surface="banana", momentum=0.0) not in (first,)
    # the learning-rate slider reaches past 2/10, and steps and start point are stated, not inert sliders
    assert set(static.sliders) == {"surface", "lr", "momentum"}
    assert set(static.fixed) == {"steps", "start_u", "start_v"}
    _assert_every_slider_moves_in_order(static)
    assert max(static.options["lr"]) > 2 / 10
    assert _png_width(static.last_png) == round(7.2 * LEGIBLE_DPI)
    for lr in static.options["lr"]:      # every η the slider offers is a distinct frame
        assert static.select(surface="ravine", lr=lr, momentum=0.0) == static.frames[("ravine", lr, 0.0, 20, -2.0, 2.5)]


def test_descent_frames_show_what_the_chapter_says_about_momentum() -> None:
    """§3.2's text on the static frames (40 steps from (−2, 2.5)): on the ravine, plain descent diverges past
    η = 2/10; μ = 0.5 beats no momentum at every η and keeps η = 0.21 stable; μ = 0.9 overshoots — worse than
    μ = 0.5 at every η but the smallest, worse than plain descent at η = 0.15, better only where plain steps crawl.
    On the banana, η = 0.15 converges without momentum and blows up with it."""
    ravine, banana = final_losses("ravine"), final_losses("banana")
    lrs = sorted(STATIC_LRS)
    start = compute_descent("ravine", 0.1, 0.0, 0)["loss"][0]
    assert ravine[(0.21, 0.0)] > start and all(ravine[(lr, 0.0)] < start for lr in lrs if lr < 0.2)
    assert all(ravine[(lr, 0.5)] < ravine[(lr, 0.0)] for lr in lrs)
    assert ravine[(0.21, 0.5)] < 1e-6
    assert all(ravine[(lr, 0.9)] > ravine[(lr, 0.5)] for lr in lrs[1:]) and ravine[(0.01, 0.9)] < ravine[(0.01, 0.5)]
    assert ravine[(0.15, 0.9)] > ravine[(0.15, 0.0)] and ravine[(0.01, 0.9)] < ravine[(0.01, 0.0)]
    assert banana[(0.15, 0.0)] < 0.1 and math.isinf(banana[(0.15, 0.5)]) and math.isinf(banana[(0.15, 0.9)])


# ---- vanishing gradients -------------------------------------------------------------
def test_vanishing_sigmoid_gradients_shrink_towards_the_input() -> None:
    r = compute_vanishing(12, "sigmoid", 1.0)
    norms = r["grad_norms"]
    assert norms.shape == (13,) and r["activation_std"].shape == (12,)
    assert np.all(np.diff(norms[:-1]) > 0)  # each layer further from the output gets less
    assert norms[0] < 1e-5 * norms[-2]
    deeper = compute_vanishing(24, "sigmoid", 1.0)["grad_norms"]
    assert deeper[0] / deeper[-1] < norms[0] / norms[-1] * 1e-3


def test_vanishing_relu_with_he_scale_keeps_gradients_level() -> None:
    norms = compute_vanishing(12, "relu", math.sqrt(2))["grad_norms"]
    assert 0.05 < norms[0] / norms[-2] < 20
    small = compute_vanishing(12, "relu", 0.5)["grad_norms"]
    # too small a scale: the signal shrinks on the way forward and the error on the way back, in every layer
    assert small.max() < 1e-4 * norms.max()


def test_vanishing_norms_equal_a_direct_backward() -> None:
    """The first layer's gradient norm equals one computed by an independent hand-written backward pass."""
    depth, act = 3, "tanh"
    r = compute_vanishing(depth, act, 1.0)
    from dlbook.models.mlp import MLP
    from dlbook.nn.linear import Linear
    from dlbook.widgets.vanishing import BATCH, CLASSES, WIDTH

    rng = np.random.default_rng(0)
    model = MLP([WIDTH] * (depth + 1) + [CLASSES], activation=act, rng=rng)
    Ws = []
    for layer in [m for m in model.layers if isinstance(m, Linear)]:
        Ws.append(rng.standard_normal(layer.weight.shape) / np.sqrt(layer.in_features))
    data = np.random.default_rng(1234)
    x, y = data.standard_normal((BATCH, WIDTH)), data.integers(0, CLASSES, BATCH)
    hs = [x]
    for W in Ws[:-1]:
        hs.append(np.tanh(hs[-1] @ W.T))
    z = hs[-1] @ Ws[-1].T
    p = np.exp(z - z.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    g = (p - np.eye(CLASSES)[y]) / BATCH
    norms = [np.linalg.norm(g.T @ hs[-1])]
    for i in range(len(Ws) - 2, -1, -1):
        g = (g @ Ws[i + 1]) * (1 - hs[i + 1] ** 2)
        norms.append(np.linalg.norm(g.T @ hs[i]))
    np.testing.assert_allclose(r["grad_norms"], norms[::-1], rtol=1e-10)


def test_vanishing_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="activation must be one of"):
        compute_vanishing(3, "softplus", 1.0)
    with pytest.raises(ValueError, match="depth must be an int >= 1, got 0"):
        compute_vanishing(0, "relu", 1.0)
    with pytest.raises(ValueError, match="init_scale must be > 0"):
        compute_vanishing(3, "relu", 0.0)


@pytest.mark.slow
def test_vanishing_explorer_live_and_static() -> None:
    ex = make_vanishing_explorer(mode="live")
    before = ex.last_png
    ex.controls["activation"].value = "relu"
    assert ex.last_png != before
    mid = ex.last_png
    ex.controls["depth"].value = 20
    assert ex.last_png != mid
    static = make_vanishing_explorer(mode="static")
    assert len(static.frames) == 27
    first = static.last_png
    assert static.select(activation="tanh") != first
    assert static.select(activation="sigmoid") == first


# ---- the decision boundary as the network trains (§3.1) -------------------------------------
def test_boundary_snapshots_are_one_training_run() -> None:
    """Stopping to look at epochs 0, 2 and 5 changes nothing: the snapshot at 5 is a plain 5-epoch fit."""
    from dlbook import nn, optim
    from dlbook.autograd import Tensor, no_grad
    from dlbook.models import MLP
    from dlbook.train import fit
    from dlbook.widgets.boundary import compute_boundary, spirals

    r = compute_boundary(8, "tanh", (5, 0, 2), resolution=20)
    assert list(r["epochs"]) == [5, 0, 2] and r["probs"].shape == (3, 20, 20) and len(r["loss"]) == 5
    X, y = spirals()
    rng = np.random.default_rng(0)
    model = MLP([2, 8, 8, 2], activation="tanh", rng=rng)
    history = fit(model, nn.CrossEntropyLoss(), optim.Adam(model.parameters(), lr=1e-2), X, y, epochs=5,
                  batch_size=64, rng=rng, progress=False)
    np.testing.assert_allclose(r["loss"], history.loss, rtol=1e-12)
    with no_grad():
        p = F.softmax(model(Tensor(np.stack([r["u"].ravel(), r["v"].ravel()], axis=1))), axis=-1).data[:, 1]
    np.testing.assert_allclose(r["probs"][0], p.reshape(20, 20), rtol=1e-12)
    assert not np.allclose(r["probs"][0], r["probs"][1])          # training moved the boundary


def test_boundary_rejects_bad_input() -> None:
    from dlbook.widgets.boundary import compute_boundary

    with pytest.raises(ValueError, match="activation must be one of"):
        compute_boundary(8, "sigmoid")
    with pytest.raises(ValueError, match="epochs must be"):
        compute_boundary(8, "relu", ())


@pytest.mark.slow
def test_boundary_explorer_shows_what_the_chapter_says() -> None:
    """§3.1: untrained, no better than a coin; the wide network (64) fits the spirals by epoch 30, the narrow one
    (8) not yet; by epoch 150 both do.  Moving the epoch slider changes the frame; the frames are legible."""
    from dlbook.widgets.boundary import STATIC_EPOCHS, compute_boundary, make_boundary_explorer

    wide, narrow = compute_boundary(64, "relu"), compute_boundary(8, "relu")
    at = {e: i for i, e in enumerate(STATIC_EPOCHS)}
    assert wide["accuracy"][at[0]] <= 0.7 and narrow["accuracy"][at[0]] <= 0.7
    assert wide["accuracy"][at[30]] >= 0.99 > 0.95 > narrow["accuracy"][at[30]]
    assert wide["accuracy"][at[150]] == 1.0 and narrow["accuracy"][at[150]] >= 0.97
    ex = make_boundary_explorer(mode="static")
    assert set(ex.sliders) == {"epoch", "hidden"} and ex.fixed == {"activation": "relu"}
    _assert_every_slider_moves_in_order(ex)
    first = ex.last_png
    frames = {e: ex.select(epoch=e, hidden=64) for e in STATIC_EPOCHS}
    assert frames[0] == first and len(set(frames.values())) == len(STATIC_EPOCHS)
    assert _png_width(first) == round(8.0 * LEGIBLE_DPI)
    live = make_boundary_explorer(mode="live")
    before = live.last_png
    live.controls["epoch"].value = 5
    assert live.last_png != before
