"""Classical sentiment baselines (scikit-learn): what a fine-tuned Transformer has to beat.

Two models over character n-grams of the review texts — no tokenizer, no pretraining:

* **TF-IDF + logistic regression.**  Each review becomes the vector of its character 1- and
  2-gram counts tf(t, d), reweighted (sublinear tf, smoothed idf, unit length)::

      x_t = (1 + ln tf(t, d)) · (ln((1 + N) / (1 + df(t))) + 1),   x ← x / ‖x‖₂      (eq-tfidf)

  and p(positive | x) = σ(wᵀx + b), fitted by L2-regularised maximum likelihood (C = 10).
* **Multinomial naive Bayes** on character 1–3-gram counts: p(t | class) = (count + α) /
  (total + α |vocabulary|) with α = 0.1, and the class maximising ln p(class) + Σ_t tf(t) ln p(t | class).

The settings (n-gram ranges, C, sublinear tf, α) were chosen by accuracy on the *validation*
reviews (C ∈ {1, 3, 10}, α ∈ {0.1, 0.3, 1}, n-grams 1–2 or 1–3), never on the test reviews.
Fitting is deterministic (lbfgs and counting have no randomness): the same texts give the same model.

Subsets: ``n_train=k`` uses the **first k** reviews of the given training texts — with
:func:`dlbook.data.chinese.load_reviews`, the first k of its (already shuffled) training split,
so a smaller budget is a prefix of a larger one.

scikit-learn is imported when a model is fitted, not when this module is imported.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from dlbook._checks import check_positive_int


@dataclass
class SentimentBaseline:
    """A fitted text classifier: ``predict(texts) -> (N,)`` labels, ``accuracy(texts, labels)``."""

    name: str
    pipeline: Any          # a fitted sklearn Pipeline: vectoriser then classifier
    n_train: int

    def predict(self, texts: Sequence[str]) -> np.ndarray:
        """Predicted labels (N,), int64."""
        return np.asarray(self.pipeline.predict(_texts("texts", texts)), dtype=np.int64)

    def accuracy(self, texts: Sequence[str], labels: Sequence[int] | np.ndarray) -> float:
        """Fraction of ``texts`` whose predicted label equals ``labels`` (N,)."""
        y = _labels("labels", labels, len(texts))
        return float(np.mean(self.predict(texts) == y))


def _texts(name: str, texts: Sequence[str]) -> list[str]:
    if isinstance(texts, str) or not all(isinstance(t, str) for t in texts):
        raise TypeError(f"{name} must be a sequence of strings (one per review), got {type(texts).__name__}")
    if len(texts) == 0:
        raise ValueError(f"{name} must not be empty")
    return list(texts)


def _labels(name: str, labels: Sequence[int] | np.ndarray, n: int) -> np.ndarray:
    y = np.asarray(labels)
    if y.dtype.kind not in "iub":
        raise TypeError(f"{name} must hold integer class labels, got dtype {y.dtype}")
    if y.shape != (n,):
        raise ValueError(f"{name} must have shape ({n},) to match the texts, got {y.shape}")
    return y.astype(np.int64)


def _subset(texts: Sequence[str], labels: Sequence[int] | np.ndarray,
            n_train: int | None) -> tuple[list[str], np.ndarray]:
    """The first ``n_train`` (texts, labels), validated; all of them when ``n_train`` is None."""
    texts = _texts("texts", texts)
    y = _labels("labels", labels, len(texts))
    if n_train is not None:
        n_train = check_positive_int("n_train", n_train)
        if n_train > len(texts):
            raise ValueError(f"n_train must be at most the {len(texts)} texts given, got {n_train}")
        texts, y = texts[:n_train], y[:n_train]
    if len(np.unique(y)) < 2:
        raise ValueError("labels must contain at least two classes in the training subset")
    return texts, y


def tfidf_logistic_regression(texts: Sequence[str], labels: Sequence[int] | np.ndarray,
                              n_train: int | None = None, C: float = 10.0) -> SentimentBaseline:
    """TF-IDF over character 1–2-grams, then logistic regression.  Implements (eq-tfidf).

    texts: N strings, labels: (N,) ints; ``n_train`` keeps the first n_train of them.
    """
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    X, y = _subset(texts, labels, n_train)
    model = make_pipeline(TfidfVectorizer(analyzer="char", ngram_range=(1, 2), sublinear_tf=True),
                          LogisticRegression(C=C, max_iter=2000))
    return SentimentBaseline("TF-IDF char 1-2 + logistic regression", model.fit(X, y), len(X))


def naive_bayes(texts: Sequence[str], labels: Sequence[int] | np.ndarray,
                n_train: int | None = None, alpha: float = 0.1) -> SentimentBaseline:
    """Multinomial naive Bayes on character 1–3-gram counts (add-α smoothing).

    texts: N strings, labels: (N,) ints; ``n_train`` keeps the first n_train of them.
    """
    from sklearn.feature_extraction.text import CountVectorizer
    from sklearn.naive_bayes import MultinomialNB
    from sklearn.pipeline import make_pipeline

    X, y = _subset(texts, labels, n_train)
    model = make_pipeline(CountVectorizer(analyzer="char", ngram_range=(1, 3)), MultinomialNB(alpha=alpha))
    return SentimentBaseline("naive Bayes char 1-3", model.fit(X, y), len(X))
