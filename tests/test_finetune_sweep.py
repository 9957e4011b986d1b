"""The label-efficiency sweep: its plan, its training loop, and a tiny sweep that resumes after an interruption."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from dlbook import functional as F
from dlbook import nn
from dlbook.autograd import Tensor
from dlbook.finetune.classifier import length_batches, train_until_converged
from dlbook.recipes import finetune_sweep as sweep
from dlbook.recipes.sweep_results import (
    Run,
    check_complete,
    curve,
    load_results,
    missing_runs,
    parse_key,
    plan,
    resolve_budget,
    run_key,
    summarise,
)

pytest.importorskip("snownlp")

# A tiny sweep: 2 budgets x 2 methods x 2 seeds, each GPT run a few steps on the tiny model.
GRID = dict(budgets=(30, 60), methods=("tfidf", "lora"), seeds=(0, 1), ranks=())
TINY_RECIPE = dict(n_val=40, n_test=100, max_steps=4, eval_every=2, patience=1, warmup=1, batch_size=16)


def test_plan_keys_and_budgets() -> None:
    runs = plan(13_928)
    keys = [run_key(r) for r in runs]
    assert len(keys) == len(set(keys))
    # 5 budgets x 5 methods x 3 seeds, plus ranks 1..64 at 1,000 labels (rank 8 there is already on the curve)
    assert len(runs) == 5 * 5 * 3 + 6 * 3
    assert Run("lora", 13_928, 2, 8) in runs and Run("lora", 1000, 0, 64) in runs and Run("full", 100, 1) in runs
    assert all(parse_key(k) == r for k, r in zip(keys, runs))
    assert run_key(Run("full", 100, 0)) == "full|100|0|-"
    assert resolve_budget("all", 50) == 50
    with pytest.raises(ValueError, match="budget"):
        resolve_budget(51, 50)
    with pytest.raises(ValueError, match="methods"):
        plan(100, methods=["lora", "prompting"])


def test_label_subsets_are_seeded_and_nested() -> None:
    a, b = sweep.label_subset(1000, 100, 0), sweep.label_subset(1000, 300, 0)
    assert len(set(a)) == 100 and set(a) <= set(b)
    assert np.array_equal(a, sweep.label_subset(1000, 100, 0))
    assert not np.array_equal(a, sweep.label_subset(1000, 100, 1))


def test_length_batches_cover_every_index_once_and_group_similar_lengths() -> None:
    lengths = np.random.default_rng(0).integers(1, 129, size=1000)
    batches = length_batches(lengths, 32, np.random.default_rng(1))
    assert np.array_equal(np.sort(np.concatenate(batches)), np.arange(1000))
    assert max(len(b) for b in batches) <= 32 and min(len(b) for b in batches) >= 16
    # padding to each batch's longest text wastes far less than padding every batch to the longest overall
    padded = sum(len(b) * lengths[b].max() for b in batches)
    assert padded < 0.7 * len(batches) * 32 * lengths.max()


def test_train_until_converged_stops_on_patience_and_keeps_the_best_weights() -> None:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 3))
    y = (x[:, 0] > 0).astype(np.int64)
    model = nn.Linear(3, 2, rng=rng)
    scripted = iter([0.5, 0.8, 0.7, 0.8, 0.6, 0.9])     # best at the 2nd evaluation; ties do not count
    snapshots: list[np.ndarray] = []

    def val_accuracy() -> float:
        snapshots.append(model.weight.data.copy())
        return next(scripted)

    out = train_until_converged(model.parameters(), lambda i: F.cross_entropy(model(Tensor(x[i])), y[i]),
                                val_accuracy, np.ones(64, dtype=np.int64), batch_size=16, lr=0.05,
                                weight_decay=0.0, warmup=1, clip=1.0, eval_every=3, patience=3, max_steps=100,
                                rng=np.random.default_rng(1))
    assert out.val_step == [3, 6, 9, 12, 15] and out.val_acc == [0.5, 0.8, 0.7, 0.8, 0.6]
    assert (out.best_step, out.best_val_acc, out.steps, out.stopped) == (6, 0.8, 15, "patience")
    assert np.array_equal(model.weight.data, snapshots[1])          # the weights of the best evaluation
    capped = train_until_converged(model.parameters(), lambda i: F.cross_entropy(model(Tensor(x[i])), y[i]),
                                   lambda: 0.5, np.ones(64, dtype=np.int64), batch_size=16, lr=0.05,
                                   weight_decay=0.0, warmup=1, clip=1.0, eval_every=4, patience=10, max_steps=7,
                                   rng=np.random.default_rng(1))
    assert (capped.steps, capped.val_step, capped.stopped) == (7, [4, 7], "max_steps")


def test_shards_split_the_runs_between_processes() -> None:
    runs = plan(13_928)
    parts = [sweep.shard(runs, i, 2, sweep.RECIPE) for i in range(2)]
    assert sorted(map(run_key, parts[0] + parts[1])) == sorted(map(run_key, runs))
    assert not set(parts[0]) & set(parts[1])
    work = [sum(sweep.estimated_cost(r, sweep.RECIPE) for r in part) for part in parts]
    assert abs(work[0] - work[1]) < 0.05 * sum(work), work
    with pytest.raises(ValueError, match="shard"):
        sweep.shard(runs, 2, 2, sweep.RECIPE)


def test_summarise_and_coverage_on_hand_made_results() -> None:
    results = {"n_train": 500, "runs": {run_key(Run("full", 100, s)): {"test_acc": a}
                                        for s, a in [(0, 0.6), (1, 0.7), (2, 0.8)]}}
    (row,) = summarise(results)
    assert (row["method"], row["n_labels"], row["rank"], row["n_seeds"]) == ("full", 100, None, 3)
    assert row["mean"] == pytest.approx(0.7) and row["std"] == pytest.approx(0.1)
    grid = dict(budgets=[100], methods=["full"], seeds=[0, 1, 2], ranks=())
    check_complete(results, **grid)
    assert missing_runs(results, **{**grid, "seeds": [0, 3]}) == ["full|100|3|-"]
    with pytest.raises(ValueError, match="lack 1 run"):
        check_complete(results, **{**grid, "budgets": [100, "all"], "seeds": [0]})


def test_pilot_changes_pair_each_pilot_run_with_the_base_run_of_its_key() -> None:
    from dlbook.recipes.sweep_results import pilot_changes

    splits = {"n_train": 500, "n_val": 50, "n_test": 80}
    base = {**splits, "runs": {run_key(Run("full", n, s)): {"test_acc": n / 1000 + s / 8}
                               for n in (100, 300) for s in (0, 1, 2)}}
    pilot = {**splits, "runs": {run_key(Run("full", 300, s)): {"test_acc": 0.9} for s in (2, 0)}}
    assert pilot_changes(pilot, base) == {("full", 300): [(0, "full|300|0|-", 0.3, 0.9),
                                                          (2, "full|300|2|-", 0.55, 0.9)]}
    with pytest.raises(ValueError, match="n_test"):
        pilot_changes({**pilot, "n_test": 81}, base)
    with pytest.raises(ValueError, match=re.escape("no run 'full|1000|0|-'")):
        pilot_changes({**splits, "runs": {"full|1000|0|-": {"test_acc": 0.9}}}, base)


def test_curve_picks_one_line_sorted() -> None:
    results = {"n_train": 500, "runs": {run_key(Run(m, n, s, r)): {"test_acc": a} for m, n, s, r, a in [
        ("full", 300, 0, None, 0.8), ("full", 100, 0, None, 0.6), ("lora", 100, 0, 8, 0.5),
        ("lora", 100, 0, 2, 0.4), ("lora", 300, 0, 8, 0.7)]}}
    rows = summarise(results)
    x, mean, std = curve(rows, "full")
    assert x.tolist() == [100, 300] and mean.tolist() == pytest.approx([0.6, 0.8]) and std.tolist() == [0, 0]
    assert curve(rows, "lora", rank=8)[0].tolist() == [100, 300]
    ranks, mean, _ = curve(rows, "lora", n_labels=100)
    assert ranks.tolist() == [2, 8] and mean.tolist() == pytest.approx([0.4, 0.5])
    with pytest.raises(ValueError, match="no rows"):
        curve(rows, "scratch")


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from dlbook.recipes.pretrain import pretrain

    out = tmp_path_factory.mktemp("sweep") / "tiny.npz"
    pretrain("tiny", steps=10, out=out, progress=False)
    return out


def _cli(checkpoint: Path, out: Path, *extra: str) -> None:
    sets = [f"{k}={json.dumps(v)}" for k, v in TINY_RECIPE.items()]
    sweep.main(["--checkpoint", str(checkpoint), "--out", str(out), "--budgets", "30", "60", "--methods", "tfidf",
                "lora", "--seeds", "0", "1", "--ranks", "--no-progress", "--set", *sets, *extra])


@pytest.mark.slow
def test_tiny_sweep_stores_each_run_resumes_and_loses_nothing_when_interrupted(
        tiny_checkpoint: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "results.json"
    _cli(tiny_checkpoint, out, "--max-runs", "3")                # a sweep stopped after three runs
    first = load_results(out)["runs"]
    assert len(first) == 3

    real = sweep._gpt_run
    monkeypatch.setattr(sweep, "_gpt_run", lambda *a, **k: (_ for _ in ()).throw(KeyboardInterrupt))
    with pytest.raises(KeyboardInterrupt):                       # killed inside the next GPT run
        _cli(tiny_checkpoint, out)
    assert load_results(out)["runs"] == first                    # the finished runs are all still there
    monkeypatch.setattr(sweep, "_gpt_run", real)

    _cli(tiny_checkpoint, out)                                   # resumed: only the missing runs are run
    results = load_results(out)
    check_complete(results, **GRID)
    assert len(results["runs"]) == 8
    assert all(results["runs"][k] == row for k, row in first.items())     # not re-run (their times unchanged)
    assert results["n_test"] == 100 and results["recipe"]["max_steps"] == 4
    for key, row in results["runs"].items():
        assert 0.0 <= row["test_acc"] <= 1.0 and row["seconds"] > 0, key
        if row["method"] == "lora":
            assert 1 <= row["best_step"] <= row["steps"] <= 4 and row["rank"] == 8, key

    # the same sweep in one go gives the same numbers: a run depends on its seed, not on what ran before it
    fresh = sweep.run_sweep(tiny_checkpoint, tmp_path / "fresh.json", recipe=TINY_RECIPE, progress=False, **GRID)
    for key, row in fresh["runs"].items():
        assert (row["test_acc"], row.get("best_step")) == (results["runs"][key]["test_acc"],
                                                          results["runs"][key].get("best_step")), key

    with pytest.raises(ValueError, match="recipe"):              # never mixes runs of two recipes in one file
        sweep.run_sweep(tiny_checkpoint, out, recipe={**TINY_RECIPE, "max_steps": 5}, progress=False, **GRID)


def test_two_shards_share_one_results_file(tiny_checkpoint: Path, tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    grid = {**GRID, "methods": ("tfidf",)}
    for i in range(2):
        sweep.run_sweep(tiny_checkpoint, out, shard_of=(i, 2), recipe=TINY_RECIPE, progress=False, **grid)
    check_complete(load_results(out), **grid)


@pytest.mark.slow
def test_runs_that_never_read_the_weights_carry_over_to_another_checkpoint(tiny_checkpoint: Path,
                                                                          tmp_path: Path) -> None:
    from dlbook.recipes.pretrain import pretrain

    other = tmp_path / "other.npz"                    # the same shape and tokenizer, other weights
    pretrain("tiny", seed=1, steps=3, out=other, progress=False)
    grid = {**GRID, "methods": ("tfidf", "scratch", "full"), "budgets": (30,), "seeds": (0,)}
    old = tmp_path / "old.json"
    sweep.run_sweep(tiny_checkpoint, old, recipe=TINY_RECIPE, progress=False, **grid)
    reused = sweep.run_sweep(other, tmp_path / "new.json", recipe=TINY_RECIPE, progress=False, reuse=old, **grid)
    fresh = sweep.run_sweep(other, tmp_path / "fresh.json", recipe=TINY_RECIPE, progress=False, **grid)
    assert reused["checkpoint"] == fresh["checkpoint"] != load_results(old)["checkpoint"]
    for key, row in reused["runs"].items():
        copied = row["method"] in sweep.WEIGHT_FREE
        assert ("reused_from" in row) == copied, key
        if copied:                                    # a copied run is the run this checkpoint would make
            assert row["test_acc"] == fresh["runs"][key]["test_acc"], key
            assert row.get("best_step") == fresh["runs"][key].get("best_step"), key
    with pytest.raises(ValueError, match="recipe"):   # never carried over across recipes
        sweep.run_sweep(other, tmp_path / "third.json", recipe={**TINY_RECIPE, "max_steps": 5}, progress=False,
                        reuse=old, **grid)


def test_shipped_sweep_results_cover_every_budget_method_and_seed() -> None:
    """The results 5.3 plots hold every planned run (5 budgets x 5 methods x 3 seeds + the ranks), made by the
    sweep's recipe of today from the shipped Part IV checkpoint (so the stated command remakes them)."""
    import hashlib
    from importlib import resources

    from dlbook.recipes.pretrain import BASE_ASSET

    results = load_results(str(resources.files("dlbook").joinpath("assets/finetune_sweep.json")))
    check_complete(results)
    assert results["recipe"] == sweep.RECIPE
    assert results["checkpoint"]["sha256"] == hashlib.sha256(BASE_ASSET.read_bytes()).hexdigest()
    assert results["n_test"] == 1741 and results["n_train"] == 13_928
    for key, row in results["runs"].items():
        assert 0.5 < row["test_acc"] <= 1.0, key
        if parse_key(key).method not in ("tfidf",):
            assert row["best_step"] <= row["steps"], key


