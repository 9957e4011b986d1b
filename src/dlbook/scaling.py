"""A miniature scaling study (§8): the book's GPT at several widths, trained alike, and a power-law fit.

``python -m dlbook.scaling --seed 0 --out PATH`` trains the GPT of :mod:`dlbook.models.gpt` on People's Daily
(:func:`dlbook.pretrain.load_news_data`) at each width in :data:`SIZES` — same depth, same data, same number
of steps, batch and learning-rate schedule — and writes the validation loss of each to ``PATH`` (a few
minutes of one CPU core in all; ``--out`` is required, so a run never overwrites the shipped study by
accident).  Each step is :func:`dlbook.pretrain.train_step`.  The shipped ``src/dlbook/assets/scaling.json``
was made with::

    OPENBLAS_NUM_THREADS=1 python -m dlbook.scaling --seed 0 --out src/dlbook/assets/scaling.json

:func:`fit_power_law` fits L(N) = a·N^(−α) + c to (parameters, loss) pairs, with N the non-embedding
parameters as in Kaplan et al. (2020).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from dlbook._io import atomic_write

ASSET = Path(__file__).parent / "assets" / "scaling.json"

#: Widths studied (depth 2, 2 heads, feed-forward 4·d, context 64).
SIZES: tuple[int, ...] = (8, 16, 32, 48, 64, 96)
SETTINGS: dict[str, Any] = dict(n_layers=2, n_heads=2, context=64, steps=600, batch_size=16, lr=3e-3, min_lr=3e-4,
                                warmup=30, weight_decay=0.01, clip=1.0, eval_windows=128, min_freq=5)


def non_embedding_parameters(config: Any) -> int:
    """N of Kaplan et al.: the parameters of the blocks and the final LayerNorm — not the token and position
    tables (nor the tied output layer, which is the token table)."""
    from dlbook.models.gpt import matmul_parameters

    return matmul_parameters(config) - config.vocab_size * config.d_model


def train_size(d_model: int, seed: int = 0, settings: dict[str, Any] | None = None,
               progress: bool = False) -> dict[str, Any]:
    """Train one width from ``seed``; returns its sizes, validation loss (nats per character) and time."""
    from dlbook.data.text import random_windows
    from dlbook.models.gpt import GPT, GPTConfig
    from dlbook.optim import AdamW, WarmupCosine
    from dlbook.pretrain import evaluate, load_news_data, train_step

    s = {**SETTINGS, **(settings or {})}
    data = load_news_data(s["min_freq"])
    config = GPTConfig(vocab_size=data.tokenizer.vocab_size, context=s["context"], d_model=d_model,
                       num_layers=s["n_layers"], nhead=s["n_heads"], dim_feedforward=4 * d_model)
    model = GPT(config, rng=np.random.default_rng(seed))
    opt = AdamW(model.parameters(), lr=s["lr"], weight_decay=s["weight_decay"])
    sched = WarmupCosine(opt, total_steps=s["steps"], warmup_steps=s["warmup"], min_lr=s["min_lr"])
    rng = np.random.default_rng([seed, 1])
    start, losses = time.perf_counter(), []
    for step in range(s["steps"]):
        x, y = random_windows(data.train, s["batch_size"], s["context"], rng)
        losses.append(train_step(model, opt, sched, x, y, s["clip"]))
        if progress and (step + 1) % 100 == 0:
            print(f"  d={d_model} step {step + 1}: loss {np.mean(losses[-100:]):.3f}", flush=True)
    val = evaluate(model, data.val, max_windows=s["eval_windows"])
    return {"d_model": d_model, "params": model.num_parameters(),
            "non_embedding_params": non_embedding_parameters(config), "val_loss": val,
            "final_train_loss": float(np.mean(losses[-50:])),
            "tokens": s["steps"] * s["batch_size"] * s["context"], "seconds": time.perf_counter() - start}


def run_study(seed: int = 0, sizes: tuple[int, ...] = SIZES, settings: dict[str, Any] | None = None,
              progress: bool = False) -> dict[str, Any]:
    """Every width in ``sizes`` from the same seed; the record :func:`main` writes as JSON."""
    from dlbook.pretrain import load_news_data

    s = {**SETTINGS, **(settings or {})}
    data = load_news_data(s["min_freq"])
    runs = []
    for d in sizes:
        runs.append(train_size(d, seed, s, progress))
        if progress:
            print(f"d={d}: N={runs[-1]['non_embedding_params']:,} val loss {runs[-1]['val_loss']:.4f}", flush=True)
    return {"seed": seed, "settings": s, "vocab_size": data.tokenizer.vocab_size,
            "unigram_val_loss": data.unigram_val_loss, "runs": runs}


def fit_power_law(n: Any, loss: Any, offset: bool = True, grid: int = 2000) -> tuple[float, float, float]:
    """(a, α, c) with L ≈ a·N^(−α) + c, least squares in log space.  Implements (eq-scaling-law).

    For each candidate c on a grid in [0, min L) the remaining law is a straight line in log–log
    coordinates, log(L − c) = log a − α log N, fitted exactly; the c with the smallest squared error in
    log(L) wins.  ``offset=False`` fixes c = 0 (a pure power law).
    """
    n, loss = np.asarray(n, dtype=float), np.asarray(loss, dtype=float)
    if n.shape != loss.shape or n.ndim != 1 or len(n) < 3:
        raise ValueError(f"n and loss must be 1-D of the same length >= 3, got shapes {n.shape} and {loss.shape}")
    if (n <= 0).any() or (loss <= 0).any():
        raise ValueError("n and loss must be positive")
    candidates = np.linspace(0.0, loss.min(), grid, endpoint=False) if offset else np.array([0.0])
    best: tuple[float, float, float, float] | None = None
    for c in candidates:
        slope, intercept = np.polyfit(np.log(n), np.log(loss - c), 1)
        err = float(np.sum((np.log(np.exp(intercept) * n ** slope + c) - np.log(loss)) ** 2))
        if best is None or err < best[0]:
            best = (err, float(np.exp(intercept)), float(-slope), float(c))
    assert best is not None
    return best[1], best[2], best[3]


def load_study(path: str | Path = ASSET) -> dict[str, Any]:
    """The shipped (or given) study record."""
    return json.loads(Path(path).read_text(encoding="utf-8"))


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
