"""The fine-tuning comparison of §5.3: ``python -m dlbook.finetune.sweep --seed 0``.

Review sentiment from the shipped pretrained GPT (``assets/gpt_news_small.npz``):
from scratch, frozen (head only), LoRA at several ranks, full fine-tuning, and
domain-adapted (language-model fine-tuning on the review text first) + LoRA.
Every run sees the same training subset in the same order (seeded), is timed,
and is scored on the whole held-out test split.  Writes
``src/dlbook/assets/finetune_results.json``, which chapter 5.3 loads.
"""

from __future__ import annotations

import argparse
import copy
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from dlbook.data.chinese import load_reviews
from dlbook.finetune.classifier import adapt_to_domain, build_classifier, encode_texts, finetune_classifier
from dlbook.models.gpt import load_gpt
from dlbook.pretrain import ASSET as GPT_ASSET

ASSET = Path(__file__).resolve().parent.parent / "assets" / "finetune_results.json"

#: The shared recipe: the first ``n_train`` training reviews, ``n_val`` validation reviews for the curves.
SETTINGS: dict[str, Any] = dict(n_train=2000, n_val=300, epochs=1, batch_size=32, eval_every=8, alpha=8.0,
                                lr_full=1e-3, lr_head=3e-3, lr_lora=3e-3, dapt_steps=60, dapt_lr=1e-3)

#: (label, method, rank, domain-adapted first)
RUNS: list[tuple[str, str, int | None, bool]] = [
    ("from scratch", "scratch", None, False),
    ("frozen (head only)", "frozen", None, False),
    ("LoRA r=1", "lora", 1, False),
    ("LoRA r=4", "lora", 4, False),
    ("LoRA r=16", "lora", 16, False),
    ("full fine-tuning", "full", None, False),
    ("domain-adapted + LoRA r=4", "lora", 4, True),
]


def review_arrays(tokenizer: Any, context: int, n_train: int | None = None, n_val: int | None = None
                  ) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """{"train", "val", "test"}: (ids, lengths, labels) of the review splits, cut to the model's context."""
    r = load_reviews()
    parts = {"train": (r.train_text[:n_train], r.train_y[:n_train]), "val": (r.val_text[:n_val], r.val_y[:n_val]),
             "test": (r.test_text, r.test_y)}
    return {k: (*encode_texts(list(t), tokenizer, context), y) for k, (t, y) in parts.items()}


def run_one(pretrained: Any, tokenizer: Any, data: dict[str, Any], method: str, rank: int | None, adapt: bool,
            seed: int, settings: dict[str, Any] = SETTINGS, progress: bool = True, label: str = "") -> dict[str, Any]:
    """One row of the table: build, (adapt,) fine-tune and score one set-up from ``seed``."""
    s = settings
    rng = np.random.default_rng(seed)
    base, adapt_seconds = pretrained, 0.0
    if adapt:
        base = copy.deepcopy(pretrained)
        t0 = time.perf_counter()
        adapt_to_domain(base, load_reviews().train_text[: s["n_train"]], tokenizer, steps=s["dapt_steps"],
                        batch_size=s["batch_size"], lr=s["dapt_lr"], rng=np.random.default_rng([seed, 2]),
                        progress=progress)
        adapt_seconds = time.perf_counter() - t0
    model = build_classifier(base, method, rng=rng, rank=rank or 4, alpha=s["alpha"])
    lr = {"frozen": s["lr_head"], "lora": s["lr_lora"]}.get(method, s["lr_full"])
    result = finetune_classifier(model, data["train"], data["val"], epochs=s["epochs"], batch_size=s["batch_size"],
                                 lr=lr, rng=np.random.default_rng([seed, 3]), eval_every=s["eval_every"],
                                 progress=progress, method=method, rank=rank, test=data["test"])
    row = result.to_dict()
    row.update(label=label or method, adapted=adapt, seconds=result.seconds + adapt_seconds, lr=lr)
    return row


def sweep(seed: int = 0, checkpoint: str | Path = GPT_ASSET, progress: bool = True) -> dict[str, Any]:
    """Every run of :data:`RUNS`; returns {"settings", "seed", "rows"}."""
    pretrained, tokenizer, _, _ = load_gpt(checkpoint)
    data = review_arrays(tokenizer, pretrained.config.context, SETTINGS["n_train"], SETTINGS["n_val"])
    rows = []
    for label, method, rank, adapt in RUNS:
        rows.append(run_one(pretrained, tokenizer, data, method, rank, adapt, seed, progress=progress, label=label))
        print(f"{label:28s} test acc {rows[-1]['test_acc']:.3f}  trainable {rows[-1]['trainable']:>9,d} "
              f"({100 * rows[-1]['fraction']:.2f} %)  {rows[-1]['seconds']:.1f} s", flush=True)
    return {"settings": SETTINGS, "seed": seed, "n_test": int(len(data["test"][2])), "rows": rows}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--checkpoint", type=Path, default=GPT_ASSET)
    parser.add_argument("--out", type=Path, default=ASSET)
    args = parser.parse_args(argv)
    results = sweep(args.seed, args.checkpoint)
    args.out.write_text(json.dumps(results, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
