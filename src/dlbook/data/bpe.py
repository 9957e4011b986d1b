"""Byte-pair encoding (字节对编码), trained from scratch on characters.

For Chinese the natural starting alphabet is the character, not the byte: a
common character is already one symbol.  Training (:meth:`BPETokenizer.fit`):

1. Cut the text into *pieces* — runs of CJK characters, runs of ASCII letters
   or digits, and every other character on its own — so merges never cross
   punctuation or a line break.  Count each distinct piece once, with its frequency.
2. Start with every piece as a list of characters.  Characters seen fewer
   than ``min_freq`` times are unknown: they cut the piece in two and are never
   part of a merge (so no learned symbol ever stands for "some rare character").
3. Repeat until the vocabulary has ``vocab_size`` entries: find the most
   frequent adjacent pair of symbols (ties: the pair first reached in sorted
   order) and merge it into a new symbol everywhere.

Encoding a new text applies the learned merges to each piece in the order they
were learned (lowest rank first), exactly as in training; an unknown character
becomes the ``<unk>`` id, which decodes to ``�`` as in
:class:`~dlbook.data.tokenizers.CharTokenizer`.  Decoding joins the symbols'
strings, so ``decode(encode(text)) == text`` for any text whose characters are
in the vocabulary.  Encoding a piece of n characters takes O(n log n) steps (a
heap of candidate merges over a linked list of symbols), so a long run without
punctuation costs no more per character than short words.

Special tokens ``<unk>``, ``<pad>``, ``<bos>``, ``<eos>`` take ids 0–3; they
are never produced from text, only added by the caller.
"""

from __future__ import annotations

import heapq
import json
import re
from collections import Counter, defaultdict
from collections.abc import Iterable

import numpy as np

from dlbook._checks import check_int
from dlbook.data.tokenizers import TokenizerBase, checked_ids

SPECIALS = ("<unk>", "<pad>", "<bos>", "<eos>")
#: The encoder caches the ids of at most this many distinct pieces, each at most CACHE_MAX_PIECE characters long.
CACHE_SIZE = 2**16
CACHE_MAX_PIECE = 64
_PIECE = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+|[A-Za-z0-9\uff10-\uff19\uff21-\uff3a\uff41-\uff5a]+|.",
                    re.DOTALL)


def split_pieces(text: str) -> list[str]:
    """The pieces merges may not cross: CJK runs, Latin/digit runs, and single other characters."""
    return _PIECE.findall(text)


