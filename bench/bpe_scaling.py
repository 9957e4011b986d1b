"""BPE encoding time against the length of one unpunctuated run: ``python -m bench.bpe_scaling``.

Printed, never asserted (timings are not tests).  Before issue 14 the encoder rescanned the whole
run for every merge: 2k / 8k / 32k CJK characters took 0.6 / 6.8 / 35.7 s.  A near-linear encoder
shows the time growing about 4× for each 4× longer run.
"""

from __future__ import annotations

import time

import numpy as np

from dlbook.data.bpe import SPECIALS, BPETokenizer


def main() -> None:
    from dlbook.data.chinese import load_news

    news = load_news()
    tok = BPETokenizer.fit(news.train[:200_000], vocab_size=3000, min_freq=5)
    alphabet = [c for c in tok.itos[len(SPECIALS):] if len(c) == 1 and "\u4e00" <= c <= "\u9fff"]
    rng = np.random.default_rng(0)
    # a run of common characters in news order: real text, without the punctuation that cuts pieces
    text = "".join(c for c in news.train[:200_000] if c in set(alphabet))
    previous = None
    for n in (2_000, 8_000, 32_000, 128_000):
        run = text[:n] if len(text) >= n else "".join(rng.choice(alphabet, n))
        tok._cache.clear()
        start = time.perf_counter()
        ids = tok.encode(run)
        seconds = time.perf_counter() - start
        ratio = f"  ({seconds / previous:.1f}x the previous)" if previous else ""
        print(f"{n:>7,} characters -> {len(ids):>7,} tokens: {seconds:.3f} s{ratio}")
        previous = seconds


if __name__ == "__main__":
    main()
