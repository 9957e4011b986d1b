"""RoPE explorer (§5.5): a query at position m and a key at position n, rotated by their positions.

Rotary position embedding (eq-rope) turns every pair of features of a query or key by an angle proportional
to its position: pair i of a vector at position m by m·θᵢ, θᵢ = base^(−2i/d).  :func:`compute_rope_pair`
rotates one fixed query and one fixed key (seeded, head size ``head_dim``) to the positions the controls set and
returns what the figure draws: the first (fastest) pair of each before and after the rotation, and the score
RoPE(q, m)·RoPE(k, n) for every offset n − m of a range, which shows that the score depends on the two
positions only through their difference.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from dlbook._checks import check_int
from dlbook.functional.rope import rope_angles, rotate_half
from dlbook.widgets.base import Explorer

HEAD_DIM, BASE, MAX_POSITION = 16, 10000.0, 24


def _pair_vectors(head_dim: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.standard_normal(head_dim), rng.standard_normal(head_dim)


def rotate(x: np.ndarray, position: int, base: float = BASE) -> np.ndarray:
    """x (head_dim,) rotated to ``position`` (eq-rope, half-split pairs (i, i + d/2)), in float64."""
    cos, sin = rope_angles(np.array([position]), x.shape[-1], base)
    return x * cos[0] + rotate_half(x) * sin[0]


def compute_rope_pair(m: int, n: int, head_dim: int = HEAD_DIM, base: float = BASE, seed: int = 0,
                      max_offset: int = MAX_POSITION) -> dict[str, Any]:
    """A fixed query at position ``m`` and a fixed key at position ``n``.

    Returns ``q_pair``, ``k_pair`` (2,): the first feature pair (x[0], x[d/2]) of each unrotated;
    ``q_rot``, ``k_rot`` (2,): the same pair after the rotation; ``score``: RoPE(q, m)·RoPE(k, n);
    ``offsets`` (2·max_offset + 1,) and ``scores``: the score of the query at 0 and the key at each offset
    (what RoPE(q, m)·RoPE(k, m + offset) is for every m); ``theta0``: the first pair's angle per position.
    """
    check_int("m", m, 0)
    check_int("n", n, 0)
    head_dim = check_int("head_dim", head_dim, 2)
    q, k = _pair_vectors(head_dim, seed)
    h = head_dim // 2
    qm, kn = rotate(q, m, base), rotate(k, n, base)
    offsets = np.arange(-max_offset, max_offset + 1)
    scores = np.array([rotate(q, max_offset, base) @ rotate(k, max_offset + o, base) for o in offsets])
    return {"q_pair": q[[0, h]], "k_pair": k[[0, h]], "q_rot": qm[[0, h]], "k_rot": kn[[0, h]],
            "score": float(qm @ kn), "offsets": offsets, "scores": scores, "theta0": 1.0}


def draw_rope_pair(m: int, n: int) -> Any:
    """Left: the first feature pair of q and k, turned by m·θ₀ and n·θ₀.  Right: the score against n − m."""
    import matplotlib.pyplot as plt

    r = compute_rope_pair(m, n)
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(8.4, 3.4), gridspec_kw={"width_ratios": [1, 1.5]})
    lim = 1.15 * max(np.abs(np.concatenate([r["q_pair"], r["k_pair"]])).max(), 1e-9)
    for key, rot, colour, label in (("q_pair", "q_rot", "C0", f"query, m = {m}"),
                                    ("k_pair", "k_rot", "C3", f"key, n = {n}")):
        ax.annotate("", xy=r[key], xytext=(0, 0), arrowprops=dict(arrowstyle="->", color=colour, alpha=0.3, lw=1.5))
        ax.annotate("", xy=r[rot], xytext=(0, 0), arrowprops=dict(arrowstyle="->", color=colour, lw=2))
        ax.plot([], [], color=colour, lw=2, label=label)
    ax.plot([], [], color="grey", alpha=0.3, lw=1.5, label="before rotation")
    ax.set_xlim(-lim, lim)
    ax.set_ylim(-lim, lim)
    ax.set_aspect("equal")
    ax.axhline(0, color="grey", lw=0.5)
    ax.axvline(0, color="grey", lw=0.5)
    ax.set_xlabel("feature 0")
    ax.set_ylabel(f"feature {HEAD_DIM // 2}")
    ax.set_title("first pair, turned by 1 rad per position", fontsize=9)
    ax.legend(fontsize=7, loc="lower left")
    bx.plot(r["offsets"], r["scores"], "-", color="grey", lw=1)
    bx.plot([n - m], [r["score"]], "o", color="C2", ms=8)
    bx.set_xlabel("offset n − m")
    bx.set_ylabel("score RoPE(q, m)·RoPE(k, n)")
    bx.set_title(f"m = {m}, n = {n}: score {r['score']:+.3f} (offset {n - m:+d})", fontsize=9)
    bx.grid(True, alpha=0.3)
    fig.tight_layout()
    return fig


def make_rope_explorer(mode: str = "static") -> Explorer:
    """The explorer: the query's and the key's positions.  Static: 5 × 5 = 25 frames."""
    import ipywidgets as W

    controls = {
        "m": W.IntSlider(value=0, min=0, max=MAX_POSITION, step=1, description="query m", continuous_update=False),
        "n": W.IntSlider(value=4, min=0, max=MAX_POSITION, step=1, description="key n", continuous_update=False),
    }
    grid = {"m": [0, 4, 8, 12, 16], "n": [0, 4, 8, 12, 16]}
    return Explorer(draw_rope_pair, controls, grid, mode=mode,
                    title="RoPE: a query and a key rotated by their positions")