def test_shipped_domain_adapted_sweep_is_complete_and_carries_the_weight_free_runs_over() -> None:
    """5.3's second sweep: every budget x method x seed (no rank sweep) from the domain-adapted checkpoint, by
    today's recipe; its TF-IDF and from-scratch runs are the first sweep's, copied (they never read the weights),
    and every other run was made from REVIEWS_ASSET."""
    import hashlib
    from importlib import resources

    from dlbook.recipes.pretrain import REVIEWS_ASSET

    assets = resources.files("dlbook").joinpath("assets")
    first = load_results(str(assets.joinpath("finetune_sweep.json")))
    results = load_results(str(assets.joinpath("finetune_sweep_dapt.json")))
    check_complete(results, ranks=())
    assert results["recipe"] == sweep.RECIPE and results["n_test"] == first["n_test"]
    assert results["checkpoint"]["sha256"] == hashlib.sha256(REVIEWS_ASSET.read_bytes()).hexdigest()
    assert results["checkpoint"]["model"] == first["checkpoint"]["model"]
    for key, row in results["runs"].items():
        copied = row["method"] in sweep.WEIGHT_FREE
        assert ("reused_from" in row) == copied, key
        if copied:
            assert {k: v for k, v in row.items() if k != "reused_from"} == first["runs"][key], key
        assert 0.5 < row["test_acc"] <= 1.0, key


