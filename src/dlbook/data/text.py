"""English text that needs no download, and (N, T) windows of it for language models (§3.4).

Python ships its own help pages: ``pydoc_data.topics.topics`` maps each help
topic ("assert", "assignment", …) to about a page of English prose and code
examples — some 465,000 characters in all.  :func:`load_python_help_text`
joins them in sorted topic order (deterministic on every machine with the same
Python version), separated by a blank line.

**Split.**  The first 90 % of the characters are the training text, the last
10 % the validation text (:data:`VALIDATION_FRACTION`); the cut is at a fixed
character offset, so every run and every chapter uses the same split.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dlbook._checks import check_integer, check_positive_int, check_rng
from dlbook.data.tokenizers import CharTokenizer

VALIDATION_FRACTION = 0.1


def load_python_help_text() -> str:
    """All of Python's help topics joined in sorted topic order (about 465,000 characters)."""
    from pydoc_data.topics import topics

    return "\n\n".join(topics[name].strip("\n") for name in sorted(topics)) + "\n"


@dataclass
class TextCorpus:
    """A text, its character tokenizer and the token ids of the fixed train / validation split."""

    text: str
    tokenizer: CharTokenizer
    train: np.ndarray      # int64 ids of the first 90 % of the text
    val: np.ndarray        # int64 ids of the last 10 %

    @property
    def vocab_size(self) -> int:
        return self.tokenizer.vocab_size


def load_python_help(min_freq: int = 1, max_chars: int | None = None) -> TextCorpus:
    """Python's help text as a :class:`TextCorpus`: the first 90 % train, the last 10 % validation.

    The tokenizer (``CharTokenizer.fit`` on the *training* part, so the
    validation text may contain ``<unk>``) keeps characters seen at least
    ``min_freq`` times.  ``max_chars`` keeps only the first that many
    characters before splitting (for quick tests).
    """
    text = load_python_help_text()
    if max_chars is not None:
        text = text[: check_positive_int("max_chars", max_chars)]
    cut = int(round(len(text) * (1 - VALIDATION_FRACTION)))
    tokenizer = CharTokenizer.fit(text[:cut], min_freq=min_freq)
    return TextCorpus(text, tokenizer, tokenizer.encode(text[:cut]), tokenizer.encode(text[cut:]))


def _check_tokens(tokens: np.ndarray, seq_len: int) -> np.ndarray:
    tokens = np.asarray(tokens)
    check_integer("tokens", tokens)
    if tokens.ndim != 1:
        raise ValueError(f"tokens must be a 1-D array of ids, got shape {tokens.shape}")
    if len(tokens) < seq_len + 1:
        raise ValueError(f"tokens must hold at least seq_len + 1 = {seq_len + 1} ids, got {len(tokens)}")
    return tokens


def random_windows(tokens: np.ndarray, batch_size: int, seq_len: int,
                   rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A batch of ``batch_size`` windows at random offsets: inputs x (N, T) and targets y (N, T).

    ``y[n, t] = x[n, t + 1]``: each position's target is the next character.
    """
    batch_size = check_positive_int("batch_size", batch_size)
    seq_len = check_positive_int("seq_len", seq_len)
    tokens = _check_tokens(tokens, seq_len)
    check_rng(rng)
    starts = rng.integers(0, len(tokens) - seq_len, size=batch_size)
    idx = starts[:, None] + np.arange(seq_len + 1)
    windows = tokens[idx]
    return windows[:, :-1], windows[:, 1:]


def sequential_windows(tokens: np.ndarray, seq_len: int, max_windows: int | None = None) -> tuple[np.ndarray,
                                                                                                   np.ndarray]:
    """Non-overlapping windows covering ``tokens`` from the start: x, y each (M, T) — for evaluation.

    Every character (except the last, which has no successor, and a remainder
    shorter than ``seq_len``) is predicted exactly once.  ``max_windows`` keeps the first M.
    """
    seq_len = check_positive_int("seq_len", seq_len)
    tokens = _check_tokens(tokens, seq_len)
    m = (len(tokens) - 1) // seq_len
    if max_windows is not None:
        m = min(m, check_positive_int("max_windows", max_windows))
    x = tokens[: m * seq_len].reshape(m, seq_len)
    y = tokens[1 : m * seq_len + 1].reshape(m, seq_len)
    return x, y


def unigram_loss(train: np.ndarray, val: np.ndarray, vocab_size: int) -> float:
    """Validation cross-entropy (nats per character) of the unigram model fitted on ``train``.

    The baseline that ignores context: p(c) = (count(c) + 1) / (n + V) (add-one smoothing).
    """
    counts = np.bincount(np.asarray(train), minlength=vocab_size).astype(np.float64) + 1.0
    logp = np.log(counts / counts.sum())
    return float(-logp[np.asarray(val)].mean())
