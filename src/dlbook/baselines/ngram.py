"""Count-based character language models: the add-k unigram and interpolated Kneser–Ney n-grams.

These are the baselines every neural language model of the book is read against.  Tokens are
integer ids ``0 .. V-1`` (a character tokenizer's ids); a model is fitted on one long id
sequence and scored in nats per token.

**Add-k unigram** (no context)::

    p(w) = (c(w) + k) / (T + k V)                                           (eq-add-k-unigram)

with c(w) the count of ``w`` in the T training tokens.

**Interpolated Kneser–Ney** (Chen & Goodman 1998, §3/§4.1).  For a history h of k-1 tokens and
its shortened history h' (the first token dropped)::

    p_k(w | h) = max(a_k(h w) - D_k(a), 0) / a_k(h •)  +  λ_k(h) p_{k-1}(w | h')   (eq-kneser-ney)
    λ_k(h)     = [D_k(1) N_1(h •) + D_k(2) N_2(h •) + D_k(3+) N_3+(h •)] / a_k(h •)
    p_0(w)     = 1 / V                         (the lowest order mixes in the uniform: p > 0 for every id)

* a_k(h w) is the *raw count* c(h w) at the model's highest order k = n, and at every lower
  order the *continuation count* N_1+(• h w): the number of distinct tokens seen just before
  ``h w`` (Kneser and Ney's idea — a lower order is only consulted when the longer history is
  rare, so it should predict how many contexts a token completes, not how often it occurs).
  The start of the text counts as one more distinct left neighbour.
* a_k(h •) = Σ_w a_k(h w); N_r(h •) is the number of tokens w with a_k(h w) = r (N_3+: ≥ 3).
  With one discount D_k for all r, λ_k(h) = D_k N_1+(h •) / a_k(h •).
* Discounts are estimated from the count-of-counts n_r (how many k-grams have a_k = r), with
  Y = n_1 / (n_1 + 2 n_2)::

      one discount per order  ("interpolated KN"):   D = Y                       (eq-kn-discount)
      modified KN (three discounts):  D(1) = 1 - 2Y n_2/n_1,  D(2) = 2 - 3Y n_3/n_2,  D(3+) = 3 - 4Y n_4/n_3

* A history never seen (or never followed by anything) gives λ = 1: the model backs off to
  p_{k-1} entirely.

Both :meth:`KneserNey.prob` (the formula as a recursion, one probability) and
:meth:`KneserNey.log_probs` (every position at once with numpy) compute the same numbers; the
tests check they agree.

Storage.  The k-grams seen in training are kept as a sorted int64 array of codes
``code = index(first k-1 tokens) * V + last token``, where index() is the position of the
(k-1)-gram in the sorted table of order k-1.  Codes stay below (training length) × V, so they never
overflow, and the k-grams sharing a history are one contiguous block — found with searchsorted.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from dlbook._checks import check_int, check_positive_int


def _as_ids(name: str, ids: object, vocab_size: int, min_len: int = 0) -> np.ndarray:
    """``ids`` as a 1-D int64 array of ids in [0, vocab_size), or an error naming ``name``."""
    arr = np.asarray(ids)
    if arr.dtype.kind not in "iu" and not (arr.size == 0 and arr.dtype.kind == "f"):
        raise TypeError(f"{name} must hold integer token ids, got dtype {arr.dtype}")
    if arr.ndim != 1:
        raise ValueError(f"{name} must be a 1-D sequence of token ids, got shape {arr.shape}")
    if arr.size < min_len:
        raise ValueError(f"{name} must hold at least {min_len} token ids, got {arr.size}")
    if arr.size and (arr.min() < 0 or arr.max() >= vocab_size):
        raise ValueError(f"{name} must hold ids in [0, {vocab_size}), got values in [{arr.min()}, {arr.max()}]")
    return arr.astype(np.int64, copy=False)


def _distinct(x: np.ndarray) -> np.ndarray:
    """The distinct values of ``x``, sorted.  (A sort and a neighbour comparison, because np.unique
    without return_inverse takes a hash-based path in numpy 2.4 that is slower than sorting on the
    million-element int64 code arrays counted here.)"""
    s = np.sort(x)
    return s[np.concatenate([[True], s[1:] != s[:-1]])] if len(s) else s


class NGramLM:
    """Shared interface: ``fit(ids)``, ``log_probs(ids)``, ``loss(ids)``, ``prob``, ``distribution``."""

    def __init__(self, order: int, vocab_size: int) -> None:
        self.order = check_positive_int("order", order)
        self.vocab_size = check_positive_int("vocab_size", vocab_size)
        self.fitted = False

    def fit(self, ids: Sequence[int] | np.ndarray) -> NGramLM:   # pragma: no cover - abstract
        raise NotImplementedError

    def log_probs(self, ids: Sequence[int] | np.ndarray) -> np.ndarray:   # pragma: no cover - abstract
        raise NotImplementedError

    def prob(self, context: Sequence[int] | np.ndarray, next_id: int) -> float:   # pragma: no cover
        raise NotImplementedError

    def distribution(self, context: Sequence[int] | np.ndarray) -> np.ndarray:   # pragma: no cover
        raise NotImplementedError

    def loss(self, ids: Sequence[int] | np.ndarray) -> float:
        """Mean -ln p(ids[i] | up to order-1 previous ids) over every position: nats per token.

        The first order-1 positions use the shorter history they have (position 0: none).
        """
        return float(-self.log_probs(ids).mean())

    def _check_fitted(self) -> None:
        if not self.fitted:
            raise RuntimeError(f"{type(self).__name__} is not fitted: call .fit(train_ids) first")

    def _context(self, context: Sequence[int] | np.ndarray) -> tuple[int, ...]:
        """The last order-1 ids of ``context`` (all of it if shorter), validated."""
        self._check_fitted()
        ctx = _as_ids("context", context, self.vocab_size)
        keep = self.order - 1
        return tuple(int(t) for t in ctx[max(len(ctx) - keep, 0):]) if keep else ()

    def _next_id(self, next_id: int) -> int:
        return check_int("next_id", next_id, 0, self.vocab_size - 1)


class AddKUnigram(NGramLM):
    """p(w) = (c(w) + k) / (T + k V): the context-free baseline.  Implements (eq-add-k-unigram).

    ``k=1`` is add-one (Laplace) smoothing, the unigram loss :mod:`dlbook.recipes.pretrain` prints.
    """

    def __init__(self, vocab_size: int, k: float = 1.0) -> None:
        super().__init__(1, vocab_size)
        if isinstance(k, bool) or not isinstance(k, (int, float, np.floating, np.integer)) or not k > 0:
            raise ValueError(f"k must be a number > 0 (so unseen ids keep p > 0), got {k!r}")
        self.k = float(k)

    def fit(self, ids: Sequence[int] | np.ndarray) -> AddKUnigram:
        """Count the training ids (T,)."""
        ids = _as_ids("ids", ids, self.vocab_size, min_len=1)
        counts = np.bincount(ids, minlength=self.vocab_size).astype(np.float64)
        self.p = (counts + self.k) / (len(ids) + self.k * self.vocab_size)
        self.fitted = True
        return self

    def log_probs(self, ids: Sequence[int] | np.ndarray) -> np.ndarray:
        """ln p(ids[i]) for every position: (T,)."""
        self._check_fitted()
        return np.log(self.p[_as_ids("ids", ids, self.vocab_size, min_len=1)])

    def prob(self, context: Sequence[int] | np.ndarray, next_id: int) -> float:
        """p(next_id); the context is validated and ignored."""
        self._context(context)
        return float(self.p[self._next_id(next_id)])

    def distribution(self, context: Sequence[int] | np.ndarray) -> np.ndarray:
        """p(w) for every id: (V,)."""
        self._context(context)
        return self.p.copy()


class KneserNey(NGramLM):
    """Interpolated Kneser–Ney n-gram model.  Implements (eq-kneser-ney) and (eq-kn-discount).

    ``modified=True`` (default) uses Chen & Goodman's three discounts per order (D(1), D(2), D(3+));
    ``modified=False`` one discount per order, D = n_1 / (n_1 + 2 n_2).  ``order=2`` is the
    Kneser–Ney bigram (interpolated with the continuation unigram, which is interpolated with 1/V).

    Example::

        lm = KneserNey(order=5, vocab_size=V).fit(train_ids)
        lm.loss(val_ids)                 # nats per token
        lm.distribution(context)         # (V,), sums to 1
    """

    def __init__(self, order: int = 5, vocab_size: int = 0, modified: bool = True) -> None:
        super().__init__(order, vocab_size)
        if not isinstance(modified, bool):
            raise TypeError(f"modified must be a bool, got {type(modified).__name__}")
        self.modified = modified

    # ---- fitting ------------------------------------------------------------------
    def fit(self, ids: Sequence[int] | np.ndarray) -> KneserNey:
        """Count every k-gram (k = 1..order) of the training ids (T,) and derive discounts and λ(h)."""
        ids = _as_ids("ids", ids, self.vocab_size, min_len=self.order)
        V, n = self.vocab_size, self.order
        # left neighbour of the k-gram starting at position j; V stands for "start of text"
        left = np.concatenate([[V], ids[:-1]])
        self.codes: list[np.ndarray] = [np.zeros(1, np.int64)]   # order 0: the empty history, index 0
        self.counts: list[np.ndarray] = [np.zeros(1)]
        self.discounts: list[np.ndarray] = [np.zeros(3)]
        self.context_total: list[np.ndarray] = [np.zeros(1)]
        self.backoff: list[np.ndarray] = [np.zeros(1)]
        index = np.zeros(len(ids), np.int64)   # index of the (k-1)-gram starting at each position
        for k in range(1, n + 1):
            starts = len(ids) - k + 1          # k-grams ids[j:j+k] for j < starts
            codes = index[:starts] * V + ids[k - 1:]
            uniq, index = np.unique(codes, return_inverse=True)
            if k == n:                         # highest order: raw counts c(h w)
                a = np.bincount(index, minlength=len(uniq)).astype(np.float64)
            else:                              # lower orders: N1+(• h w), distinct left neighbours
                pairs = _distinct(index * (V + 1) + left[:starts])
                a = np.bincount(pairs // (V + 1), minlength=len(uniq)).astype(np.float64)
            D = self._estimate_discounts(a)
            history = uniq // V                # index of each k-gram's history in the order k-1 table
            n_hist = len(self.codes[k - 1])
            total = np.bincount(history, weights=a, minlength=n_hist)
            # λ(h) a(h•) = Σ_r D(r) N_r(h•): the mass the discounts took away from h's k-grams
            taken = np.bincount(history, weights=D[np.minimum(a, 3).astype(np.int64) - 1], minlength=n_hist)
            lam = np.divide(taken, total, out=np.ones(n_hist), where=total > 0)   # unseen h: λ = 1
            self.codes.append(uniq)
            self.counts.append(a)
            self.discounts.append(D)
            self.context_total.append(total)
            self.backoff.append(lam)
        self.fitted = True
        return self

    def _estimate_discounts(self, a: np.ndarray) -> np.ndarray:
        """[D(1), D(2), D(3+)] from the count-of-counts of ``a``.  Implements (eq-kn-discount).

        Tiny corpora can lack some n_r: then Y falls back to 0.5 and a missing D(r) to Y;
        each D(r) is clipped into [0, r] so no discounted count goes negative.
        """
        n1, n2, n3, n4 = (float(np.count_nonzero(a == r)) for r in (1, 2, 3, 4))
        Y = n1 / (n1 + 2 * n2) if n1 > 0 else 0.5
        if not self.modified:
            return np.full(3, Y)
        D = [r - (r + 1) * Y * nxt / nr if nr > 0 else Y for r, nr, nxt in ((1, n1, n2), (2, n2, n3), (3, n3, n4))]
        return np.clip(np.asarray(D), 0.0, [1.0, 2.0, 3.0])

    # ---- the formula, one probability at a time ---------------------------------------
    def _find(self, k: int, code: int) -> int:
        """Position of ``code`` in the order-k table, or -1 if that k-gram was never seen."""
        table = self.codes[k]
        i = int(np.searchsorted(table, code))
        return i if i < len(table) and table[i] == code else -1

    def _index(self, gram: tuple[int, ...]) -> int:
        """Index of ``gram`` in its order's table (the empty gram: 0), or -1 if unseen."""
        idx = 0
        for k, tok in enumerate(gram, start=1):
            idx = self._find(k, idx * self.vocab_size + tok)
            if idx < 0:
                return -1
        return idx

    def _p(self, history: tuple[int, ...], w: int) -> float:
        """p_k(w | history) with k = len(history) + 1, by (eq-kneser-ney), recursively."""
        lower = self._p(history[1:], w) if history else 1.0 / self.vocab_size
        k = len(history) + 1
        h = self._index(history)
        if h < 0 or self.context_total[k][h] == 0:
            return lower                                  # history unseen: λ = 1
        g = self._find(k, h * self.vocab_size + w)
        a = self.counts[k][g] if g >= 0 else 0.0
        discounted = max(a - self.discounts[k][min(int(a), 3) - 1], 0.0) if a > 0 else 0.0
        return discounted / self.context_total[k][h] + self.backoff[k][h] * lower

    def prob(self, context: Sequence[int] | np.ndarray, next_id: int) -> float:
        """p(next_id | the last order-1 ids of context), by the recursion of (eq-kneser-ney)."""
        return self._p(self._context(context), self._next_id(next_id))

    def distribution(self, context: Sequence[int] | np.ndarray) -> np.ndarray:
        """p(w | context) for every id w: (V,), sums to 1.  The same recursion, vectorised over w."""
        history = self._context(context)
        V = self.vocab_size
        p = np.full(V, 1.0 / V)
        for k in range(1, len(history) + 2):
            h = self._index(history[len(history) - k + 1:])
            if h < 0 or self.context_total[k][h] == 0:
                continue
            # the k-grams with history h are the contiguous codes h*V .. h*V + V-1
            lo, hi = np.searchsorted(self.codes[k], [h * V, (h + 1) * V])
            words = self.codes[k][lo:hi] - h * V
            a = self.counts[k][lo:hi]
            p = self.backoff[k][h] * p
            p[words] += (a - self.discounts[k][np.minimum(a, 3).astype(np.int64) - 1]) / self.context_total[k][h]
        return p

    # ---- every position at once -----------------------------------------------------
    def log_probs(self, ids: Sequence[int] | np.ndarray) -> np.ndarray:
        """ln p(ids[i] | ids[i-order+1 : i]) for every position i: (T,).

        The recursion of (eq-kneser-ney) run order by order over all positions: at order k,
        position i looks up its history (the (k-1)-gram ending at i-1, found at order k-1) and
        its k-gram; positions with fewer than k-1 previous ids, or an unseen history, keep p_{k-1}.
        """
        self._check_fitted()
        ids = _as_ids("ids", ids, self.vocab_size, min_len=1)
        V = self.vocab_size
        p = np.full(len(ids), 1.0 / V)
        history = np.zeros(len(ids), np.int64)            # order 1: every position has the empty history
        for k in range(1, self.order + 1):
            seen = history >= 0
            code = np.where(seen, history, 0) * V + ids
            table = self.codes[k]
            pos = np.minimum(np.searchsorted(table, code), len(table) - 1)
            found = seen & (table[pos] == code)
            a = np.where(found, self.counts[k][pos], 0.0)
            h = np.where(seen, history, 0)
            total = self.context_total[k][h]
            use = seen & (total > 0)
            D = self.discounts[k][np.clip(a, 1, 3).astype(np.int64) - 1]
            mixed = np.maximum(a - D, 0.0) / np.where(use, total, 1.0) + self.backoff[k][h] * p
            p = np.where(use, mixed, p)
            # the k-gram ending at i is the history of order k+1 at position i+1
            history = np.concatenate([[-1], np.where(found, pos, -1)[:-1]])
        return np.log(p)
