"""Train the date translator of §3.5 and save it: ``python -m dlbook.recipes.translator --out PATH``.

Deterministic from ``--seed`` (one BLAS thread gives bit-identical runs).  ``--out`` is required, so a
run never overwrites the shipped checkpoint by accident.  The checkpoint's ``extra`` arrays hold the
loss curve, the held-out exact-match accuracy and the training time.

The shipped checkpoint ``src/dlbook/assets/date_translator.npz``, which chapter 3.5 loads, was made with::

    OPENBLAS_NUM_THREADS=1 python -m dlbook.recipes.translator --preset shipped --seed 0 \\
        --out src/dlbook/assets/date_translator.npz
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from dlbook.data.dates import MAX_SRC_LEN, MAX_TGT_LEN, DatePairs, DateTask, Vocab, load_dates, pad_batch
from dlbook.models.seq2seq import Seq2SeqConfig, Seq2SeqTransformer
from dlbook.optim import Adam
from dlbook.train import lr_schedule, train_loop

ASSET = Path(__file__).resolve().parent.parent / "assets" / "date_translator.npz"

PRESETS: dict[str, dict[str, Any]] = {
    # what chapter 3.5 runs live
    "quick": dict(d_model=32, nhead=4, layers=1, dim_feedforward=64, steps=300, batch_size=64, lr=3e-3),
    # the shipped checkpoint
    "shipped": dict(d_model=64, nhead=4, layers=2, dim_feedforward=128, steps=2500, batch_size=64, lr=2e-3),
}


def exact_match(model: Seq2SeqTransformer, pairs: DatePairs, batch_size: int = 512) -> tuple[float, list[str]]:
    """(fraction of rows whose greedy output equals the target text, the outputs as text)."""
    vocab = Vocab()
    outputs: list[str] = []
    for i in range(0, len(pairs), batch_size):
        ids = model.greedy_decode(pairs.src[i:i + batch_size], max_len=pairs.tgt.shape[1] - 1)
        outputs += [vocab.decode(row) for row in ids]
    correct = sum(o == t for o, t in zip(outputs, pairs.tgt_text))
    return correct / len(pairs), outputs


def train_date_translator(task: DateTask, *, d_model: int, nhead: int, layers: int, dim_feedforward: int,
                          steps: int, batch_size: int, lr: float, seed: int = 0,
                          progress: bool = True) -> tuple[Seq2SeqTransformer, dict[str, np.ndarray]]:
    """Train on every direction of the training dates; returns (model, {"loss": per-step loss, "seconds"}).

    Each step draws ``batch_size`` pairs at random (from ``seed``); Adam with a
    warm-up and cosine decay of the learning rate, gradients clipped at norm 1 (:func:`dlbook.train.train_loop`).
    """
    rng = np.random.default_rng(seed)
    config = Seq2SeqConfig(task.vocab.vocab_size, d_model=d_model, nhead=nhead, num_encoder_layers=layers,
                           num_decoder_layers=layers, dim_feedforward=dim_feedforward)
    model = Seq2SeqTransformer(config, rng=rng)
    data = task.pairs(task.train_dates)
    opt = Adam(model.parameters(), lr=lr)
    sched = lr_schedule(opt, steps, max(1, steps // 20), min_lr=lr / 20)
    losses = np.zeros(steps)

    def batch_loss(n: int) -> Any:
        idx = rng.integers(0, len(data), batch_size)
        loss = model.loss(data.src[idx], data.tgt[idx])
        losses[n - 1] = float(loss.data)
        return loss

    model.train()
    run = train_loop(batch_loss, opt, steps=steps, scheduler=sched, clip=1.0, progress=progress)
    return model, {"loss": losses, "seconds": np.array(run.seconds)}


def translate_dates(model: Seq2SeqTransformer, texts: Sequence[str], targets: Sequence[str],
                    beam_size: int = 1) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Translate date texts into the forms ``targets`` ("iso", "zh" or "num").

    Returns (translations, source ids (N, S), output ids (N, T)).  Greedy with
    ``beam_size=1``, else beam search.  Raises ValueError for text outside the
    vocabulary or longer than the model accepts.
    """
    if isinstance(texts, str) or isinstance(targets, str):
        raise TypeError("texts and targets must be sequences of strings, not a single string")
    if len(texts) != len(targets) or not len(texts):
        raise ValueError(f"texts and targets must be non-empty and equally long, got {len(texts)} and {len(targets)}")
    vocab = Vocab()
    longest = max(len(t) for t in texts) + 1
    if longest > MAX_SRC_LEN:
        raise ValueError(f"text must be at most {MAX_SRC_LEN - 1} characters, got {longest - 1}")
    src = pad_batch([vocab.encode(t, tag=g) for t, g in zip(texts, targets)], vocab.pad_id)
    if beam_size == 1:
        out = model.greedy_decode(src, max_len=MAX_TGT_LEN - 1)
    else:
        found = model.beam_search(src, beam_size=beam_size, max_len=MAX_TGT_LEN - 1)
        out = pad_batch([ids for ids, _ in found], vocab.pad_id)
    return [vocab.decode(row) for row in out], src, out


def load_date_translator(path: str | Path = ASSET) -> Seq2SeqTransformer:
    """The shipped date translator (made by ``python -m dlbook.recipes.translator``)."""
    return Seq2SeqTransformer.load(path)[0]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", choices=sorted(PRESETS), default="shipped")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, required=True,
                        help="where to write the checkpoint (required: a shipped file is never a default)")
    args = parser.parse_args(argv)
    task = load_dates(seed=args.seed)
    model, extra = train_date_translator(task, **PRESETS[args.preset], seed=args.seed)
    acc, _ = exact_match(model, task.pairs(task.test_dates))
    extra["test_exact_match"] = np.array(acc)
    print(f"trained in {float(extra['seconds']):.1f} s; held-out exact match {acc:.4f}")
    out = args.out
    model.to_dtype(np.float32).save(out, extra)  # float32 halves the file; loading casts back
    print(f"saved {out}")


if __name__ == "__main__":
    main()
