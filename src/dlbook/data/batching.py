"""Mini-batching of in-memory arrays."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from dlbook._checks import check_int, check_positive_int


def iterate_minibatches(
    *arrays: np.ndarray, batch_size: int, rng: np.random.Generator | None = None, drop_last: bool = False
) -> Iterator[tuple[np.ndarray, ...]]:
    """Yield aligned slices of ``arrays`` (all with the same first axis), shuffled when ``rng`` is given."""
    if not arrays:
        raise ValueError("iterate_minibatches: give at least one array")
    n = len(arrays[0])
    for i, a in enumerate(arrays):
        if len(a) != n:
            raise ValueError(f"iterate_minibatches: arrays[{i}] has {len(a)} rows, arrays[0] has {n}")
    batch_size = check_positive_int("batch_size", batch_size)
    order = rng.permutation(n) if rng is not None else np.arange(n)
    stop = n - n % batch_size if drop_last else n
    for start in range(0, stop, batch_size):
        idx = order[start : start + batch_size]
        yield tuple(a[idx] for a in arrays)


def num_batches(n: int, batch_size: int, drop_last: bool = False) -> int:
    """How many batches :func:`iterate_minibatches` yields for ``n`` rows: ⌈n / batch_size⌉ (⌊…⌋ with drop_last)."""
    n = check_int("n", n, 0)
    batch_size = check_positive_int("batch_size", batch_size)
    return n // batch_size if drop_last else -(-n // batch_size)
