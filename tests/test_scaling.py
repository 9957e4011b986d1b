"""The IsoFLOP study of §8: the fits (parabola, power laws, Chinchilla's parametric law), the recipe, the shipped
results and what chapter 8 states about them."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from dlbook.recipes import isoflop
from dlbook.scaling import (
    ASSET,
    ParametricLaw,
    bootstrap_exponents,
    compute_optimal,
    effective_tokens,
    fit_parametric,
    isoflop_optima,
    load_study,
    parabola_fit,
    parabola_minimum,
    power_law,
    study_arrays,
)

CHAPTER = Path(__file__).resolve().parents[1] / "chapters" / "8-summary.ipynb"
LAW = ParametricLaw(E=2.5, A=60.0, B=300.0, alpha=0.35, beta=0.4, objective=0.0)


def synthetic_study(law: ParametricLaw = LAW, noise: float = 0.0, seed: int = 0) -> dict[str, np.ndarray]:
    """Three budgets × five sizes, losses from ``law`` (times log-normal noise)."""
    budget = np.repeat([2.5e12, 8e12, 2.5e13], 5)
    n = np.tile([7e4, 1.6e5, 3e5, 5e5, 7.5e5], 3) * np.repeat([1.0, 1.5, 2.0], 5)
    d = budget / (6 * n)
    loss = law.loss(n, d) * np.exp(np.random.default_rng(seed).normal(0, noise, n.shape))
    return dict(budget=budget, n=n, d=d, loss=loss)


def test_parabola_minimum_finds_the_vertex() -> None:
    """Verifies (eq-isoflop-parabola): an exact parabola in ln N gives back its vertex."""
    n = np.exp(np.array([10.0, 11.0, 12.0, 13.0, 14.0]))
    loss = 0.3 * (np.log(n) - 11.7) ** 2 + 4.2
    n_opt, l_min = parabola_minimum(n, loss)
    assert np.log(n_opt) == pytest.approx(11.7) and l_min == pytest.approx(4.2)
    # the coefficients of 0.3·(x − 11.7)² + 4.2 in x = ln N, highest power first
    np.testing.assert_allclose(parabola_fit(n, loss), [0.3, -0.6 * 11.7, 0.3 * 11.7**2 + 4.2])


def test_parabola_minimum_refuses_what_has_no_minimum() -> None:
    n = np.array([1e4, 1e5, 1e6])
    with pytest.raises(ValueError, match="no minimum"):
        parabola_minimum(n, [1.0, 2.0, 1.0])
    with pytest.raises(ValueError, match="3 distinct sizes"):
        parabola_minimum([1e4, 1e4, 1e5], [1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="positive"):
        parabola_minimum([1e4, -1e5, 1e6], [1.0, 2.0, 3.0])


def test_power_law_recovers_its_exponent() -> None:
    """Verifies (eq-optimal-allocation): y = 3·C^0.6 gives back 0.6 and 3."""
    c = np.array([1e12, 1e13, 1e14])
    assert power_law(c, 3 * c ** 0.6) == (pytest.approx(0.6), pytest.approx(3.0))
    with pytest.raises(ValueError, match="same length"):
        power_law([1.0], [2.0])


def test_isoflop_optima_of_a_known_law_sit_on_its_frontier() -> None:
    """The parabolas' vertices of losses drawn from a law are near the law's own compute-optimal sizes."""
    arrays = synthetic_study()
    optima = isoflop_optima(arrays)
    n_true, _ = compute_optimal(LAW, np.array([o["budget"] for o in optima]))
    assert [o["inside"] for o in optima] == [True] * 3
    np.testing.assert_allclose([o["n_opt"] for o in optima], n_true, rtol=0.15)
    a, _ = power_law([o["budget"] for o in optima], [o["n_opt"] for o in optima])
    assert a == pytest.approx(LAW.beta / (LAW.alpha + LAW.beta), abs=0.05)


def test_compute_optimal_minimises_the_law_along_its_isoflop_line() -> None:
    """Verifies (eq-compute-optimal): no N on the line C = 6·N·D has a lower predicted loss."""
    c = 1e14
    n_opt, d_opt = compute_optimal(LAW, c)
    assert 6 * n_opt * d_opt == pytest.approx(c)
    grid = np.geomspace(n_opt / 10, n_opt * 10, 2001)
    assert grid[np.argmin(LAW.loss(grid, c / (6 * grid)))] == pytest.approx(n_opt, rel=0.01)


def test_fit_parametric_recovers_a_known_law() -> None:
    """Verifies (eq-chinchilla-law): the Huber fit of noiseless losses predicts them and the frontier closely."""
    arrays = synthetic_study()
    law = fit_parametric(arrays["n"], arrays["d"], arrays["loss"])
    np.testing.assert_allclose(law.loss(arrays["n"], arrays["d"]), arrays["loss"], rtol=2e-3)
    np.testing.assert_allclose(compute_optimal(law, 1e14)[0], compute_optimal(LAW, 1e14)[0], rtol=0.25)
    with pytest.raises(ValueError, match=">= 5"):
        fit_parametric([1e5] * 3, [1e6] * 3, [4.0] * 3)


def test_bootstrap_interval_covers_the_true_exponent() -> None:
    arrays = synthetic_study(noise=0.002)
    ci = bootstrap_exponents(arrays, n_boot=300)
    a_true = LAW.beta / (LAW.alpha + LAW.beta)
    assert ci["a"][0] - 0.05 < a_true < ci["a"][1] + 0.05
    assert ci["a"][0] <= ci["a"][1] and ci["b"][0] <= ci["b"][1]
    with pytest.raises(ValueError, match="level"):
        bootstrap_exponents(arrays, level=1.5)


def test_effective_tokens_follow_muennighoff() -> None:
    """Verifies (eq-effective-data): one epoch is worth itself, four nearly four, many approach U·(1 + R*)."""
    u = 1e6
    assert effective_tokens(5e5, u) == 5e5 and effective_tokens(u, u) == u
    assert 0.9 * 4 * u < effective_tokens(4 * u, u) < 4 * u
    assert effective_tokens(1e4 * u, u) == pytest.approx(u * (1 + 15.4), rel=1e-3)
    with pytest.raises(ValueError, match="positive"):
        effective_tokens(1e6, 0)


def test_the_size_rule_grows_depth_and_width_together() -> None:
    config = isoflop.shape(3, vocab_size=100)
    assert (config.num_layers, config.d_model, config.nhead, config.dim_feedforward) == (3, 48, 3, 192)
    with pytest.raises(ValueError, match="level"):
        isoflop.shape(0, vocab_size=100)


def test_steps_spend_the_budget() -> None:
    """A run's FLOPs are its budget to within one step's worth."""
    from dlbook.costs import training_flops

    config = isoflop.shape(2, vocab_size=3934)
    run = isoflop.Run(8e12, 2)
    steps = isoflop.steps_for(run, config)
    per_step = training_flops(config, isoflop.RECIPE["batch_size"] * isoflop.RECIPE["context"])
    assert abs(steps * per_step - run.budget) <= per_step / 2


@pytest.mark.slow      # loading the news corpus takes most of its half minute
def test_a_tiny_study_learns_stores_and_resumes(tmp_path: Path) -> None:
    """Two runs at a tiny budget: stored as they finish, a finite loss below log V, skipped when resumed."""
    out = tmp_path / "iso.json"
    recipe = dict(batch_size=4, context=32, warmup=2, vocab="news")
    isoflop.run_study(out, budgets={3e9: (1, 2)}, recipe=recipe, progress=False, val_windows=8)
    study = load_study(out)
    assert sorted(study["runs"]) == ["3e+09|1", "3e+09|2"]
    for row in study["runs"].values():
        assert np.isfinite(row["val_loss"]) and row["val_loss"] < np.log(study["vocab_size"]) + 0.5
    before = out.read_bytes()
    isoflop.run_study(out, budgets={3e9: (1, 2)}, recipe=recipe, progress=False, val_windows=8)
    assert out.read_bytes() == before
    with pytest.raises(ValueError, match="another recipe"):
        isoflop.run_study(out, budgets={3e9: (1,)}, recipe={**recipe, "lr": 1e-3}, progress=False, val_windows=8)


# ---- the shipped study -----------------------------------------------------------------------------------------
def test_shipped_study_is_complete() -> None:
    """≥ 3 budgets spanning ≥ 10×, ≥ 5 sizes each, every run of the plan present with its record, made with the
    recipe of the script, the best loss at every budget at least a nat below the unigram baseline."""
    study = load_study(ASSET)
    assert study["recipe"] == isoflop.RECIPE
    assert sorted(study["runs"]) == sorted(isoflop.run_key(r) for r in isoflop.plan())
    budgets = sorted({r["budget"] for r in study["runs"].values()})
    assert len(budgets) >= 3 and budgets[-1] / budgets[0] >= 10 - 1e-9
    for c in budgets:
        rows = [r for r in study["runs"].values() if r["budget"] == c]
        assert len(rows) >= 5
        assert min(r["val_loss"] for r in rows) < study["unigram_val_loss"] - 1
        for r in rows:
            assert r["flops"] == pytest.approx(c, rel=0.01)
            assert {"config", "tokens", "epochs", "seconds", "val_loss"} <= set(r)


def _glued(notebook: Path) -> dict[str, str]:
    """The values a notebook glued (MyST-NB's scrapbook outputs), by name, as their stored text."""
    values = {}
    for cell in json.loads(notebook.read_text(encoding="utf-8"))["cells"]:
        for out in cell.get("outputs", []):
            name = out.get("metadata", {}).get("scrapbook", {}).get("name")
            if name:
                data = out["data"]
                values[name] = data.get("text/plain", data.get("application/papermill.record/text/plain"))
    return values


def test_chapter_states_the_refitted_exponents() -> None:
    """Refit the shipped study: the exponents, intervals and predicted size that chapter 8 states are these."""
    arrays = study_arrays(load_study(ASSET))
    optima = isoflop_optima(arrays)
    c = [o["budget"] for o in optima]
    a, _ = power_law(c, [o["n_opt"] for o in optima])
    b, _ = power_law(c, [o["d_opt"] for o in optima])
    ci = bootstrap_exponents(arrays)
    glued = _glued(CHAPTER)
    for name, value in [("iso-a", a), ("iso-b", b), ("iso-a-lo", ci["a"][0]), ("iso-a-hi", ci["a"][1]),
                        ("iso-b-lo", ci["b"][0]), ("iso-b-hi", ci["b"][1])]:
        assert float(glued[name]) == pytest.approx(value, abs=1e-9), name
