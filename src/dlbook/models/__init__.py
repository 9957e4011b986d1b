"""The book's models, built from dlbook.nn."""

from dlbook.models.char_lm import CharLM, LMHistory, evaluate_lm, train_char_lm
from dlbook.models.cnn import DigitsCNN, train_digits_cnn
from dlbook.models.gpt import GPT, GPTConfig, load_gpt, save_gpt
from dlbook.models.mlp import MLP, train_digits_mlp

__all__ = ["MLP", "train_digits_mlp", "DigitsCNN", "train_digits_cnn"]
__all__ += ["CharLM", "LMHistory", "evaluate_lm", "train_char_lm"]
__all__ += ["GPT", "GPTConfig", "load_gpt", "save_gpt"]
