"""Freezing (冻结): which parameters fine-tuning may change.

A frozen parameter has ``requires_grad = False``: autograd records no gradient
for it (its ``Linear`` backward skips dL/dW altogether, which also saves time)
and :func:`trainable_parameters` leaves it out of the optimiser.
"""

from __future__ import annotations

from collections.abc import Sequence

from dlbook.nn.module import Module, Parameter


def set_trainable(model: Module, trainable: bool) -> Module:
    """Switch ``requires_grad`` of every parameter of ``model`` on or off; returns the model."""
    for p in model.parameters():
        p.requires_grad = bool(trainable)
    return model


def freeze(model: Module) -> Module:
    """Freeze every parameter of ``model``."""
    return set_trainable(model, False)


def unfreeze(model: Module) -> Module:
    """Make every parameter of ``model`` trainable."""
    return set_trainable(model, True)


def freeze_except(model: Module, prefixes: Sequence[str]) -> list[str]:
    """Freeze every parameter whose dotted name starts with none of ``prefixes``; returns the trainable names."""
    if isinstance(prefixes, str):
        raise TypeError("prefixes must be a sequence of names, not a single string")
    own = [name for name, _ in model.named_parameters()]
    for prefix in prefixes:
        if not any(n.startswith(prefix) for n in own):
            raise ValueError(f"freeze_except: no parameter name starts with {prefix!r}")
    kept = []
    for name, p in model.named_parameters():
        p.requires_grad = any(name.startswith(prefix) for prefix in prefixes)
        if p.requires_grad:
            kept.append(name)
    return kept


def trainable_parameters(model: Module) -> list[Parameter]:
    """The parameters an optimiser should update (``requires_grad`` on); frozen ones are skipped."""
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ValueError("trainable_parameters: every parameter of the model is frozen")
    return params