def test_later_settings_at_their_defaults_leave_the_recorded_recipe_as_the_shipped_files_have_it() -> None:
    assert sweep.header_recipe({**sweep.RECIPE, **sweep.LATER_SETTINGS}) == sweep.RECIPE
    assert sweep.header_recipe({**sweep.RECIPE, "windows": 2}) == {**sweep.RECIPE, "windows": 2}
    changed = {**sweep.RECIPE, **sweep.LATER_SETTINGS, "dropout": 0.1, "lm_weight": 0.5}
    assert sweep.header_recipe(changed) == {**sweep.RECIPE, "dropout": 0.1, "lm_weight": 0.5}


@pytest.mark.parametrize("setting, bad, err", [("dropout", 1.0, ValueError), ("dropout", -0.1, ValueError),
                                               ("dropout", "0.1", TypeError), ("dropout", False, TypeError),
                                               ("lm_weight", -1.0, ValueError), ("lm_weight", True, TypeError),
                                               ("lm_weight", None, TypeError)])
def test_bad_regularisation_settings_are_refused_before_any_work(setting: str, bad: object, err: type,
                                                                 tmp_path: Path) -> None:
    with pytest.raises(err, match=setting):
        sweep.run_sweep(tmp_path / "absent.npz", tmp_path / "x.json", recipe={setting: bad}, progress=False)


