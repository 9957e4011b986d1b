"""Adam and AdamW (eq-adam)."""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

from dlbook._checks import check_nonnegative
from dlbook.nn.module import Parameter
from dlbook.optim.optimizer import Optimizer, check_beta, check_state_keys, read_buffers, read_count


class Adam(Optimizer):
    """m ← β₁m + (1−β₁)g,  v ← β₂v + (1−β₂)g²,  w ← w − η m̂/(√v̂ + ε).  Implements (eq-adam).

    m̂ = m/(1−β₁ᵗ), v̂ = v/(1−β₂ᵗ) undo the bias of starting at zero.
    ``weight_decay`` is added to the gradient (L2, as torch.optim.Adam does).

    t counts the updates of each parameter (``param_steps[i]``), as in PyTorch: a
    parameter with no gradient on a step (frozen, or unused by that batch) is not
    updated and its t does not advance, so its bias correction stays right when it
    starts training later.  ``step_count`` counts the calls to :meth:`step`.
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
        self.param_steps = [0] * len(self.params)

    def step(self) -> None:
        self.step_count += 1
        b1, b2 = self.beta1, self.beta2
        for i, (p, m, v) in enumerate(zip(self.params, self.m, self.v)):
            if p.grad is None or not p.requires_grad:
                continue
            self.param_steps[i] += 1
            t = self.param_steps[i]
            # Python floats keep float32 parameters in float32.
            step_size = self.lr * math.sqrt(1 - b2**t) / (1 - b1**t)
            eps_hat = self.eps * math.sqrt(1 - b2**t)
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
        state.update({f"step.{i}": np.asarray(t) for i, t in enumerate(self.param_steps)})
        state.update({f"m.{i}": m for i, m in enumerate(self.m)})
        state.update({f"v.{i}": v for i, v in enumerate(self.v)})
        return state

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        """Restore :meth:`state_dict`'s arrays; all are checked (keys, shapes, dtypes) before any is used.

        A state saved before the per-parameter counts existed (no ``step.i`` keys) gives
        every parameter ``step_count``, the t that the old single count applied to all.
        """
        n = len(self.params)
        counts = {f"step.{i}" for i in range(n)}
        check_state_keys(type(self).__name__, state, {"step_count"} | {f"{b}.{i}" for b in "mv" for i in range(n)},
                         optional=counts)
        present = counts & set(state)
        if present and present != counts:
            raise ValueError(f"{type(self).__name__}.load_state_dict: missing keys {sorted(counts - present)} "
                             "(per-parameter step counts must be all present or all absent)")
        step_count = read_count(state, "step_count")
        param_steps = [read_count(state, f"step.{i}") for i in range(n)] if present else [step_count] * n
        m, v = read_buffers(state, "m", self.params), read_buffers(state, "v", self.params)
        self.step_count, self.param_steps, self.m, self.v = step_count, param_steps, m, v


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
