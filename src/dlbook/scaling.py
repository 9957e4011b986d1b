"""A miniature scaling study (§8): fitting a power law to (parameters, loss) pairs, and the shipped study.

:func:`fit_power_law` fits L(N) = a·N^(−α) + c to (parameters, loss) pairs, with N the non-embedding
parameters as in Kaplan et al. (2020) (:func:`non_embedding_parameters`).  The study itself — the book's GPT
at several widths, trained alike — is the recipe :mod:`dlbook.recipes.scaling`, which wrote the shipped
``src/dlbook/assets/scaling.json`` that :func:`load_study` reads.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from dlbook.costs import matmul_parameters

ASSET = Path(__file__).parent / "assets" / "scaling.json"


def non_embedding_parameters(config: Any) -> int:
    """N of Kaplan et al.: the parameters of the blocks and the final LayerNorm — not the token and position
    tables (nor the tied output layer, which is the token table)."""
    return matmul_parameters(config) - config.vocab_size * config.d_model


def fit_power_law(n: Any, loss: Any, offset: bool = True, grid: int = 2000) -> tuple[float, float, float]:
    """(a, α, c) with L ≈ a·N^(−α) + c, least squares in log space.  Implements (eq-scaling-law).

    For each candidate c on a grid in [0, min L) the remaining law is a straight line in log–log
    coordinates, log(L − c) = log a − α log N, fitted exactly; the c with the smallest squared error in
    log(L) wins.  ``offset=False`` fixes c = 0 (a pure power law).
    """
    n, loss = np.asarray(n, dtype=float), np.asarray(loss, dtype=float)
    if n.shape != loss.shape or n.ndim != 1 or len(n) < 3:
        raise ValueError(f"n and loss must be 1-D of the same length >= 3, got shapes {n.shape} and {loss.shape}")
    if (n <= 0).any() or (loss <= 0).any():
        raise ValueError("n and loss must be positive")
    candidates = np.linspace(0.0, loss.min(), grid, endpoint=False) if offset else np.array([0.0])
    best: tuple[float, float, float, float] | None = None
    for c in candidates:
        slope, intercept = np.polyfit(np.log(n), np.log(loss - c), 1)
        err = float(np.sum((np.log(np.exp(intercept) * n ** slope + c) - np.log(loss)) ** 2))
        if best is None or err < best[0]:
            best = (err, float(np.exp(intercept)), float(-slope), float(c))
    assert best is not None
    return best[1], best[2], best[3]


def load_study(path: str | Path = ASSET) -> dict[str, Any]:
    """The shipped (or given) study record."""
    return json.loads(Path(path).read_text(encoding="utf-8"))
