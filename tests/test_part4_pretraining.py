"""Part IV's pretrained GPT against the counting baselines, recomputed from the shipped files.

No loss is typed here: the Kneser–Ney 5-gram is fitted on the training ids, the shipped GPT
(`dlbook.recipes.pretrain.BASE_ASSET`) is scored on the test text with `token_losses`, and the assertions
compare the two — the same comparison chapter 5.2 prints.
"""

from __future__ import annotations

import numpy as np
import pytest

from dlbook._cli import parse_settings
from dlbook.baselines import KneserNey
from dlbook.models.gpt import load_gpt
from dlbook.recipes.pretrain import (
    ASSET,
    BASE_ASSET,
    PRESETS,
    REVIEWS_ASSET,
    STAGE1_ASSET,
    evaluate,
    export_weights,
    load_corpus,
    load_news_data,
    pretrain,
    token_losses,
)


@pytest.fixture(scope="module")
def test_nll() -> dict[str, np.ndarray]:
    """Per-character test losses (nats) of the shipped GPT and of the modified KN 3- and 5-gram."""
    data = load_news_data(min_freq=5, vocab="news+reviews")
    model, tok, _, _ = load_gpt(BASE_ASSET)
    assert tok.itos == data.tokenizer.itos
    out = {"gpt": token_losses(model, data.test)}
    for n in (3, 4, 5):
        kn = KneserNey(order=n, vocab_size=data.tokenizer.vocab_size, modified=True).fit(data.train)
        out[f"kn{n}"] = -kn.log_probs(data.test)[1:]          # the GPT predicts positions 1.. of the text
    return out


@pytest.mark.slow
def test_shipped_gpt_beats_the_kneser_ney_3_and_4gram(test_nll: dict[str, np.ndarray]) -> None:
    assert test_nll["gpt"].mean() < test_nll["kn4"].mean() < test_nll["kn3"].mean()


@pytest.mark.slow
def test_gpt_and_5gram_mixed_beat_the_5gram_by_015(test_nll: dict[str, np.ndarray]) -> None:
    """p = ½ p_GPT + ½ p_5-gram: the two know different things (5.2 picks λ on validation; ½ is a fixed choice)."""
    mix = -np.logaddexp(np.log(0.5) - test_nll["gpt"], np.log(0.5) - test_nll["kn5"]).mean()
    assert mix <= test_nll["kn5"].mean() - 0.15


@pytest.mark.slow
def test_issue_goal_shipped_gpt_beats_the_5gram_by_015(test_nll: dict[str, np.ndarray]) -> None:
    assert test_nll["gpt"].mean() <= test_nll["kn5"].mean() - 0.15


def test_token_losses_with_full_stride_equal_evaluate() -> None:
    """stride = context scores each window's positions once: the mean equals `evaluate` over the same windows."""
    data = load_news_data(min_freq=5, vocab="news+reviews")
    model, _ = pretrain("tiny", seed=0, steps=5, progress=False)
    L = model.config.context
    ids = data.val[: 4 * L + 1]
    per_token = token_losses(model, ids, stride=L)
    assert per_token.shape == (4 * L,) and np.isfinite(per_token).all()
    assert per_token.mean() == pytest.approx(evaluate(model, ids), rel=1e-5)
    overlapping = token_losses(model, ids)                 # half-context stride: later tokens see more history
    assert overlapping[:L] == pytest.approx(per_token[:L], rel=1e-5)
    with pytest.raises(ValueError, match="stride"):
        token_losses(model, ids, stride=L + 1)


def test_target_nll_equals_the_full_log_softmax_at_the_targets() -> None:
    from dlbook.functional.activations import log_softmax_array
    from dlbook.recipes.news_lm import target_nll

    rng = np.random.default_rng(0)
    z = (rng.standard_normal((3, 5, 50)) * 4 + 30).astype(np.float32)     # large logits: the shift matters
    y = rng.integers(0, 50, size=(3, 5))
    full = -np.take_along_axis(log_softmax_array(z.astype(np.float64)), y[..., None], axis=-1)[..., 0]
    got = target_nll(z, y)
    assert got.dtype == np.float64 and got.shape == (3, 5)
    np.testing.assert_allclose(got, full, rtol=1e-6, atol=1e-6)


def test_export_weights_writes_float16_that_loads(tmp_path) -> None:
    run = tmp_path / "run.npz"
    model, _ = pretrain("tiny", seed=0, steps=4, eval_every=2, out=run, progress=False)
    export_weights(run, tmp_path / "ship.npz")
    shipped, _, ck, extra = load_gpt(tmp_path / "ship.npz")
    assert ck["weights_dtype"] == "float16" and "batch_rng" not in ck and "hist_loss" in extra
    for name, value in model.state_dict().items():
        np.testing.assert_array_equal(shipped.state_dict()[name], value.astype(np.float16).astype(np.float32))


