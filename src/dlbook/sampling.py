"""Choosing the next token from a language model's logits: temperature, top-k, top-p."""

from __future__ import annotations

import numpy as np

from dlbook._checks import check_int
from dlbook.functional.activations import softmax_array


def next_token_distribution(logits: np.ndarray, temperature: float = 1.0, top_k: int | None = None,
                            top_p: float | None = None) -> np.ndarray:
    """Probabilities over the vocabulary after temperature, top-k and top-p (nucleus) filtering.

    logits: (V,) -> (V,) summing to 1: p = softmax(z / T).  temperature → 0 approaches greedy
    decoding (and reaches it: a temperature so small that z / T overflows gives the
    arg-max, ties shared); top_k keeps the k most likely tokens; top_p keeps the smallest
    set of most likely tokens whose probabilities sum to at least p.
    """
    z = np.asarray(logits, dtype=np.float64)
    if z.ndim != 1 or z.size == 0:
        raise ValueError(f"logits must be a non-empty 1-D array, got shape {z.shape}")
    if np.isnan(z).any():
        raise ValueError(f"logits hold NaN at {np.flatnonzero(np.isnan(z))[:5].tolist()}: the model's output is not a "
                         "distribution (diverged weights?)")
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    if top_k is not None:
        check_int("top_k", top_k, 1)
    if top_p is not None and not 0 < top_p <= 1:
        raise ValueError(f"top_p must lie in (0, 1] or be None, got {top_p}")
    with np.errstate(over="ignore"):
        scaled = z / temperature
        if np.isinf(scaled[np.isfinite(z)]).any():
            # z / T overflowed (inf − inf = NaN in the softmax): divide the gaps below the maximum instead,
            # which are <= 0, so they can only reach −inf (probability 0) and the maximum keeps 0.
            scaled = (z - z.max()) / temperature
    p = softmax_array(scaled)
    if top_k is not None and top_k < p.size:
        cutoff = np.sort(p)[-top_k]
        p = np.where(p >= cutoff, p, 0.0)
    if top_p is not None and top_p < 1:
        order = np.argsort(-p, kind="stable")
        cumulative = np.cumsum(p[order]) / p.sum()
        keep = order[: int(np.searchsorted(cumulative, top_p) + 1)]
        mask = np.zeros_like(p, dtype=bool)
        mask[keep] = True
        p = np.where(mask, p, 0.0)
    return p / p.sum()


def sample_next(logits: np.ndarray, rng: np.random.Generator, temperature: float = 1.0,
                top_k: int | None = None, top_p: float | None = None) -> tuple[int, float]:
    """Draw one token id from :func:`next_token_distribution`; returns (id, its probability)."""
    p = next_token_distribution(logits, temperature, top_k, top_p)
    i = int(rng.choice(p.size, p=p))
    return i, float(p[i])
