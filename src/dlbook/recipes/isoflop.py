"""The IsoFLOP study of §8 (Hoffmann et al. 2022, approach 2): at each compute budget, several model sizes.

``python -m dlbook.recipes.isoflop --out PATH [--shard i/n]``

At each budget C of :data:`BUDGETS` the GPT of :mod:`dlbook.models.gpt` is trained at each size of the budget's
row, on People's Daily (:func:`dlbook.recipes.news_lm.load_news_data`, the vocabulary of Part IV), for as many
tokens D as make C = 6·N·D, where N is the parameters a token passes through in a matrix product plus the
attention products (:func:`dlbook.costs.training_flops`).  Sizes follow one rule (:func:`shape`): level k has
k layers of width 16·k with k heads of size 16, so depth and width grow together.  Every run's warm-up and
cosine end exactly at its own token budget — a schedule planned for more steps than the run takes leaves the
learning rate high at the end and makes small-data runs look worse than they are (the error that set
Kaplan et al.'s exponents apart from Chinchilla's).  The loss is measured once, at the end, on the whole
validation text.  :mod:`dlbook.scaling` fits the parabolas and laws.

Each finished run is stored at once (:mod:`dlbook.recipes.results_file`), so the sweep resumes after an
interruption by skipping the runs already in ``PATH``; ``--shard 0/2`` and ``--shard 1/2`` share it between
two processes, one core each.  The shipped ``src/dlbook/assets/isoflop.json`` was made with the two commands
below: 3.2 hours of runs in 84 minutes of wall time on a 2-core AVX2 machine that other work shared (one run of
shard 1, ``2.5e+13|5``, was trained by a third process with :func:`train_run` and
:func:`dlbook.recipes.results_file.store_run` when a core fell idle)::

    OPENBLAS_NUM_THREADS=1 python -m dlbook.recipes.isoflop --out src/dlbook/assets/isoflop.json --shard 0/2 &
    OPENBLAS_NUM_THREADS=1 python -m dlbook.recipes.isoflop --out src/dlbook/assets/isoflop.json --shard 1/2
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from dlbook.costs import training_flops
from dlbook.data.text import random_windows
from dlbook.models.gpt import GPT, GPTConfig
from dlbook.optim import AdamW
from dlbook.recipes.news_lm import evaluate, load_news_data
from dlbook.recipes.results_file import balanced_shard, done_keys, store_run
from dlbook.train import lr_schedule, train_loop

#: Compute budgets (FLOPs) → the size levels trained at each; each row brackets the budget's best size.
BUDGETS: dict[float, tuple[int, ...]] = {2.5e12: (1, 2, 3, 4, 5), 8e12: (1, 2, 3, 4, 5), 2.5e13: (2, 3, 4, 5, 6)}
#: The training recipe of every run: only the number of steps differs, set by the budget and the size.
RECIPE: dict[str, Any] = dict(width_per_level=16, context=128, batch_size=16, lr=2e-3, min_lr=2e-4, warmup=200,
                              weight_decay=0.1, clip=1.0, dropout=0.0, min_freq=5, vocab="news+reviews", seed=0)


class Run(NamedTuple):
    """One run of the study: a compute budget (FLOPs) and a size level."""

    budget: float
    level: int


def run_key(run: Run) -> str:
    """The results file's key of ``run``: ``"1.26e+13|3"``."""
    return f"{run.budget:.3g}|{run.level}"


def shape(level: int, vocab_size: int, context: int = RECIPE["context"],
          width_per_level: int = RECIPE["width_per_level"]) -> GPTConfig:
    """The GPT of size ``level``: ``level`` layers of width w·level with ``level`` heads of size w (w =
    ``width_per_level``), MLP 4·width."""
    if isinstance(level, bool) or not isinstance(level, int) or level < 1:
        raise ValueError(f"level must be a positive int, got {level!r}")
    d = width_per_level * level
    return GPTConfig(vocab_size=vocab_size, context=context, d_model=d, num_layers=level, nhead=level,
                     dim_feedforward=4 * d)


def plan(budgets: dict[float, tuple[int, ...]] = BUDGETS) -> list[Run]:
    """Every run of the study, smallest budget first (so the first results come soonest)."""
    return [Run(float(c), int(k)) for c in sorted(budgets) for k in budgets[c]]


def steps_for(run: Run, config: GPTConfig, recipe: dict[str, Any] = RECIPE) -> int:
    """The number of steps that spends ``run.budget`` FLOPs: D = C / (6·N) tokens in batches of B·T."""
    per_step = training_flops(config, recipe["batch_size"] * recipe["context"])
    return max(1, round(run.budget / per_step))


