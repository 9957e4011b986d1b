"""The news text the GPT is pretrained on, as character ids, and the two scores the book reads a language model by.

:func:`load_news_data` fits the character vocabulary on training text only; :func:`evaluate` is the fast
validation loss of a pretraining run (non-overlapping windows) and :func:`token_losses` the fair per-character
test loss that 5.2 sets against the n-gram baselines.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dlbook.data.chinese import load_news
from dlbook.data.text import unigram_loss
from dlbook.data.tokenizers import CharTokenizer
from dlbook.models.gpt import GPT
from dlbook.modes import eval_mode
from dlbook.train import evaluate_lm

#: Texts a vocabulary can be fitted on (training splits only).
VOCABS = ("news", "news+reviews")
#: Texts a model can be trained on: the news, or the reviews of 5.3 without their labels (domain-adaptive
#: pretraining, 领域自适应预训练); the reviews' train/validation/test splits stay those of 5.3.
CORPORA = ("news", "reviews")


@dataclass
class NewsData:
    """The tokenizer and the token ids of the news splits."""

    tokenizer: CharTokenizer
    train: np.ndarray
    val: np.ndarray
    test: np.ndarray

    @property
    def unigram_val_loss(self) -> float:
        """Validation loss (nats per character) of the context-free unigram model — the baseline to beat."""
        return unigram_loss(self.train, self.val, self.tokenizer.vocab_size)


_DATA: dict[tuple[int, str], NewsData] = {}


def load_news_data(min_freq: int = 5, vocab: str = "news") -> NewsData:
    """People's Daily as character ids.

    The vocabulary keeps characters seen ``min_freq`` times in the training
    text: the news alone (``vocab="news"``), or the news and the training
    reviews (``"news+reviews"``, so the fine-tuning text of 5.3 has few
    ``<unk>``).  Validation and test text never choose the vocabulary.
    """
    if vocab not in VOCABS:
        raise ValueError(f"vocab must be one of {VOCABS}, got {vocab!r}")
    key = (min_freq, vocab)
    if key not in _DATA:
        news = load_news()
        text = news.train
        if vocab == "news+reviews":
            from dlbook.data.chinese import load_reviews

            text = text + "\n" + "\n".join(load_reviews().train_text)
        tok = CharTokenizer.fit(text, min_freq=min_freq)
        _DATA[key] = NewsData(tok, tok.encode(news.train), tok.encode(news.val), tok.encode(news.test))
    return _DATA[key]


def load_corpus(min_freq: int = 5, vocab: str = "news", corpus: str = "news") -> NewsData:
    """The text a pretraining run trains on, as ids of :func:`load_news_data`'s vocabulary.

    ``corpus="news"`` is People's Daily; ``"reviews"`` is the review texts of 5.3 without their labels, each
    split joined with newlines (train from the training reviews only, so a run never reads a validation or
    test review while it learns).
    """
    if corpus not in CORPORA:
        raise ValueError(f"corpus must be one of {CORPORA}, got {corpus!r}")
    data = load_news_data(min_freq, vocab)
    if corpus == "news":
        return data
    from dlbook.data.chinese import load_reviews

    reviews = load_reviews()
    tok = data.tokenizer
    return NewsData(tok, *(tok.encode("\n".join(texts)) for texts in
                           (reviews.train_text, reviews.val_text, reviews.test_text)))


def evaluate(model: GPT, ids: np.ndarray, max_windows: int | None = None, batch_size: int = 64) -> float:
    """Mean next-token loss (nats per token) over non-overlapping context-long windows of ``ids`` (T,)."""
    return evaluate_lm(model, ids, model.config.context, batch_size, max_windows)


def target_nll(logits: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """−log softmax(z)[y] = log Σ_v exp(z_v − m) + m − z_y with m = max_v z_v: logits (..., V), targets (...)
    -> (...) float64 nats.

    Only the targets' entries of the log-softmax are formed: the exponentials in the logits' own precision,
    their sums and the logarithm in float64 (a full float64 log-softmax of every vocabulary entry would cost
    as much as the model that made the logits).
    """
    m = np.max(logits, axis=-1, keepdims=True)
    log_sum = np.log(np.sum(np.exp(logits - m), axis=-1, dtype=np.float64))
    z_y = np.take_along_axis(logits, targets[..., None], axis=-1)[..., 0]
    return log_sum + m[..., 0].astype(np.float64) - z_y.astype(np.float64)


def token_losses(model: GPT, ids: np.ndarray, stride: int | None = None, batch_size: int = 32) -> np.ndarray:
    """−log p(ids[t] | ids[max(0, t−L)…t−1]) for every t ≥ 1 of a long text: (len(ids) − 1,) nats.

    The text is cut into context-long windows that overlap: window k starts at
    k·``stride`` (default half the context L) and scores only the positions no
    earlier window scored, so every token but the first L is predicted with at
    least L − stride tokens before it — a fair comparison with an n-gram, which
    always sees its n − 1 previous tokens.  (Non-overlapping windows, as
    :func:`evaluate` uses for speed, give the first token of each window no
    context at all.)
    """
    ids = np.asarray(ids)
    L = model.config.context
    stride = L // 2 if stride is None else stride
    if not 1 <= stride <= L:
        raise ValueError(f"stride must lie in [1, context={L}], got {stride}")
    if ids.ndim != 1 or len(ids) < L + 1:
        raise ValueError(f"ids must be 1-D with at least context + 1 = {L + 1} tokens, got shape {ids.shape}")
    starts = list(range(0, len(ids) - L, stride))
    if starts[-1] + L < len(ids) - 1:
        starts.append(len(ids) - 1 - L)               # a last window ending at the text's end
    out = np.full(len(ids) - 1, np.nan)
    with eval_mode(model):
        for i in range(0, len(starts), batch_size):
            chunk = starts[i:i + batch_size]
            x = np.stack([ids[s:s + L] for s in chunk])
            y = np.stack([ids[s + 1:s + L + 1] for s in chunk])
            nll = target_nll(model(x).data, y)
            for row, s in enumerate(chunk):
                # positions s..s+L-1 predict ids[s+1..s+L]; keep those not yet scored
                fresh = np.isnan(out[s:s + L])
                out[s:s + L][fresh] = nll[row][fresh]
    return out
