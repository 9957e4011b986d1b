"""The benchmark harness.  Each ``bench/cases_<topic>.py`` defines ``cases() -> list[Case]``.

A case times dlbook's version of a computation and a reference (PyTorch on the
CPU where it is installed, else plain numpy or the naive version) in the same
run, at one and at two threads, and reports the ratio ours / reference.  The
``target`` is the ratio the issue asks for; it is printed, never asserted in a
test (timings on a shared machine are noise, not facts).
"""

from __future__ import annotations

import gc
import importlib.util
import statistics
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class Case:
    """One benchmark: ``ours()`` and ``reference()`` each run one iteration of the same work."""

    name: str
    ours: Callable[[], object]
    reference: Callable[[], object] | None
    reference_name: str
    target: float | None = None          # the stated ceiling on ours / reference at one thread
    unit_of_work: float | None = None    # e.g. tokens per iteration, to print a throughput
    unit_name: str = ""
    threads: tuple[int, ...] = (1, 2)
    notes: str = ""
    extra: dict[str, float] = field(default_factory=dict)
    flops_per_call: float | None = None  # to print the fraction of the measured matmul peak


def matmul_peak_gflops(m: int = 2048, k: int = 512, n: int = 512) -> float:
    """GFLOP/s of one float32 matrix product (m, k) @ (k, n) at the current thread limit: the peak the
    benchmarks compare a training step's rate with (2·m·k·n FLOPs per product)."""
    import numpy as np

    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((m, k), dtype=np.float32), rng.standard_normal((k, n), dtype=np.float32)
    return 2 * m * k * n / time_call(lambda: a @ b) / 1e9


def torch_available() -> bool:
    return importlib.util.find_spec("torch") is not None


def _calls_per_batch(fn: Callable[[], object], warmup: int, seconds: float) -> int:
    """Warm ``fn`` up, then count how many calls fill ``seconds``."""
    for _ in range(warmup):
        fn()
    start, n = time.perf_counter(), 0
    while time.perf_counter() - start < seconds or n == 0:
        fn()
        n += 1
    return n


def _batch_seconds(fn: Callable[[], object], n: int) -> float:
    gc.collect()
    t0 = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - t0) / n


def time_call(fn: Callable[[], object], repeat: int = 7, warmup: int = 2, min_seconds: float = 0.2) -> float:
    """Median seconds per call of ``fn`` (calls are batched until a batch takes ``min_seconds``/``repeat``)."""
    n = _calls_per_batch(fn, warmup, min_seconds / repeat)
    return statistics.median(_batch_seconds(fn, n) for _ in range(repeat))


def time_pair(ours: Callable[[], object], reference: Callable[[], object], repeat: int = 9, warmup: int = 2,
              min_seconds: float = 0.2) -> tuple[float, float]:
    """Median seconds per call of both, measured in alternating batches.

    On a shared machine the speed drifts over seconds; alternating ours and the
    reference batch by batch exposes both to the same drift, so their ratio is
    steadier than that of two back-to-back measurements.
    """
    n_ours = _calls_per_batch(ours, warmup, min_seconds / repeat)
    n_ref = _calls_per_batch(reference, warmup, min_seconds / repeat)
    samples = [(_batch_seconds(ours, n_ours), _batch_seconds(reference, n_ref)) for _ in range(repeat)]
    return statistics.median(s[0] for s in samples), statistics.median(s[1] for s in samples)


def peak_memory_mb(fn: Callable[[], object]) -> float:
    """Peak Python-heap allocation (numpy arrays included) of one call, in MB (tracemalloc)."""
    gc.collect()
    tracemalloc.start()
    fn()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak / 1e6


def set_threads(n: int) -> object:
    """Limit numpy's BLAS (and PyTorch, if present) to ``n`` threads; returns the threadpoolctl context."""
    from threadpoolctl import threadpool_limits

    if torch_available():
        import torch

        torch.set_num_threads(n)
    return threadpool_limits(n)
