"""Data parallelism (数据并行) across the cores of one machine: one batch, split across threads.

A training step spends its time in two kinds of work: matrix products, which
BLAS can spread over both cores by itself, and elementwise work (GELU,
softmax, layer norm, the optimiser's update), which numpy runs on one core.
With one BLAS thread per worker and one worker per core, both kinds run on
every core at once: worker k takes the k-th slice of the batch through its
own *replica* of the model and computes that slice's gradient.  numpy releases
Python's global interpreter lock inside matrix products and large ufuncs, so
the workers' numerical work overlaps even though they are threads.

The replicas share the model's weight arrays (the optimiser updates them in
place, so every replica sees the new weights at once) but own their
gradients.  For a loss that is a mean over the batch, the full batch's loss
is the mean of the k equal slices' losses, so its gradient is

    ∂L/∂θ = (1/k) Σ_k ∂L_k/∂θ                                   (eq-data-parallel)

which is what :meth:`DataParallel.backward` leaves in the model's ``.grad``
arrays.  It equals the one-worker gradient up to the rounding of a
differently ordered sum.  Dropout masks come from one generator per replica
(spawned from the model's), so a run with dropout is reproducible at a given
number of workers but not bit for bit across different numbers.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from dlbook.autograd import Tensor
from dlbook.nn.dropout import Dropout
from dlbook.nn.module import Module


def _dropout_layers(model: Module) -> list[Dropout]:
    return [m for _, m in model.named_modules() if isinstance(m, Dropout)]


def make_replica(model: Module, rng: np.random.Generator) -> Module:
    """A copy of ``model`` whose parameters share the model's arrays (``.data``) but not its gradients.

    Its Dropout layers draw their masks from ``rng`` (one generator for all of them, as in the model).
    """
    replica = copy.deepcopy(model)
    for own, shared in zip(replica.parameters(), model.parameters(), strict=True):
        own.data = shared.data
        own.grad = None
    for layer in _dropout_layers(replica):
        layer.rng = rng
    return replica


class DataParallel:
    """Run the forward and backward passes of a batch split into ``workers`` equal slices, one thread each.

    ``model``'s gradients afterwards are the full batch's (eq-data-parallel); step the optimiser on
    ``model.parameters()`` as usual.  Keep BLAS at one thread per worker (``OPENBLAS_NUM_THREADS=1``),
    so that the workers, not BLAS's own threads, occupy the cores.
    """

    def __init__(self, model: Module, workers: int = 2) -> None:
        if not isinstance(model, Module):
            raise TypeError(f"model must be a dlbook Module, got {type(model).__name__}")
        if isinstance(workers, bool) or not isinstance(workers, int | np.integer) or workers < 1:
            raise ValueError(f"workers must be a positive integer, got {workers!r}")
        self.model = model
        self.workers = int(workers)
        drop = _dropout_layers(model)
        seeds = drop[0].rng.spawn(self.workers - 1) if drop else [np.random.default_rng(0)] * (self.workers - 1)
        self.replicas: list[Module] = [model] + [make_replica(model, r) for r in seeds]
        self._pool = ThreadPoolExecutor(max_workers=self.workers - 1) if self.workers > 1 else None

    def train(self) -> None:
        """Put every replica in training mode."""
        for r in self.replicas:
            r.train()

    def backward(self, loss_fn: Callable[..., Tensor], *batch: np.ndarray) -> float:
        """Split each array of ``batch`` along axis 0, run ``loss_fn(replica, *slice)`` and its backward
        on every worker, and leave the mean of the slices' gradients in the model's ``.grad``.

        ``loss_fn`` must return the *mean* loss of its slice (a scalar Tensor).  Returns the batch's mean loss.
        Implements (eq-data-parallel).
        """
        n = len(batch[0]) if batch else 0
        if not batch or any(len(b) != n for b in batch):
            raise ValueError("batch must be one or more arrays with the same first dimension")
        if n % self.workers:
            raise ValueError(f"the batch of {n} does not split into {self.workers} equal slices")
        size = n // self.workers
        slices = [[b[k * size:(k + 1) * size] for b in batch] for k in range(self.workers)]
        scale = 1.0 / self.workers

        def run(k: int) -> float:
            replica = self.replicas[k]
            for p in replica.parameters():
                p.grad = None
            loss = loss_fn(replica, *slices[k])
            (loss * scale).backward()
            return float(loss.data)

        if self._pool is None:
            return run(0)
        others = [self._pool.submit(run, k) for k in range(1, self.workers)]
        losses = [run(0)] + [f.result() for f in others]
        for p, *copies in zip(*(r.parameters() for r in self.replicas), strict=True):
            for c in copies:
                if c.grad is not None:
                    p.grad = c.grad if p.grad is None else p.grad + c.grad
        return float(np.mean(losses))

    def close(self) -> None:
        """Stop the worker threads."""
        if self._pool is not None:
            self._pool.shutdown()

    def __enter__(self) -> DataParallel:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
