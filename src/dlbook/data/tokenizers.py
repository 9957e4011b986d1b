"""Character-level tokenizer: one id per character, rare characters mapped to ``<unk>``."""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from dlbook._checks import check_int
from dlbook._io import atomic_write

UNK = "<unk>"


def checked_ids(ids: Iterable[int], vocab_size: int, caller: str = "decode") -> list[int]:
    """``ids`` (any iterable or array of integers) as Python ints, each checked to lie in [0, vocab_size).

    Floats, strings and bools are refused with a TypeError (``int(2.7)`` would silently be id 2, and
    ``int("3")`` id 3); ``caller`` names the method in the error.
    """
    arr = np.asarray(ids if isinstance(ids, np.ndarray) else list(ids))
    if arr.size == 0:
        return []
    if arr.dtype.kind not in "iu":
        raise TypeError(f"{caller}: ids must be integers, got dtype {arr.dtype} "
                        f"(e.g. {arr.reshape(-1)[0]!r})")
    flat = [int(i) for i in arr.reshape(-1)]
    for i in flat:
        if not 0 <= i < vocab_size:
            raise ValueError(f"{caller}: id {i} is outside the vocabulary [0, {vocab_size})")
    return flat


class TokenizerBase:
    """What every tokenizer shares: ``itos`` (id -> symbol, id 0 = ``<unk>``), and ``save``/``load`` through the
    tokenizer's own ``to_json`` and classmethod ``from_json``."""

    itos: list[str]

    @property
    def vocab_size(self) -> int:
        return len(self.itos)

    @property
    def unk_id(self) -> int:
        return 0

    def save(self, path: str | os.PathLike) -> None:
        """Write the tokenizer to ``path`` as UTF-8 JSON, atomically (a failed save leaves the old file)."""
        data = self.to_json().encode("utf-8")   # encoding errors surface before the file is touched
        atomic_write(path, lambda f: f.write(data))

    @classmethod
    def load(cls, path: str | os.PathLike) -> Any:
        """Read a tokenizer written by :meth:`save`."""
        with open(path, encoding="utf-8") as f:
            return cls.from_json(f.read())


class CharTokenizer(TokenizerBase):
    """Maps text to integer ids, one per character.

    ``fit(text, min_freq)`` keeps characters seen at least ``min_freq`` times
    (sorted by frequency, then code point, so the vocabulary is deterministic);
    id 0 is ``<unk>`` for everything else.  ``encode``/``decode`` are inverse on
    text whose characters are all in the vocabulary.
    """

    def __init__(self, chars: Sequence[str]) -> None:
        chars = list(chars)
        if not chars or chars[0] != UNK:
            chars = [UNK, *[c for c in chars if c != UNK]]
        for c in chars[1:]:
            if not isinstance(c, str) or len(c) != 1:
                raise ValueError(f"CharTokenizer: every vocabulary entry after <unk> must be one character, got {c!r}")
        if len(set(chars)) != len(chars):
            raise ValueError("CharTokenizer: vocabulary entries must be unique")
        self.itos: list[str] = chars
        self.stoi: dict[str, int] = {c: i for i, c in enumerate(chars)}

    @classmethod
    def fit(cls, text: str | Iterable[str], min_freq: int = 1) -> CharTokenizer:
        """Build the vocabulary from ``text`` (a string or an iterable of strings)."""
        check_int("min_freq", min_freq, 1)
        counts: Counter[str] = Counter()
        if isinstance(text, str):
            counts.update(text)
        else:
            for piece in text:
                counts.update(piece)
        if not counts:
            raise ValueError("CharTokenizer.fit: text is empty")
        kept = sorted((c for c, n in counts.items() if n >= min_freq), key=lambda c: (-counts[c], c))
        return cls([UNK, *kept])


    def encode(self, text: str) -> np.ndarray:
        """text -> int64 ids of shape (len(text),)."""
        if not isinstance(text, str):
            raise TypeError(f"encode: text must be a str, got {type(text).__name__}")
        get = self.stoi.get
        return np.fromiter((get(c, 0) for c in text), dtype=np.int64, count=len(text))

    def decode(self, ids: Iterable[int]) -> str:
        """ids -> text (``<unk>`` ids become the replacement character ``�``)."""
        return "".join("\ufffd" if i == 0 else self.itos[i] for i in checked_ids(ids, len(self.itos)))

    def to_json(self) -> str:
        return json.dumps({"type": "char", "itos": self.itos}, ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> CharTokenizer:
        data = json.loads(text)
        if data.get("type") != "char":
            raise ValueError(f"not a character tokenizer: type {data.get('type')!r}")
        return cls(data["itos"])
