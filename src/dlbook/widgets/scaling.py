"""Scaling explorer (§4.5): why attention divides the scores by √d_k.

For random queries and keys with unit-variance entries, q·k has variance d_k:
the scores spread out as d_k grows, the softmax saturates (one weight near 1,
the rest near 0) and its gradient vanishes.  Dividing by √d_k keeps the
variance at 1 whatever d_k is.  A temperature τ divides the scores further:
τ < 1 sharpens the softmax, τ > 1 flattens it.

:func:`compute_scaling` measures, with and without the 1/√d_k factor, the mean
entropy of the attention rows, the mean largest weight and the mean Frobenius
norm of the softmax's Jacobian ∂p/∂s (how much gradient flows back to the
scores), over a range of d_k.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from dlbook._checks import check_positive_int
from dlbook.functional.activations import softmax_array
from dlbook.widgets.base import Explorer

#: The d_k values of the curves (and of the static explorer's slider).
D_K = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)
KEYS, QUERIES = 16, 256


def softmax_stats(scores: np.ndarray) -> dict[str, float]:
    """Mean entropy (nats), mean max weight and mean ‖∂p/∂s‖_F of softmax over the rows of ``scores`` (Q, S).

    The Jacobian of p = softmax(s) is diag(p) − p pᵀ, whose squared Frobenius
    norm is Σ pᵢ² − 2 Σ pᵢ³ + (Σ pᵢ²)².
    """
    p = softmax_array(scores, axis=-1)
    entropy = -np.sum(np.where(p > 0, p * np.log(np.where(p > 0, p, 1.0)), 0.0), axis=-1)
    s2, s3 = np.sum(p * p, axis=-1), np.sum(p ** 3, axis=-1)
    jac = np.sqrt(np.maximum(s2 - 2 * s3 + s2 * s2, 0.0))
    return {"entropy": float(entropy.mean()), "max_weight": float(p.max(-1).mean()), "grad_norm": float(jac.mean())}


def compute_scaling(d_k: int, temperature: float = 1.0, seed: int = 0) -> dict[str, np.ndarray]:
    """Softmax sharpness and gradient, scaled (÷√d_k) and unscaled, for every d_k in :data:`D_K`.

    Returns arrays over D_K: ``entropy_scaled``, ``entropy_unscaled``, ``max_scaled``,
    ``max_unscaled``, ``grad_scaled``, ``grad_unscaled``, ``var_unscaled`` (the
    variance of q·k), and for the chosen ``d_k`` one query's weights
    ``weights_scaled`` and ``weights_unscaled`` (KEYS,).  The uniform-attention
    entropy is log(KEYS).
    """
    check_positive_int("d_k", d_k)
    if isinstance(temperature, bool) or not isinstance(temperature, (int, float)) or not temperature > 0:
        raise ValueError(f"temperature must be a positive number, got {temperature!r}")
    out: dict[str, list[float]] = {k: [] for k in ("entropy_scaled", "entropy_unscaled", "max_scaled",
                                                   "max_unscaled", "grad_scaled", "grad_unscaled", "var_unscaled")}
    example: dict[str, np.ndarray] = {}
    for d in sorted({*D_K, int(d_k)}):
        rng = np.random.default_rng(seed + d)
        q, k = rng.standard_normal((QUERIES, d)), rng.standard_normal((KEYS, d))
        raw = q @ k.T
        for name, s in (("scaled", raw / math.sqrt(d) / temperature), ("unscaled", raw / temperature)):
            if d in D_K:
                st = softmax_stats(s)
                out[f"entropy_{name}"].append(st["entropy"])
                out[f"max_{name}"].append(st["max_weight"])
                out[f"grad_{name}"].append(st["grad_norm"])
            if d == d_k:
                example[f"weights_{name}"] = softmax_array(s[0])
        if d in D_K:
            out["var_unscaled"].append(float(raw.var()))
    return {**{k: np.array(v) for k, v in out.items()}, **example, "d_k": np.array(D_K)}


def draw_scaling(d_k: int, temperature: float) -> Any:
    """Left: one query's weights over 16 keys.  Middle: entropy.  Right: gradient norm; both against d_k."""
    import matplotlib.pyplot as plt

    r = compute_scaling(d_k, temperature)
    fig, axes = plt.subplots(1, 3, figsize=(10.5, 3.0))
    x = np.arange(KEYS)
    axes[0].bar(x - 0.2, r["weights_scaled"], 0.4, label="÷√d_k", color="C0")
    axes[0].bar(x + 0.2, r["weights_unscaled"], 0.4, label="unscaled", color="C3")
    axes[0].set_ylim(0, 1)
    axes[0].set_xlabel("key")
    axes[0].set_ylabel("weight")
    axes[0].set_title(f"one query, d_k = {d_k}, τ = {temperature:g}", fontsize=9)
    axes[0].legend(fontsize=8)
    for ax, key, label in ((axes[1], "entropy", "entropy of a row (nats)"),
                           (axes[2], "grad", "mean ‖∂p/∂s‖")):
        ax.semilogx(r["d_k"], r[f"{key}_scaled"], "o-", color="C0", ms=3, label="÷√d_k", base=2)
        ax.semilogx(r["d_k"], r[f"{key}_unscaled"], "o-", color="C3", ms=3, label="unscaled", base=2)
        ax.axvline(d_k, color="gray", lw=0.8, ls="--")
        ax.set_xlabel("d_k")
        ax.set_ylabel(label)
        ax.grid(True, alpha=0.3)
    axes[1].axhline(np.log(KEYS), color="gray", lw=0.8, ls=":")
    axes[1].set_ylim(0, np.log(KEYS) * 1.05)
    axes[2].set_ylim(0, 0.75)
    axes[2].legend(fontsize=8)
    fig.tight_layout()
    return fig


def make_scaling_explorer(mode: str = "static") -> Explorer:
    """d_k and temperature.  Static: 5 × 3 = 15 frames."""
    import ipywidgets as W

    controls = {
        "d_k": W.SelectionSlider(options=list(D_K), value=64, description="d_k", continuous_update=False),
        "temperature": W.FloatSlider(value=1.0, min=0.25, max=4.0, step=0.25, description="τ",
                                     continuous_update=False),
    }
    grid = {"d_k": [64, 4, 16, 256, 1024], "temperature": [1.0, 0.5, 2.0]}
    return Explorer(draw_scaling, controls, grid, mode=mode,
                    title="Scaling: the softmax's sharpness and gradient as d_k grows")
