"""Dates written in Chinese ↔ ISO 8601: a translation task with a visible right answer (§3.5).

Three ways to write 28 November 2026:

* ``"zh"``:  二〇二六年十一月二十八日  (year digit by digit, month and day as counted numbers)
* ``"num"``: 2026年11月28日            (Arabic digits, no leading zeros)
* ``"iso"``: 2026-11-28

Every source sequence starts with a tag saying which form to produce
(``<iso>``, ``<zh>`` or ``<num>``), so one model learns both directions:
``<iso>`` + zh/num text → ISO, and ``<zh>``/``<num>`` + ISO → that form.
The calendar dates themselves are split (from a seed) into training and
held-out sets, so the test asks the model about days it never saw in any form.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from dlbook._checks import check_positive_int
from dlbook.data.tokenizers import checked_ids

PAD, BOS, EOS = "<pad>", "<bos>", "<eos>"
#: The target-form tags that start every source sequence.
TAGS = {"iso": "<iso>", "zh": "<zh>", "num": "<num>"}
FORMS = ("zh", "num", "iso")
_DIGITS_ZH = "〇一二三四五六七八九"
#: Characters of the three forms, in a fixed order (the vocabulary does not depend on the data drawn).
CHARACTERS = list("0123456789-年月日") + list(_DIGITS_ZH) + ["十"]


def _count_zh(n: int) -> str:
    """1..31 as a counted Chinese number: 5 → 五, 10 → 十, 11 → 十一, 20 → 二十, 28 → 二十八."""
    tens, ones = divmod(n, 10)
    text = ("" if tens == 0 else ("十" if tens == 1 else _DIGITS_ZH[tens] + "十"))
    return text + (_DIGITS_ZH[ones] if ones or tens == 0 else "")


def format_date(date: _dt.date, form: str) -> str:
    """``date`` written in ``form`` ("zh", "num" or "iso")."""
    if form == "iso":
        return date.isoformat()
    if form == "num":
        return f"{date.year}年{date.month}月{date.day}日"
    if form == "zh":
        year = "".join(_DIGITS_ZH[int(c)] for c in f"{date.year:04d}")
        return f"{year}年{_count_zh(date.month)}月{_count_zh(date.day)}日"
    raise ValueError(f"form must be one of {FORMS}, got {form!r}")


class Vocab:
    """Token ↔ id for seq2seq: ``<pad>`` = 0, ``<bos>`` = 1, ``<eos>`` = 2, the tags, then one id per character.

    ``encode(text, tag=None, bos=False, eos=False)`` → int64 ids; ``decode`` stops at
    ``<eos>`` and drops ``<pad>``/``<bos>``.  Unknown characters raise a ValueError
    naming them (the date task has a closed alphabet).
    """

    def __init__(self, characters: Sequence[str] = CHARACTERS) -> None:
        self.itos: list[str] = [PAD, BOS, EOS, *TAGS.values(), *characters]
        if len(set(self.itos)) != len(self.itos):
            raise ValueError("Vocab: tokens must be unique")
        self.stoi = {t: i for i, t in enumerate(self.itos)}
        self.pad_id, self.bos_id, self.eos_id = 0, 1, 2

    def __len__(self) -> int:
        return len(self.itos)

    @property
    def vocab_size(self) -> int:
        return len(self.itos)

    def encode(self, text: str, tag: str | None = None, bos: bool = False, eos: bool = False) -> np.ndarray:
        if not isinstance(text, str):
            raise TypeError(f"text must be a str, got {type(text).__name__}")
        unknown = sorted({c for c in text if c not in self.stoi})
        if unknown:
            raise ValueError(f"text {text!r} has characters outside the vocabulary: {unknown}")
        ids = [self.bos_id] if bos else []
        if tag is not None:
            if tag not in TAGS:
                raise ValueError(f"tag must be one of {sorted(TAGS)}, got {tag!r}")
            ids.append(self.stoi[TAGS[tag]])
        ids += [self.stoi[c] for c in text]
        if eos:
            ids.append(self.eos_id)
        return np.array(ids, dtype=np.int64)

    def decode(self, ids: Iterable[int]) -> str:
        """ids -> text up to the first ``<eos>``, without ``<pad>``/``<bos>``; ids must be integers in range."""
        out = []
        for i in checked_ids(ids, len(self.itos), "Vocab.decode"):
            if i == self.eos_id:
                break
            if i in (self.pad_id, self.bos_id):
                continue
            out.append(self.itos[i])
        return "".join(out)

    def tokens(self, ids: Iterable[int]) -> list[str]:
        """Every id as its token (for labelling attention maps), ``<pad>`` included; ids must be in range."""
        return [self.itos[i] for i in checked_ids(ids, len(self.itos), "Vocab.tokens")]


def pad_batch(seqs: Sequence[np.ndarray], pad_id: int = 0, length: int | None = None) -> np.ndarray:
    """Right-pad int sequences to one (N, T) array (T = the longest, or ``length``)."""
    if not len(seqs):
        raise ValueError("pad_batch: seqs is empty")
    longest = max(len(s) for s in seqs)
    t = longest if length is None else length
    if t < longest:
        raise ValueError(f"pad_batch: length={length} is shorter than the longest sequence ({longest})")
    out = np.full((len(seqs), t), pad_id, dtype=np.int64)
    for i, s in enumerate(seqs):
        out[i, : len(s)] = s
    return out


@dataclass
class DatePairs:
    """Parallel data: ``src`` (N, S) and ``tgt`` (N, T) padded ids (tgt = <bos> … <eos>), and the texts."""

    src: np.ndarray
    tgt: np.ndarray
    src_text: list[str]
    tgt_text: list[str]
    tags: list[str]

    def __len__(self) -> int:
        return len(self.src_text)


@dataclass
class DateTask:
    """The date-translation data set: a vocabulary and the train/held-out split of calendar dates."""

    vocab: Vocab
    train_dates: list[_dt.date]
    test_dates: list[_dt.date]

    def pairs(self, dates: Sequence[_dt.date], directions: Sequence[tuple[str, str]] | None = None) -> DatePairs:
        """Every date in every direction (source form, target form): by default the four of :data:`DIRECTIONS`."""
        dirs = list(DIRECTIONS if directions is None else directions)
        for d in dirs:
            if d not in DIRECTIONS:
                raise ValueError(f"directions must be among {DIRECTIONS}, got {d}")
        src_text, tgt_text, tags = [], [], []
        for date in dates:
            for a, b in dirs:
                src_text.append(format_date(date, a))
                tgt_text.append(format_date(date, b))
                tags.append(b)
        return self.encode(src_text, tags, tgt_text)

    def encode(self, src_text: Sequence[str], tags: Sequence[str], tgt_text: Sequence[str] | None = None) -> DatePairs:
        """Pad and encode texts: source = tag + text, target = <bos> text <eos>."""
        src = pad_batch([self.vocab.encode(s, tag=t) for s, t in zip(src_text, tags)], self.vocab.pad_id,
                        length=MAX_SRC_LEN)
        tt = list(tgt_text) if tgt_text is not None else [""] * len(src_text)
        tgt = pad_batch([self.vocab.encode(s, bos=True, eos=True) for s in tt], self.vocab.pad_id,
                        length=MAX_TGT_LEN)
        return DatePairs(src, tgt, list(src_text), tt, list(tags))


#: The four translation directions: Chinese forms → ISO, and ISO → Chinese forms.
DIRECTIONS = (("zh", "iso"), ("num", "iso"), ("iso", "zh"), ("iso", "num"))
#: Longest source (tag + 二〇二六年十一月二十八日 = 13) and target (<bos> + 12 + <eos> = 14) in tokens.
MAX_SRC_LEN, MAX_TGT_LEN = 13, 14


def load_dates(seed: int = 0, first_year: int = 1950, last_year: int = 2049, test_fraction: float = 0.1) -> DateTask:
    """Every day from 1 January ``first_year`` to 31 December ``last_year``, split at random (``seed``).

    ``test_fraction`` of the days are held out: they appear in no training pair, in any form.
    """
    check_positive_int("first_year", first_year)
    if not first_year <= last_year <= 9999:
        raise ValueError(f"last_year must lie in [first_year={first_year}, 9999], got {last_year}")
    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must lie in (0, 1), got {test_fraction}")
    start, end = _dt.date(first_year, 1, 1), _dt.date(last_year, 12, 31)
    days = [start + _dt.timedelta(days=i) for i in range((end - start).days + 1)]
    order = np.random.default_rng(seed).permutation(len(days))
    n_test = max(1, int(round(test_fraction * len(days))))
    test = sorted(days[i] for i in order[:n_test])
    train = sorted(days[i] for i in order[n_test:])
    return DateTask(Vocab(), train, test)


def parse_date(text: str) -> _dt.date:
    """The date written in any of the three forms, or a ValueError naming the text."""
    for form in FORMS:
        for date in _candidates(text, form):
            if format_date(date, form) == text:
                return date
    raise ValueError(f"not a valid date in any of the forms {FORMS}: {text!r}")


def _candidates(text: str, form: str) -> list[_dt.date]:
    try:
        if form == "iso":
            return [_dt.date.fromisoformat(text)]
        if form == "num":
            y, rest = text.split("年")
            m, rest = rest.split("月")
            return [_dt.date(int(y), int(m), int(rest.rstrip("日")))]
        y, rest = text.split("年")
        m, rest = rest.split("月")
        year = int("".join(str(_DIGITS_ZH.index(c)) for c in y))
        nums = {_count_zh(i): i for i in range(1, 32)}
        return [_dt.date(year, nums[m], nums[rest.rstrip("日")])]
    except (ValueError, KeyError):
        return []
