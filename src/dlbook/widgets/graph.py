"""Computation-graph explorer (§3.2): one neuron, every node's value and gradient.

The graph is y = σ(w₁x₁ + w₂x₂ + b) with the error E = (y − t)²::

    x₁ ─┐
        ├─ p₁ = w₁·x₁ ─┐
    w₁ ─┘              │
    x₂ ─┐              ├─ z = p₁ + p₂ + b ── y = σ(z) ─┐
        ├─ p₂ = w₂·x₂ ─┤                               ├─ E = (y − t)²
    w₂ ─┘              │                          t ───┘
    b ─────────────────┘

:func:`compute_graph` runs the four steps of backpropagation node by node: the
forward pass computes each node from its inputs with dlbook ops; the backward
pass visits the nodes in reverse and asks each node's own small graph for the
gradients of its inputs (``Tensor.backward`` with the node's incoming gradient
— the chain rule, eq-chain-rule), so every intermediate node's ∂E/∂node is
available to draw, not only the leaves'.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from dlbook import functional as F
from dlbook.autograd import Tensor
from dlbook.widgets.base import LEGIBLE_DPI, Explorer

# name -> (label, inputs, op); leaves have no inputs.  Listed in a topological order.
NODES: dict[str, tuple[str, tuple[str, ...], Callable[..., Tensor] | None]] = {
    "x1": ("x₁", (), None),
    "w1": ("w₁", (), None),
    "x2": ("x₂", (), None),
    "w2": ("w₂", (), None),
    "b": ("b", (), None),
    "t": ("t (target)", (), None),
    "p1": ("p₁ = w₁·x₁", ("w1", "x1"), lambda w, x: w * x),
    "p2": ("p₂ = w₂·x₂", ("w2", "x2"), lambda w, x: w * x),
    "z": ("z = p₁+p₂+b", ("p1", "p2", "b"), lambda p, q, b: p + q + b),
    "y": ("y = σ(z)", ("z",), F.sigmoid),
    "E": ("E = (y−t)²", ("y", "t"), lambda y, t: (y - t) ** 2),
}
LEAVES = tuple(n for n, (_, ins, _) in NODES.items() if not ins)

# (column, row) of each node in the drawing
_POS = {"x1": (0, 4.6), "w1": (0, 3.7), "x2": (0, 2.6), "w2": (0, 1.7), "b": (0, 0.6),
        "p1": (1, 4.15), "p2": (1, 2.15), "z": (2, 2.4), "y": (3, 2.4), "t": (3, 0.6), "E": (4, 1.6)}


def compute_graph(x1: float, x2: float, w1: float, w2: float, b: float, t: float = 1.0) -> dict[str, Any]:
    """Forward and backward pass over the neuron's graph.

    Returns ``names`` (the node names in topological order, a list), and arrays
    ``values`` and ``grads`` (len(names),): each node's value and ∂E/∂node.
    """
    given = {"x1": x1, "x2": x2, "w1": w1, "w2": w2, "b": b, "t": t}
    values: dict[str, float] = {}
    for name, value in given.items():
        if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)):
            raise TypeError(f"{name} must be a number, got {type(value).__name__}")
        values[name] = float(value)
    # 1. forward pass, node by node
    for name, (_, inputs, op) in NODES.items():
        if inputs:
            values[name] = op(*(Tensor(values[i]) for i in inputs)).item()
    # 2.-3. the error is the last node; walk back and apply each node's local derivative (chain rule)
    grads = {name: 0.0 for name in NODES}
    grads["E"] = 1.0
    for name in reversed(list(NODES)):
        _, inputs, op = NODES[name]
        if not inputs:
            continue
        local = [Tensor(values[i], requires_grad=True) for i in inputs]
        op(*local).backward(np.array(grads[name]))
        for i, leaf in zip(inputs, local):
            grads[i] += float(leaf.grad)
    names = list(NODES)
    return {"names": names, "values": np.array([values[n] for n in names]),
            "grads": np.array([grads[n] for n in names])}


def draw_graph(x1: float, x2: float, w1: float, w2: float, b: float, t: float = 1.0) -> Any:
    """The graph as boxes and arrows: each box shows the node's value (black) and ∂E/∂node (red)."""
    import matplotlib.pyplot as plt
    from matplotlib.patches import FancyBboxPatch

    r = compute_graph(x1, x2, w1, w2, b, t)
    value = dict(zip(r["names"], r["values"]))
    grad = dict(zip(r["names"], r["grads"]))
    fig, ax = plt.subplots(figsize=(7.4, 3.2))
    ax.set_xlim(-0.55, 4.55)
    ax.set_ylim(0.05, 5.15)
    ax.axis("off")
    w, h = 0.9, 0.72
    for name, (label, inputs, _) in NODES.items():
        cx, cy = _POS[name]
        for i in inputs:
            sx, sy = _POS[i]
            ax.annotate("", xy=(cx - w / 2, cy), xytext=(sx + w / 2, sy),
                        arrowprops={"arrowstyle": "->", "color": "0.45", "lw": 1.0, "shrinkA": 1, "shrinkB": 1})
        face = "#e8f0fe" if not inputs else ("#fde8e8" if name == "E" else "#eef7ee")
        ax.add_patch(FancyBboxPatch((cx - w / 2, cy - h / 2), w, h, boxstyle="round,pad=0.02,rounding_size=0.08",
                                    fc=face, ec="0.3", lw=0.8))
        ax.text(cx, cy + 0.2, label, ha="center", va="center", fontsize=8.5, weight="bold")
        ax.text(cx, cy - 0.02, f"value {value[name]:+.3f}", ha="center", va="center", fontsize=8)
        ax.text(cx, cy - 0.22, f"∂E/∂· {grad[name]:+.3f}", ha="center", va="center", fontsize=8, color="C3")
    ax.set_title("forward: values →      backward: gradients ∂E/∂node ←  (red)", fontsize=9)
    fig.tight_layout()
    return fig


def make_graph_explorer(mode: str = "static", t: float = 1.0) -> Explorer:
    """The explorer: sliders for the inputs x₁, x₂ and the parameters w₁, w₂, b (target ``t`` fixed).

    ``mode="static"`` precomputes 3 × 3 × 2 frames over x₁, w₁ and b; x₂ and w₂ keep one value each there, so
    they get no slider (the widget states their values) — ``mode="live"`` frees them.
    """
    import ipywidgets as W

    def slider(name: str, value: float) -> Any:
        return W.FloatSlider(value=value, min=-2.0, max=2.0, step=0.1, description=name, continuous_update=False)

    controls = {"x1": slider("x₁", 1.0), "w1": slider("w₁", 0.5), "x2": slider("x₂", -1.0),
                "w2": slider("w₂", 0.8), "b": slider("b", 0.0)}
    grid = {"x1": [1.0, -1.0, 2.0], "w1": [0.5, -1.0, 1.5], "x2": [-1.0], "w2": [0.8], "b": [0.0, 1.5]}

    def draw(x1: float, w1: float, x2: float, w2: float, b: float) -> Any:
        return draw_graph(x1, x2, w1, w2, b, t)

    return Explorer(draw, controls, grid, mode=mode, title="Computation graph of one neuron: values and gradients",
                    dpi=LEGIBLE_DPI)
