"""2-D two-class data sets generated from a seed (no download)."""

from __future__ import annotations

import numpy as np

from dlbook._checks import check_nonnegative, check_positive_int


def make_spirals(n_per_class: int = 200, noise: float = 0.2, turns: float = 1.5,
                 seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaved spirals.  Returns X: (2n, 2) float64 and y: (2n,) int64 in {0, 1}."""
    n = check_positive_int("n_per_class", n_per_class)
    noise = check_nonnegative("noise", noise)
    rng = np.random.default_rng(seed)
    t = np.sqrt(rng.uniform(0, 1, n)) * turns * 2 * np.pi
    xs, ys = [], []
    for label, phase in ((0, 0.0), (1, np.pi)):
        r = t / (turns * 2 * np.pi) * 4
        pts = np.stack([r * np.cos(t + phase), r * np.sin(t + phase)], axis=1)
        xs.append(pts + noise * rng.standard_normal(pts.shape) * 0.5)
        ys.append(np.full(n, label))
    X, y = np.concatenate(xs), np.concatenate(ys).astype(np.int64)
    order = rng.permutation(len(y))
    return X[order], y[order]


def make_moons(n_per_class: int = 200, noise: float = 0.1, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaved half circles.  Returns X: (2n, 2) float64 and y: (2n,) int64."""
    n = check_positive_int("n_per_class", n_per_class)
    noise = check_nonnegative("noise", noise)
    rng = np.random.default_rng(seed)
    a = rng.uniform(0, np.pi, n)
    b = rng.uniform(0, np.pi, n)
    upper = np.stack([np.cos(a), np.sin(a)], axis=1)
    lower = np.stack([1 - np.cos(b), 0.5 - np.sin(b)], axis=1)
    X = np.concatenate([upper, lower]) + noise * rng.standard_normal((2 * n, 2))
    y = np.concatenate([np.zeros(n), np.ones(n)]).astype(np.int64)
    order = rng.permutation(2 * n)
    return X[order], y[order]
