"""Decision-boundary explorer (§3.1): how an MLP's boundary around two spirals forms as it trains.

:func:`compute_boundary` trains :class:`~dlbook.models.MLP` on the chapter's spirals
(:func:`~dlbook.data.make_spirals`, 200 points per class) with :func:`dlbook.train.fit` — Adam at η = 0.01,
mini-batches of 64, the seed used for both the initial weights and the shuffling, exactly as §3.1 trains it —
and stops at the requested epochs to evaluate P(class 1) on a grid over the plane.  :func:`draw_boundary` colours
the plane by that probability, draws the boundary P = 0.5 and the points, beside the loss curve up to that epoch.

``mode="static"``: epochs × hidden widths precomputed (ReLU, as in the chapter); ``mode="live"``: any epoch up to
300, any width, ReLU or tanh.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from dlbook._checks import check_int
from dlbook.widgets.base import LEGIBLE_DPI, Explorer

#: The epochs the static explorer shows (the first is shown first), its hidden widths, and the activations.
STATIC_EPOCHS = (0, 2, 5, 10, 30, 150)
STATIC_WIDTHS = (64, 8)
ACTIVATIONS = ("relu", "tanh")
#: The square of the plane the boundary is drawn over (the spirals lie inside it).
EXTENT = 5.0


def spirals() -> tuple[np.ndarray, np.ndarray]:
    """The chapter's data: two interleaved spirals of 200 points each (noise 0.2, seed 0)."""
    from dlbook.data import make_spirals

    return make_spirals(n_per_class=200, noise=0.2, seed=0)


@functools.lru_cache(maxsize=8)
def compute_boundary(hidden: int, activation: str, epochs: tuple[int, ...] = STATIC_EPOCHS, seed: int = 0,
                     resolution: int = 100) -> dict[str, np.ndarray]:
    """Train a [2, hidden, hidden, 2] MLP on the spirals and look at it after each of ``epochs``.

    Returns ``epochs`` (E,), ``probs`` (E, resolution, resolution): P(class 1) on the grid ``u``, ``v``
    (resolution, resolution each) after that many epochs, ``accuracy`` (E,): training accuracy then, and
    ``loss`` (max epoch,): the mean training loss of every epoch.  Cached: the explorer asks again per frame.
    """
    from dlbook import nn, optim
    from dlbook.autograd import Tensor, no_grad
    from dlbook.functional import softmax
    from dlbook.models import MLP
    from dlbook.train import fit

    check_int("hidden", hidden, 1)
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {ACTIVATIONS}, got {activation!r}")
    if not epochs or any(not isinstance(e, int) or e < 0 for e in epochs):
        raise ValueError(f"epochs must be a non-empty tuple of ints >= 0, got {epochs!r}")
    X, y = spirals()
    rng = np.random.default_rng(seed)
    model = MLP([2, hidden, hidden, 2], activation=activation, rng=rng)
    optimizer = optim.Adam(model.parameters(), lr=1e-2)
    u, v = np.meshgrid(np.linspace(-EXTENT, EXTENT, resolution), np.linspace(-EXTENT, EXTENT, resolution))
    plane = Tensor(np.stack([u.ravel(), v.ravel()], axis=1))
    losses: list[float] = []
    probs, accuracy = [], []
    done = 0
    for target in sorted(set(epochs)):
        if target > done:                        # train on from where the last snapshot stopped: one run
            history = fit(model, nn.CrossEntropyLoss(), optimizer, X, y, epochs=target - done, batch_size=64,
                          rng=rng, progress=False)
            losses += list(history.loss)
            done = target
        with no_grad():
            probs.append(softmax(model(plane), axis=-1).data[:, 1].reshape(u.shape))
            accuracy.append(float(np.mean(np.argmax(model(Tensor(X)).data, axis=-1) == y)))
    order = [sorted(set(epochs)).index(e) for e in epochs]
    return {"epochs": np.array(epochs), "probs": np.array(probs)[order], "accuracy": np.array(accuracy)[order],
            "loss": np.array(losses), "u": u, "v": v}


def draw_boundary(epoch: int, hidden: int, activation: str, epochs: tuple[int, ...] = STATIC_EPOCHS) -> Any:
    """The plane coloured by P(class 1) after ``epoch`` epochs, the boundary P = 0.5, and the loss so far."""
    import matplotlib.pyplot as plt

    r = compute_boundary(hidden, activation, epochs if epoch in epochs else (epoch,))
    i = list(r["epochs"]).index(epoch)
    X, y = spirals()
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(8.0, 3.6), gridspec_kw={"width_ratios": [1, 1.15]})
    ax.contourf(r["u"], r["v"], r["probs"][i], levels=np.linspace(0, 1, 11), cmap="coolwarm", alpha=0.6)
    if r["probs"][i].min() < 0.5 < r["probs"][i].max():
        ax.contour(r["u"], r["v"], r["probs"][i], levels=[0.5], colors="k", linewidths=1.2)
    ax.scatter(X[:, 0], X[:, 1], c=y, cmap="coolwarm", s=6, edgecolors="k", linewidths=0.2)
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(f"epoch {epoch}: training accuracy {r['accuracy'][i]:.0%}", fontsize=10)
    n = len(r["loss"])
    ax2.plot(np.arange(1, n + 1), r["loss"], color="0.75", lw=1)
    ax2.plot(np.arange(1, epoch + 1), r["loss"][:epoch], color="C3", lw=1.5)
    if epoch:
        ax2.plot(epoch, r["loss"][epoch - 1], "o", color="C3")
    ax2.set_yscale("log")
    ax2.set_ylim(1e-4, 1.0)                  # one scale for every width, so the curves compare
    ax2.set_xlabel("epoch")
    ax2.set_ylabel("training loss (cross-entropy)")
    ax2.set_title(f"MLP 2-{hidden}-{hidden}-2, {activation}", fontsize=10)
    ax2.grid(True, alpha=0.3)
    fig.tight_layout()
    return fig


def make_boundary_explorer(mode: str = "static") -> Explorer:
    """Epoch, hidden width and activation → the decision boundary at that point of training.

    ``mode="static"`` precomputes 6 epochs × 2 widths with ReLU (12 frames from two training runs; the widget
    states the activation); ``mode="live"`` trains for any epoch up to 300, any width, ReLU or tanh.
    """
    import ipywidgets as W

    controls = {
        "epoch": W.IntSlider(value=STATIC_EPOCHS[0], min=0, max=300, description="epoch", continuous_update=False),
        "hidden": W.IntSlider(value=STATIC_WIDTHS[0], min=2, max=128, description="hidden width",
                              continuous_update=False),
        "activation": W.Dropdown(options=list(ACTIVATIONS), value=ACTIVATIONS[0], description="activation"),
    }
    grid = {"epoch": list(STATIC_EPOCHS), "hidden": list(STATIC_WIDTHS), "activation": [ACTIVATIONS[0]]}

    def draw(epoch: int, hidden: int, activation: str) -> Any:
        return draw_boundary(int(epoch), int(hidden), activation)

    return Explorer(draw, controls, grid, mode=mode, title="The decision boundary as the network trains",
                    dpi=LEGIBLE_DPI)
