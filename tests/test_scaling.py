"""The miniature scaling study (§8): the power-law fit, the parameter count, one tiny run, the shipped record."""

from __future__ import annotations

import numpy as np
import pytest

from dlbook.models.gpt import GPT, GPTConfig
from dlbook.recipes.scaling import train_size
from dlbook.scaling import ASSET, fit_power_law, load_study, non_embedding_parameters


def test_fit_recovers_a_known_law() -> None:
    """Verifies (eq-scaling-law): points drawn from L = 20 N^(−0.3) + 2 give back a, α and c."""
    n = np.array([1e4, 3e4, 1e5, 3e5, 1e6])
    a, alpha, c = fit_power_law(n, 20.0 * n ** -0.3 + 2.0)
    assert alpha == pytest.approx(0.3, abs=0.01) and c == pytest.approx(2.0, abs=0.02)
    assert a == pytest.approx(20, rel=0.1)
    a, alpha, c = fit_power_law(n, 5.0 * n ** -0.1, offset=False)
    assert (a, alpha, c) == (pytest.approx(5.0), pytest.approx(0.1), 0.0)


def test_fit_bad_input() -> None:
    with pytest.raises(ValueError, match="same length >= 3"):
        fit_power_law([1, 2], [3, 4])
    with pytest.raises(ValueError, match="positive"):
        fit_power_law([1, 2, -3], [3, 4, 5])


def test_non_embedding_parameters_count_the_blocks() -> None:
    """N excludes exactly the token and position tables (the head is tied to the token table)."""
    config = GPTConfig(vocab_size=50, context=16, d_model=8, num_layers=2, nhead=2, dim_feedforward=32)
    model = GPT(config, rng=np.random.default_rng(0))
    tables = model.tok_emb.weight.data.size + model.pos_emb.weight.data.size
    assert non_embedding_parameters(config) == model.num_parameters() - tables


def test_a_tiny_run_learns() -> None:
    """Ten steps of the smallest width on the news corpus: a finite loss below the uniform guess log V."""
    run = train_size(8, seed=0, settings={"steps": 10, "batch_size": 4, "warmup": 2, "eval_windows": 4})
    assert run["tokens"] == 10 * 4 * 64
    assert np.isfinite(run["val_loss"]) and run["val_loss"] < np.log(3399) + 0.5
    assert run["non_embedding_params"] < run["params"]


def test_shipped_study() -> None:
    """The shipped record: at least 3 widths, losses falling with N overall, a positive fitted exponent."""
    study = load_study(ASSET)
    runs = study["runs"]
    assert len(runs) >= 3
    n = [r["non_embedding_params"] for r in runs]
    loss = [r["val_loss"] for r in runs]
    assert n == sorted(n)
    assert loss[-1] < loss[0] < study["unigram_val_loss"]
    _, alpha, _ = fit_power_law(n, loss)
    assert 0 < alpha < 2
