"""The book's models, built from dlbook.nn."""

from dlbook.models.char_lm import CharLM, LMHistory, evaluate_lm, train_char_lm
from dlbook.models.mlp import MLP

__all__ = ["MLP", "CharLM", "LMHistory", "evaluate_lm", "train_char_lm"]
