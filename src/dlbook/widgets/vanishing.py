"""Vanishing-gradient explorer (§4.2): per-layer gradient norms of a deep MLP.

By the chain rule (eq-chain-rule) the gradient reaching layer l is a product of
one factor per layer above it, each a weight matrix times the activation's
derivative.  The sigmoid's derivative is at most ¼, so with sigmoid layers the
product shrinks geometrically towards the input; tanh (derivative ≤ 1) shrinks
it less, ReLU (derivative 0 or 1) with He-scaled weights keeps it about level.
The init scale multiplies the weights, i.e. each factor.

:func:`compute_vanishing` builds a :class:`dlbook.models.MLP` of ``depth``
hidden layers, draws its weights as N(0, scale²/fan_in), runs one forward and
backward pass on a fixed batch and returns ‖∂E/∂W⁽ˡ⁾‖ for every layer.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from dlbook import functional as F
from dlbook._checks import check_int
from dlbook.autograd import Tensor
from dlbook.models.mlp import MLP
from dlbook.nn.linear import Linear
from dlbook.widgets.base import Explorer

ACTIVATIONS = ("sigmoid", "tanh", "relu")
WIDTH, BATCH, CLASSES = 32, 64, 10


def compute_vanishing(depth: int, activation: str, init_scale: float, width: int = WIDTH,
                      seed: int = 0) -> dict[str, np.ndarray]:
    """One backward pass through a ``depth``-hidden-layer MLP.

    Returns ``grad_norms`` (depth + 1,): the Frobenius norm of ∂E/∂W⁽ˡ⁾ for
    layers l = 1 … depth + 1 (the last is the output layer), and
    ``activation_std`` (depth,): the standard deviation of each hidden layer's output.
    """
    check_int("depth", depth, 1)
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {ACTIVATIONS}, got {activation!r}")
    if not init_scale > 0:
        raise ValueError(f"init_scale must be > 0, got {init_scale!r}")
    rng = np.random.default_rng(seed)
    model = MLP([width] * (int(depth) + 1) + [CLASSES], activation=activation, rng=rng)
    layers = [m for m in model.layers if isinstance(m, Linear)]
    for layer in layers:
        fan_in = layer.in_features
        layer.weight.data = rng.standard_normal(layer.weight.shape) * (float(init_scale) / np.sqrt(fan_in))
        layer.bias.data = np.zeros_like(layer.bias.data)
    data = np.random.default_rng(1234)
    x = Tensor(data.standard_normal((BATCH, width)))
    y = data.integers(0, CLASSES, BATCH)
    h, stds = x, []
    for module in model.layers:
        h = module(h)
        if not isinstance(module, Linear) and module is not model.layers[0]:
            stds.append(float(h.data.std()))
    F.cross_entropy(h, y).backward()
    norms = np.array([np.linalg.norm(layer.weight.grad) for layer in layers])
    return {"grad_norms": norms, "activation_std": np.array(stds[: int(depth)])}


def draw_vanishing(depth: int, activation: str, init_scale: float) -> Any:
    """‖∂E/∂W⁽ˡ⁾‖ against the layer l, on a log scale (fixed axes so settings compare)."""
    import matplotlib.pyplot as plt

    r = compute_vanishing(depth, activation, init_scale)
    norms = r["grad_norms"]
    fig, ax = plt.subplots(figsize=(6.4, 3.0))
    layers = np.arange(1, len(norms) + 1)
    ax.semilogy(layers, np.maximum(norms, 1e-30), "o-", color="C0", ms=4)
    ax.set_ylim(1e-18, 1e4)
    ax.set_xlim(0.5, 31.5)
    ax.set_xlabel("layer l  (1 = next to the input)")
    ax.set_ylabel("‖∂E/∂W⁽ˡ⁾‖")
    ratio = norms[0] / norms[-1]
    ax.set_title(f"{activation}, depth {depth}, init scale {init_scale:g}: first/last = {ratio:.1e}", fontsize=10)
    ax.grid(True, which="major", alpha=0.3)
    fig.tight_layout()
    return fig


def make_vanishing_explorer(mode: str = "static") -> Explorer:
    """The explorer: activation, depth and init scale.  Static: 3 × 3 × 3 = 27 frames."""
    import ipywidgets as W

    controls = {
        "activation": W.Dropdown(options=list(ACTIVATIONS), value="sigmoid", description="activation"),
        "depth": W.IntSlider(value=10, min=1, max=30, step=1, description="depth", continuous_update=False),
        "init_scale": W.FloatSlider(value=1.0, min=0.25, max=3.0, step=0.05, description="init scale",
                                    continuous_update=False),
    }
    grid = {"activation": list(ACTIVATIONS), "depth": [10, 3, 25], "init_scale": [1.0, 0.5, 1.414]}
    return Explorer(draw_vanishing, controls, grid, mode=mode,
                    title="Vanishing gradients: per-layer gradient norms of a deep MLP")
