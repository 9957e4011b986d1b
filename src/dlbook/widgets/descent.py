"""Gradient-descent explorer (§3.2, §4.2): a 2-D loss surface and the path SGD with momentum takes on it.

Two surfaces, both with their minimum at (1, 1):

* ``"ravine"`` — an elongated quadratic  L(u, v) = ½ (u − 1)² + 5 (v − 1)²: curvature 1 along u and 10 along v,
  so plain gradient descent zig-zags across the valley and crawls along it (it diverges for η > 2/10);
* ``"banana"`` — a Rosenbrock-like valley  L(u, v) = ½ (1 − u)² + 2 (v − u²)²: curved, flat along its floor.

:func:`compute_descent` puts the point in a :class:`~dlbook.nn.Parameter`, and
runs ``steps`` updates of :class:`dlbook.optim.SGD` (eq-sgd, eq-momentum),
each from a real ``loss.backward()``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from dlbook._checks import check_int
from dlbook.nn.module import Parameter
from dlbook.optim.sgd import SGD
from dlbook.widgets.base import LEGIBLE_DPI, Explorer

# Each surface: f(u, v) on Tensors or arrays, and the window it is drawn in.
SURFACES: dict[str, tuple[Callable[[Any, Any], Any], tuple[float, float, float, float]]] = {
    "ravine": (lambda u, v: 0.5 * (u - 1.0) ** 2 + 5.0 * (v - 1.0) ** 2, (-2.5, 2.5, -1.0, 3.0)),
    "banana": (lambda u, v: 0.5 * (1.0 - u) ** 2 + 2.0 * (v - u * u) ** 2, (-2.0, 2.0, -1.0, 3.0)),
}
MINIMUM = np.array([1.0, 1.0])


def surface_grid(surface: str, n: int = 80) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(U, V, L): the loss on an n × n grid over the surface's window, for contour plots."""
    f, (u0, u1, v0, v1) = _surface(surface)
    U, V = np.meshgrid(np.linspace(u0, u1, n), np.linspace(v0, v1, n))
    return U, V, f(U, V)


def _surface(surface: str) -> tuple[Callable[[Any, Any], Any], tuple[float, float, float, float]]:
    if surface not in SURFACES:
        raise ValueError(f"surface must be one of {sorted(SURFACES)}, got {surface!r}")
    return SURFACES[surface]


def compute_descent(surface: str, lr: float, momentum: float, steps: int,
                    start: tuple[float, float] = (-2.0, 2.5)) -> dict[str, np.ndarray]:
    """Run ``steps`` SGD-with-momentum updates from ``start``.

    Returns ``path`` (steps + 1, 2): the point after each update (row 0 = start),
    ``loss`` (steps + 1,): the loss there, ``grads`` (steps + 1, 2): ∇L at each
    point of the path (the last row is the gradient at the current point).
    """
    f, _ = _surface(surface)
    check_int("steps", steps, 0)
    if len(start) != 2:
        raise ValueError(f"start must be a point (u, v), got {start!r}")
    point = Parameter(np.array(start, dtype=np.float64))
    opt = SGD([point], lr=lr, momentum=momentum)
    path, losses, grads = [], [], []
    for step in range(int(steps) + 1):
        loss = f(point[0], point[1])                 # forward pass and error
        opt.zero_grad()
        loss.backward()                              # backward pass: ∇L at the current point
        path.append(point.data.copy())
        losses.append(loss.item())
        grads.append(point.grad.copy())
        if step == steps or not np.all(np.isfinite(point.data)) or abs(loss.item()) > 1e8:
            break
        opt.step()                                   # update
    return {"path": np.array(path), "loss": np.array(losses), "grads": np.array(grads)}


