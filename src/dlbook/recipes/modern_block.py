"""The modern-block ablation (§5.5): ``python -m dlbook.recipes.modern_block --seed 0 --out PATH``.

Six small language models are trained on People's Daily (the characters of §5.1) with one recipe, the same
tokens and the same compute: the GPT of Part IV, a Llama-style model (pre-RMSNorm, RoPE, SwiGLU, grouped-query
attention, no biases), and the GPT with each of Llama's four changes alone.  All six are
:class:`~dlbook.models.llama.Llama` models with the config's ablation switches (``norm``, ``positions``,
``ffn``, ``n_kv_heads``, ``bias``); with the GPT's switches that class computes exactly the GPT of 5.2
(``tests/test_modern_block.py`` loads a GPT's weights into it), so every variant differs from the baseline in
the named change only.

Equal compute.  Training costs C ≈ 6·N·D FLOPs (:func:`dlbook.costs.training_flops`), N the parameters used
in a matrix product at every token (all but the position table, plus num_layers·context·d for the attention
products).  Every run sees the same D tokens (``steps`` × ``batch_size`` × ``context``), and every variant's
feed-forward width ``hidden`` is chosen so that its N is the GPT's as nearly as a whole width allows
(:func:`matched_hidden`): SwiGLU's three matrices get about 2/3 of the GELU layer's width, and what GQA saves
in key/value projections goes into the feed-forward.

Each run records its validation curve (the first ``eval_windows`` non-overlapping windows of the validation
text), its final test loss (:func:`~dlbook.recipes.news_lm.token_losses`, every character of the test text
scored with at least half a context before it — the same text and windows for every run), its parameters,
tokens, FLOPs and wall/CPU time.  It is stored in ``--out`` as soon as it finishes (atomically, under a lock,
as the fine-tuning sweep does), keyed ``variant/seed``; a restarted run skips what is there, and ``--shard i/n``
lets n processes share the runs.  The two main models (``gpt`` and ``llama``) are also trained from the seeds
``--repeat-seeds``, which measures the run-to-run noise the differences must be read against.

The shipped results (``src/dlbook/assets/modern_block.json``) were made on one BLAS thread per process of an AVX2
machine, two processes at a time (``--shard 0/2`` and ``--shard 1/2``), by::

    OPENBLAS_NUM_THREADS=1 python -m dlbook.recipes.modern_block --seed 0 --out runs/modern_block.json --shard 0/2 &
    OPENBLAS_NUM_THREADS=1 python -m dlbook.recipes.modern_block --seed 0 --out runs/modern_block.json --shard 1/2
    cp runs/modern_block.json src/dlbook/assets/modern_block.json

All eight planned runs, 237–280 s of CPU each (34 minutes of CPU in all).  They were made in two sittings (the
script resumed from the stored runs), with other work sharing the cores, 5 to 13 minutes of wall time per run.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from dlbook._cli import parse_settings
from dlbook.costs import training_flops
from dlbook.data.text import random_windows
from dlbook.models.llama import Llama, LlamaConfig
from dlbook.optim import AdamW
from dlbook.recipes.news_lm import NewsData, evaluate, load_news_data, token_losses
from dlbook.recipes.results_file import balanced_shard, done_keys, locked, read_runs, store_run
from dlbook.train import lr_schedule, train_loop

#: The shipped results.
ASSET = Path(__file__).parent.parent / "assets" / "modern_block.json"

#: The model shape every variant shares: the GPT "tiny" preset of Part IV (its feed-forward is 4·d_model wide).
SHAPE: dict[str, int] = dict(context=64, d_model=64, num_layers=2, nhead=4, gpt_hidden=256)

#: The GPT's switches; each variant changes some of them (``VARIANTS``).
GPT_SWITCHES: dict[str, Any] = dict(norm="layer", positions="learned", ffn="gelu", bias=True, n_kv_heads=None)

#: Variant name -> the switches it changes from the GPT (n_kv_heads None = nhead, multi-head attention).
VARIANTS: dict[str, dict[str, Any]] = {
    "gpt": {},
    "llama": dict(norm="rms", positions="rope", ffn="swiglu", bias=False, n_kv_heads=2),
    "rmsnorm": dict(norm="rms"),
    "rope": dict(positions="rope"),
    "swiglu": dict(ffn="swiglu"),
    "gqa": dict(n_kv_heads=2),
}
#: Variants trained from the repeat seeds too: the two whose difference is the chapter's headline.
MAIN = ("gpt", "llama")

#: The training recipe (``--set key=value`` changes one; a results file only holds runs of one recipe).
#: The optimiser settings are the ``tiny`` pretraining preset's; the length is ten times its 300 steps: 3,000
#: steps of 16 windows of 64 characters, 3.07 M characters (about 1.8 passes over the news text), four to five
#: minutes of one core per run.  The test loss is taken on the first 20,000 characters of the test text.  A first
#: run at 300 steps left every variant near 6.3 nats/char, too early in training for any difference to show.
RECIPE: dict[str, Any] = dict(steps=3000, batch_size=16, lr=3e-3, warmup=100, min_lr=3e-4, weight_decay=0.01,
                              clip=1.0, eval_every=250, eval_windows=16, min_freq=5, vocab="news", test_chars=20_000)


def variant_config(name: str, vocab_size: int, hidden: int | None = None, shape: dict[str, int] | None = None
                   ) -> LlamaConfig:
    """The config of variant ``name`` (a key of :data:`VARIANTS`); ``hidden`` None = :func:`matched_hidden`."""
    if name not in VARIANTS:
        raise ValueError(f"name must be one of {sorted(VARIANTS)}, got {name!r}")
    s = {**SHAPE, **(shape or {})}
    switches = {**GPT_SWITCHES, **VARIANTS[name]}
    if switches["n_kv_heads"] is None:
        switches["n_kv_heads"] = s["nhead"]
    if hidden is None:
        hidden = s["gpt_hidden"] if name == "gpt" else matched_hidden(name, vocab_size, s)
    return LlamaConfig(vocab_size=vocab_size, context=s["context"], d_model=s["d_model"],
                       num_layers=s["num_layers"], nhead=s["nhead"], hidden=hidden, **switches)


def compute_parameters(config: LlamaConfig) -> int:
    """N of (eq-training-flops) for a model of ``config``: its parameters but the position table (only looked
    up), plus num_layers·context·d_model for the products QKᵀ and AV, as :func:`dlbook.costs.training_flops`
    counts a GPT."""
    model = Llama(config, rng=np.random.default_rng(0))
    table = model.pos_emb.weight.size if model.pos_emb is not None else 0
    return model.num_parameters() - table + config.num_layers * config.context * config.d_model


def matched_hidden(name: str, vocab_size: int, shape: dict[str, int] | None = None) -> int:
    """The feed-forward width that gives variant ``name`` the GPT's N (:func:`compute_parameters`) most nearly.

    N grows linearly with the width, so two widths fix the line and the best whole width is read off it.
    """
    s = {**SHAPE, **(shape or {})}
    target = compute_parameters(variant_config("gpt", vocab_size, s["gpt_hidden"], s))
    n1, n2 = (compute_parameters(variant_config(name, vocab_size, h, s)) for h in (64, 128))
    per_unit = (n2 - n1) / 64
    return max(1, round(64 + (target - n1) / per_unit))


def run_key(variant: str, seed: int) -> str:
    return f"{variant}/seed{seed}"


def plan(seed: int, repeat_seeds: Sequence[int] = (1,)) -> list[tuple[str, int]]:
    """(variant, seed) of every run: each variant from ``seed``, then :data:`MAIN` from each repeat seed."""
    runs = [(v, seed) for v in VARIANTS]
    runs += [(v, s) for s in repeat_seeds if s != seed for v in MAIN]
    return runs


def train_variant(name: str, seed: int, data: NewsData, recipe: dict[str, Any] | None = None,
                  shape: dict[str, int] | None = None, progress: bool = False) -> dict[str, Any]:
    """Train variant ``name`` from ``seed`` with ``recipe`` on ``data``; returns the run's row of the results.

    The row holds the config, parameters, N, tokens, FLOPs, the training loss of every step, the validation
    curve, the final test loss (nats per character) and the wall and CPU seconds.
    """
    r = {**RECIPE, **(recipe or {})}
    config = variant_config(name, data.tokenizer.vocab_size, shape=shape)
    model = Llama(config, rng=np.random.default_rng([seed, 0]))
    opt = AdamW(model.parameters(), lr=r["lr"], weight_decay=r["weight_decay"])
    sched = lr_schedule(opt, r["steps"], r["warmup"], r["min_lr"])
    batch_rng = np.random.default_rng([seed, 1])
    losses: list[float] = []
    val_step: list[int] = []
    val_loss: list[float] = []

    def batch_loss(n: int) -> Any:
        loss = model.loss(*random_windows(data.train, r["batch_size"], config.context, batch_rng))
        losses.append(float(loss.data))
        return loss

    def validate(n: int) -> None:
        val_step.append(n)
        val_loss.append(evaluate(model, data.val, r["eval_windows"]))
        if not progress:
            print(f"  {run_key(name, seed)} step {n:>5}: validation {val_loss[-1]:.4f}", flush=True)

    t0, cpu0 = time.perf_counter(), time.process_time()
    model.train()
    train_loop(batch_loss, opt, steps=r["steps"], scheduler=sched, clip=r["clip"], eval_every=r["eval_every"],
               evaluate=validate, progress=progress, desc=run_key(name, seed), name=run_key(name, seed))
    train_seconds = time.perf_counter() - t0
    test = data.test if r["test_chars"] is None else data.test[:r["test_chars"]]
    test_loss = float(np.mean(token_losses(model, test)))
    n_compute = compute_parameters(config)
    tokens = r["steps"] * r["batch_size"] * config.context
    return dict(variant=name, seed=seed, config=config.to_dict(), parameters=model.num_parameters(),
                compute_parameters=n_compute, tokens=tokens, flops=training_flops(n_compute, tokens),
                loss=[round(v, 5) for v in losses], val_step=val_step, val_loss=val_loss, test_loss=test_loss,
                test_chars=len(test), train_seconds=train_seconds, seconds=time.perf_counter() - t0,
                cpu_seconds=time.process_time() - cpu0)


def shard(runs: list[tuple[str, int]], index: int, count: int) -> list[tuple[str, int]]:
    """The runs of shard ``index`` of ``count`` (every run costs about the same)."""
    return balanced_shard(runs, index, count, cost=lambda run: 1.0, key=lambda run: run_key(*run))


def header(recipe: dict[str, Any], shape: dict[str, int], seed: int, repeat_seeds: Sequence[int],
           vocab_size: int) -> dict[str, Any]:
    """What a results file must agree on before it takes another run."""
    return dict(format=1, recipe=recipe, shape=shape, variants=VARIANTS, seed=seed,
                repeat_seeds=list(repeat_seeds), vocab_size=vocab_size)


def run_ablation(out: str | Path, seed: int = 0, repeat_seeds: Sequence[int] = (1,),
                 recipe: dict[str, Any] | None = None, shape: dict[str, int] | None = None,
                 shard_of: tuple[int, int] = (0, 1), progress: bool = False) -> dict[str, Any]:
    """Train every planned run of this shard not yet in ``out``; returns the results file's contents."""
    r = {**RECIPE, **(recipe or {})}
    unknown = set(r) - set(RECIPE)
    if unknown:
        raise ValueError(f"unknown recipe setting(s) {sorted(unknown)}; the recipe has {sorted(RECIPE)}")
    s = {**SHAPE, **(shape or {})}
    out = Path(out)
    data = load_news_data(r["min_freq"], r["vocab"])
    head = header(r, s, seed, repeat_seeds, data.tokenizer.vocab_size)
    runs = shard(plan(seed, repeat_seeds), *shard_of)
    done = done_keys(out, head)
    todo = [run for run in runs if run_key(*run) not in done]
    print(f"{len(runs)} runs in this shard, {len(runs) - len(todo)} already in {out}, running {len(todo)}",
          flush=True)
    for name, run_seed in todo:
        row = train_variant(name, run_seed, data, r, s, progress)
        store_run(out, head, run_key(name, run_seed), row)
        print(f"{run_key(name, run_seed):<16} test {row['test_loss']:.4f} nats/char  {row['parameters']:,} params  "
              f"{row['flops']:.3g} FLOPs  {row['seconds']:.0f} s ({row['cpu_seconds']:.0f} s CPU)", flush=True)
    with locked(out):
        return read_runs(out, head)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0, help="the seed every variant is trained from")
    parser.add_argument("--repeat-seeds", type=int, nargs="*", default=[1],
                        help="more seeds for the GPT and the Llama (the run-to-run noise); none: no repeats")
    parser.add_argument("--out", type=Path, required=True,
                        help="results JSON (required: a shipped file is never a default); resumed if it exists")
    parser.add_argument("--shard", default="0/1", help="i/n: run the i-th of n shares of the runs")
    parser.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="change a recipe setting (JSON)")
    parser.add_argument("--shape", nargs="*", default=[], metavar="KEY=VALUE", help="change the model shape")
    parser.add_argument("--progress", action="store_true", help="a progress bar instead of a line per evaluation")
    args = parser.parse_args(argv)
    index, count = (int(v) for v in args.shard.split("/"))
    run_ablation(args.out, args.seed, args.repeat_seeds, parse_settings(args.set), parse_settings(args.shape),
                 (index, count), args.progress)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
