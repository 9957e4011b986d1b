"""scikit-learn's bundled 8×8 handwritten digits (1,797 images; no download)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class DigitsSplit:
    """Images scaled to [0, 1]: X_* (n, 8, 8) float64, y_* (n,) int64."""

    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray


def load_digits(test_fraction: float = 0.2, seed: int = 0) -> DigitsSplit:
    """The fixed split used throughout the book: a seeded, class-stratified shuffle.

    With the defaults: 1,437 training and 360 test images.
    """
    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must lie in (0, 1), got {test_fraction}")
    from sklearn.datasets import load_digits as _sk_load  # reads a file shipped inside scikit-learn

    bunch = _sk_load()
    X = bunch.images.astype(np.float64) / 16.0
    y = bunch.target.astype(np.int64)
    rng = np.random.default_rng(seed)
    test_idx = []
    for c in range(10):
        idx = np.flatnonzero(y == c)
        rng.shuffle(idx)
        test_idx.extend(idx[: int(round(len(idx) * test_fraction))])
    test_mask = np.zeros(len(y), dtype=bool)
    test_mask[test_idx] = True
    train_idx = rng.permutation(np.flatnonzero(~test_mask))
    test_idx = np.sort(np.flatnonzero(test_mask))
    return DigitsSplit(X[train_idx], y[train_idx], X[test_idx], y[test_idx])