def draw_descent(surface: str, lr: float, momentum: float, steps: int, start_u: float = -2.0,
                 start_v: float = 2.5) -> Any:
    """Contours of the surface, the path of the iterates, and −∇L at the current (last) point."""
    import matplotlib.pyplot as plt

    r = compute_descent(surface, lr, momentum, steps, (start_u, start_v))
    U, V, L = surface_grid(surface)
    _, (u0, u1, v0, v1) = _surface(surface)
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(7.2, 3.0), gridspec_kw={"width_ratios": [1.35, 1]})
    ax.contour(U, V, np.log10(L + 1e-3), levels=12, cmap="viridis", linewidths=0.8)
    path = r["path"]
    inside = np.all(np.abs(path) < 50, axis=1)
    ax.plot(path[inside, 0], path[inside, 1], "-o", color="C3", ms=2.5, lw=1.0, label="iterates")
    ax.plot(*MINIMUM, "k*", ms=10, label="minimum")
    cur, g = path[-1], r["grads"][-1]
    if np.all(np.isfinite(g)) and np.all(np.abs(cur) < 50):
        scale = 0.8 / max(np.linalg.norm(g), 1e-12)
        ax.annotate("", xy=cur - scale * g, xytext=cur, arrowprops={"arrowstyle": "->", "color": "C1", "lw": 2})
        ax.plot([], [], color="C1", lw=2, label="−∇L (direction)")
    ax.set_xlim(u0, u1)
    ax.set_ylim(v0, v1)
    ax.set_xlabel("u")
    ax.set_ylabel("v")
    ax.legend(loc="upper right", fontsize=7)
    ax.set_title(f"{surface}: η = {lr:g}, μ = {momentum:g}", fontsize=10)
    ax2.semilogy(np.maximum(r["loss"], 1e-16), color="C3")
    ax2.set_xlabel("step")
    ax2.set_ylabel("loss L")
    ax2.set_ylim(1e-8, 1e3)
    ax2.set_title(f"loss after {len(r['loss']) - 1} steps: {r['loss'][-1]:.3g}", fontsize=10)
    ax2.grid(True, alpha=0.3)
    fig.tight_layout()
    return fig


def make_descent_explorer(mode: str = "static", steps: int = 40) -> Explorer:
    """The explorer: surface, learning rate η, momentum μ, number of steps and start point.

    ``mode="static"`` precomputes 2 surfaces × 4 learning rates × 3 momenta (24 frames) for ``steps`` steps
    from one start point (the widget states both): the rates reach past 2/10, where plain descent on the ravine
    diverges, and the momenta show both sides of (eq-momentum) — μ = 0.5 helps at every rate, μ = 0.9
    overshoots.  ``mode="live"`` recomputes for any setting, steps and start point included.
    """
    import ipywidgets as W

    controls = {
        "surface": W.Dropdown(options=list(SURFACES), value="ravine", description="surface"),
        "lr": W.FloatLogSlider(value=0.05, base=10, min=-3, max=0, step=0.1, description="η",
                               continuous_update=False),
        "momentum": W.FloatSlider(value=0.0, min=0.0, max=0.95, step=0.05, description="μ",
                                  continuous_update=False),
        "steps": W.IntSlider(value=steps, min=0, max=200, step=5, description="steps", continuous_update=False),
        "start_u": W.FloatSlider(value=-2.0, min=-2.0, max=2.0, step=0.1, description="start u",
                                 continuous_update=False),
        "start_v": W.FloatSlider(value=2.5, min=-1.0, max=3.0, step=0.1, description="start v",
                                 continuous_update=False),
    }
    grid = {"surface": list(SURFACES), "lr": list(STATIC_LRS), "momentum": list(STATIC_MOMENTA), "steps": [steps],
            "start_u": [-2.0], "start_v": [2.5]}
    return Explorer(draw_descent, controls, grid, mode=mode, title="Gradient descent with momentum on a loss surface",
                    dpi=LEGIBLE_DPI)


#: The learning rates and momenta of the static explorer (the first of each is shown first): from a crawl to
#: past the ravine's limit 2/10, and no, moderate and heavy momentum.
STATIC_LRS = (0.05, 0.01, 0.15, 0.21)
STATIC_MOMENTA = (0.0, 0.5, 0.9)


def final_losses(surface: str, steps: int = 40, lrs: tuple[float, ...] = STATIC_LRS,
                 momenta: tuple[float, ...] = STATIC_MOMENTA) -> dict[tuple[float, float], float]:
    """(η, μ) → the loss after ``steps`` updates (inf once the run has blown up): the static frames' verdicts."""
    out = {}
    for lr in sorted(lrs):
        for mu in momenta:
            r = compute_descent(surface, lr, mu, steps)
            out[(lr, mu)] = float(r["loss"][-1]) if len(r["loss"]) == steps + 1 else float("inf")
    return out
