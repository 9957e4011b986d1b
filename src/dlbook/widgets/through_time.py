"""Gradient-through-time explorer (§4.4): how ‖∂L/∂hₜ‖ shrinks or grows as it flows back in time.

A recurrent layer with random weights reads a random input sequence; the loss
is on the last step only, L = Σ h_T.  Backpropagation through time (eq-bptt)
gives ∂L/∂hₜ for every t; the explorer plots ‖∂L/∂hₜ‖ against t on a log
scale, beside the hidden states over time as a heat map.

Controls: ``cell`` ("rnn", "lstm", "gru"), ``radius`` — the spectral radius of
each recurrent weight block (W_hh = radius · Q with Q a random orthogonal
matrix, so every eigenvalue has modulus ``radius``) — and ``length`` T.

The gated cells start with their "keep" gates mostly open, as is usual in
practice: forget-gate bias +3 for the LSTM (σ(3) ≈ 0.95) and update-gate bias
+3 for the GRU.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from dlbook._checks import array_of
from dlbook.autograd import Tensor
from dlbook.functional.recurrent import GATES, check_sequence, gru_cell, lstm_cell, rnn_cell
from dlbook.widgets.base import Explorer

HIDDEN = 24
INPUT = 8
BATCH = 4
GATE_BIAS = 3.0
CELLS = ("rnn", "lstm", "gru")
STATIC_RADII = (0.5, 0.8, 1.0, 1.25, 1.6)


def recurrent_weights(cell: str, radius: float, hidden: int = HIDDEN, input_size: int = INPUT,
                      seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(w_ih, w_hh, b_ih, b_hh) in PyTorch's layout, each recurrent gate block = radius · (random orthogonal)."""
    if cell not in GATES:
        raise ValueError(f"cell must be one of {sorted(GATES)}, got {cell!r}")
    if not (isinstance(radius, (int, float)) and radius > 0):
        raise ValueError(f"radius must be a number > 0, got {radius!r}")
    rng = np.random.default_rng(seed)
    g = GATES[cell]
    blocks = [np.linalg.qr(rng.standard_normal((hidden, hidden)))[0] for _ in range(g)]
    w_hh = float(radius) * np.concatenate(blocks, axis=0)
    w_ih = rng.standard_normal((g * hidden, input_size)) / np.sqrt(input_size)
    b_ih = np.zeros(g * hidden)
    b_hh = np.zeros(g * hidden)
    if cell == "lstm":
        b_ih[hidden:2 * hidden] = GATE_BIAS      # forget gate f (order i, f, g, o)
    elif cell == "gru":
        b_ih[hidden:2 * hidden] = GATE_BIAS      # update gate z (order r, z, n)
    return w_ih, w_hh, b_ih, b_hh


def bptt_hidden_grads(cell: str, x: Any, w_ih: Any, w_hh: Any, b_ih: Any = None, b_hh: Any = None,
                      nonlinearity: str = "tanh") -> tuple[np.ndarray, np.ndarray]:
    """‖∂L/∂hₜ‖ for t = 0..T with L = Σ h_T (the loss on the last step only), and the hidden states.

    Implements (eq-bptt) on the unrolled cells: the sequence is run step by step
    with the cells of :mod:`dlbook.functional.recurrent` (for the LSTM through (h, c) together), and one
    backward pass carries δₜ = ∂L/∂hₜ from t = T back to the initial state.  To read
    δₜ, a zero "probe" is added to each hₜ (its gradient is δₜ; the values are
    unchanged).  x: (N, T, input_size); the weights are used as constants.
    Returns (norms (T + 1,) — index 0 is the initial state —, states (T, N, H)).
    Used by the gradient-through-time explorer and §4.4.
    """
    if cell not in GATES:
        raise ValueError(f"cell must be one of {sorted(GATES)}, got {cell!r}")
    ax = np.asarray(array_of(x), dtype=np.float64)
    check_sequence("bptt_hidden_grads", ax, None, None, w_ih, w_hh, b_ih, b_hh, GATES[cell], None)
    weights = [None if w is None else array_of(w) for w in (w_ih, w_hh, b_ih, b_hh)]
    n, t_len, _ = ax.shape
    hidden = weights[1].shape[1]
    h = Tensor(np.zeros((n, hidden)), requires_grad=True)
    c = Tensor(np.zeros((n, hidden))) if cell == "lstm" else None
    probes, states = [h], []
    for t in range(t_len):
        if cell == "rnn":
            h = rnn_cell(ax[:, t], h, *weights, nonlinearity)
        elif cell == "gru":
            h = gru_cell(ax[:, t], h, *weights)
        else:
            h, c = lstm_cell(ax[:, t], h, c, *weights)
        probe = Tensor(np.zeros((n, hidden)), requires_grad=True)
        h = h + probe
        probes.append(probe)
        states.append(h.data.copy())
    h.sum().backward()
    norms = np.array([np.linalg.norm(p.grad) if p.grad is not None else 0.0 for p in probes])
    return norms, np.stack(states)


