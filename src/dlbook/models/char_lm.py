"""A character-level language model (§3.4): Embedding → RNN / LSTM / GRU → Linear.

Given characters x₁..x_T it predicts, at every position t, a distribution
over the next character x_{t+1}; the training loss is the mean cross-entropy
(eq-cross-entropy) in nats per character (training: :mod:`dlbook.recipes.char_lm`).  :meth:`CharLM.generate` samples
text one character at a time from a prompt, carrying the recurrent state
forward, with temperature and top-k (``dlbook.sampling.sample_next``).
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from dlbook._checks import check_positive_int, check_rng
from dlbook.autograd import Tensor
from dlbook.checkpoint import load_checkpoint, save_checkpoint
from dlbook.data.tokenizers import CharTokenizer
from dlbook.modes import eval_mode
from dlbook.nn.embedding import Embedding
from dlbook.nn.linear import Linear
from dlbook.nn.module import Module
from dlbook.nn.recurrent import GRU, LSTM, RNN
from dlbook.sampling import sample_next

CELLS = {"rnn": RNN, "lstm": LSTM, "gru": GRU}


class CharLM(Module):
    """Embedding (V → E) → recurrent layers (E → H) → Linear (H → V), over characters.

    ``tokenizer``: a fitted :class:`~dlbook.data.CharTokenizer` (V = its vocabulary);
    ``cell``: "rnn", "lstm" or "gru".  forward(ids (N, T)) -> logits (N, T, V).
    """

    def __init__(self, tokenizer: CharTokenizer, embedding_dim: int = 32, hidden_size: int = 128,
                 num_layers: int = 1, cell: str = "lstm", *, rng: np.random.Generator,
                 dtype: Any = np.float32) -> None:
        super().__init__()
        if cell not in CELLS:
            raise ValueError(f"cell must be one of {sorted(CELLS)}, got {cell!r}")
        if not isinstance(tokenizer, CharTokenizer):
            raise TypeError(f"tokenizer must be a CharTokenizer, got {type(tokenizer).__name__}")
        self.tokenizer, self.cell = tokenizer, cell
        self.embedding_dim = check_positive_int("embedding_dim", embedding_dim)
        self.hidden_size = check_positive_int("hidden_size", hidden_size)
        self.num_layers = check_positive_int("num_layers", num_layers)
        vocab = tokenizer.vocab_size
        self.embedding = Embedding(vocab, embedding_dim, rng=rng, std=0.1, dtype=dtype)
        self.rnn = CELLS[cell](embedding_dim, hidden_size, num_layers, rng=rng, dtype=dtype)
        self.head = Linear(hidden_size, vocab, rng=rng, dtype=dtype)

    def config(self) -> dict[str, Any]:
        """What :meth:`from_config` needs to rebuild this model (JSON-serialisable)."""
        return {"tokenizer": self.tokenizer.to_json(), "embedding_dim": self.embedding_dim,
                "hidden_size": self.hidden_size, "num_layers": self.num_layers, "cell": self.cell}

    @classmethod
    def from_config(cls, config: dict[str, Any], dtype: Any = np.float32) -> CharLM:
        return cls(CharTokenizer.from_json(config["tokenizer"]), config["embedding_dim"], config["hidden_size"],
                   config["num_layers"], config["cell"], rng=np.random.default_rng(0), dtype=dtype)

    def forward_with_state(self, ids: Any, state: Any = None) -> tuple[Tensor, Any]:
        """ids (N, T) -> (logits (N, T, V), final recurrent state to continue from)."""
        x = self.embedding(ids)
        out, state = self.rnn(x, state)
        return self.head(out), state

    def forward(self, ids: Any) -> Tensor:
        """ids (N, T) -> logits (N, T, V) for the next character at every position."""
        return self.forward_with_state(ids)[0]

    def generate(self, prompt: str, length: int, rng: np.random.Generator, temperature: float = 1.0,
                 top_k: int | None = None) -> str:
        """``prompt`` followed by ``length`` sampled characters (see :meth:`sample`)."""
        ids, _ = self.sample(prompt, length, rng, temperature, top_k)
        return prompt + self.tokenizer.decode(ids)

    def sample(self, prompt: str, length: int, rng: np.random.Generator, temperature: float = 1.0,
               top_k: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Sample ``length`` characters after ``prompt``: (their ids (length,), the probability each had).

        The prompt is read in one pass; then each step feeds the last
        character and the carried state, and draws the next character with
        ``sample_next`` (temperature, top-k).
        """
        if not isinstance(prompt, str):
            raise TypeError(f"prompt must be a str, got {type(prompt).__name__}")
        if not prompt:
            raise ValueError("prompt must be a non-empty string (the model needs a first character)")
        length = check_positive_int("length", length)
        check_rng(rng)
        ids, probs = [], []
        with eval_mode(self):
            logits, state = self.forward_with_state(self.tokenizer.encode(prompt)[None, :])
            for _ in range(length):
                i, p = sample_next(logits.data[0, -1], rng, temperature, top_k)
                ids.append(i)
                probs.append(p)
                logits, state = self.forward_with_state(np.array([[i]]), state)
        return np.array(ids, dtype=np.int64), np.array(probs)

    def save(self, path: str | os.PathLike, extra: dict[str, np.ndarray] | None = None) -> None:
        """Write parameters + config (+ extra arrays) as a dlbook ``.npz`` checkpoint."""
        save_checkpoint(path, self, self.config(), extra)

    @classmethod
    def load(cls, path: str | os.PathLike) -> tuple[CharLM, dict[str, np.ndarray]]:
        """(model, extra arrays) from a checkpoint written by :meth:`save`."""
        state, config, extra = load_checkpoint(path)
        dtype = next(iter(state.values())).dtype
        model = cls.from_config(config, dtype=dtype)
        model.load_state_dict(state)
        return model, extra

    def extra_repr(self) -> str:
        return f"cell={self.cell!r}"
