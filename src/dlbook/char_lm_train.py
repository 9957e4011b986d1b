"""Train the character language model of §3.4 and save it: ``python -m dlbook.char_lm_train --preset shipped``.

Deterministic from ``--seed`` (one BLAS thread gives bit-identical runs).  The
``shipped`` preset makes ``src/dlbook/assets/char_lstm.npz``, which chapter 3.4
loads to show samples and the validation loss; the checkpoint's ``extra``
arrays hold the loss curves and the final validation loss on the whole
validation text.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np

from dlbook.data.text import load_python_help, unigram_loss
from dlbook.models.char_lm import CharLM, evaluate_lm, train_char_lm

ASSET = Path(__file__).parent / "assets" / "char_lstm.npz"

PRESETS: dict[str, dict[str, Any]] = {
    # what chapter 3.4 runs live (about ten seconds on one core)
    "quick": dict(cell="lstm", embedding_dim=32, hidden_size=128, num_layers=1, steps=600, batch_size=32,
                  seq_len=64, lr=3e-3, eval_every=100),
    # the shipped checkpoint (under four minutes on one core)
    "shipped": dict(cell="lstm", embedding_dim=48, hidden_size=256, num_layers=1, steps=3000, batch_size=32,
                    seq_len=100, lr=3e-3, eval_every=250),
}


def train_preset(preset: str, seed: int = 0, progress: bool = True) -> tuple[CharLM, dict[str, np.ndarray]]:
    """Build and train the model of ``preset`` from ``seed``; returns (model, extra arrays for the checkpoint)."""
    if preset not in PRESETS:
        raise ValueError(f"preset must be one of {sorted(PRESETS)}, got {preset!r}")
    p = PRESETS[preset]
    corpus = load_python_help()
    rng = np.random.default_rng(seed)
    model = CharLM(corpus.tokenizer, p["embedding_dim"], p["hidden_size"], p["num_layers"], p["cell"], rng=rng)
    history = train_char_lm(model, corpus.train, corpus.val, steps=p["steps"], batch_size=p["batch_size"],
                            seq_len=p["seq_len"], lr=p["lr"], eval_every=p["eval_every"], rng=rng, cosine=True,
                            progress=progress)
    val = evaluate_lm(model, corpus.val, seq_len=p["seq_len"])
    extra = {"step": np.array(history.step), "loss": np.array(history.loss), "val_loss": np.array(history.val_loss),
             "final_val_loss": np.array(val), "unigram_val_loss": np.array(unigram_loss(corpus.train, corpus.val,
                                                                                       corpus.vocab_size)),
             "train_seconds": np.array(history.seconds), "seed": np.array(seed)}
    return model, extra


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="shipped", choices=sorted(PRESETS))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=ASSET)
    args = parser.parse_args(argv)
    model, extra = train_preset(args.preset, args.seed)
    model.save(args.out, extra)
    print(f"{args.out}: validation loss {float(extra['final_val_loss']):.4f} nats/char "
          f"(unigram {float(extra['unigram_val_loss']):.4f}), trained in {float(extra['train_seconds']):.1f} s")


if __name__ == "__main__":
    main()
