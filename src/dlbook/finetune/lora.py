"""LoRA (低秩适配): low-rank adapters on frozen linear layers.

A pretrained weight W (out × in) stays frozen; the update learned for the task
is restricted to rank r:

    h = W x + b + (α / r) · B A x,      A: (r × in),  B: (out × r)          (eq-lora)

A starts random (so the adapter can learn), B at zero (so the adapted model
starts *exactly* as the pretrained one).  Only r·(in + out) numbers per layer
are trained instead of in·out.  After training, ``W + (α/r) B A`` can be
folded into one matrix (:func:`merge_lora`): the adapted model then costs
nothing extra at inference.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from dlbook import functional as F
from dlbook._checks import check_positive_int
from dlbook.autograd import Tensor, no_grad
from dlbook.nn.linear import Linear
from dlbook.nn.module import Module, Parameter

DEFAULT_TARGETS = ("self_attn.in_proj", "self_attn.out_proj", "linear1", "linear2")


class LoRALinear(Module):
    """A frozen ``nn.Linear`` plus a trainable rank-``rank`` update.  Implements (eq-lora).

    x: (..., in_features) -> (..., out_features).  ``base`` keeps the original
    weight and bias (their ``requires_grad`` is switched off); ``lora_A``:
    (rank, in_features) ~ N(0, 1/in_features) from ``rng``; ``lora_B``:
    (out_features, rank) = 0; ``scaling`` = alpha / rank.

    ``weight`` is the effective matrix W + (α/r) B A as a differentiable
    Tensor, so a parent that reads ``layer.weight`` (rather than calling the
    layer) is adapted too; ``bias`` is the base bias.
    """

    def __init__(self, base: Linear, rank: int, alpha: float, *, rng: np.random.Generator) -> None:
        super().__init__()
        if not isinstance(base, Linear):
            raise TypeError(f"LoRALinear wraps an nn.Linear, got {type(base).__name__}")
        self.rank = check_positive_int("rank", rank)
        if not isinstance(alpha, (int, float)) or isinstance(alpha, bool) or alpha <= 0:
            raise ValueError(f"alpha must be a positive number, got {alpha!r}")
        self.alpha = float(alpha)
        self.scaling = self.alpha / self.rank
        self.base = base
        for p in base.parameters():
            p.requires_grad = False
        dtype = base.weight.dtype
        self.in_features, self.out_features = base.in_features, base.out_features
        self.lora_A = Parameter((rng.standard_normal((rank, base.in_features)) / math.sqrt(base.in_features))
                                .astype(dtype))
        self.lora_B = Parameter(np.zeros((base.out_features, rank), dtype=dtype))

    @property
    def weight(self) -> Tensor:
        """W + (α/r) B A: (out_features, in_features)."""
        return F.add(self.base.weight, F.mul(F.matmul(self.lora_B, self.lora_A), self.scaling))

    @property
    def bias(self) -> Parameter | None:
        return self.base.bias

    def forward(self, x: Tensor) -> Tensor:
        """W x + b + (α/r) B A x, computed as one linear map with the effective weight (eq-lora)."""
        return F.linear(x, self.weight, self.base.bias)

    def merged(self) -> Linear:
        """A plain ``nn.Linear`` holding W + (α/r) B A (trainable again, like the original layer)."""
        out = self.base
        with no_grad():
            w = self.weight.data.copy()
        merged = Linear.__new__(Linear)
        Module.__init__(merged)
        merged.in_features, merged.out_features = out.in_features, out.out_features
        merged.weight = Parameter(w)
        merged.bias = Parameter(out.bias.data.copy()) if out.bias is not None else None
        return merged

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, rank={self.rank}, " \
               f"alpha={self.alpha:g}"


def _parent_and_name(model: Module, dotted: str) -> tuple[Module, str]:
    parts = dotted.split(".")
    parent = model
    for part in parts[:-1]:
        parent = parent._modules[part]
    return parent, parts[-1]


def apply_lora(model: Module, rank: int, alpha: float, *, rng: np.random.Generator,
               targets: Sequence[str] = DEFAULT_TARGETS, freeze_rest: bool = True,
               keep_trainable: Sequence[str] = ()) -> list[str]:
    """Wrap every ``nn.Linear`` whose dotted name ends with one of ``targets`` in a :class:`LoRALinear`.

    With ``freeze_rest`` every other parameter is frozen, except those whose
    name starts with one of ``keep_trainable`` (e.g. a classifier's ``"head"``).
    Returns the names of the wrapped layers; raises ValueError if none matched.
    """
    rank = check_positive_int("rank", rank)
    if isinstance(targets, str):
        raise TypeError("targets must be a sequence of names, not a single string")
    names = [name for name, m in model.named_modules()
             if isinstance(m, Linear) and any(name == t or name.endswith("." + t) for t in targets)]
    if not names:
        raise ValueError(f"apply_lora: no nn.Linear in the model matches targets {list(targets)}")
    if freeze_rest:
        for name, p in model.named_parameters():
            p.requires_grad = any(name.startswith(k) for k in keep_trainable)
    for name in names:
        parent, attr = _parent_and_name(model, name)
        setattr(parent, attr, LoRALinear(parent._modules[attr], rank, alpha, rng=rng))
    return names


def merge_lora(model: Module) -> int:
    """Replace every :class:`LoRALinear` in ``model`` by its merged ``nn.Linear``; returns how many were merged."""
    names = [name for name, m in model.named_modules() if isinstance(m, LoRALinear)]
    for name in names:
        parent, attr = _parent_and_name(model, name)
        setattr(parent, attr, parent._modules[attr].merged())
    return len(names)


def lora_parameter_count(in_features: int, out_features: int, rank: int) -> int:
    """r·(in + out): what one adapter trains, against in·out for the full matrix."""
    return rank * (in_features + out_features)


def count_parameters(model: Module) -> dict[str, Any]:
    """{"trainable": n, "total": n, "fraction": trainable / total} (shared tensors counted once)."""
    total = model.num_parameters()
    trainable = model.num_parameters(trainable_only=True)
    return {"trainable": trainable, "total": total, "fraction": trainable / total if total else 0.0}
