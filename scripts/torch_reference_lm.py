"""One kind of case of ``make_torch_references.py``, shared by the language models (GPT, character LSTM, Llama):
ids -> logits -> mean cross-entropy against targets, and the gradient of every weight, in dlbook and in PyTorch."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from torch_reference_cases import (
    Arrays,
    add_case,
    draw_weights,
    load_ours,
    load_theirs,
    ours_grads,
    theirs_grads,
    to_numpy,
    torch_module,
)

from dlbook import functional as F
from dlbook import nn


def language_model_case(name: str, build: Callable[[], nn.Module], build_theirs: Callable[[Any], Any],
                        vocab_size: int, shape: tuple[int, int]) -> None:
    """Add case ``name``: dlbook's ``build()`` and PyTorch's ``build_theirs(torch)`` (the same parameter names,
    called on a LongTensor of ids) on ids and targets of ``shape``, drawn after the weights."""

    def make(rng: np.random.Generator) -> Arrays:
        return {**draw_weights(build(), rng), "ids": rng.integers(0, vocab_size, shape),
                "targets": rng.integers(0, vocab_size, shape)}

    def ours(inp: Arrays) -> Arrays:
        m = load_ours(build(), inp)
        logits = m(inp["ids"])
        loss = F.cross_entropy(logits, inp["targets"])
        loss.backward()
        return {"logits": logits.data, "loss": loss.data, **ours_grads(m, inp)}

    def theirs(inp: Arrays) -> Arrays:
        torch = torch_module()
        m = load_theirs(build_theirs(torch), inp)
        logits = m(torch.tensor(inp["ids"]))
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, vocab_size),
                                                 torch.tensor(inp["targets"]).reshape(-1))
        loss.backward()
        return {"logits": to_numpy(logits), "loss": to_numpy(loss), **theirs_grads(m, inp)}

    add_case(name, make, ours, theirs)
