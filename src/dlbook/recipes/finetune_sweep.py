"""Fine-tuning as label-efficiency curves (§5.3): ``python -m dlbook.recipes.finetune_sweep --checkpoint CK --out OUT``.

For each label budget (100, 300, 1,000, 3,000 and all training reviews) and
each seed, review sentiment is learned by TF-IDF + logistic regression, a GPT
trained from scratch, a linear probe on the frozen pretrained GPT, LoRA
(rank 8, and ranks 1–64 at 1,000 labels) and full fine-tuning.  Every run

- sees the labelled subset drawn for its seed (the first k of a seeded
  permutation of the training split, so the subsets are nested and every
  method — TF-IDF too — sees the same k reviews for a given seed);
- trains until validation accuracy has not improved for ``patience``
  evaluations (or ``max_steps``), keeps the weights of the best evaluation and
  is scored with them on the fixed test split (1,741 reviews);
- is stored in ``--out`` as soon as it finishes (atomically, under a lock, so
  ``--shard i/n`` processes can share one file), keyed by (method, labels,
  seed, rank): a restarted sweep skips what is already there, and an
  interruption loses at most the run in progress.

The shipped results are made from the pretrained checkpoint, on two cores, by::

    OPENBLAS_NUM_THREADS=1 python -m dlbook.recipes.finetune_sweep --checkpoint CK --shard 0/2 \\
        --out src/dlbook/assets/finetune_sweep.json &
    OPENBLAS_NUM_THREADS=1 python -m dlbook.recipes.finetune_sweep --checkpoint CK --shard 1/2 \\
        --out src/dlbook/assets/finetune_sweep.json

``--set windows=2`` makes every GPT run read a review's first 2 × context tokens, in two windows of the
context; ``--set dropout=0.1`` fine-tunes with dropout, ``--set lm_weight=0.5`` keeps the language-model loss
beside the classifier's (:data:`LATER_SETTINGS`; 5.3's pilots).  :mod:`dlbook.recipes.sweep_results` loads
and summarises them.  ``SETTINGS`` and :func:`review_arrays` are also the quick one-pass recipe of 5.3's live
run and of chapter 6.
"""

from __future__ import annotations

import argparse
import hashlib
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from dlbook import functional as F
from dlbook import nn
from dlbook._checks import check_nonnegative, check_positive_int
from dlbook._cli import parse_settings
from dlbook.autograd import Tensor, no_grad
from dlbook.data.chinese import load_reviews
from dlbook.finetune.classifier import (
    build_classifier,
    classifier_accuracy,
    encode_texts,
    pooled_features,
    train_until_converged,
)
from dlbook.finetune.freeze import trainable_parameters
from dlbook.finetune.lora import LoRALinear
from dlbook.recipes.results_file import balanced_shard, done_keys, locked, read_runs, store_run
from dlbook.recipes.sweep_results import (
    BUDGETS,
    LORA_RANK,
    METHODS,
    RANK_SWEEP,
    RANK_SWEEP_AT,
    SEEDS,
    Run,
    plan,
    run_key,
)

#: The quick one-pass recipe (5.3's live run, chapter 6): the first ``n_train`` training reviews, ``n_val`` for
#: the curves, one epoch.
SETTINGS: dict[str, Any] = dict(n_train=2000, n_val=300, epochs=1, batch_size=32, eval_every=8, alpha=8.0,
                                lr_full=1e-3, lr_head=3e-3, lr_lora=3e-3)

