"""``Module`` and ``Parameter``: the containers every layer is built from (as in PyTorch)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from dlbook.autograd import Tensor


class Parameter(Tensor):
    """A Tensor that a Module owns and an optimiser updates (``requires_grad`` is on)."""

    def __init__(self, data: Any) -> None:
        super().__init__(data, requires_grad=True)

    def __repr__(self) -> str:
        return f"Parameter(shape={self.shape}, dtype={self.dtype})"


class Module:
    """Base class of layers and models.

    Attributes that are Parameters or Modules are registered automatically,
    so ``parameters()``, ``state_dict()`` and ``train()/eval()`` reach them.
    """

    def __init__(self) -> None:
        object.__setattr__(self, "_parameters", {})
        object.__setattr__(self, "_modules", {})
        object.__setattr__(self, "training", True)

    def __setattr__(self, name: str, value: Any) -> None:
        if "_parameters" not in self.__dict__:
            raise RuntimeError(f"{type(self).__name__}.__init__ must call super().__init__() before setting {name}")
        self._parameters.pop(name, None)
        self._modules.pop(name, None)
        if isinstance(value, Parameter):
            self._parameters[name] = value
        elif isinstance(value, Module):
            self._modules[name] = value
        object.__setattr__(self, name, value)

    def add_module(self, name: str, module: Module | None) -> None:
        """Register ``module`` as the child ``name`` (for names that are not identifiers, such as "0").

        The same as ``setattr(self, name, module)``, as in PyTorch; ``name`` is the
        prefix of the child's parameters in ``state_dict``.
        """
        if not isinstance(name, str) or not name or "." in name:
            raise ValueError(f"add_module: name must be a non-empty string without '.', got {name!r}")
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"add_module: module must be a Module or None, got {type(module).__name__}")
        setattr(self, name, module)

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.forward(*args, **kwargs)

    # ---- parameters --------------------------------------------------
    def named_parameters(self, prefix: str = "") -> Iterator[tuple[str, Parameter]]:
        """(dotted name, Parameter) for this module and all submodules, each once."""
        seen: set[int] = set()
        for name, p in self._named_parameters_all(prefix):
            if id(p) not in seen:
                seen.add(id(p))
                yield name, p

    def _named_parameters_all(self, prefix: str) -> Iterator[tuple[str, Parameter]]:
        for name, p in self._parameters.items():
            yield prefix + name, p
        for name, m in self._modules.items():
            yield from m._named_parameters_all(prefix + name + ".")

    def parameters(self) -> list[Parameter]:
        return [p for _, p in self.named_parameters()]

    def named_modules(self, prefix: str = "") -> Iterator[tuple[str, Module]]:
        yield prefix.rstrip("."), self
        for name, m in self._modules.items():
            yield from m.named_modules(prefix + name + ".")

    def children(self) -> list[Module]:
        return list(self._modules.values())

    def num_parameters(self, trainable_only: bool = False) -> int:
        """Number of scalar parameters (only those with requires_grad when asked)."""
        return sum(p.size for p in self.parameters() if p.requires_grad or not trainable_only)

    def zero_grad(self) -> None:
        for p in self.parameters():
            p.grad = None

    def train(self, mode: bool = True) -> Module:
        for _, m in self.named_modules():
            object.__setattr__(m, "training", mode)
        return self

    def eval(self) -> Module:
        return self.train(False)

    def to_dtype(self, dtype: Any) -> Module:
        """Cast every parameter to ``dtype`` in place (e.g. np.float32 for speed)."""
        for p in self.parameters():
            p.data = p.data.astype(dtype)
            p.grad = None
        return self

    # ---- state -------------------------------------------------------
    def state_dict(self) -> dict[str, np.ndarray]:
        """Name → a copy of each parameter's array (names as in named_parameters)."""
        return {name: p.data.copy() for name, p in self.named_parameters()}

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        """Copy arrays into the parameters; names and shapes must match exactly, values must be floats.

        Every entry is checked before any parameter changes, so a bad state leaves the model as it was.
        """
        own = dict(self.named_parameters())
        missing, unexpected = sorted(set(own) - set(state)), sorted(set(state) - set(own))
        if missing or unexpected:
            raise ValueError(f"load_state_dict: missing keys {missing}, unexpected keys {unexpected}")
        checked = {}
        for name, p in own.items():
            value = np.asarray(getattr(state[name], "data", state[name]))
            if value.shape != p.shape:
                raise ValueError(f"load_state_dict: {name} has shape {p.shape}, the state has {value.shape}")
            # ints, bools or strings in a float parameter mean the wrong file or the wrong key, not weights
            if value.dtype.kind != "f":
                raise TypeError(f"load_state_dict: {name} must hold floating-point numbers, got dtype {value.dtype}")
            checked[name] = value
        for name, p in own.items():
            p.data = checked[name].astype(p.dtype, copy=True)

    def extra_repr(self) -> str:
        return ""

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__}({self.extra_repr()}"]
        for name, m in self._modules.items():
            child = repr(m).replace("\n", "\n  ")
            lines.append(f"  ({name}): {child}")
        return lines[0] + ")" if len(lines) == 1 else "\n".join(lines) + "\n)"
