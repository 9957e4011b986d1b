"""The book's models, built from dlbook.nn: architectures only (their training recipes: ``dlbook.recipes``)."""

from dlbook.models.char_lm import CharLM
from dlbook.models.cnn import DigitsCNN
from dlbook.models.gpt import GPT, GPTConfig, load_gpt, save_gpt
from dlbook.models.llama import Llama, LlamaBlock, LlamaConfig, load_llama, save_llama
from dlbook.models.mlp import MLP

__all__ = ["MLP", "DigitsCNN", "CharLM", "GPT", "GPTConfig", "load_gpt", "save_gpt",
           "Llama", "LlamaBlock", "LlamaConfig", "load_llama", "save_llama"]
