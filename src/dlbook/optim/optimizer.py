"""The base optimiser: holds parameters, zeroes their gradients, saves and restores its state."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np

from dlbook._checks import check_nonnegative
from dlbook.autograd import Tensor
from dlbook.nn.module import Parameter


class Optimizer:
    """Base class: ``params`` is an iterable of Parameters; ``lr`` the learning rate η."""

    def __init__(self, params: Iterable[Parameter], lr: float) -> None:
        if isinstance(params, Tensor) or callable(params) or not isinstance(params, Iterable):
            hint = " (call it: model.parameters())" if callable(params) else ""
            raise TypeError(f"params must be an iterable of Parameters{hint}, got {type(params).__name__}")
        self.params = list(params)
        if not self.params:
            raise ValueError("optimizer: params must hold at least one Parameter, got an empty parameter list")
        seen: dict[int, int] = {}
        for i, p in enumerate(self.params):
            if not isinstance(p, Parameter):
                raise TypeError(f"params[{i}] must be a Parameter, got {type(p).__name__}")
            # A parameter listed twice would be updated twice per step (PyTorch refuses it as well).
            if id(p) in seen:
                raise ValueError(f"params[{i}] is the same Parameter as params[{seen[id(p)]}]; "
                                 "give each parameter once")
            seen[id(p)] = i
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

    def load_state_dict(self, state: Mapping[str, np.ndarray]) -> None:
        """Restore :meth:`state_dict`'s arrays; every key, shape and dtype is checked before anything changes."""
        check_state_keys(type(self).__name__, state, {"step_count"})
        self.step_count = read_count(state, "step_count")


def check_state_keys(where: str, state: Mapping[str, np.ndarray], required: set[str],
                     optional: set[str] = frozenset()) -> None:
    """ValueError naming the missing and the unexpected keys of an optimiser state."""
    if not isinstance(state, Mapping):
        raise TypeError(f"{where}.load_state_dict: state must be a dict of arrays, got {type(state).__name__}")
    missing, unexpected = sorted(required - set(state)), sorted(set(state) - required - optional)
    if missing or unexpected:
        raise ValueError(f"{where}.load_state_dict: missing keys {missing}, unexpected keys {unexpected}")


def read_count(state: Mapping[str, np.ndarray], key: str) -> int:
    """``state[key]`` as an int >= 0 (a step count), or a TypeError/ValueError naming the key."""
    value = np.asarray(state[key])
    if value.shape != () or value.dtype.kind not in "iu":
        raise TypeError(f"load_state_dict: {key} must be an integer scalar, "
                        f"got dtype {value.dtype} and shape {value.shape}")
    if value < 0:
        raise ValueError(f"load_state_dict: {key} must be >= 0, got {int(value)}")
    return int(value)


def read_buffers(state: Mapping[str, np.ndarray], prefix: str, params: list[Parameter]) -> list[np.ndarray]:
    """``state[f"{prefix}.{i}"]`` for every parameter, checked to be float with that parameter's shape.

    Returns copies in each parameter's dtype.  Raises before anything is changed, naming the key.
    """
    out = []
    for i, p in enumerate(params):
        key = f"{prefix}.{i}"
        value = np.asarray(state[key])
        if value.dtype.kind != "f":
            raise TypeError(f"load_state_dict: {key} must hold floating-point numbers, got dtype {value.dtype}")
        if value.shape != p.shape:
            raise ValueError(f"load_state_dict: {key} has shape {value.shape}, but params[{i}] has shape {p.shape}")
        out.append(value.astype(p.dtype, copy=True))
    return out


def check_beta(name: str, value: float) -> float:
    value = check_nonnegative(name, value)
    if value >= 1:
        raise ValueError(f"{name} must lie in [0, 1), got {value}")
    return value
