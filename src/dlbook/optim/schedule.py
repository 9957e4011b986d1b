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

    Implements (eq-warmup-cosine).  Needs 0 <= min_lr <= max_lr: a negative rate would
    climb the loss (gradient ascent), and min_lr > max_lr would make the "decay" a rise.
    """
    if total_steps <= 0 or warmup_steps < 0 or warmup_steps > total_steps:
        raise ValueError(f"need 0 <= warmup_steps <= total_steps and total_steps > 0, "
                         f"got warmup_steps={warmup_steps}, total_steps={total_steps}")
    max_lr, min_lr = check_nonnegative("max_lr", max_lr), check_nonnegative("min_lr", min_lr)
    if min_lr > max_lr:
        raise ValueError(f"min_lr must be at most max_lr (the optimiser's lr), got min_lr={min_lr} > max_lr={max_lr}")
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
        self._set_lr()                       # validates the settings too

    def _set_lr(self) -> float:
        self.optimizer.lr = warmup_cosine(self.last_step, self.total_steps, self.warmup_steps, self.max_lr,
                                          self.min_lr)
        return self.optimizer.lr

    def step(self) -> float:
        self.last_step += 1
        return self._set_lr()

    def state_dict(self) -> dict[str, int]:
        """What resuming needs: the number of ``step()`` calls so far (the constructor fixes the rest)."""
        return {"last_step": self.last_step}

    def load_state_dict(self, state: dict[str, int]) -> None:
        """Continue from :meth:`state_dict`: the step count, and the optimiser's rate at that step."""
        if set(state) != {"last_step"}:
            raise ValueError(f"state must hold exactly 'last_step', got keys {sorted(state)}")
        step = state["last_step"]
        if isinstance(step, bool) or not isinstance(step, (int, np.integer)) or step < 0:
            raise ValueError(f"state['last_step'] must be an int >= 0, got {step!r}")
        self.last_step = int(step)
        self._set_lr()


def clip_grad_norm(params: Iterable[Parameter], max_norm: float, error_if_nonfinite: bool = True) -> float:
    """Scale all gradients so their joint L2 norm is at most ``max_norm``; returns the norm before clipping.

    ‖g‖ = √(Σᵢ Σⱼ gᵢⱼ²) over every parameter's gradient; if ‖g‖ > max_norm, each g ← g · max_norm/(‖g‖ + 10⁻⁶).

    A gradient holding inf or NaN has no direction to keep: scaling it would turn inf into
    NaN (inf · 0) and let NaN through unclipped.  So by default a non-finite norm raises
    ``FloatingPointError`` — training has diverged — before any gradient is touched.
    ``error_if_nonfinite`` is PyTorch's keyword; PyTorch defaults it to False only for
    backward compatibility, and a book's training loop should stop, not continue with NaN.
    With False the gradients are scaled as PyTorch does (inf becomes NaN).
    Finite gradients whose squares overflow (float32 beyond about 1e19) are clipped correctly.
    """
    max_norm = check_nonnegative("max_norm", max_norm)
    grads = [p.grad for p in params if p.grad is not None]
    total = math.sqrt(sum(float(np.vdot(g, g)) for g in grads))
    scale = max_norm / (total + 1e-6)
    if not math.isfinite(total):
        if all(np.isfinite(g).all() for g in grads):
            # finite entries, overflowing squares: the same norm, computed in float64 relative to the largest entry
            big = max(float(np.abs(g).max()) for g in grads if g.size)
            ratio = math.sqrt(sum(float(np.vdot(h, h)) for h in (g.astype(np.float64) / big for g in grads)))
            total, scale = big * ratio, max_norm / big / ratio
        elif error_if_nonfinite:
            raise FloatingPointError(f"clip_grad_norm: the total gradient norm is {total} (not finite): the gradients "
                                     "hold inf or NaN, so training has diverged; lower the learning rate "
                                     "(or pass error_if_nonfinite=False to scale them anyway, as PyTorch does)")
    if total > max_norm > 0:
        for g in grads:
            g *= scale
    return total