def train_run(run: Run, recipe: dict[str, Any] = RECIPE, progress: bool = False,
              val_windows: int | None = None) -> dict[str, Any]:
    """Train one (budget, size) run from the recipe's seed; returns its record (config, tokens, FLOPs, epochs,
    final validation loss in nats per character, wall and CPU time, the training curve).  The loss is over the
    whole validation text, or its first ``val_windows`` context-long windows (a quick test)."""
    r = {**RECIPE, **recipe}
    data = load_news_data(r["min_freq"], r["vocab"])
    config = shape(run.level, data.tokenizer.vocab_size, r["context"], r["width_per_level"])
    steps = steps_for(run, config, r)
    model = GPT(config, rng=np.random.default_rng([r["seed"], run.level]))
    opt = AdamW(model.parameters(), lr=r["lr"], weight_decay=r["weight_decay"])
    sched = lr_schedule(opt, steps, r["warmup"], r["min_lr"])
    rng = np.random.default_rng([r["seed"], run.level, 1])
    t0, cpu0, losses = time.perf_counter(), time.process_time(), []

    def record(n: int, loss: float) -> None:
        losses.append(loss)
        if progress and n % 500 == 0:
            print(f"  {run_key(run)} step {n}/{steps}: loss {np.mean(losses[-100:]):.3f}", flush=True)

    model.train()
    train_loop(lambda n: model.loss(*random_windows(data.train, r["batch_size"], r["context"], rng)), opt,
               steps=steps, scheduler=sched, clip=r["clip"], after_step=record, progress=False,
               name=f"IsoFLOP run {run_key(run)}")
    model.eval()
    val = evaluate(model, data.val, max_windows=val_windows)
    tokens = steps * r["batch_size"] * r["context"]
    every = max(1, steps // 50)
    curve = [[n, float(np.mean(losses[max(0, n - every):n]))] for n in range(every, steps + 1, every)]
    return dict(budget=run.budget, level=run.level, config=config.to_dict(), params=model.num_parameters(),
                flops_per_token=training_flops(config, 1), steps=steps, tokens=tokens,
                flops=training_flops(config, tokens), epochs=tokens / len(data.train), val_loss=val,
                final_train_loss=float(np.mean(losses[-every:])), train_curve=curve,
                seconds=time.perf_counter() - t0, cpu_seconds=time.process_time() - cpu0)


def header(recipe: dict[str, Any] = RECIPE) -> dict[str, Any]:
    """What every run of one results file shares: the recipe, the data sizes and the unigram baseline."""
    r = {**RECIPE, **recipe}
    data = load_news_data(r["min_freq"], r["vocab"])
    return dict(format=1, recipe=r, vocab_size=data.tokenizer.vocab_size, train_tokens=len(data.train),
                val_tokens=len(data.val), unigram_val_loss=float(data.unigram_val_loss))


def run_study(out: str | Path, budgets: dict[float, tuple[int, ...]] = BUDGETS,
              recipe: dict[str, Any] | None = None, shard_of: tuple[int, int] = (0, 1),
              progress: bool = True, val_windows: int | None = None) -> None:
    """Train every run of this shard not yet in ``out``, storing each as it finishes (``val_windows``: see
    :func:`train_run`)."""
    out, r = Path(out), {**RECIPE, **(recipe or {})}
    unknown = set(r) - set(RECIPE)
    if unknown:
        raise ValueError(f"unknown recipe setting(s) {sorted(unknown)}; the recipe has {sorted(RECIPE)}")
    head = header(r)
    runs = balanced_shard(plan(budgets), *shard_of, cost=lambda x: x.budget, key=run_key)
    done = done_keys(out, head)
    todo = [x for x in runs if run_key(x) not in done]
    if progress:
        print(f"{len(runs)} runs in this shard, {len(runs) - len(todo)} already in {out}", flush=True)
    for run in todo:
        row = train_run(run, r, progress, val_windows)
        store_run(out, head, run_key(run), row)
        if progress:
            print(f"{run_key(run):<12} N={row['flops_per_token'] / 6:,.0f} D={row['tokens']:,} "
                  f"({row['epochs']:.2f} epochs) val {row['val_loss']:.4f}  {row['seconds']:.0f} s", flush=True)


def _shard(text: str) -> tuple[int, int]:
    try:
        i, n = (int(x) for x in text.split("/"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"--shard must be i/n, got {text!r}") from None
    return i, n


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description="The IsoFLOP study: several GPT sizes at each compute budget.")
    p.add_argument("--out", type=Path, required=True,
                   help="the results file (required: a shipped file is never a default); resumed if it exists")
    p.add_argument("--shard", type=_shard, default=(0, 1), help="i/n: run the i-th of n balanced parts")
    args = p.parse_args(argv)
    run_study(args.out, shard_of=args.shard)


if __name__ == "__main__":
    main()