def test_export_history_keeps_the_curves_and_settings(tmp_path) -> None:
    import json

    from dlbook.recipes.export import export_history

    run = tmp_path / "run.npz"
    _, history = pretrain("tiny", seed=0, steps=4, eval_every=2, out=run, progress=False)
    record = export_history(run, tmp_path / "curves.json")
    assert json.loads((tmp_path / "curves.json").read_text()) == record
    assert record["settings"]["steps"] == 4 and record["step"] == 4 and record["seed"] == 0
    assert record["val_step"] == list(history.val_step) and record["val_loss"] == pytest.approx(history.val_loss)
    assert record["loss"] == pytest.approx(history.loss, abs=1e-5) and len(record["step_loss"]) == 4


def test_second_stage_starts_from_the_shipped_first_stage_weights() -> None:
    model, _ = pretrain("base2", stop_after=0, progress=False)
    first, _, _, _ = load_gpt(STAGE1_ASSET)
    want = first.state_dict()
    for name, value in model.state_dict().items():
        np.testing.assert_array_equal(value, want[name].astype(np.float32), err_msg=name)


def test_init_from_a_checkpoint_with_another_tokenizer_is_refused() -> None:
    # the small model's vocabulary was fitted on the news alone, the base2 preset's on news + reviews
    with pytest.raises(ValueError, match="init"):
        pretrain("base2", stop_after=0, progress=False, init=str(ASSET))


def test_parse_settings_reads_json_and_keeps_plain_strings() -> None:
    assert parse_settings(["lr=1e-3", "dropout=0", "init=runs/a.npz", "eval_windows=null"]) == {
        "lr": 1e-3, "dropout": 0, "init": "runs/a.npz", "eval_windows": None}
    with pytest.raises(ValueError, match="KEY=VALUE"):
        parse_settings(["lr"])


def test_a_run_saved_before_the_config_renaming_resumes(tmp_path) -> None:
    """A run file whose model config uses the old field names (n_layers, n_heads, d_ff) resumes to the same end."""
    import json

    from dlbook.models.gpt import OLD_CONFIG_NAMES

    settings = dict(steps=4, eval_every=2, eval_windows=2, batch_size=2)
    done, _ = pretrain("tiny", 0, None, progress=False, **settings)
    path = tmp_path / "run.npz"
    pretrain("tiny", 0, path, stop_after=2, progress=False, **settings)
    with np.load(path, allow_pickle=False) as f:
        arrays = {k: f[k] for k in f.files}
    config = json.loads(arrays["__config__"].tobytes().decode())
    new_names = {new: old for old, new in OLD_CONFIG_NAMES.items()}
    config["model"] = {new_names.get(k, k): v for k, v in config["model"].items()}
    arrays["__config__"] = np.frombuffer(json.dumps(config, sort_keys=True).encode(), dtype=np.uint8)
    np.savez(path, **arrays)
    resumed, _ = pretrain("tiny", 0, path, resume=True, progress=False, **settings)
    for name, value in done.state_dict().items():
        np.testing.assert_array_equal(resumed.state_dict()[name], value, err_msg=name)


def test_shipped_checkpoints_were_made_by_the_stated_presets() -> None:
    """The commands in dlbook.recipes.pretrain's docstring reproduce the shipped files: their stored settings
    are the presets' (a preset edited after the run would break that promise)."""
    for path, preset in ((STAGE1_ASSET, "base"), (BASE_ASSET, "base2"), (REVIEWS_ASSET, "reviews")):
        _, _, ck, _ = load_gpt(path)
        settings = {"init": None, **ck["settings"]}           # the first stage was saved before `init` existed
        assert settings == PRESETS[preset], path.name
        assert ck["step"] == PRESETS[preset]["steps"]


def test_domain_adaptive_pretraining_reads_only_the_training_reviews() -> None:
    """The ``reviews`` corpus: the news vocabulary, the training reviews as training text, and the validation and
    test reviews only where a run is scored — never a validation or test review among the training ids."""
    from dlbook.data.chinese import load_reviews

    news, corpus, reviews = load_news_data(5, "news+reviews"), load_corpus(5, "news+reviews", "reviews"), load_reviews()
    assert corpus.tokenizer is news.tokenizer
    np.testing.assert_array_equal(corpus.train, news.tokenizer.encode("\n".join(reviews.train_text)))
    np.testing.assert_array_equal(corpus.val, news.tokenizer.encode("\n".join(reviews.val_text)))
    assert load_corpus(5, "news+reviews", "news") is news
    with pytest.raises(ValueError, match="corpus must be one of"):
        load_corpus(5, "news", "tweets")


def test_the_reviews_preset_starts_from_the_shipped_base_model() -> None:
    """REVIEWS_ASSET continues BASE_ASSET: the preset names it as its start, and the two share the tokenizer."""
    assert PRESETS["reviews"]["init"] == "assets/" + BASE_ASSET.name
    assert load_gpt(REVIEWS_ASSET)[1].to_json() == load_gpt(BASE_ASSET)[1].to_json()