#: The sweep's recipe (``--set key=value`` changes one; a results file only ever holds runs of one recipe).
#: ``n_val`` validation reviews pick the best evaluation; ``n_test`` None = the whole test split.  A GPT run
#: evaluates every 25 steps and stops 4 evaluations (100 steps) after its best, or at 400 steps (about one
#: epoch of 13,928 reviews at batch 32): a pilot at 1,000 labels stopped too early with a patience of 2 (the
#: validation accuracy of 300 reviews is noisy at that scale, so n_val is 500).  What a step and an evaluation
#: cost on this machine: ``make bench TOPICS=finetune``.
RECIPE: dict[str, Any] = dict(
    batch_size=32, n_val=500, n_test=None, alpha=16.0, weight_decay=0.01, clip=1.0, warmup=20,
    lr_scratch=1e-3, lr_frozen=3e-3, lr_lora=3e-3, lr_full=5e-4,
    eval_every=25, patience=4, max_steps=400,                # GPT runs: scratch, lora, full
    probe_eval_every=25, probe_patience=8, probe_max_steps=4000,   # the linear probe on cached features
)
#: Settings added to the recipe after the shipped sweeps were made, with the value those sweeps used.  A results
#: file names one only when it differs from that value, so the shipped files (and ``--reuse`` of them) stay
#: valid.  ``windows``: every GPT run (scratch, frozen, LoRA, full) reads a review's first ``windows`` × context
#: tokens, in windows of the context (:func:`dlbook.finetune.classifier.window_features`); TF-IDF reads it whole.
#: ``dropout``: the GPT's dropout while fine-tuning (None: the checkpoint's own).  ``lm_weight`` λ: GPT runs
#: minimise L_cls + λ·L_lm, the next-token loss on the same labelled texts kept as an auxiliary objective
#: (:meth:`dlbook.finetune.classifier.GPTClassifier.forward_with_lm_loss`).
LATER_SETTINGS: dict[str, Any] = dict(windows=1, dropout=None, lm_weight=0.0)


def header_recipe(r: dict[str, Any]) -> dict[str, Any]:
    """The recipe as a results file records it: :data:`LATER_SETTINGS` at their default values left out."""
    return {k: v for k, v in r.items() if k not in LATER_SETTINGS or v != LATER_SETTINGS[k]}


def review_arrays(tokenizer: Any, context: int, n_train: int | None = None, n_val: int | None = None
                  ) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """{"train", "val", "test"}: (ids, lengths, labels) of the review splits, cut to the model's context."""
    r = load_reviews()
    parts = {"train": (r.train_text[:n_train], r.train_y[:n_train]), "val": (r.val_text[:n_val], r.val_y[:n_val]),
             "test": (r.test_text, r.test_y)}
    return {k: (*encode_texts(list(t), tokenizer, context), y) for k, (t, y) in parts.items()}


def label_subset(n_train: int, n_labels: int, seed: int) -> np.ndarray:
    """Indices of the ``n_labels`` labelled training reviews of ``seed``: the first of a seeded permutation.

    The same for every method, and nested: the 100 of a seed are among its 300.
    """
    return np.random.default_rng([seed, 0]).permutation(n_train)[:n_labels]


