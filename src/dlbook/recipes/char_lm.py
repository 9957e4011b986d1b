"""Train the character language model of §3.4: ``python -m dlbook.recipes.char_lm --preset quick --out PATH``.

:func:`train_char_lm` trains a :class:`~dlbook.models.char_lm.CharLM` on random windows through the package's
one loop (:func:`dlbook.train.train_loop`); :func:`train_preset` is the recipe that made the shipped model.

Deterministic from ``--seed`` (one BLAS thread gives bit-identical runs).  ``--out`` is required, so a
run never overwrites the shipped checkpoint by accident.  The checkpoint's ``extra`` arrays hold the loss
curves, the number of steps done and (for a finished run) the final validation loss on the whole
validation text.  ``--save-every N`` also saves every N steps; SIGTERM or Ctrl-C saves at the end of the
current step and exits cleanly (status 0).  Saves are atomic: an interrupted save keeps the previous file.

The shipped checkpoint ``src/dlbook/assets/char_lstm.npz``, which chapter 3.4 loads to show samples and
the validation loss, was made with::

    OPENBLAS_NUM_THREADS=1 python -m dlbook.recipes.char_lm --preset shipped --seed 0 \\
        --out src/dlbook/assets/char_lstm.npz
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from dlbook import functional as F
from dlbook._checks import check_positive_int
from dlbook._signals import StopRequest
from dlbook.autograd import Tensor
from dlbook.data.text import load_python_help, random_windows, unigram_loss
from dlbook.models.char_lm import CharLM
from dlbook.optim.adam import Adam
from dlbook.train import evaluate_lm, lr_schedule, train_loop

ASSET = Path(__file__).parent.parent / "assets" / "char_lstm.npz"

PRESETS: dict[str, dict[str, Any]] = {
    # what chapter 3.4 runs live (about ten seconds on one core)
    "quick": dict(cell="lstm", embedding_dim=32, hidden_size=128, num_layers=1, steps=600, batch_size=32,
                  seq_len=64, lr=3e-3, eval_every=100),
    # the shipped checkpoint (under four minutes on one core)
    "shipped": dict(cell="lstm", embedding_dim=48, hidden_size=256, num_layers=1, steps=3000, batch_size=32,
                    seq_len=100, lr=3e-3, eval_every=250),
}


@dataclass
class LMHistory:
    """Training record: at each evaluation ``step``, the mean training loss since the last one and the val loss."""

    step: list[int] = field(default_factory=list)
    loss: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    seconds: float = 0.0
    tokens: int = 0


def train_char_lm(model: CharLM, train: np.ndarray, val: np.ndarray, *, steps: int, batch_size: int,
                  seq_len: int, rng: np.random.Generator, lr: float = 3e-3, max_grad_norm: float = 1.0,
                  eval_every: int = 50, val_windows: int = 32, cosine: bool = False,
                  progress: bool = True, after_step: Callable[[int, LMHistory], bool] | None = None) -> LMHistory:
    """Train with Adam on random windows of ``train`` (T,); every ``eval_every`` steps record the val loss.

    Each step: a batch of random (N, T) windows (``random_windows``), forward,
    cross-entropy over all N·T positions, backpropagation through time,
    gradient clipping to ``max_grad_norm`` (recurrent nets can produce
    exploding gradients, §4.4), Adam update.  The validation loss uses the first
    ``val_windows`` windows of ``val`` (sequence length ``seq_len``).  ``cosine``:
    decay the learning rate from ``lr`` to ``lr``/10 along a cosine (eq-warmup-cosine), 5 % warmup.
    ``after_step(step, history)`` is called after every step; if it returns True training stops there
    (:func:`train_preset` saves every N steps and stops on SIGTERM this way).
    """
    steps = check_positive_int("steps", steps)
    eval_every = check_positive_int("eval_every", eval_every)
    optimizer = Adam(model.parameters(), lr=lr)
    scheduler = lr_schedule(optimizer, steps, steps // 20, min_lr=lr / 10) if cosine else None
    history = LMHistory()
    running = {"loss": 0.0, "count": 0}
    start = time.perf_counter()

    def batch_loss(n: int) -> Tensor:
        x, y = random_windows(train, batch_size, seq_len, rng)
        loss = F.cross_entropy(model(x), y)
        running["loss"] += float(loss.data)
        running["count"] += 1
        return loss

    def validate(n: int) -> None:
        history.step.append(n)
        history.loss.append(running["loss"] / running["count"])
        history.val_loss.append(evaluate_lm(model, val, seq_len, max_windows=val_windows))
        running.update(loss=0.0, count=0)

    def record(n: int, loss: float) -> bool:
        history.seconds = time.perf_counter() - start
        history.tokens = n * batch_size * seq_len
        return after_step is not None and bool(after_step(n, history))

    train_loop(batch_loss, optimizer, steps=steps, scheduler=scheduler, clip=max_grad_norm, eval_every=eval_every,
               evaluate=validate, after_step=record, progress=progress)
    history.seconds = time.perf_counter() - start
    return history


def train_preset(preset: str, seed: int = 0, progress: bool = True, *, out: str | Path | None = None,
                 save_every: int | None = None, steps: int | None = None) -> tuple[CharLM, dict[str, np.ndarray]]:
    """Build and train the model of ``preset`` from ``seed``; returns (model, extra arrays for the checkpoint).

    With ``out`` the model is saved there every ``save_every`` steps (if given) and at the end; SIGTERM or
    Ctrl-C stops training after the current step and saves what there is (``extra["steps_done"]`` then
    falls short of the preset's steps and there is no ``final_val_loss``).  ``steps`` overrides the preset's.
    """
    if preset not in PRESETS:
        raise ValueError(f"preset must be one of {sorted(PRESETS)}, got {preset!r}")
    if save_every is not None:
        save_every = check_positive_int("save_every", save_every)
    p = {**PRESETS[preset], **({} if steps is None else {"steps": check_positive_int("steps", steps)})}
    corpus = load_python_help()
    rng = np.random.default_rng(seed)
    model = CharLM(corpus.tokenizer, p["embedding_dim"], p["hidden_size"], p["num_layers"], p["cell"], rng=rng)
    unigram = unigram_loss(corpus.train, corpus.val, corpus.vocab_size)

    def extra_of(history: LMHistory, steps_done: int) -> dict[str, np.ndarray]:
        return {"step": np.array(history.step), "loss": np.array(history.loss),
                "val_loss": np.array(history.val_loss), "unigram_val_loss": np.array(unigram),
                "train_seconds": np.array(history.seconds), "seed": np.array(seed),
                "steps_done": np.array(steps_done)}

    with StopRequest() as stop:
        def after_step(step: int, history: LMHistory) -> bool:
            if out is not None and save_every is not None and step % save_every == 0 and step < p["steps"]:
                model.save(out, extra_of(history, step))
            return stop.signal is not None

        history = train_char_lm(model, corpus.train, corpus.val, steps=p["steps"], batch_size=p["batch_size"],
                                seq_len=p["seq_len"], lr=p["lr"], eval_every=p["eval_every"], rng=rng, cosine=True,
                                progress=progress, after_step=after_step)
    steps_done = history.tokens // (p["batch_size"] * p["seq_len"])
    extra = extra_of(history, steps_done)
    if steps_done == p["steps"]:            # a stopped run saves at once: no pass over the whole validation text
        extra["final_val_loss"] = np.array(evaluate_lm(model, corpus.val, seq_len=p["seq_len"]))
    if out is not None:
        model.save(out, extra)
    return model, extra


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="shipped", choices=sorted(PRESETS))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, required=True,
                        help="where to write the checkpoint (required: a shipped file is never a default)")
    parser.add_argument("--save-every", type=int, default=None, help="also save every N steps")
    parser.add_argument("--steps", type=int, default=None, help="override the preset's number of steps")
    args = parser.parse_args(argv)
    _, extra = train_preset(args.preset, args.seed, out=args.out, save_every=args.save_every, steps=args.steps)
    if "final_val_loss" in extra:
        print(f"{args.out}: validation loss {float(extra['final_val_loss']):.4f} nats/char "
              f"(unigram {float(extra['unigram_val_loss']):.4f}), trained in {float(extra['train_seconds']):.1f} s")
    else:
        print(f"{args.out}: stopped and saved after step {int(extra['steps_done'])}")


if __name__ == "__main__":
    main()