def through_time(cell: str, radius: float, length: int, seed: int = 0) -> dict[str, np.ndarray]:
    """The explorer's arrays for one setting.

    Returns ``norms`` (T + 1,): ‖∂L/∂hₜ‖ for t = 0..T (t = 0 is the initial
    state), ``states`` (T, H): the first sequence's hidden states, and
    ``radius`` — the measured spectral radius of the first recurrent block.
    """
    if not isinstance(length, (int, np.integer)) or length < 1:
        raise ValueError(f"length must be a positive int, got {length!r}")
    w_ih, w_hh, b_ih, b_hh = recurrent_weights(cell, radius, seed=seed)
    x = np.random.default_rng(seed + 1).standard_normal((BATCH, int(length), INPUT)) * 0.5
    norms, states = bptt_hidden_grads(cell, x, w_ih, w_hh, b_ih, b_hh)
    measured = float(np.max(np.abs(np.linalg.eigvals(w_hh[:HIDDEN]))))
    return {"norms": norms, "states": states[:, 0, :], "radius": np.array(measured)}


def draw_through_time(cell: str, radius: float, length: int) -> Any:
    """Left: ‖∂L/∂hₜ‖ over t (log scale); right: the hidden states over time."""
    import matplotlib.pyplot as plt

    r = through_time(cell, radius, length)
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(8.0, 2.8), gridspec_kw={"width_ratios": [1.1, 1]})
    t = np.arange(len(r["norms"]))
    ax1.semilogy(t, np.maximum(r["norms"], 1e-30), color="C3", marker=".", ms=3)
    ax1.set_xlabel("time step t")
    ax1.set_ylabel("‖∂L/∂hₜ‖  (loss at t = T)")
    ax1.set_title(f"{cell.upper()}, spectral radius {radius:g}", fontsize=10)
    ax1.grid(True, which="major", alpha=0.3)
    ax1.set_ylim(max(1e-30, r["norms"].min() / 3), max(r["norms"].max() * 3, 1e-20))
    im = ax2.imshow(r["states"].T, aspect="auto", cmap="RdBu_r", vmin=-1, vmax=1, interpolation="nearest",
                    extent=(0.5, len(r["states"]) + 0.5, r["states"].shape[1] - 0.5, -0.5))
    ax2.set_xlabel("time step t")
    ax2.set_ylabel("hidden unit")
    ax2.set_title("hidden states hₜ", fontsize=10)
    fig.colorbar(im, ax=ax2, fraction=0.05)
    fig.tight_layout()
    return fig


def make_through_time_explorer(mode: str = "static", length: int = 60) -> Explorer:
    """The explorer widget: ``mode="static"`` precomputes 3 cells × 5 radii at one ``length``;
    ``mode="live"`` recomputes for any radius and length (needs a kernel)."""
    import ipywidgets as W

    controls = {
        "cell": W.Dropdown(options=list(CELLS), value="rnn", description="cell"),
        "radius": W.FloatSlider(value=1.0, min=0.25, max=2.0, step=0.05, description="spectral radius",
                                continuous_update=False),
        "length": W.IntSlider(value=length, min=5, max=120, step=5, description="length T",
                              continuous_update=False),
    }
    grid = {"cell": list(CELLS), "radius": list(STATIC_RADII), "length": [length]}
    return Explorer(draw_through_time, controls, grid, mode=mode,
                    title="Gradient through time: ‖∂L/∂hₜ‖ with the loss on the last step")
