"""Optimisers and schedules, named as in ``torch.optim``."""

from dlbook.optim.adam import Adam, AdamW
from dlbook.optim.optimizer import Optimizer
from dlbook.optim.schedule import WarmupCosine, clip_grad_norm, warmup_cosine
from dlbook.optim.sgd import SGD

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "WarmupCosine", "warmup_cosine", "clip_grad_norm"]
