"""Adam and AdamW (eq-adam)."""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

from dlbook._checks import check_nonnegative
from dlbook.nn.module import Parameter
from dlbook.optim.optimizer import Optimizer, check_beta


class Adam(Optimizer):
    """m ← β₁m + (1−β₁)g,  v ← β₂v + (1−β₂)g²,  w ← w − η m̂/(√v̂ + ε).  Implements (eq-adam).

    m̂ = m/(1−β₁ᵗ), v̂ = v/(1−β₂ᵗ) undo the bias of starting at zero.
    ``weight_decay`` is added to the gradient (L2, as torch.optim.Adam does).
    """

    decoupled = False

    def __init__(
        self,
        params: Iterable[Parameter],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
    ) -> None:
        super().__init__(params, lr)
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise TypeError(f"betas must be a pair (beta1, beta2), got {betas!r}")
        self.beta1, self.beta2 = check_beta("betas[0]", betas[0]), check_beta("betas[1]", betas[1])
        self.eps = check_nonnegative("eps", eps)
        self.weight_decay = check_nonnegative("weight_decay", weight_decay)
        self.m = [np.zeros_like(p.data) for p in self.params]
        self.v = [np.zeros_like(p.data) for p in self.params]

    def step(self) -> None:
        self.step_count += 1
        t, b1, b2 = self.step_count, self.beta1, self.beta2
        # Python floats keep float32 parameters in float32.
        step_size = self.lr * math.sqrt(1 - b2**t) / (1 - b1**t)
        eps_hat = self.eps * math.sqrt(1 - b2**t)
        for p, m, v in zip(self.params, self.m, self.v):
            if p.grad is None or not p.requires_grad:
                continue
            g = p.grad
            if self.weight_decay and not self.decoupled:
                g = g + self.weight_decay * p.data
            m *= b1
            m += (1 - b1) * g
            v *= b2
            v += (1 - b2) * (g * g)
            if self.weight_decay and self.decoupled:
                p.data *= 1 - self.lr * self.weight_decay
            p.data -= step_size * m / (np.sqrt(v) + eps_hat)

    def state_dict(self) -> dict[str, np.ndarray]:
        state = super().state_dict()
        state.update({f"m.{i}": m for i, m in enumerate(self.m)})
        state.update({f"v.{i}": v for i, v in enumerate(self.v)})
        return state

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        super().load_state_dict(state)
        self.m = [np.array(state[f"m.{i}"]) for i in range(len(self.params))]
        self.v = [np.array(state[f"v.{i}"]) for i in range(len(self.params))]


class AdamW(Adam):
    """Adam with decoupled weight decay: w ← w − ηλw applied apart from the gradient (Loshchilov & Hutter)."""

    decoupled = True

    def __init__(
        self,
        params: Iterable[Parameter],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.01,
    ) -> None:
        super().__init__(params, lr, betas, eps, weight_decay)
