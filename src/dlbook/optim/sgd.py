"""Stochastic gradient descent, with momentum and weight decay (eq-sgd, eq-momentum)."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from dlbook._checks import check_nonnegative
from dlbook.nn.module import Parameter
from dlbook.optim.optimizer import Optimizer, check_beta, check_state_keys, read_buffers, read_count


class SGD(Optimizer):
    """w ← w − η v,  v ← μ v + (∇w + λ w).  Implements (eq-sgd) and (eq-momentum).

    With ``momentum=0`` this is plain gradient descent, step 4 of §3.2.
    """

    def __init__(
        self, params: Iterable[Parameter], lr: float, momentum: float = 0.0, weight_decay: float = 0.0
    ) -> None:
        super().__init__(params, lr)
        self.momentum = check_beta("momentum", momentum)
        self.weight_decay = check_nonnegative("weight_decay", weight_decay)
        self.velocity = [np.zeros_like(p.data) for p in self.params]

    def step(self) -> None:
        self.step_count += 1
        lr, mu, wd = self.lr, self.momentum, self.weight_decay
        for p, v in zip(self.params, self.velocity):
            if p.grad is None or not p.requires_grad:
                continue
            g = p.grad + wd * p.data if wd else p.grad
            if mu:
                v *= mu
                v += g
                g = v
            p.data -= lr * g

    def state_dict(self) -> dict[str, np.ndarray]:
        state = super().state_dict()
        state.update({f"velocity.{i}": v for i, v in enumerate(self.velocity)})
        return state

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        """Restore :meth:`state_dict`'s arrays; all are checked (keys, shapes, dtypes) before any is used."""
        keys = {"step_count"} | {f"velocity.{i}" for i in range(len(self.params))}
        check_state_keys("SGD", state, keys)
        step_count, velocity = read_count(state, "step_count"), read_buffers(state, "velocity", self.params)
        self.step_count, self.velocity = step_count, velocity
