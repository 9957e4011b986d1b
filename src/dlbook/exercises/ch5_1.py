"""Exercises of §5.1, Setting up: a Kneser–Ney bigram probability by hand, the vocabulary BPE ends with on a tiny
text, a loss in bits per character, the Kneser–Ney bigram table in code, and what ``min_freq`` costs.

Use in a notebook cell: ``from dlbook.exercises import ch5_1`` then ``ch5_1.check_kn_bigram(answer)``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from dlbook.baselines import KneserNey
from dlbook.baselines.ladder import load_ladder
from dlbook.data import BPETokenizer
from dlbook.data.bpe import SPECIALS
from dlbook.exercises._answers import Mistake, check_number
from dlbook.exercises._compare import compare
from dlbook.exercises._registry import explore, register

#: The corpus of the Kneser–Ney exercise, its alphabet (the ids are the positions in it), and the asked bigram.
KN_TEXT, KN_ALPHABET, KN_HISTORY, KN_NEXT = "abracadabra", "abrcd", "a", "b"
#: The text of the BPE exercise: pieces separated by spaces (a space is a piece of its own).
BPE_TEXT, BPE_VOCAB = "人民 人民 人民 中国 中国 中国人民", 100


def _discount(counts: np.ndarray) -> float:
    """One Kneser–Ney discount from the counts of the seen n-grams: n₁ / (n₁ + 2 n₂), 0.5 if n₁ = 0."""
    n1, n2 = np.count_nonzero(counts == 1), np.count_nonzero(counts == 2)
    return n1 / (n1 + 2 * n2) if n1 else 0.5


def _lower_order(ids: np.ndarray, v: int, lower: str, start: bool) -> np.ndarray:
    """p₁(w) for every w: the continuation unigram interpolated with 1/V, or a variant of it (a mistake)."""
    if lower == "uniform":
        return np.full(v, 1.0 / v)
    if lower == "raw":
        a = np.bincount(ids, minlength=v).astype(float)
    else:                                                   # distinct left neighbours; the start of text is one
        left = np.concatenate([[v], ids[:-1]])
        pairs = {(int(x), int(w)) for x, w in zip(left, ids) if start or x != v}
        a = np.bincount([w for _, w in pairs], minlength=v).astype(float)
    d = _discount(a[a > 0])
    return np.maximum(a - d, 0) / a.sum() + d * np.count_nonzero(a) / a.sum() / v


def _kn_bigram_table(ids: np.ndarray, v: int, *, lower: str = "continuation", start: bool = True,
                     interpolate: bool = True, discount: bool = True) -> np.ndarray:
    """P[h, w] = p(w | h) of the interpolated Kneser–Ney bigram with one discount, or of a foreseeable variant."""
    p1 = _lower_order(ids, v, lower, start)
    c = np.zeros((v, v))
    np.add.at(c, (ids[:-1], ids[1:]), 1.0)
    d = _discount(c[c > 0]) if discount else 0.0
    total = c.sum(axis=1, keepdims=True)
    seen = total > 0
    lam = np.where(seen, d * np.count_nonzero(c, axis=1, keepdims=True) / np.where(seen, total, 1), 1.0)
    top = np.maximum(c - d, 0) / np.where(seen, total, 1)
    return top + (lam * p1 if interpolate else 0.0)


def _kn_ids() -> np.ndarray:
    return np.array([KN_ALPHABET.index(ch) for ch in KN_TEXT])


@register("5.1-kn-bigram", "5.1", "compute", "A Kneser–Ney bigram probability on 'abracadabra', by hand")
def check_kn_bigram(answer: Any) -> bool:
    """p(b | a) of the interpolated Kneser–Ney bigram (one discount per order, eq-kneser-ney and eq-kn-discount)
    fitted on the text ``abracadabra``, vocabulary {a, b, r, c, d}; the start of the text counts as one more
    distinct left neighbour.  ``answer``: a number; right to within ±0.0005.
    """
    ids, v = _kn_ids(), len(KN_ALPHABET)
    h, w = KN_ALPHABET.index(KN_HISTORY), KN_ALPHABET.index(KN_NEXT)
    expected = KneserNey(order=2, vocab_size=v, modified=False).fit(ids).prob([h], w)

    def variant(**kw: Any) -> float:
        return float(_kn_bigram_table(ids, v, **kw)[h, w])

    c = np.bincount(ids[:-1][ids[1:] == w], minlength=v)[h] / np.count_nonzero(ids[:-1] == h)
    mistakes = [
        Mistake(c, "That is the raw ratio c(ab)/c(a•): Kneser–Ney subtracts the discount D from the count and "
                   "hands the freed mass to the lower order."),
        Mistake(variant(interpolate=False), "You discounted the count but did not add the freed mass back: "
                                            "+ λ(a)·p₁(b), with λ(a) = D·N₁₊(a•)/c(a•)."),
        Mistake(variant(lower="uniform"), "The lower order is not the uniform 1/V: it is the continuation "
                                          "unigram, itself interpolated with 1/V."),
        Mistake(variant(lower="raw"), "The lower order counts distinct left neighbours (continuation counts), "
                                      "not occurrences: how many different characters come just before b?"),
        Mistake(variant(start=False), "The start of the text counts as one more distinct left neighbour (of the "
                                      "first a)."),
    ]
    return check_number("answer", answer, expected, abs_tol=5e-4, mistakes=mistakes,
                        hint="Two levels: the bigram (count, discount D from its counts of counts, λ(a)) over the "
                             "continuation unigram (distinct left neighbours, its own discount, over 1/V).")


@register("5.1-bpe-vocabulary", "5.1", "compute", "The vocabulary BPE ends with on a tiny text")
def check_bpe_vocabulary(answer: Any) -> bool:
    """``BPETokenizer.fit("人民 人民 人民 中国 中国 中国人民", vocab_size=100).vocab_size``: how many symbols?

    ``answer``: an int; checked exactly.
    """
    tok = BPETokenizer.fit(BPE_TEXT, vocab_size=BPE_VOCAB)
    merges, alphabet = len(tok.merges), len(set(BPE_TEXT))
    mistakes = [
        Mistake(BPE_VOCAB, "The fit stops early: it merges only pairs seen at least twice, and after a few "
                           "merges no pair repeats."),
        Mistake(tok.vocab_size - len(SPECIALS), f"The {len(SPECIALS)} special tokens (<unk>, <pad>, <bos>, <eos>) "
                                                "are in the vocabulary too, ids 0 to 3."),
        Mistake(tok.vocab_size - 1, "The space is a character of the alphabet too (each space is a piece of its "
                                    "own, but it is still a symbol)."),
        Mistake(tok.vocab_size + 1, "One merge too many: after 人民 and 中国 are merged, the pair 中国 + 人民 "
                                    "occurs once, and a pair seen once is not merged."),
        Mistake(merges, "That is the number of merges; the vocabulary also holds the specials and the alphabet."),
        Mistake(alphabet + merges, "Add the special tokens, ids 0 to 3."),
    ]
    return check_number("answer", answer, tok.vocab_size, abs_tol=0.5, mistakes=mistakes, unit="symbols",
                        hint="Specials, then the alphabet (every distinct character), then one symbol per merge; "
                             "merges never cross a piece boundary and stop when no pair occurs twice.")


@register("5.1-bits-per-char", "5.1", "compute", "The 5-gram's test loss in bits per character")
def check_bits_per_char(answer: Any) -> bool:
    """The modified Kneser–Ney 5-gram's test loss (§5.1's table, in nats per character) in bits per character.

    ``answer``: a number; right to within ±0.005.
    """
    nats = float(load_ladder()["vocabs"]["news+reviews"]["models"]["mkn5"]["test"])
    mistakes = [
        Mistake(nats * math.log(2), "Multiplying by ln 2 turns bits into nats; from nats to bits, divide by ln 2."),
        Mistake(nats / math.log(10), "That is in decimal digits (log base 10); bits are log base 2: divide by ln 2."),
        Mistake(math.exp(nats), "That is the perplexity e^loss, not the loss in another unit."),
        Mistake(2 ** nats, "Changing the base of a logarithm is a division: log₂ x = ln x / ln 2."),
    ]
    return check_number("answer", answer, nats / math.log(2), abs_tol=5e-3, mistakes=mistakes, unit="bits",
                        hint="A loss is a mean of −log p; in bits the logarithm has base 2, and log₂ x = ln x / ln 2.")


# ---- implement: the Kneser–Ney bigram table ------------------------------------------------------------------

def _table_reference(ids: np.ndarray, vocab_size: int) -> np.ndarray:
    lm = KneserNey(order=2, vocab_size=vocab_size, modified=False).fit(ids)
    return np.stack([lm.distribution([h]) for h in range(vocab_size)])


def _table_cases() -> list[dict[str, Any]]:
    rng = np.random.default_rng(51)
    cases = [dict(ids=_kn_ids(), vocab_size=len(KN_ALPHABET))]
    for v, n in [(4, 30), (6, 80), (8, 200)]:
        ids = rng.integers(0, v - 1, size=n)
        ids[-1] = v - 1                                   # the last id occurs only at the end: an unseen history
        cases.append(dict(ids=ids, vocab_size=v))
    cases.append(dict(ids=rng.integers(0, 3, size=400), vocab_size=5))    # ids 3, 4 never occur
    return cases


def _table_hint(case: dict[str, Any], got: tuple[np.ndarray, ...]) -> str | None:
    ids, v = case["ids"], case["vocab_size"]
    if not np.allclose(got[0].sum(axis=1), 1.0):
        return "Each row p(· | h) should sum to 1: check λ(h), which gives back exactly the mass the discounts took."
    for kw, hint in [(dict(lower="raw"), "The lower order counts distinct left neighbours, not occurrences."),
                     (dict(lower="uniform"), "The lower order is the continuation unigram, not the uniform 1/V."),
                     (dict(start=False), "The start of the text counts as one more distinct left neighbour.")]:
        if np.allclose(got[0], _kn_bigram_table(ids, v, **kw)):
            return hint
    return None


@register("5.1-kn-table", "5.1", "implement", "The interpolated Kneser–Ney bigram as a table")
def check_kn_table(fn: Any) -> bool:
    """``fn(ids, vocab_size)`` -> P, (V, V), with P[h, w] = p(w | h) of the interpolated Kneser–Ney bigram with one
    discount per order (D = n₁/(n₁ + 2n₂), or 0.5 when n₁ = 0); a history never followed by anything gets the
    lower order alone.  Compared with ``KneserNey(order=2, modified=False).distribution``."""
    return compare(fn, _table_reference, _table_cases(), argument="fn", outputs=("P",), diagnose=_table_hint,
                   error_hint="np.add.at(c, (ids[:-1], ids[1:]), 1) counts the bigrams into a (V, V) array.",
                   success="Your Kneser–Ney bigram agrees with dlbook's")


explore("5.1-min-freq", "5.1", "What does min_freq buy and cost? (vocabulary size against <unk> share)")
