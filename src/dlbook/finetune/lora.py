"""LoRA (低秩适配): low-rank adapters on frozen linear layers.

A pretrained weight W (out × in) stays frozen; the update learned for the task
is restricted to rank r:

    h = W x + b + (α / r) · B A x,      A: (r × in),  B: (out × r)          (eq-lora)

A starts random (so the adapter can learn), B at zero (so the adapted model
starts *exactly* as the pretrained one).  Only r·(in + out) numbers per layer
are trained instead of in·out.

In training the two terms are computed apart, as the equation reads, in one
op (:class:`LoRAOp`): the frozen product x Wᵀ + b, and the adapter's path
through the r-wide bottleneck u = x Aᵀ.  So the backward pass never forms an
out × in weight gradient (W is frozen; dL/dA and dL/dB are r × in and out × r),
the graph keeps only x and u (not three full-size outputs, as composing
linear + linear + add would), and the optimiser holds state for A and B only.
After training, ``W + (α/r) B A`` can be folded into one matrix for inference —
in place with :meth:`LoRALinear.merge` (undone by :meth:`LoRALinear.unmerge`),
or for good with :func:`merge_lora` — and the adapted model then costs nothing
extra.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from dlbook import functional as F
from dlbook._checks import check_float, check_positive_int
from dlbook.autograd import Context, Function, Tensor, is_grad_enabled, no_grad
from dlbook.nn.linear import Linear
from dlbook.nn.module import Module, Parameter

DEFAULT_TARGETS = ("self_attn.in_proj", "self_attn.out_proj", "linear1", "linear2")


class LoRAOp(Function):
    """h = x Wᵀ + b + s (x Aᵀ) Bᵀ with s = α/r (eq-lora), as one op: the forward and backward of LoRALinear.

    x: (..., in); W: (out, in); b: (out,) or None; A: (r, in); B: (out, r).
    With g = dL/dh and the bottleneck u = x Aᵀ: (..., r), the only intermediate kept::

        dL/dx = g W + s (g B) A      dL/dA = s (g B)ᵀ x      dL/dB = s gᵀ u
        dL/db = Σ g                  dL/dW = gᵀ x  (formed only if W is trainable — never, when frozen)

    (sums over all leading axes).
    """

    @staticmethod
    def forward(ctx: Context, x: np.ndarray, w: np.ndarray, b: np.ndarray | None, a: np.ndarray,
                bm: np.ndarray, *, scaling: float) -> np.ndarray:
        u = x @ a.T                                  # (..., r)
        out = x @ w.T
        out += (u * scaling) @ bm.T                  # α/r scales the r-wide array, not the (..., out) one
        if b is not None:
            out += b
        ctx.save(x, w, b is not None, a, bm, u, scaling)
        return out

    @staticmethod
    def backward(ctx: Context, g: np.ndarray) -> tuple:
        x, w, has_bias, a, bm, u, s = ctx.saved
        need_x, need_w, need_b, need_a, need_bm = ctx.needs_grad
        g2, x2 = g.reshape(-1, g.shape[-1]), x.reshape(-1, x.shape[-1])
        gu = (g @ bm) * s                            # dL/du: (..., r)
        gx = (g @ w + gu @ a) if need_x else None
        gw = (g2.T @ x2) if need_w else None
        gb = g2.sum(axis=0) if has_bias and need_b else None
        ga = (gu.reshape(-1, gu.shape[-1]).T @ x2) if need_a else None
        gbm = (g2.T @ u.reshape(-1, u.shape[-1])) * s if need_bm else None
        return gx, gw, gb, ga, gbm


class LoRALinear(Module):
    """A frozen ``nn.Linear`` plus a trainable rank-``rank`` update.  Implements (eq-lora).

    x: (..., in_features) -> (..., out_features).  ``base`` keeps the original
    weight and bias (their ``requires_grad`` is switched off); ``lora_A``:
    (rank, in_features) ~ N(0, 1/in_features) from ``rng``; ``lora_B``:
    (out_features, rank) = 0; ``scaling`` = alpha / rank.

    :meth:`forward` computes x Wᵀ + b + (α/r)(x Aᵀ) Bᵀ without ever forming the
    full-size product B A.  ``weight`` is the effective matrix W + (α/r) B A as a
    differentiable Tensor, for a parent that reads ``layer.weight`` rather than
    calling the layer (cross-attention slices ``in_proj.weight``); that path does
    build an out × in gradient.  ``bias`` is the base bias.
    """

    def __init__(self, base: Linear, rank: int, alpha: float, *, rng: np.random.Generator) -> None:
        super().__init__()
        if not isinstance(base, Linear):
            raise TypeError(f"LoRALinear wraps an nn.Linear, got {type(base).__name__}")
        self.rank = check_positive_int("rank", rank)
        # numpy scalars (np.float32(8), np.int64(8)) are numbers too; bools are not
        if isinstance(alpha, (bool, np.bool_)) or not isinstance(alpha, (int, float, np.integer, np.floating)):
            raise TypeError(f"alpha must be a positive number, got {type(alpha).__name__}")
        if not np.isfinite(alpha) or alpha <= 0:
            raise ValueError(f"alpha must be a positive finite number, got {alpha!r}")
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
        # W + (α/r) B A while merged for inference (a plain array: not a parameter, not in the state dict)
        self._merged_weight: np.ndarray | None = None

    @property
    def weight(self) -> Tensor:
        """W + (α/r) B A: (out_features, in_features)."""
        return F.add(self.base.weight, F.mul(F.matmul(self.lora_B, self.lora_A), self.scaling))

    @property
    def bias(self) -> Parameter | None:
        return self.base.bias

    @property
    def is_merged(self) -> bool:
        """True between :meth:`merge` and :meth:`unmerge`."""
        return self._merged_weight is not None

    def forward(self, x: Tensor) -> Tensor:
        """x Wᵀ + b + (α/r)(x Aᵀ) Bᵀ: (..., in_features) -> (..., out_features) (eq-lora), as :class:`LoRAOp`.

        When merged (:meth:`merge`), one product with the folded matrix instead.
        """
        check_float("x", x)
        if x.shape[-1:] != (self.in_features,):
            raise ValueError(f"LoRALinear: input's last axis must be in_features={self.in_features}, "
                             f"got shape {x.shape}")
        if self._merged_weight is not None:
            if is_grad_enabled() and (self.lora_A.requires_grad or self.lora_B.requires_grad):
                # A and B are not in the merged graph: training now would silently leave them unchanged
                raise RuntimeError("LoRALinear is merged (for inference): call unmerge() before training, "
                                   "or run it under no_grad()")
            return F.linear(x, self._merged_weight, self.base.bias)
        return LoRAOp.apply(x, self.base.weight, self.base.bias, self.lora_A, self.lora_B, scaling=self.scaling)

    def merge(self) -> LoRALinear:
        """Fold the adapter into one matrix W + (α/r) B A for inference; returns ``self``.

        The parameters (and so the state dict) are left unchanged — the folded
        matrix is held beside them — so :meth:`unmerge` restores the training
        form exactly.  Change A or B only after unmerging.
        """
        with no_grad():
            self._merged_weight = self.weight.data.copy()
        return self

    def unmerge(self) -> LoRALinear:
        """Undo :meth:`merge`: back to the two-path form that training needs; returns ``self``."""
        self._merged_weight = None
        return self

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
               f"alpha={self.alpha:g}{', merged' if self.is_merged else ''}"


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
