"""Evaluation without side effects: eval mode and no graph for a block, then the mode the model was in."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from dlbook.autograd import no_grad


@contextmanager
def eval_mode(model: Any) -> Iterator[Any]:
    """``with eval_mode(model):`` — dropout off and no graph inside; afterwards the train/eval mode it found.

    Every evaluation, sampler and probe in the package runs under it, so looking at a model mid-training
    (a validation loss, a sample, an attention map) never leaves it in eval mode for the next training step.
    ``model``: anything with ``training`` and ``train(mode)``, as :class:`dlbook.nn.Module` has.
    """
    if not hasattr(model, "training") or not callable(getattr(model, "train", None)):
        raise TypeError(f"model must be a Module (with .training and .train()), got {type(model).__name__}")
    was_training = model.training
    model.eval()
    try:
        with no_grad():
            yield model
    finally:
        model.train(was_training)
