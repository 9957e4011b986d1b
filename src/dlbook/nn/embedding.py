"""Token embeddings: a lookup table of learned vectors."""

from __future__ import annotations

from typing import Any

import numpy as np

from dlbook import functional as F
from dlbook._checks import array_of, check_integer, check_positive_int, check_rng
from dlbook.autograd import Tensor
from dlbook.nn.module import Module, Parameter


class Embedding(Module):
    """Row ``i`` of ``weight`` is the vector of token ``i``.

    ids: integer array (...) -> (..., embedding_dim).  ``weight``:
    (num_embeddings, embedding_dim) drawn from N(0, std²) (PyTorch uses std=1;
    GPT-style models use 0.02).  The backward pass adds each position's
    gradient into the row it read (``np.add.at``), so repeated tokens sum.
    """

    def __init__(self, num_embeddings: int, embedding_dim: int, *, rng: np.random.Generator,
                 std: float = 1.0, dtype: Any = np.float64) -> None:
        super().__init__()
        self.num_embeddings = check_positive_int("num_embeddings", num_embeddings)
        self.embedding_dim = check_positive_int("embedding_dim", embedding_dim)
        check_rng(rng)
        self.weight = Parameter((rng.standard_normal((num_embeddings, embedding_dim)) * std).astype(dtype))

    def forward(self, ids: Any) -> Tensor:
        idx = array_of(ids)
        check_integer("ids", idx)
        if idx.size and (idx.min() < 0 or idx.max() >= self.num_embeddings):
            raise ValueError(f"Embedding: ids must lie in [0, {self.num_embeddings}), "
                             f"got values in [{idx.min()}, {idx.max()}]")
        return F.getitem(self.weight, idx)

    def extra_repr(self) -> str:
        return f"{self.num_embeddings}, {self.embedding_dim}"
