"""The base optimiser: holds parameters, zeroes their gradients."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from dlbook._checks import check_nonnegative
from dlbook.nn.module import Parameter


class Optimizer:
    """Base class: ``params`` is an iterable of Parameters; ``lr`` the learning rate η."""

    def __init__(self, params: Iterable[Parameter], lr: float) -> None:
        self.params = list(params)
        if not self.params:
            raise ValueError("optimizer: params must hold at least one Parameter, got an empty parameter list")
        for i, p in enumerate(self.params):
            if not isinstance(p, Parameter):
                raise TypeError(f"params[{i}] must be a Parameter, got {type(p).__name__}")
        self.lr = check_nonnegative("lr", lr)
        self.step_count = 0

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = None

    def step(self) -> None:
        raise NotImplementedError

    def state_dict(self) -> dict[str, np.ndarray]:
        """Arrays needed to resume: step count and per-parameter buffers."""
        return {"step_count": np.asarray(self.step_count)}

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        self.step_count = int(state["step_count"])


def check_beta(name: str, value: float) -> float:
    value = check_nonnegative(name, value)
    if value >= 1:
        raise ValueError(f"{name} must lie in [0, 1), got {value}")
    return value
