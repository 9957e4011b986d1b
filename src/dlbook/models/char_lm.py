"""A character-level language model (§3.4): Embedding → RNN / LSTM / GRU → Linear.

Given characters x₁..x_T it predicts, at every position t, a distribution
over the next character x_{t+1}; the training loss is the mean cross-entropy
(eq-cross-entropy) in nats per character.  :meth:`CharLM.generate` samples
text one character at a time from a prompt, carrying the recurrent state
forward, with temperature and top-k (``dlbook.sampling.sample_next``).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from dlbook import functional as F
from dlbook._checks import check_positive_int
from dlbook.autograd import Tensor, no_grad
from dlbook.checkpoint import load_checkpoint, save_checkpoint
from dlbook.data.text import random_windows, sequential_windows
from dlbook.data.tokenizers import CharTokenizer
from dlbook.nn.embedding import Embedding
from dlbook.nn.linear import Linear
from dlbook.nn.module import Module
from dlbook.nn.recurrent import GRU, LSTM, RNN
from dlbook.optim.adam import Adam
from dlbook.optim.schedule import WarmupCosine, clip_grad_norm
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
        """``prompt`` followed by ``length`` sampled characters.

        The prompt is read in one pass; then each step feeds the last
        character and the carried state, and draws the next character with
        ``sample_next`` (temperature, top-k).
        """
        if not isinstance(prompt, str):
            raise TypeError(f"prompt must be a str, got {type(prompt).__name__}")
        if not prompt:
            raise ValueError("prompt must be a non-empty string (the model needs a first character)")
        length = check_positive_int("length", length)
        if not isinstance(rng, np.random.Generator):
            raise TypeError(f"rng must be a numpy Generator, got {type(rng).__name__}")
        out = []
        with no_grad():
            logits, state = self.forward_with_state(self.tokenizer.encode(prompt)[None, :])
            for _ in range(length):
                i, _p = sample_next(logits.data[0, -1], rng, temperature, top_k)
                out.append(i)
                logits, state = self.forward_with_state(np.array([[i]]), state)
        return prompt + self.tokenizer.decode(out)

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


def evaluate_lm(model: CharLM, tokens: np.ndarray, seq_len: int = 128, batch_size: int = 64,
                max_windows: int | None = None) -> float:
    """Mean cross-entropy (nats per character) on non-overlapping windows of ``tokens``, no graph."""
    x, y = sequential_windows(tokens, seq_len, max_windows)
    total = 0.0
    with no_grad():
        for s in range(0, len(x), batch_size):
            loss = F.cross_entropy(model(x[s:s + batch_size]), y[s:s + batch_size])
            total += float(loss.data) * len(x[s:s + batch_size])
    return total / len(x)


@dataclass
class LMHistory:
    """Training record: at each evaluation ``step``, the mean training loss since the last one and the val loss."""

    step: list[int] = field(default_factory=list)
    loss: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    seconds: float = 0.0
    tokens: int = 0


def train_char_lm(model: CharLM, train: np.ndarray, val: np.ndarray, *, steps: int, batch_size: int,
                  seq_len: int, rng: np.random.Generator, lr: float = 3e-3, max_grad_norm: float = 1.0,
                  eval_every: int = 50, val_windows: int = 32, cosine: bool = False,
                  progress: bool = True, after_step: Callable[[int, LMHistory], bool] | None = None) -> LMHistory:
    """Train with Adam on random windows; every ``eval_every`` steps record the val loss.

    Each step: a batch of random (N, T) windows (``random_windows``), forward,
    cross-entropy over all N·T positions, backpropagation through time,
    gradient clipping to ``max_grad_norm`` (recurrent nets can produce
    exploding gradients, §4.4), Adam update.  The validation loss uses the first
    ``val_windows`` windows of ``val`` (sequence length ``seq_len``).  ``cosine``:
    decay the learning rate from ``lr`` to ``lr``/10 along a cosine (eq-warmup-cosine), 5 % warmup.
    ``after_step(step, history)`` is called after every step; if it returns True training stops there
    (the recipe in :mod:`dlbook.char_lm_train` saves every N steps and stops on SIGTERM this way).
    """
    from tqdm.auto import tqdm

    steps = check_positive_int("steps", steps)
    eval_every = check_positive_int("eval_every", eval_every)
    optimizer = Adam(model.parameters(), lr=lr)
    scheduler = WarmupCosine(optimizer, steps, steps // 20, min_lr=lr / 10) if cosine else None
    history = LMHistory()
    running, count = 0.0, 0
    bar = tqdm(total=steps, disable=not progress, desc="training", leave=False)
    start = time.perf_counter()
    for step in range(1, steps + 1):
        x, y = random_windows(train, batch_size, seq_len, rng)
        loss = F.cross_entropy(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        clip_grad_norm(optimizer.params, max_grad_norm)
        optimizer.step()
        if scheduler is not None:
            scheduler.step()
        running += float(loss.data)
        count += 1
        bar.update(1)
        if step % eval_every == 0 or step == steps:
            history.step.append(step)
            history.loss.append(running / count)
            history.val_loss.append(evaluate_lm(model, val, seq_len, max_windows=val_windows))
            running, count = 0.0, 0
            bar.set_postfix(loss=f"{history.loss[-1]:.3f}", val=f"{history.val_loss[-1]:.3f}")
        history.seconds = time.perf_counter() - start
        history.tokens = step * batch_size * seq_len
        if after_step is not None and after_step(step, history):
            break
    bar.close()
    history.seconds = time.perf_counter() - start
    return history