class BPETokenizer(TokenizerBase):
    """A byte-pair-encoding tokenizer over characters.

    ``itos``: id -> symbol string (specials first, then single characters, then
    merged symbols in the order they were learned); ``merges``: the list of
    (left, right) symbol pairs in learned order.
    """

    def __init__(self, itos: list[str], merges: list[tuple[str, str]]) -> None:
        if list(itos[: len(SPECIALS)]) != list(SPECIALS):
            raise ValueError(f"itos must start with the special tokens {SPECIALS}, got {itos[:len(SPECIALS)]}")
        if len(set(itos)) != len(itos):
            raise ValueError("itos entries must be unique")
        self.itos = list(itos)
        self.stoi = {s: i for i, s in enumerate(self.itos)}
        self.merges = [tuple(m) for m in merges]
        for a, b in self.merges:
            if a + b not in self.stoi:
                raise ValueError(f"merge ({a!r}, {b!r}) makes {a + b!r}, which is not in the vocabulary")
        self.ranks = {m: r for r, m in enumerate(self.merges)}
        self._cache: dict[str, list[int]] = {}      # piece -> ids, at most CACHE_SIZE pieces

    # ---- training ---------------------------------------------------------
    @classmethod
    def fit(cls, text: str | Iterable[str], vocab_size: int, min_freq: int = 1, progress: bool = False) -> BPETokenizer:
        """Learn merges from ``text`` until the vocabulary holds ``vocab_size`` symbols (or no pair repeats)."""
        check_int("vocab_size", vocab_size, len(SPECIALS) + 1)
        check_int("min_freq", min_freq, 1)
        texts = [text] if isinstance(text, str) else list(text)
        pieces: Counter[str] = Counter()
        chars: Counter[str] = Counter()
        for t in texts:
            ps = split_pieces(t)
            pieces.update(ps)
        for p, n in pieces.items():
            for c in p:
                chars[c] += n
        if not chars:
            raise ValueError("BPETokenizer.fit: text is empty")
        alphabet = sorted((c for c, n in chars.items() if n >= min_freq), key=lambda c: (-chars[c], c))
        itos = [*SPECIALS, *alphabet]
        if vocab_size < len(itos):
            raise ValueError(f"vocab_size must be at least the {len(itos)} special tokens and characters kept "
                             f"(raise min_freq to keep fewer characters), got {vocab_size}")
        known = set(itos)
        runs: Counter[tuple[str, ...]] = Counter()   # pieces cut at unknown characters, which never merge
        for p, n in pieces.items():
            for run in _known_runs(p, known):
                if len(run) > 1:                     # a single symbol has no pair to count
                    runs[tuple(run)] += n
        words = [list(r) for r in runs]
        freqs = list(runs.values())

        pair_counts: Counter[tuple[str, str]] = Counter()
        where: defaultdict[tuple[str, str], set[int]] = defaultdict(set)
        for w, (syms, n) in enumerate(zip(words, freqs)):
            for pair in zip(syms, syms[1:]):
                pair_counts[pair] += n
                where[pair].add(w)

        merges: list[tuple[str, str]] = []
        # A heap of (−count, pair): the top is the most frequent pair, ties broken by the smaller pair.
        # Entries go stale when a count changes; a popped entry is used only if its count is current.
        heap = [(-n, pair) for pair, n in pair_counts.items()]
        heapq.heapify(heap)
        from tqdm.auto import tqdm

        bar = tqdm(total=vocab_size - len(itos), disable=not progress, desc="BPE merges", leave=False)
        while len(itos) < vocab_size and heap:
            neg, (a, b) = heapq.heappop(heap)
            if pair_counts.get((a, b), 0) != -neg:
                continue
            if -neg < 2:
                break
            new = a + b
            merges.append((a, b))
            if new not in known:
                itos.append(new)
                known.add(new)
            changed: set[tuple[str, str]] = set()
            for w in where.pop((a, b), ()):
                syms, n = words[w], freqs[w]
                for pair in zip(syms, syms[1:]):          # remove this word's old pairs
                    pair_counts[pair] -= n
                    changed.add(pair)
                merged = _merge(syms, a, b, new)
                words[w] = merged
                for pair in zip(merged, merged[1:]):      # and add its new ones
                    pair_counts[pair] += n
                    where[pair].add(w)
                    changed.add(pair)
            for pair in changed:
                n = pair_counts.get(pair, 0)
                if n <= 0:
                    pair_counts.pop(pair, None)
                elif pair != (a, b):
                    heapq.heappush(heap, (-n, pair))
            pair_counts.pop((a, b), None)
            bar.update(1)
        bar.close()
        return cls(itos, merges)

    # ---- using it ------------------------------------------------------------

    def _encode_piece(self, piece: str) -> list[int]:
        ids = self._cache.get(piece)
        if ids is None:
            ids = []
            start = 0
            for i, c in enumerate(piece):        # unknown characters split the piece and stay <unk>
                if c not in self.stoi:
                    ids += [self.stoi[s] for s in self._merge_run(piece[start:i])] + [self.unk_id]
                    start = i + 1
            ids += [self.stoi[s] for s in self._merge_run(piece[start:])]
            if len(piece) <= CACHE_MAX_PIECE:    # long runs are rare: caching them would only cost memory
                if len(self._cache) >= CACHE_SIZE:
                    self._cache.pop(next(iter(self._cache)))      # the oldest first
                self._cache[piece] = ids
        return ids

    def _merge_run(self, run: str) -> list[str]:
        """Apply the merges to ``run`` (known characters only): lowest rank first, each rank left to right.

        The same result as repeatedly merging every occurrence of the lowest-ranked adjacent pair
        (the textbook loop), in O(n log n): the symbols form a linked list, and a heap holds
        (rank, position) of each adjacent pair that has a merge.  An entry goes stale when either
        symbol has since been merged into something else; it is then skipped.  A merge can create a
        pair of lower rank than the one being applied (when the merged symbol was also learned another
        way); such pairs wait until every occurrence of the current rank is merged, as in the loop.
        """
        if len(run) < 2:
            return list(run)
        syms: list[str] = list(run)
        nxt = list(range(1, len(run))) + [-1]
        prv = list(range(-1, len(run) - 1))
        ranks = self.ranks
        heap = [(ranks[pair], i) for i, pair in enumerate(zip(run, run[1:])) if pair in ranks]
        heapq.heapify(heap)
        waiting: list[tuple[int, int]] = []
        current = -1

        def push(i: int) -> None:                 # the pair starting at symbol i, if it has a merge
            if i < 0 or nxt[i] < 0:
                return
            rank = ranks.get((syms[i], syms[nxt[i]]))
            if rank is None:
                return
            if rank < current:
                waiting.append((rank, i))
            else:
                heapq.heappush(heap, (rank, i))

        while heap or waiting:
            if waiting and (not heap or heap[0][0] > current):
                for entry in waiting:
                    heapq.heappush(heap, entry)
                waiting.clear()
            rank, i = heapq.heappop(heap)
            j = nxt[i]
            if not syms[i] or j < 0 or (syms[i], syms[j]) != self.merges[rank]:
                continue                          # stale: a symbol of this pair was merged away
            current = rank
            syms[i] += syms[j]                    # merge j into i and unlink j
            syms[j] = ""
            nxt[i] = nxt[j]
            if nxt[j] >= 0:
                prv[nxt[j]] = i
            push(prv[i])
            push(i)
        return [s for s in syms if s]

    def encode(self, text: str) -> np.ndarray:
        """text -> int64 ids (M,) with M <= len(text)."""
        if not isinstance(text, str):
            raise TypeError(f"encode: text must be a str, got {type(text).__name__}")
        out: list[int] = []
        for piece in split_pieces(text):
            out.extend(self._encode_piece(piece))
        return np.asarray(out, dtype=np.int64)

    def decode(self, ids: Iterable[int]) -> str:
        """ids -> text; ``<unk>`` becomes ``�``, the other special tokens decode to nothing."""
        specials = len(SPECIALS)
        return "".join("\ufffd" if i == 0 else "" if i < specials else self.itos[i]
                       for i in checked_ids(ids, len(self.itos)))

    def tokens(self, text: str) -> list[str]:
        """The symbol strings ``text`` is cut into (for display)."""
        return [self.itos[i] for i in self.encode(text)]

    # ---- saving ----------------------------------------------------------------
    def to_json(self) -> str:
        return json.dumps({"type": "bpe", "itos": self.itos, "merges": [list(m) for m in self.merges]},
                          ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> BPETokenizer:
        data = json.loads(text)
        if data.get("type") != "bpe":
            raise ValueError(f"not a BPE tokenizer: type {data.get('type')!r}")
        return cls(data["itos"], [tuple(m) for m in data["merges"]])



def _known_runs(piece: str, known: set[str]) -> list[str]:
    """``piece`` cut at every character not in ``known`` (those characters dropped)."""
    runs, start = [], 0
    for i, c in enumerate(piece):
        if c not in known:
            runs.append(piece[start:i])
            start = i + 1
    runs.append(piece[start:])
    return runs


def _merge(syms: list[str], a: str, b: str, new: str) -> list[str]:
    """``syms`` with every non-overlapping adjacent (a, b), left to right, replaced by ``new``."""
    out, i = [], 0
    while i < len(syms):
        if i + 1 < len(syms) and syms[i] == a and syms[i + 1] == b:
            out.append(new)
            i += 2
        else:
            out.append(syms[i])
            i += 1
    return out


def tokenizer_from_json(text: str):  # noqa: ANN201 - returns CharTokenizer | BPETokenizer
    """Rebuild a character or BPE tokenizer from its ``to_json()`` string."""
    from dlbook.data.tokenizers import CharTokenizer

    kind = json.loads(text).get("type")
    if kind == "bpe":
        return BPETokenizer.from_json(text)
    if kind == "char":
        return CharTokenizer.from_json(text)
    raise ValueError(f"unknown tokenizer type {kind!r}; expected 'char' or 'bpe'")