@pytest.mark.slow
def test_windows_setting_is_recorded_only_when_it_is_not_the_default(tiny_checkpoint: Path, tmp_path: Path) -> None:
    """``windows`` came after the shipped sweeps: at its default (1) a results file does not name it, so they
    and ``--reuse`` of them stay valid; windows=2 is recorded, and runs of the two are never mixed."""
    grid = {**GRID, "methods": ("tfidf", "scratch", "frozen"), "budgets": (30,), "seeds": (0,)}
    one = tmp_path / "one.json"
    default = sweep.run_sweep(tiny_checkpoint, one, recipe=TINY_RECIPE, progress=False, **grid)
    assert "windows" not in default["recipe"]
    same = sweep.run_sweep(tiny_checkpoint, one, recipe={**TINY_RECIPE, "windows": 1}, progress=False, **grid)
    assert same["runs"] == default["runs"]                      # windows=1 named: the same sweep, nothing re-run
    two = sweep.run_sweep(tiny_checkpoint, tmp_path / "two.json", recipe={**TINY_RECIPE, "windows": 2},
                          progress=False, **grid)
    assert two["recipe"]["windows"] == 2 and set(two["runs"]) == set(default["runs"])
    assert all(0.0 <= row["test_acc"] <= 1.0 for row in two["runs"].values())
    assert two["runs"]["tfidf|30|0|-"]["test_acc"] == default["runs"]["tfidf|30|0|-"]["test_acc"]   # reads it all
    with pytest.raises(ValueError, match="recipe"):             # windows=1 runs never go into a windows=2 file
        sweep.run_sweep(tiny_checkpoint, tmp_path / "two.json", recipe=TINY_RECIPE, progress=False, **grid)
    with pytest.raises(ValueError, match="recipe"):             # nor are they carried over into one
        sweep.run_sweep(tiny_checkpoint, tmp_path / "three.json", recipe={**TINY_RECIPE, "windows": 2},
                        progress=False, reuse=one, **grid)
    for bad, err in [(0, ValueError), (1.5, TypeError), ("2", TypeError)]:
        with pytest.raises(err, match="windows"):
            sweep.run_sweep(tmp_path / "absent.npz", tmp_path / "x.json", recipe={"windows": bad}, progress=False)


