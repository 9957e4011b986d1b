"""Training-cost calculator (§1.4): memory and compute of pretraining vs full fine-tuning vs LoRA.

The compute part is :func:`dlbook.costs.compare_methods` (pure, tested); :func:`draw_costs` draws its result:
stacked bars of weights / gradients / optimiser state in GB, and training FLOPs on a log scale.
"""

from __future__ import annotations

from typing import Any

import matplotlib.pyplot as plt
from matplotlib.figure import Figure

from dlbook.costs import METHODS, SHAPES, compare_methods
from dlbook.widgets.base import Explorer

PARTS = ("weights", "gradients", "optimizer")
RANKS = (1, 8, 64)
GB = 1e9


def draw_costs(model: str, rank: int, finetune_tokens: float = 1e8) -> Figure:
    """Two panels for one model and LoRA rank: memory by part (GB) and training compute (FLOPs, log scale)."""
    result = compare_methods(model, rank=rank, finetune_tokens=finetune_tokens)
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(8.0, 3.2))
    bottom = [0.0] * len(METHODS)
    for part, colour in zip(PARTS, ("tab:blue", "tab:orange", "tab:green")):
        heights = [result[m][part] / GB for m in METHODS]
        ax1.bar(METHODS, heights, bottom=bottom, label=part, color=colour)
        bottom = [b + h for b, h in zip(bottom, heights)]
    for i, total in enumerate(bottom):
        ax1.text(i, total, f"{total:,.0f} GB", ha="center", va="bottom", fontsize=8)
    ax1.set_ylabel("memory (GB), activations excluded")
    ax1.set_ylim(0, max(bottom) * 1.18)
    ax1.legend(fontsize=7)
    ax1.tick_params(axis="x", labelsize=8)
    flops = [result[m]["flops"] for m in METHODS]
    ax2.bar(METHODS, flops, color="tab:purple")
    ax2.set_yscale("log")
    ax2.set_ylabel("training FLOPs")
    ax2.tick_params(axis="x", labelsize=8)
    trainable = result["LoRA"]["trainable"]
    fig.suptitle(f"{model}: LoRA rank {rank} trains {trainable / 1e6:,.1f} M of {SHAPES[model].n_params / 1e9:g} G "
                 "parameters", fontsize=10)
    fig.tight_layout()
    return fig


def make_costs_explorer(mode: str = "static") -> Explorer:
    """The calculator: choose the model and the LoRA rank (static: every model × ranks 1, 8, 64)."""
    import ipywidgets as W

    models = list(SHAPES)
    controls: dict[str, Any] = {
        "model": W.Dropdown(options=models, value=models[1], description="model"),
        "rank": W.SelectionSlider(options=list(RANKS), value=8, description="LoRA rank"),
    }
    return Explorer(draw_costs, controls, {"model": models, "rank": list(RANKS)}, mode=mode,
                    title="Memory and compute: pretraining vs fine-tuning vs LoRA")
