"""The miniature scaling study (§8): ``python -m dlbook.recipes.scaling --seed 0 --out PATH``.

Trains the GPT of :mod:`dlbook.models.gpt` on People's Daily (:func:`dlbook.recipes.pretrain.load_news_data`)
at each width in :data:`SIZES` — same depth, same data, same number of steps, batch and learning-rate
schedule, each run through the package's one loop (:func:`dlbook.train.train_loop`) — and writes the
validation loss of each to ``PATH`` (a few minutes of one CPU core in all; ``--out`` is required, so a run
never overwrites the shipped study by accident).  :mod:`dlbook.scaling` fits the power law.  The shipped
``src/dlbook/assets/scaling.json`` was made with::

    OPENBLAS_NUM_THREADS=1 python -m dlbook.recipes.scaling --seed 0 --out src/dlbook/assets/scaling.json
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

import numpy as np

from dlbook._io import atomic_write
from dlbook.data.text import random_windows
from dlbook.models.gpt import GPT, GPTConfig
from dlbook.optim import AdamW
from dlbook.recipes.pretrain import evaluate, load_news_data
from dlbook.scaling import non_embedding_parameters
from dlbook.train import lr_schedule, train_loop

#: Widths studied (depth 2, 2 heads, feed-forward 4·d, context 64).
SIZES: tuple[int, ...] = (8, 16, 32, 48, 64, 96)
SETTINGS: dict[str, Any] = dict(n_layers=2, n_heads=2, context=64, steps=600, batch_size=16, lr=3e-3, min_lr=3e-4,
                                warmup=30, weight_decay=0.01, clip=1.0, eval_windows=128, min_freq=5)


def train_size(d_model: int, seed: int = 0, settings: dict[str, Any] | None = None,
               progress: bool = False) -> dict[str, Any]:
    """Train one width from ``seed``; returns its sizes, validation loss (nats per character) and time."""
    s = {**SETTINGS, **(settings or {})}
    data = load_news_data(s["min_freq"])
    config = GPTConfig(vocab_size=data.tokenizer.vocab_size, context=s["context"], d_model=d_model,
                       num_layers=s["n_layers"], nhead=s["n_heads"], dim_feedforward=4 * d_model)
    model = GPT(config, rng=np.random.default_rng(seed))
    opt = AdamW(model.parameters(), lr=s["lr"], weight_decay=s["weight_decay"])
    sched = lr_schedule(opt, s["steps"], s["warmup"], s["min_lr"])
    rng = np.random.default_rng([seed, 1])
    start, losses = time.perf_counter(), []

    def record(n: int, loss: float) -> None:
        losses.append(loss)
        if progress and n % 100 == 0:
            print(f"  d={d_model} step {n}: loss {np.mean(losses[-100:]):.3f}", flush=True)

    model.train()
    train_loop(lambda n: model.loss(*random_windows(data.train, s["batch_size"], s["context"], rng)), opt,
               steps=s["steps"], scheduler=sched, clip=s["clip"], after_step=record, progress=False,
               name=f"scaling (d={d_model})")
    val = evaluate(model, data.val, max_windows=s["eval_windows"])
    return {"d_model": d_model, "params": model.num_parameters(),
            "non_embedding_params": non_embedding_parameters(config), "val_loss": val,
            "final_train_loss": float(np.mean(losses[-50:])),
            "tokens": s["steps"] * s["batch_size"] * s["context"], "seconds": time.perf_counter() - start}


def run_study(seed: int = 0, sizes: tuple[int, ...] = SIZES, settings: dict[str, Any] | None = None,
              progress: bool = False) -> dict[str, Any]:
    """Every width in ``sizes`` from the same seed; the record :func:`main` writes as JSON."""
    s = {**SETTINGS, **(settings or {})}
    data = load_news_data(s["min_freq"])
    runs = []
    for d in sizes:
        runs.append(train_size(d, seed, s, progress))
        if progress:
            print(f"d={d}: N={runs[-1]['non_embedding_params']:,} val loss {runs[-1]['val_loss']:.4f}", flush=True)
    return {"seed": seed, "settings": s, "vocab_size": data.tokenizer.vocab_size,
            "unigram_val_loss": data.unigram_val_loss, "runs": runs}


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description="Train the book's GPT at several widths and record the val losses.")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", required=True,
                   help="where to write the study (required: a shipped file is never a default)")
    p.add_argument("--steps", type=int, default=SETTINGS["steps"])
    args = p.parse_args(argv)
    study = run_study(args.seed, settings={"steps": args.steps}, progress=True)
    data = (json.dumps(study, indent=1) + "\n").encode("utf-8")
    atomic_write(args.out, lambda f: f.write(data))     # a kill mid-write keeps the previous study
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
