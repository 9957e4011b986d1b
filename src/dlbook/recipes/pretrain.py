"""Pretrain (预训练) a small GPT on People's Daily: ``python -m dlbook.recipes.pretrain --preset small --out PATH``.

One training step (:func:`train_step`) is the loop of §3.2 with the three
habits of large-model training: AdamW, gradient clipping and a learning rate
that warms up linearly and then decays along a cosine (eq-warmup-cosine);
:func:`pretrain` runs it through the package's one loop, :func:`dlbook.train.train_loop`.

Checkpoints (``.npz`` via :mod:`dlbook.checkpoint`) hold the parameters, the
model config and the tokenizer (JSON, in the checkpoint's config), the history
of losses, and — unless ``--weights-only`` — the optimiser's moments, the step
and the state of the random generator that draws batches, so ``--resume``
continues exactly where the run stopped: a resumed run ends bit for bit where
an uninterrupted one does (one BLAS thread; the dropout generator's state is saved too).
The same seed gives the same checkpoint.

The shipped checkpoints were made with::

    # Part IV's model (BASE_ASSET) in two stages on one core each of an AVX2 machine.  Stage 1: 5,600 steps,
    # 11.5 M characters, 6,383 s (1.77 h); stage 2 starts from stage 1's shipped weights (STAGE1_ASSET) with a
    # fresh optimiser and schedule: 6,000 steps, 12.3 M characters, 4,483 s (1.25 h) with another run beside it
    OPENBLAS_NUM_THREADS=1 python -m dlbook.recipes.pretrain --preset base --seed 0 --out runs/gpt_base.npz
    python -m dlbook.recipes.pretrain --preset base --export-from runs/gpt_base.npz \
        --out src/dlbook/assets/gpt_news_base.npz
    OPENBLAS_NUM_THREADS=1 python -m dlbook.recipes.pretrain --preset base2 --seed 1 --out runs/gpt_base2.npz
    python -m dlbook.recipes.pretrain --preset base2 --export-from runs/gpt_base2.best.npz \
        --out src/dlbook/assets/gpt_news_base2.npz

    # domain-adaptive pretraining (REVIEWS_ASSET, 5.3): the base model continued on the training reviews' text,
    # 1,500 steps, 3.1 M characters (three passes over 1.0 M), 1,706 s on one core with another run beside it
    OPENBLAS_NUM_THREADS=1 python -m dlbook.recipes.pretrain --preset reviews --seed 0 --out runs/gpt_reviews.npz
    python -m dlbook.recipes.pretrain --preset reviews --export-from runs/gpt_reviews.best.npz \
        --out src/dlbook/assets/gpt_news_reviews.npz
    python -m dlbook.recipes.pretrain --preset reviews --export-from runs/gpt_reviews.npz \
        --out src/dlbook/assets/gpt_news_reviews.json

    # the same second stage with dropout 0.1, whose curves 5.2 compares (4,803 s)
    OPENBLAS_NUM_THREADS=1 python -m dlbook.recipes.pretrain --preset base2 --seed 1 --set dropout=0.1 \
        --out runs/gpt_base2_dropout.npz
    python -m dlbook.recipes.pretrain --preset base2 --export-from runs/gpt_base2_dropout.npz \
        --out src/dlbook/assets/gpt_news_base2_dropout.json

    # the first, small model (ASSET), which 5.3's live run fine-tunes
    OPENBLAS_NUM_THREADS=1 python -m dlbook.recipes.pretrain --preset small --seed 0 --weights-only \
        --out src/dlbook/assets/gpt_news_small.npz
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from dlbook._checks import check_int
from dlbook._cli import parse_settings
from dlbook._signals import StopRequest as _StopRequest
from dlbook.checkpoint import load_checkpoint
from dlbook.data.text import random_windows
from dlbook.data_parallel import DataParallel
from dlbook.models.gpt import GPT, GPTConfig, load_gpt_state, save_gpt
from dlbook.optim import AdamW, WarmupCosine
from dlbook.recipes.export import export_history, export_weights
from dlbook.recipes.news_lm import NewsData, evaluate, load_corpus, load_news_data, token_losses
from dlbook.train import lr_schedule, train_loop, update

# the data and the scores live in news_lm, the exports in export; chapters and tests import them from here too
__all__ = ["ASSET", "BASE_ASSET", "PRESETS", "REVIEWS_ASSET", "STAGE1_ASSET", "NewsData", "PretrainHistory",
           "best_path", "evaluate", "export_history", "export_weights", "init_path", "load_corpus", "load_news_data",
           "pretrain", "token_losses", "train_step"]

#: The package folder, which ``assets/`` and a preset's relative ``init`` path are read from.
PACKAGE = Path(__file__).parent.parent
ASSET = PACKAGE / "assets" / "gpt_news_small.npz"
#: The Part IV checkpoint: the ``base`` model after its second stage (``base2``), exported by :func:`export_weights`.
BASE_ASSET = PACKAGE / "assets" / "gpt_news_base2.npz"
#: The same model after its first stage (``base``): where the second stage starts.
STAGE1_ASSET = PACKAGE / "assets" / "gpt_news_base.npz"
#: The base model after domain-adaptive pretraining on the training reviews (preset ``reviews``), which 5.3
#: fine-tunes beside BASE_ASSET.
REVIEWS_ASSET = PACKAGE / "assets" / "gpt_news_reviews.npz"

#: Training presets: the model shape (a name in ``dlbook.models.gpt.PRESETS``) and the run.
PRESETS: dict[str, dict[str, Any]] = {
    # tests and the chapter's live run: seconds to a minute
    "tiny": dict(model="tiny", steps=300, batch_size=16, lr=3e-3, warmup=30, min_lr=3e-4, weight_decay=0.01,
                 clip=1.0, eval_every=100, eval_windows=64, min_freq=5, dropout=0.0, vocab="news+reviews",
                 save_every=100, init=None),
    # the first shipped checkpoint: a few minutes of one CPU core
    "small": dict(model="small", steps=800, batch_size=32, lr=2e-3, warmup=80, min_lr=1e-4, weight_decay=0.01,
                  clip=1.0, eval_every=100, eval_windows=128, min_freq=5, dropout=0.0, vocab="news",
                  save_every=100, init=None),
    # the long runs of Part IV (about two hours of one core each): several passes over the news text, so
    # dropout and weight decay keep the model from memorising it; the vocabulary also covers the
    # training reviews that 5.3 fine-tunes on
    "base": dict(model="base", steps=5600, batch_size=16, lr=2e-3, warmup=200, min_lr=2e-4, weight_decay=0.1,
                 clip=1.0, eval_every=500, eval_windows=None, min_freq=5, dropout=0.1, vocab="news+reviews",
                 save_every=100, init=None),
    # a second stage for the base model: start from its first stage's shipped weights (``init``) with a fresh
    # optimiser and a new warm-up and cosine, a warm restart, because the first stage ended still improving;
    # without dropout, which a run with dropout 0.1 showed only slowed the second stage (5.2 plots both)
    "base2": dict(model="base", steps=6000, batch_size=16, lr=1e-3, warmup=150, min_lr=1e-4, weight_decay=0.1,
                  clip=1.0, eval_every=500, eval_windows=None, min_freq=5, dropout=0.0, vocab="news+reviews",
                  save_every=100, init="assets/gpt_news_base.npz"),
    # domain-adaptive pretraining (领域自适应预训练) of the base model on the training reviews' text, labels
    # unread: the news model has never seen a review, which is what 5.3 fine-tunes it to classify
    "reviews": dict(model="base", steps=1500, batch_size=16, lr=5e-4, warmup=100, min_lr=5e-5, weight_decay=0.1,
                    clip=1.0, eval_every=250, eval_windows=None, min_freq=5, dropout=0.0, vocab="news+reviews",
                    save_every=100, init="assets/gpt_news_base2.npz", corpus="reviews"),
    "wide": dict(model="wide", steps=4000, batch_size=16, lr=1.5e-3, warmup=200, min_lr=1.5e-4, weight_decay=0.1,
                 clip=1.0, eval_every=500, eval_windows=None, min_freq=5, dropout=0.1, vocab="news+reviews",
                 save_every=100, init=None),
}

@dataclass
class PretrainHistory:
    """Training loss every step, validation loss every ``eval_every`` steps, and the wall-clock time."""

    step: list[int] = field(default_factory=list)
    loss: list[float] = field(default_factory=list)
    val_step: list[int] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    seconds: float = 0.0

    def arrays(self) -> dict[str, np.ndarray]:
        return {"hist_step": np.asarray(self.step, dtype=np.int64), "hist_loss": np.asarray(self.loss),
                "hist_val_step": np.asarray(self.val_step, dtype=np.int64),
                "hist_val_loss": np.asarray(self.val_loss), "hist_seconds": np.asarray(self.seconds)}

    @classmethod
    def from_arrays(cls, extra: dict[str, np.ndarray]) -> PretrainHistory:
        return cls([int(s) for s in extra["hist_step"]], [float(v) for v in extra["hist_loss"]],
                   [int(s) for s in extra["hist_val_step"]], [float(v) for v in extra["hist_val_loss"]],
                   float(extra["hist_seconds"]))


def train_step(model: GPT, optimizer: AdamW, scheduler: WarmupCosine, x: np.ndarray, y: np.ndarray,
               clip: float | None) -> float:
    """One step on windows x -> y (N, L): forward, loss, backward, then :func:`dlbook.train.update` — what
    :func:`dlbook.train.train_loop` does at every step of :func:`pretrain`."""
    loss = model.loss(x, y)                      # forward pass and the error
    optimizer.zero_grad()
    loss.backward()                              # backward pass
    update(optimizer, scheduler, clip or None)   # clip, AdamW update, learning rate of the next step
    return float(loss.data)


def _settings(preset: str, overrides: dict[str, Any]) -> dict[str, Any]:
    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; choose one of {sorted(PRESETS)}")
    unknown = set(overrides) - set(PRESETS[preset])
    if unknown:
        raise ValueError(f"unknown setting(s) {sorted(unknown)}; a preset has {sorted(PRESETS[preset])}")
    return {**PRESETS[preset], **{k: v for k, v in overrides.items() if v is not None}}


def _dropout_rng(model: GPT) -> np.random.Generator | None:
    """The generator every Dropout layer of ``model`` draws its masks from (they share the model's rng)."""
    from dlbook.nn.dropout import Dropout

    rngs = {id(m.rng): m.rng for _, m in model.named_modules() if isinstance(m, Dropout)}
    if len(rngs) > 1:
        raise RuntimeError("the model's Dropout layers draw from several generators; resume cannot restore them")
    return next(iter(rngs.values()), None)


def _save(path: Path, model: GPT, data: NewsData, opt: AdamW, settings: dict[str, Any], seed: int, step: int,
          history: PretrainHistory, batch_rng: np.random.Generator, weights_only: bool) -> None:
    extra = history.arrays()
    info: dict[str, Any] = {"settings": settings, "seed": seed, "step": step,
                            "unigram_val_loss": data.unigram_val_loss}
    if not weights_only:
        extra.update({f"opt_{k}": v for k, v in opt.state_dict().items()})
        info["batch_rng"] = batch_rng.bit_generator.state
        drop = _dropout_rng(model)
        if drop is not None:
            info["dropout_rng"] = drop.bit_generator.state
    save_gpt(path, model, data.tokenizer, extra, info)


def init_path(init: str) -> Path:
    """The file a preset's ``init`` names: a path relative to the package (``assets/…``) or an absolute one."""
    path = Path(init)
    return path if path.is_absolute() else PACKAGE / path


def _init_from(model: GPT, data: NewsData, init: str) -> None:
    """Start ``model`` from the weights saved at ``init`` (same shape, same tokenizer), e.g. a first stage."""
    from dlbook.models.gpt import load_gpt

    path = init_path(init)
    if not path.exists():
        raise ValueError(f"init: no checkpoint at {path}")
    first, tokenizer, _, _ = load_gpt(path)
    if tokenizer.to_json() != data.tokenizer.to_json():
        raise ValueError(f"init: {path} was trained with another tokenizer than this preset's")
    load_gpt_state(model, {k: v.astype(np.float32) for k, v in first.state_dict().items()}, source=str(path))


def _window_loss(model: GPT, x: np.ndarray, y: np.ndarray) -> Any:
    """The mean next-character loss of one worker's windows (what :class:`DataParallel` splits)."""
    return model.loss(x, y)


def best_path(out: str | Path) -> Path:
    """Where a run saved at ``out`` keeps its best-validation weights: ``name.best.npz`` beside it."""
    out = Path(out)
    return out.with_name(out.name.removesuffix(".npz") + ".best.npz")


def pretrain(preset: str = "tiny", seed: int = 0, out: str | Path | None = None, resume: bool = False,
             stop_after: int | None = None, weights_only: bool = False, progress: bool = True,
             workers: int = 1, **overrides: Any) -> tuple[GPT, PretrainHistory]:
    """Pretrain the GPT of ``preset`` from ``seed``; returns (model, history).

    ``overrides`` change a preset's settings (e.g. ``steps=50``).  With ``out``
    the run is saved there every ``save_every`` steps and at the end (atomically:
    an interrupted save keeps the previous file), and the weights with the best
    validation loss so far are kept in :func:`best_path` ``(out)``; with ``resume``
    it first loads ``out`` and continues from its step.  ``stop_after`` stops
    (and saves) after that many steps in all, as if the run had been
    interrupted — the schedule still follows ``steps``.  SIGTERM or Ctrl-C
    saves at the end of the current step and returns.  A non-finite loss stops
    the run with an error naming the step and the learning rate.

    ``workers`` > 1 splits each batch across that many threads (:class:`dlbook.data_parallel.DataParallel`;
    run with one BLAS thread): the same gradients up to rounding, so a run is reproducible bit for bit at a
    given number of workers, not across numbers.  It is not a setting, as the model learns the same thing.
    """
    workers = check_int("workers", workers, minimum=1)
    s = _settings(preset, overrides)
    data = load_corpus(s["min_freq"], s["vocab"], s.get("corpus", "news"))
    config = GPTConfig.preset(s["model"], data.tokenizer.vocab_size, dropout=s["dropout"])
    model = GPT(config, rng=np.random.default_rng(seed))
    opt = AdamW(model.parameters(), lr=s["lr"], weight_decay=s["weight_decay"])
    sched = lr_schedule(opt, s["steps"], s["warmup"], s["min_lr"])
    batch_rng = np.random.default_rng([seed, 1])
    history, step = PretrainHistory(), 0
    out = Path(out) if out is not None else None
    if s["init"] is not None and not resume:
        _init_from(model, data, s["init"])

    if resume:
        if out is None or not out.exists():
            raise ValueError(f"resume needs an existing checkpoint at out, got {out}")
        state, ck, extra = load_checkpoint(out)
        if "batch_rng" not in ck:
            raise ValueError(f"{out} holds weights only (saved with weights_only) and cannot be resumed")
        # from_dict reads the config under its old field names too: runs saved before the renaming resume
        if GPTConfig.from_dict(ck["model"]) != config or ck["settings"] != json.loads(json.dumps(s)):
            raise ValueError(f"{out} was made with another config: {ck['model']} / {ck['settings']}, "
                             f"but this run has {config.to_dict()} / {s}")
        load_gpt_state(model, state, source=str(out))
        opt.load_state_dict({k[len("opt_"):]: v for k, v in extra.items() if k.startswith("opt_")})
        step = int(ck["step"])
        sched.load_state_dict({"last_step": step})   # the schedule is a function of the step alone
        batch_rng.bit_generator.state = ck["batch_rng"]
        drop = _dropout_rng(model)
        if drop is not None and "dropout_rng" in ck:
            drop.bit_generator.state = ck["dropout_rng"]
        history = PretrainHistory.from_arrays(extra)

    end = s["steps"] if stop_after is None else min(s["steps"], stop_after)
    start = time.perf_counter() - history.seconds
    best = min(history.val_loss, default=float("inf"))

    def batch_loss(n: int) -> Any:
        loss = model.loss(*random_windows(data.train, s["batch_size"], config.context, batch_rng))
        history.step.append(n)               # recorded before step n's evaluation, which saves the history
        history.loss.append(float(loss.data))
        return loss

    def split_gradients(n: int) -> float:
        loss = parallel.backward(_window_loss, *random_windows(data.train, s["batch_size"], config.context,
                                                                batch_rng))
        history.step.append(n)
        history.loss.append(loss)
        return loss

    def save(path: Path, n: int, without_optimiser: bool) -> None:
        history.seconds = time.perf_counter() - start
        _save(path, model, data, opt, s, seed, n, history, batch_rng, without_optimiser)

    def validate(n: int) -> None:
        nonlocal best
        history.val_step.append(n)
        history.val_loss.append(evaluate(model, data.val, s["eval_windows"]))
        if out is not None and history.val_loss[-1] < best:
            best = history.val_loss[-1]
            save(best_path(out), n, True)

    with _StopRequest() as stop:
        def after_step(n: int, loss: float) -> bool:
            if out is not None and n % s["save_every"] == 0 and n < end:
                save(out, n, weights_only)
            return stop.signal is not None

        model.train()
        with DataParallel(model, workers) as parallel:
            parallel.train()
            run = train_loop(batch_loss if workers == 1 else None, opt, steps=s["steps"], scheduler=sched,
                             clip=s["clip"], start=step, end=end, eval_every=s["eval_every"], evaluate=validate,
                             after_step=after_step, progress=progress, desc=f"pretraining ({preset})",
                             name="pretraining", step_gradients=split_gradients if workers > 1 else None)
    history.seconds = time.perf_counter() - start
    if out is not None:
        save(out, run.step, weights_only)
    return model, history


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="small", help=f"one of {sorted(PRESETS)}")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, required=True,
                        help="where to write the checkpoint (never a shipped file by default)")
    parser.add_argument("--steps", type=int, default=None, help="override the preset's number of steps")
    parser.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE",
                        help="override any other preset setting (value read as JSON), e.g. dropout=0.0")
    parser.add_argument("--resume", action="store_true", help="continue the run saved at --out")
    parser.add_argument("--workers", type=int, default=1,
                        help="split each batch across this many threads (one BLAS thread each): 2 uses both cores")
    parser.add_argument("--stop-after", type=int, default=None, help="stop after this many steps (to resume later)")
    parser.add_argument("--weights-only", action="store_true", help="leave the optimiser state out (smaller file)")
    parser.add_argument("--export-from", type=Path, default=None,
                        help="instead of training, write the float16 weights of this finished run to --out, "
                             "or only its settings and loss curves when --out ends in .json")
    args = parser.parse_args(argv)
    if args.export_from is not None and args.out.suffix == ".json":
        export_history(args.export_from, args.out)
        print(f"{args.out}: settings and loss curves of {args.export_from}")
        return
    if args.export_from is not None:
        export_weights(args.export_from, args.out)
        print(f"{args.out}: float16 weights of {args.export_from}")
        return
    model, history = pretrain(args.preset, args.seed, args.out, args.resume, args.stop_after, args.weights_only,
                              workers=args.workers, **{**parse_settings(args.set), "steps": args.steps})
    p = PRESETS[args.preset]
    data = load_corpus(p["min_freq"], p["vocab"], p.get("corpus", "news"))
    last = history.val_loss[-1] if history.val_loss else float("nan")
    print(f"{args.out}: step {history.step[-1] if history.step else 0}, validation loss {last:.4f} nats/char "
          f"(unigram {data.unigram_val_loss:.4f}), {history.seconds:.1f} s")


if __name__ == "__main__":
    main()