def _loop_settings(r: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    return dict(batch_size=r["batch_size"], weight_decay=r["weight_decay"], warmup=r["warmup"], clip=r["clip"],
                eval_every=r[prefix + "eval_every"], patience=r[prefix + "patience"],
                max_steps=r[prefix + "max_steps"])


def _gpt_run(run: Run, pretrained: Any, data: dict[str, Any], subset: np.ndarray, r: dict[str, Any],
             progress: bool) -> dict[str, Any]:
    """scratch / lora / full: fine-tune a classifier on the subset, score the best evaluation on test."""
    model = build_classifier(pretrained, run.method, rng=np.random.default_rng([run.seed, 1]),
                             rank=run.rank or LORA_RANK, alpha=r["alpha"], windows=r["windows"],
                             dropout=r["dropout"])
    model.train()                                  # dropout on while training, whatever mode the copy was in
    ids, lengths, y = (a[subset] for a in data["train"])

    def batch_loss(idx: np.ndarray) -> Tensor:
        x, n = ids[idx, :int(lengths[idx].max())], lengths[idx]
        if not r["lm_weight"]:
            return F.cross_entropy(model(x, n), y[idx])
        logits, lm = model.forward_with_lm_loss(x, n)
        return F.cross_entropy(logits, y[idx]) + r["lm_weight"] * lm

    params = trainable_parameters(model)
    conv = train_until_converged(params, batch_loss, lambda: classifier_accuracy(model, *data["val"]), lengths,
                                 lr=r[f"lr_{run.method}"], rng=np.random.default_rng([run.seed, 2]),
                                 progress=progress, desc=run_key(run), **_loop_settings(r))
    adapters = [m.merge() for _, m in model.named_modules() if isinstance(m, LoRALinear)]   # inference: one matrix
    test_acc = classifier_accuracy(model, *data["test"])
    for m in adapters:
        m.unmerge()
    return dict(test_acc=test_acc, **conv.__dict__, trainable=int(sum(p.size for p in params)),
                total=model.num_parameters())


def _probe_run(run: Run, features: dict[str, np.ndarray], data: dict[str, Any], subset: np.ndarray,
               r: dict[str, Any], progress: bool) -> dict[str, Any]:
    """frozen: a linear head on the frozen GPT's pooled features (computed once, as the GPT never changes)."""
    x, y = features["train"][subset], data["train"][2][subset]
    head = nn.Linear(x.shape[1], 2, rng=np.random.default_rng([run.seed, 1]), dtype=x.dtype)

    def accuracy(split: str) -> float:
        with no_grad():
            return float(np.mean(np.argmax(head(Tensor(features[split])).data, axis=-1) == data[split][2]))

    conv = train_until_converged(head.parameters(), lambda idx: F.cross_entropy(head(Tensor(x[idx])), y[idx]),
                                 lambda: accuracy("val"), np.ones(len(y), dtype=np.int64), lr=r["lr_frozen"],
                                 rng=np.random.default_rng([run.seed, 2]), progress=progress, desc=run_key(run),
                                 **_loop_settings(r, "probe_"))
    return dict(test_acc=accuracy("test"), **conv.__dict__, trainable=head.num_parameters())


def _tfidf_run(texts: dict[str, list[str]], ys: dict[str, np.ndarray], subset: np.ndarray) -> dict[str, Any]:
    """The book's classical baseline (:func:`dlbook.baselines.sentiment.tfidf_logistic_regression`) on the subset."""
    from dlbook.baselines.sentiment import tfidf_logistic_regression

    t0 = time.perf_counter()
    model = tfidf_logistic_regression([texts["train"][i] for i in subset], ys["train"][subset])
    return dict(test_acc=model.accuracy(texts["test"], ys["test"]),
                best_val_acc=model.accuracy(texts["val"], ys["val"]), train_seconds=time.perf_counter() - t0)


# ---- the results file ---------------------------------------------------------------------------------------
#: Methods whose runs never read the pretrained weights: TF-IDF, and the GPT trained from scratch (which takes
#: only the checkpoint's shape).  Their runs can be carried over to a sweep of another checkpoint of that shape.
WEIGHT_FREE = ("tfidf", "scratch")


def reuse_runs(source: str | Path, out: str | Path, header: dict[str, Any]) -> list[str]:
    """Copy into ``out`` the :data:`WEIGHT_FREE` runs of the results file ``source``; returns their keys.

    Allowed only when ``source`` was made with the same recipe, splits and model shape as ``header`` (only the
    checkpoint's weights differ), so a copied run is the run this sweep would make: it depends on its seed,
    its labels and the shape alone.  Each copied row names its source (``reused_from``).  Runs already in
    ``out`` are kept.
    """
    source = Path(source)
    with locked(source):          # read_runs refuses a file whose recipe or splits differ from this header's
        old = read_runs(source, {k: v for k, v in header.items() if k != "checkpoint"})
    if old["checkpoint"]["model"] != header["checkpoint"]["model"]:
        raise ValueError(f"reuse: {source} was made with another model shape; its runs cannot be reused")
    done = done_keys(Path(out), header)
    origin = f"{source.name} (checkpoint sha256 {old['checkpoint']['sha256'][:12]})"
    copied = []
    for key, row in old["runs"].items():
        if row["method"] in WEIGHT_FREE and key not in done:
            store_run(Path(out), header, key, {**row, "reused_from": origin})
            copied.append(key)
    return copied


def estimated_cost(run: Run, recipe: dict[str, Any]) -> float:
    """A run's work in GPT training steps, roughly: TF-IDF and the probe (on cached features) count as one."""
    if run.method in ("tfidf", "frozen"):
        return 1.0
    steps = min(recipe["max_steps"], max(recipe["patience"] * recipe["eval_every"] * 2,
                                         3 * run.n_labels // recipe["batch_size"]))
    return steps * (0.75 if run.method == "lora" else 1.0)     # LoRA forms no weight gradients


def shard(runs: list[Run], index: int, count: int, recipe: dict[str, Any]) -> list[Run]:
    """The runs of shard ``index`` of ``count``, balanced by :func:`estimated_cost`, so every shard computes the
    same split without talking (:func:`dlbook.recipes.results_file.balanced_shard`)."""
    return balanced_shard(runs, index, count, lambda r: estimated_cost(r, recipe), run_key)


def _encode(texts: dict[str, list[str]], ys: dict[str, np.ndarray], tokenizer: Any, context: int,
            needed: np.ndarray, windows: int = 1) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """(ids, lengths, labels) per split, each text cut to ``windows`` × ``context`` tokens; of the training split
    only rows ``needed`` are encoded (others: 1 pad)."""
    data = {k: (*encode_texts(texts[k], tokenizer, context, windows), ys[k]) for k in ("val", "test")}
    part_ids, part_lengths = encode_texts([texts["train"][i] for i in needed], tokenizer, context, windows)
    ids = np.zeros((len(ys["train"]), context * windows), dtype=np.int64)
    lengths = np.ones(len(ys["train"]), dtype=np.int64)
    ids[needed, :part_ids.shape[1]], lengths[needed] = part_ids, part_lengths
    data["train"] = (ids, lengths, ys["train"])
    return data


def run_sweep(checkpoint: str | Path, out: str | Path, budgets: Sequence[int | str] = BUDGETS,
              methods: Sequence[str] = METHODS, seeds: Sequence[int] = SEEDS, ranks: Sequence[int] = RANK_SWEEP,
              rank_sweep_at: int | str = RANK_SWEEP_AT, shard_of: tuple[int, int] = (0, 1),
              recipe: dict[str, Any] | None = None, max_runs: int | None = None,
              progress: bool = True, reuse: str | Path | None = None) -> dict[str, Any]:
    """Run every planned run (see :func:`dlbook.recipes.sweep_results.plan`) of this shard not yet in ``out``.

    ``max_runs`` stops after that many new runs (a time box).  ``reuse`` names an earlier results file whose
    runs that never read the pretrained weights are copied first (:func:`reuse_runs`).  Returns the results
    file's contents.
    """
    from dlbook.models.gpt import load_gpt

    r = {**RECIPE, **LATER_SETTINGS, **(recipe or {})}
    unknown = set(r) - set(RECIPE) - set(LATER_SETTINGS)
    if unknown:
        raise ValueError(f"unknown recipe setting(s) {sorted(unknown)}; the recipe has "
                         f"{sorted([*RECIPE, *LATER_SETTINGS])}")
    check_positive_int("windows", r["windows"])
    if r["dropout"] is not None and check_nonnegative("dropout", r["dropout"]) >= 1:
        raise ValueError(f"dropout must be None or a number in [0, 1), got {r['dropout']!r}")
    check_nonnegative("lm_weight", r["lm_weight"])
    checkpoint, out = Path(checkpoint), Path(out)
    pretrained, tokenizer, config, _ = load_gpt(checkpoint)
    reviews = load_reviews()
    texts = {"train": list(reviews.train_text), "val": list(reviews.val_text[:r["n_val"]]),
             "test": list(reviews.test_text[:r["n_test"]])}
    ys = {"train": reviews.train_y, "val": reviews.val_y[:r["n_val"]], "test": reviews.test_y[:r["n_test"]]}
    header = dict(format=1, checkpoint=dict(file=checkpoint.name, model=config["model"],
                                            sha256=hashlib.sha256(checkpoint.read_bytes()).hexdigest()),
                  recipe=header_recipe(r), n_train=len(texts["train"]), n_val=len(texts["val"]),
                  n_test=len(texts["test"]))
    if reuse is not None:
        print(f"{len(reuse_runs(reuse, out, header))} runs copied from {reuse}", flush=True)
    runs = shard(plan(len(texts["train"]), budgets, methods, seeds, LORA_RANK, ranks, rank_sweep_at),
                 *shard_of, r)
    done = done_keys(out, header)
    todo = [run for run in runs if run_key(run) not in done][:max_runs]
    print(f"{len(runs)} runs in this shard, {len(runs) - len([x for x in runs if run_key(x) not in done])} "
          f"already in {out}, running {len(todo)}", flush=True)
    subsets = {run: label_subset(len(texts["train"]), run.n_labels, run.seed) for run in todo}
    data: dict[str, Any] = {}
    features: dict[str, np.ndarray] = {}
    for run in todo:
        t0, cpu0 = time.perf_counter(), time.process_time()
        subset = subsets[run]
        if run.method != "tfidf" and not data:       # encode once: the reviews that this shard's runs label
            data = _encode(texts, ys, tokenizer, pretrained.config.context,
                           np.unique(np.concatenate([subsets[x] for x in todo if x.method != "tfidf"])), r["windows"])
        if run.method == "tfidf":
            row = _tfidf_run(texts, ys, subset)
        elif run.method == "frozen":
            if not features:                         # the frozen GPT's features, once, for the same reviews
                features = {k: pooled_features(pretrained, *data[k][:2], windows=r["windows"]) for k in data}
            row = _probe_run(run, features, data, subset, r, progress)
        else:
            row = _gpt_run(run, pretrained, data, subset, r, progress)
        row = {**run._asdict(), **row, "seconds": time.perf_counter() - t0, "cpu_seconds": time.process_time() - cpu0}
        store_run(out, header, run_key(run), row)
        print(f"{run_key(run):<22} test acc {row['test_acc']:.3f}  best step {row.get('best_step', '-')!s:>5} "
              f"of {row.get('steps', '-')!s:>5}  {row['seconds']:7.1f} s ({row['cpu_seconds']:.1f} s CPU)", flush=True)
    with locked(out):
        return read_runs(out, header)


def _budget(text: str) -> int | str:
    return "all" if text == "all" else int(text)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", type=Path, required=True, help="the pretrained GPT (.npz)")
    parser.add_argument("--out", type=Path, required=True,
                        help="results JSON (required: a shipped file is never a default); resumed if it exists")
    parser.add_argument("--budgets", type=_budget, nargs="+", default=list(BUDGETS))
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS)
    parser.add_argument("--seeds", type=int, nargs="+", default=list(SEEDS))
    parser.add_argument("--ranks", type=int, nargs="*", default=list(RANK_SWEEP),
                        help="LoRA ranks swept at --rank-sweep-at labels (none: no rank sweep)")
    parser.add_argument("--rank-sweep-at", type=_budget, default=RANK_SWEEP_AT)
    parser.add_argument("--shard", default="0/1", help="i/n: run the i-th of n shares of the runs")
    parser.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="change a recipe setting (JSON)")
    parser.add_argument("--max-runs", type=int, default=None, help="stop after this many new runs")
    parser.add_argument("--no-progress", action="store_true")
    parser.add_argument("--reuse", type=Path, default=None,
                        help="an earlier results file (same recipe and model shape) whose TF-IDF and scratch runs "
                             "are copied instead of made again: they never read the pretrained weights")
    args = parser.parse_args(argv)
    index, count = (int(v) for v in args.shard.split("/"))
    recipe = parse_settings(args.set)
    run_sweep(args.checkpoint, args.out, args.budgets, args.methods, args.seeds, args.ranks, args.rank_sweep_at,
              (index, count), recipe, args.max_runs, not args.no_progress, args.reuse)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
