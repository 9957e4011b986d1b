"""The book's models, built from dlbook.nn."""

from dlbook.models.mlp import MLP

__all__ = ["MLP"]
