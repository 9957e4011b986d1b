"""Loss modules, named as in PyTorch."""

from __future__ import annotations

from typing import Any

from dlbook import functional as F
from dlbook.autograd import Tensor
from dlbook.nn.module import Module


class CrossEntropyLoss(Module):
    """Mean cross-entropy of logits (N, C) against integer targets (N,) (eq-cross-entropy)."""

    def __init__(self, ignore_index: int | None = None) -> None:
        super().__init__()
        self.ignore_index = ignore_index

    def forward(self, logits: Tensor, targets: Any) -> Tensor:
        return F.cross_entropy(logits, targets, ignore_index=self.ignore_index)


class MSELoss(Module):
    """Mean squared error (eq-mse)."""

    def forward(self, pred: Tensor, target: Any) -> Tensor:
        return F.mse_loss(pred, target)
