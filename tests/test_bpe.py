"""BPE: rare characters never merge (issue 14, S3); encoding is the textbook algorithm, near-linear (P1).

The fast fit and encoder are compared with slow references written the way the algorithm is
stated: recount every pair each round; merge every occurrence of the lowest-ranked pair, repeat.
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dlbook.data import bpe
from dlbook.data.bpe import SPECIALS, BPETokenizer, split_pieces


def _runs(piece: str, known: set[str]) -> list[str]:
    out, cur = [], ""
    for c in piece:
        if c in known:
            cur += c
        else:
            out.append(cur)
            cur = ""
    return [*out, cur]


def reference_fit(text: str, vocab_size: int, min_freq: int = 1) -> tuple[list[str], list[tuple[str, str]]]:
    """The fit as the module docstring states it, recounting every pair in every round."""
    pieces = Counter(split_pieces(text))
    chars: Counter[str] = Counter()
    for p, n in pieces.items():
        for c in p:
            chars[c] += n
    alphabet = sorted((c for c, n in chars.items() if n >= min_freq), key=lambda c: (-chars[c], c))
    itos = [*SPECIALS, *alphabet]
    words: Counter[tuple[str, ...]] = Counter()
    for p, n in pieces.items():
        for run in _runs(p, set(alphabet)):
            words[tuple(run)] += n
    merges: list[tuple[str, str]] = []
    while len(itos) < vocab_size:
        counts: Counter[tuple[str, str]] = Counter()
        for w, n in words.items():
            for pair in zip(w, w[1:]):
                counts[pair] += n
        if not counts:
            break
        pair = min(counts, key=lambda p: (-counts[p], p))
        if counts[pair] < 2:
            break
        merges.append(pair)
        if pair[0] + pair[1] not in itos:
            itos.append(pair[0] + pair[1])
        new: Counter[tuple[str, ...]] = Counter()
        for w, n in words.items():
            new[tuple(bpe._merge(list(w), *pair, pair[0] + pair[1]))] += n
        words = new
    return itos, merges


def reference_encode(tok: BPETokenizer, text: str) -> list[int]:
    """The encoder before issue 14 (quadratic), with unknown characters kept out of every merge."""
    ids: list[int] = []
    for piece in split_pieces(text):
        runs = _runs(piece, set(tok.stoi) - set(SPECIALS))
        for k, run in enumerate(runs):
            syms = list(run)
            while len(syms) > 1:
                ranked = [(tok.ranks.get(pair, len(tok.ranks)), i) for i, pair in enumerate(zip(syms, syms[1:]))]
                rank, _ = min(ranked)
                if rank == len(tok.ranks):
                    break
                a, b = tok.merges[rank]
                syms = bpe._merge(syms, a, b, a + b)
            ids += [tok.stoi[s] for s in syms]
            if k < len(runs) - 1:
                ids.append(0)
    return ids


NEWS_LIKE = ("中国人民银行今天宣布，中国经济稳定增长。人民生活水平提高了，中国人民很高兴。"
             "今天天气很好，我们去公园。经济发展，人民幸福。") * 3


# ---- S3: <unk> is never merged ------------------------------------------------------------------------


def test_rare_characters_never_form_merged_symbols() -> None:
    text = NEWS_LIKE + "龘鱻的靐人民，靐龘经济鱻，" * 2       # each rare character 4 times, the others at least 6
    tok = BPETokenizer.fit(text, vocab_size=200, min_freq=5)
    assert "龘" not in tok.stoi and "鱻" not in tok.stoi and "靐" not in tok.stoi
    assert not any("<unk>" in s for s in tok.itos[len(SPECIALS):]), [s for s in tok.itos if "<unk>" in s]
    assert not any("<unk>" in a or "<unk>" in b for a, b in tok.merges)
    assert tok.decode(tok.encode("龘龘")) == "\ufffd\ufffd"
    assert list(tok.encode("龘龘")) == [tok.unk_id, tok.unk_id]
    assert tok.decode(tok.encode("中国龘人民")) == "中国\ufffd人民"


def test_unknown_matches_the_character_tokenizer() -> None:
    from dlbook.data.tokenizers import CharTokenizer

    char = CharTokenizer.fit("中国人民", min_freq=1)
    tok = BPETokenizer.fit("中国人民中国人民", vocab_size=12)
    for text in ["龘", "中龘国", "😀 x", ""]:
        assert tok.decode(tok.encode(text)) == char.decode(char.encode(text))


def test_literal_unk_text_is_ordinary_characters() -> None:
    tok = BPETokenizer.fit("<unk> and <unk>, <unk>!", vocab_size=30)
    assert tok.decode(tok.encode("<unk>")) == "<unk>"
    assert tok.unk_id not in tok.encode("<unk>")


def test_round_trip_on_training_text() -> None:
    tok = BPETokenizer.fit(NEWS_LIKE + "Hello world, hello BPE 123.", vocab_size=120)
    text = "中国人民今天很高兴。Hello BPE 321."
    assert tok.decode(tok.encode(text)) == text


# ---- the fast fit and encoder agree with the slow references ------------------------------------------


def test_fit_and_encode_match_the_references_on_english_and_chinese() -> None:
    from pydoc_data.topics import topics

    english = "\n".join(topics[k] for k in sorted(topics)[:15])
    for text, size, min_freq in [(english, 400, 3), (NEWS_LIKE + "龘龘的龘", 90, 2)]:
        tok = BPETokenizer.fit(text, vocab_size=size, min_freq=min_freq)
        itos, merges = reference_fit(text, size, min_freq)
        assert tok.merges == merges and tok.itos == itos
        sample = text[:3000] + "  unseen: ŽŽŽ 龘中国"
        assert list(tok.encode(sample)) == reference_encode(tok, sample)


# Small alphabets give repetitive merges (("a","a"), ("aa","a"), ("a","aa"), symbols learned two ways), the
# cases where a heap-based encoder can apply merges in a different order than the loop does.
_texts = st.text(alphabet="aabbc d,", min_size=1, max_size=300)


@settings(max_examples=150, deadline=None)
@given(train=_texts, probe=st.text(alphabet="aabbcde ,", max_size=200), extra=st.integers(1, 40),
       min_freq=st.integers(1, 3))
def test_fit_and_encode_match_the_references_on_repetitive_text(train: str, probe: str, extra: int,
                                                                 min_freq: int) -> None:
    chars = Counter(train)
    n_known = sum(1 for n in chars.values() if n >= min_freq)
    size = len(SPECIALS) + n_known + extra
    if n_known == 0:
        return
    tok = BPETokenizer.fit(train, vocab_size=size, min_freq=min_freq)
    itos, merges = reference_fit(train, size, min_freq)
    assert tok.merges == merges
    assert tok.itos == itos
    assert not any("<unk>" in s for s in tok.itos[len(SPECIALS):])
    for text in (train, probe, train[::-1] + probe):
        ids = tok.encode(text)
        assert list(ids) == reference_encode(tok, text)
        known = set(tok.stoi)
        assert tok.decode(ids) == "".join(c if c in known else "\ufffd" for c in text)


@settings(max_examples=60, deadline=None)
@given(merges=st.lists(st.sampled_from([("a", "b"), ("b", "c"), ("ab", "c"), ("a", "bc"), ("abc", "a"),
                                        ("c", "a"), ("abca", "bc"), ("b", "b"), ("bb", "b")]),
                       unique=True, min_size=1),
       probe=st.text(alphabet="abc", max_size=80))
def test_encoder_matches_the_loop_for_any_merge_order(merges: list[tuple[str, str]], probe: str) -> None:
    """Merge lists not produced by fit (a loaded file): a merge may make a symbol another merge of
    lower rank uses, so the encoder must finish the current rank before a lower one appears."""
    itos = [*SPECIALS, "a", "b", "c"]
    for a, b in merges:
        if a + b not in itos:
            itos.append(a + b)
    usable = [m for m in merges if all(s in itos for s in m)]
    tok = BPETokenizer(itos, usable)
    assert list(tok.encode(probe)) == reference_encode(tok, probe)


# ---- P1: long runs and the cache ------------------------------------------------------------------------


def test_long_unpunctuated_run_encodes_like_the_reference() -> None:
    rng = np.random.default_rng(0)
    tok = BPETokenizer.fit(NEWS_LIKE, vocab_size=150)
    alphabet = [c for c in tok.itos[len(SPECIALS):] if len(c) == 1 and "\u4e00" <= c <= "\u9fff"]
    short = "".join(rng.choice(alphabet, 1500))
    assert list(tok.encode(short)) == reference_encode(tok, short)
    long = "".join(rng.choice(alphabet, 32_000))          # 36 s before issue 14; the bench prints the time now
    ids = tok.encode(long)
    assert tok.decode(ids) == long


def test_cache_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bpe, "CACHE_SIZE", 50)
    tok = BPETokenizer.fit("alpha beta gamma delta w0123456789 " * 5, vocab_size=60)
    words = [f"w{i}" for i in range(500)]
    for w in words:
        tok.encode(w)
    assert len(tok._cache) <= 50
    assert "w499" in tok._cache and "w0" not in tok._cache            # the oldest go first
    tok.encode("a" * (bpe.CACHE_MAX_PIECE + 1))
    assert "a" * (bpe.CACHE_MAX_PIECE + 1) not in tok._cache          # long pieces are not kept
    assert tok.decode(tok.encode(" ".join(words))) == " ".join(words)
