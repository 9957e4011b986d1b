"""Learning-rate schedules and gradient clipping."""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

from dlbook._checks import check_nonnegative
from dlbook.nn.module import Parameter
from dlbook.optim.optimizer import Optimizer


def warmup_cosine(step: int, total_steps: int, warmup_steps: int, max_lr: float, min_lr: float = 0.0) -> float:
    """Linear warmup to ``max_lr`` over ``warmup_steps``, then cosine decay to ``min_lr`` at ``total_steps``.

    Implements (eq-warmup-cosine).
    """
    if total_steps <= 0 or warmup_steps < 0 or warmup_steps > total_steps:
        raise ValueError(f"need 0 <= warmup_steps <= total_steps and total_steps > 0, "
                         f"got warmup_steps={warmup_steps}, total_steps={total_steps}")
    if step < warmup_steps:
        return max_lr * (step + 1) / warmup_steps
    progress = min(1.0, (step - warmup_steps) / max(1, total_steps - warmup_steps))
    return min_lr + 0.5 * (max_lr - min_lr) * (1 + math.cos(math.pi * progress))


class WarmupCosine:
    """Sets ``optimizer.lr`` from :func:`warmup_cosine` each time ``step()`` is called."""

    def __init__(self, optimizer: Optimizer, total_steps: int, warmup_steps: int, min_lr: float = 0.0) -> None:
        self.optimizer = optimizer
        self.max_lr = optimizer.lr
        self.total_steps, self.warmup_steps, self.min_lr = total_steps, warmup_steps, min_lr
        self.last_step = 0
        warmup_cosine(0, total_steps, warmup_steps, self.max_lr, min_lr)  # validates
        optimizer.lr = warmup_cosine(0, total_steps, warmup_steps, self.max_lr, min_lr)

    def step(self) -> float:
        self.last_step += 1
        self.optimizer.lr = warmup_cosine(self.last_step, self.total_steps, self.warmup_steps, self.max_lr,
                                          self.min_lr)
        return self.optimizer.lr


def clip_grad_norm(params: Iterable[Parameter], max_norm: float) -> float:
    """Scale all gradients so their joint L2 norm is at most ``max_norm``; returns the norm before clipping."""
    max_norm = check_nonnegative("max_norm", max_norm)
    grads = [p.grad for p in params if p.grad is not None]
    total = math.sqrt(sum(float(np.vdot(g, g)) for g in grads))
    if total > max_norm > 0:
        scale = max_norm / (total + 1e-6)
        for g in grads:
            g *= scale
    return total
