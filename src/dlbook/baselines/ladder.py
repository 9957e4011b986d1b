"""The n-gram baseline ladder on the news text: unigram, bigram, Kneser–Ney 3-, 4- and 5-gram.

Every model is fitted on ``load_news_data(...).train`` ids and scored (nats per character) on
``.val`` and ``.test``, for both tokenizer vocabularies (``"news+reviews"``, the one the Part IV
GPT uses, and ``"news"``) and both Kneser–Ney discount schemes (one discount per order, and
modified KN's three).  The *best n-gram* is the one with the lowest **validation** loss; its test
loss is the number a language model of the book is read against.

Remake the shipped table (a few minutes on a laptop CPU; the file stores every fit and score time
and the total, so the cost is read from the run, not from here)::

    OPENBLAS_NUM_THREADS=1 python -m dlbook.baselines.ladder --out src/dlbook/assets/baselines.json

``--out`` is required, so a trial run never overwrites the shipped file by accident.
"""

from __future__ import annotations

import argparse
import json
import time
from importlib import resources
from pathlib import Path
from typing import IO, Any

from dlbook._io import atomic_write
from dlbook.baselines.ngram import AddKUnigram, KneserNey, NGramLM

VOCABS = ("news+reviews", "news")
ORDERS = (2, 3, 4, 5)
COMMAND = "OPENBLAS_NUM_THREADS=1 python -m dlbook.baselines.ladder --out src/dlbook/assets/baselines.json"


def _models(vocab_size: int, orders: tuple[int, ...]) -> dict[str, NGramLM]:
    """The rungs, by name: 'unigram', then 'kn{n}' (one discount) and 'mkn{n}' (modified KN) per order."""
    models: dict[str, NGramLM] = {"unigram": AddKUnigram(vocab_size, k=1.0)}
    for modified, prefix in ((False, "kn"), (True, "mkn")):
        for n in orders:
            models[f"{prefix}{n}"] = KneserNey(n, vocab_size, modified=modified)
    return models


def ladder(vocab: str = "news+reviews", min_freq: int = 5, orders: tuple[int, ...] = ORDERS,
           verbose: bool = True) -> dict[str, Any]:
    """Fit and score every rung on one tokenization of the news.

    Returns ``{"vocab_size", "train_tokens", "models": {name: {"order", "discounts", "val", "test",
    "fit_seconds", "score_seconds"}}, "best": name}`` with losses in nats per character.
    """
    from dlbook.recipes.pretrain import load_news_data  # heavy (reads the corpus): only when a ladder is made

    if vocab not in VOCABS:
        raise ValueError(f"vocab must be one of {VOCABS}, got {vocab!r}")
    data = load_news_data(min_freq=min_freq, vocab=vocab)
    V = data.tokenizer.vocab_size
    rows: dict[str, dict[str, Any]] = {}
    for name, lm in _models(V, orders).items():
        t0 = time.perf_counter()
        lm.fit(data.train)
        t1 = time.perf_counter()
        val, test = lm.loss(data.val), lm.loss(data.test)
        t2 = time.perf_counter()
        scheme = "add-one" if isinstance(lm, AddKUnigram) else ("modified" if lm.modified else "one per order")
        rows[name] = {"order": lm.order, "discounts": scheme, "val": val, "test": test,
                      "fit_seconds": round(t1 - t0, 2), "score_seconds": round(t2 - t1, 2)}
        if verbose:
            print(f"{vocab:>13} {name:>7}: val {val:.4f}  test {test:.4f} nats/char  "
                  f"(fit {t1 - t0:.1f} s, score {t2 - t1:.1f} s)", flush=True)
    best = min((n for n in rows if n != "unigram"), key=lambda n: rows[n]["val"])
    return {"vocab_size": V, "min_freq": min_freq, "train_tokens": int(len(data.train)),
            "val_tokens": int(len(data.val)), "test_tokens": int(len(data.test)), "models": rows, "best": best}


def load_ladder(path: str | Path | None = None) -> dict[str, Any]:
    """The shipped ladder (``dlbook/assets/baselines.json``), or the one at ``path``."""
    if path is None:
        return json.loads(resources.files("dlbook").joinpath("assets/baselines.json").read_text(encoding="utf-8"))
    return json.loads(Path(path).read_text(encoding="utf-8"))


def main(argv: list[str] | None = None) -> None:
    """``python -m dlbook.baselines.ladder --out PATH``: make the ladder for both vocabularies, write JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, help="JSON file to write (required: never a default path)")
    parser.add_argument("--min-freq", type=int, default=5)
    args = parser.parse_args(argv)
    out = Path(args.out)
    if not out.parent.is_dir():
        parser.error(f"--out: folder {str(out.parent)!r} does not exist")
    t0 = time.perf_counter()
    result: dict[str, Any] = {"command": COMMAND, "units": "nats per character",
                              "vocabs": {v: ladder(v, args.min_freq) for v in VOCABS}}
    result["seconds"] = round(time.perf_counter() - t0, 1)

    def write(f: IO[bytes]) -> None:
        f.write((json.dumps(result, indent=1) + "\n").encode("utf-8"))

    atomic_write(out, write)
    print(f"{out}: {result['seconds']} s")


if __name__ == "__main__":
    main()
