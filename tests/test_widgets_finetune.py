"""The fine-tuning explorer of 5.3: the runs behind each point of the sweep, drawn from a results file."""

from __future__ import annotations

import pytest

from dlbook.recipes.sweep_results import Run, run_key
from dlbook.widgets.base import MAX_WIDGET_BYTES
from dlbook.widgets.finetune_results import CHOICES, draw_seed_runs, make_finetune_explorer, seed_runs


def _results() -> dict:
    runs = {}
    for n in (100, 1000):
        for seed in (2, 0, 1):                       # stored out of seed order: seed_runs sorts them
            acc = 0.6 + 0.1 * (n == 1000) + 0.01 * seed
            runs[run_key(Run("tfidf", n, seed))] = {"seed": seed, "test_acc": acc + 0.05}
            for method, rank in (("scratch", None), ("frozen", None), ("full", None), ("lora", 8)):
                runs[run_key(Run(method, n, seed, rank))] = {
                    "seed": seed, "test_acc": acc, "val_step": [25, 50, 75], "val_acc": [0.55, acc, acc - 0.01],
                    "best_step": 50, "best_val_acc": acc, "steps": 75}
    for seed in (0, 1, 2):
        runs[run_key(Run("lora", 1000, seed, 1))] = {**runs[run_key(Run("lora", 1000, seed, 8))]}
    return {"n_train": 2000, "runs": runs}


def test_seed_runs_picks_one_grid_point_in_seed_order() -> None:
    results = _results()
    runs = seed_runs(results, "full", 1000)
    assert [r["seed"] for r in runs] == [0, 1, 2]
    assert [r["test_acc"] for r in runs] == pytest.approx([0.70, 0.71, 0.72])
    assert len(seed_runs(results, "lora", 1000, 1)) == 3 and seed_runs(results, "lora", 100, 1) == []
    with pytest.raises(ValueError, match="method"):
        seed_runs(results, "svm", 100)


def test_every_choice_draws_including_points_the_sweep_did_not_run() -> None:
    results = _results()
    for label, _, _ in CHOICES:
        for n in (100, 1000):
            fig = draw_seed_runs(results, label, n)
            assert len(fig.axes) == 2
    text = [t.get_text() for t in draw_seed_runs(results, "LoRA r=64", 100).axes[0].texts]
    assert any("not run" in t for t in text)


@pytest.mark.slow
def test_static_explorer_has_a_frame_per_choice_and_budget_and_fits_its_page() -> None:
    explorer = make_finetune_explorer(_results())
    assert len(explorer.frames) == len(CHOICES) * 2
    assert explorer.select(choice="LoRA r=1", n_labels=1000) == explorer.frames[("LoRA r=1", 1000)]
    assert explorer.state_bytes() < MAX_WIDGET_BYTES