#: 5.3's pilots: (results file, the recipe settings it changes, the (method, labels) it covers, "all" = every label).
PILOTS = [("finetune_windows_pilot.json", {"windows": 2}, [("full", 1000), ("full", "all"), ("lora", 1000)]),
          ("finetune_dropout_pilot.json", {"dropout": 0.1}, [("full", 1000)]),
          ("finetune_lm_pilot.json", {"lm_weight": 0.5}, [("full", 1000)]),
          ("finetune_long_pilot.json", {"max_steps": 1200, "patience": 8}, [("full", "all")])]


@pytest.mark.parametrize(("name", "changed", "covers"), PILOTS, ids=[p[0] for p in PILOTS])
def test_shipped_pilots_compare_like_with_like(name: str, changed: dict, covers: list) -> None:
    """Each pilot of 5.3 changes only its own settings of the adapted sweep's recipe (same checkpoint, same splits),
    every run is one the adapted sweep also made (the chapter pairs them by key), and each (method, labels) it
    covers has all three seeds."""
    from importlib import resources

    from dlbook.recipes.sweep_results import pilot_changes

    assets = resources.files("dlbook").joinpath("assets")
    adapted = load_results(str(assets.joinpath("finetune_sweep_dapt.json")))
    pilot = load_results(str(assets.joinpath(name)))
    assert pilot["recipe"] == {**sweep.RECIPE, **changed}
    assert pilot["checkpoint"] == adapted["checkpoint"]
    pairs = pilot_changes(pilot, adapted)                      # raises unless every run has its twin, same splits
    for method, n in covers:
        n = adapted["n_train"] if n == "all" else n
        assert [p.seed for p in pairs[method, n]] == [0, 1, 2], (method, n)
    assert all(0.5 < r["test_acc"] <= 1.0 for r in pilot["runs"].values())


@pytest.mark.slow
def test_regularised_runs_train_with_the_lm_loss_and_dropout_and_say_so(tiny_checkpoint: Path, tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """dropout and lm_weight reach every GPT run's training step, and the results file records both."""
    from dlbook.finetune.classifier import GPTClassifier

    calls: list[float] = []
    real = GPTClassifier.forward_with_lm_loss

    def spy(self: GPTClassifier, ids: np.ndarray, lengths: np.ndarray) -> tuple[Tensor, Tensor]:
        calls.append(max(m.p for _, m in self.named_modules() if isinstance(m, nn.Dropout)))
        return real(self, ids, lengths)

    monkeypatch.setattr(GPTClassifier, "forward_with_lm_loss", spy)
    grid = {**GRID, "methods": ("full",), "budgets": (30,), "seeds": (0,)}
    out = sweep.run_sweep(tiny_checkpoint, tmp_path / "reg.json", progress=False,
                          recipe={**TINY_RECIPE, "dropout": 0.1, "lm_weight": 0.5}, **grid)
    assert out["recipe"]["dropout"] == 0.1 and out["recipe"]["lm_weight"] == 0.5
    assert len(calls) == out["runs"]["full|30|0|-"]["steps"] == 4 and set(calls) == {0.1}
    assert 0.0 <= out["runs"]["full|30|0|-"]["test_acc"] <= 1.0
