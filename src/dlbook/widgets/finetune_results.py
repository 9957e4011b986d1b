"""Fine-tuning explorer (§5.3): every point of the label-efficiency sweep, opened up.

The sweep's table gives one number per (method, labels): a mean over three seeds.  Behind it are three runs,
each with a validation curve, a best evaluation whose weights were kept, a stop, and a test accuracy.
:func:`seed_runs` picks those runs out of a results file (:mod:`dlbook.recipes.sweep_results`);
:func:`draw_seed_runs` shows them beside the method's whole label-efficiency curve.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from dlbook.recipes.sweep_results import LORA_RANK, METHODS, RANK_SWEEP_AT, curve, parse_key, summarise
from dlbook.widgets.base import Explorer

#: The explorer's method choices: (label, method, LoRA rank).  The ranks other than LORA_RANK exist only at the
#: rank sweep's number of labels.
CHOICES: tuple[tuple[str, str, int | None], ...] = (
    ("TF-IDF + LR", "tfidf", None), ("from scratch", "scratch", None), ("frozen (probe)", "frozen", None),
    ("LoRA r=1", "lora", 1), (f"LoRA r={LORA_RANK}", "lora", LORA_RANK), ("LoRA r=64", "lora", 64),
    ("full fine-tuning", "full", None))


def seed_runs(results: dict[str, Any], method: str, n_labels: int, rank: int | None = None) -> list[dict[str, Any]]:
    """The stored runs of one grid point, one per seed, sorted by seed.

    Each is the results file's row (``seed``, ``test_acc``, and for trained methods ``val_step``, ``val_acc``,
    ``best_step``, ``steps``).  Empty when the sweep did not run that point.
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    rows = []
    for key, row in results["runs"].items():
        run = parse_key(key)
        if (run.method, run.n_labels, run.rank) == (method, n_labels, rank):
            rows.append(row)
    return sorted(rows, key=lambda r: r["seed"])


def draw_seed_runs(results: dict[str, Any], choice: str, n_labels: int) -> Any:
    """Left: the validation accuracy of each seed's run as it trained (best evaluation marked, test accuracy in
    the legend).  Right: the method's label-efficiency curve, this point marked, TF-IDF + LR for reference."""
    import matplotlib.pyplot as plt

    label, method, rank = next(c for c in CHOICES if c[0] == choice)
    runs = seed_runs(results, method, n_labels, rank)
    fig, (left, right) = plt.subplots(1, 2, figsize=(9.5, 3.2))
    if not runs:
        left.text(0.5, 0.5, f"not run: the rank sweep is at {RANK_SWEEP_AT:,} labels",
                  ha="center", va="center", transform=left.transAxes)
    elif method == "tfidf":
        left.text(0.5, 0.5, "a convex fit: no training curve\n" + "\n".join(
            f"seed {r['seed']}: test {100 * r['test_acc']:.1f} %" for r in runs),
                  ha="center", va="center", transform=left.transAxes)
    for r in runs if method != "tfidf" else []:
        line, = left.plot(r["val_step"], 100 * np.asarray(r["val_acc"]), marker=".",
                          label=f"seed {r['seed']}: test {100 * r['test_acc']:.1f} %")
        left.plot([r["best_step"]], [100 * r["best_val_acc"]], "o", ms=9, mfc="none", color=line.get_color())
    left.set_xlabel("step")
    left.set_ylabel("validation accuracy (%)")
    left.set_title(f"{label}, {n_labels:,} labels: each seed (○ = best, kept)", fontsize=9)
    if runs and method != "tfidf":
        left.legend(fontsize=7)
    rows = summarise(results)
    for m, r, color in (("tfidf", None, "k"), (method, rank, "tab:blue")):
        if m == "tfidf" and method == "tfidf":
            continue
        try:
            x, mean, std = curve(rows, m, rank=r)
        except ValueError:                          # a rank the sweep did not run
            continue
        right.plot(x, 100 * mean, marker="o", ms=4, color=color, ls="--" if m == "tfidf" else "-",
                   label="TF-IDF + LR" if m == "tfidf" else label)
        right.fill_between(x, 100 * (mean - std), 100 * (mean + std), alpha=0.15, color=color)
    if runs:
        right.plot([n_labels], [100 * np.mean([r["test_acc"] for r in runs])], "*", ms=14, color="tab:red")
    right.set_xscale("log")
    right.minorticks_off()
    budgets = sorted({r["n_labels"] for r in rows})
    right.set_xticks(budgets, [f"{n:,}" for n in budgets], fontsize=7)
    right.set_xlabel("labelled reviews (log scale)")
    right.set_ylabel("test accuracy (%)")
    right.set_title("mean of 3 seeds ± one standard deviation", fontsize=9)
    if right.get_legend_handles_labels()[0]:
        right.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    return fig


def make_finetune_explorer(results: dict[str, Any], mode: str = "static") -> Explorer:
    """Method (with three LoRA ranks) × number of labels.  Static: 7 × 5 = 35 frames."""
    import ipywidgets as W

    budgets = sorted({parse_key(k).n_labels for k in results["runs"]})
    labels = [c[0] for c in CHOICES]
    controls = {
        "choice": W.Dropdown(options=labels, value=labels[-1], description="method"),
        "n_labels": W.SelectionSlider(options=budgets, value=budgets[len(budgets) // 2], description="labels",
                                      continuous_update=False),
    }
    grid = {"choice": labels, "n_labels": budgets}
    return Explorer(lambda choice, n_labels: draw_seed_runs(results, choice, n_labels), controls, grid, mode=mode,
                    title="The fine-tuning sweep: the three runs behind each point")
