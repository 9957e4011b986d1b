"""The date task, the encoder–decoder Transformer, its decoding, and the two attention explorers."""

from __future__ import annotations

import datetime as dt
import io

import numpy as np
import pytest

from dlbook.data.dates import (
    DIRECTIONS,
    MAX_SRC_LEN,
    MAX_TGT_LEN,
    Vocab,
    format_date,
    load_dates,
    pad_batch,
    parse_date,
)
from dlbook.models.seq2seq import Seq2SeqConfig, Seq2SeqTransformer
from dlbook.recipes.translator import (
    PRESETS,
    exact_match,
    load_date_translator,
    train_date_translator,
    translate_dates,
)


# ---- the data ------------------------------------------------------------------------------
def test_date_forms_written_out() -> None:
    d = dt.date(2026, 11, 28)
    assert format_date(d, "zh") == "二〇二六年十一月二十八日"
    assert format_date(d, "num") == "2026年11月28日"
    assert format_date(d, "iso") == "2026-11-28"
    assert format_date(dt.date(1990, 1, 10), "zh") == "一九九〇年一月十日"
    assert format_date(dt.date(2001, 10, 20), "zh") == "二〇〇一年十月二十日"
    assert format_date(dt.date(2001, 12, 31), "zh") == "二〇〇一年十二月三十一日"
    for form in ("zh", "num", "iso"):
        assert parse_date(format_date(d, form)) == d
    with pytest.raises(ValueError, match="form"):
        format_date(d, "roman")
    with pytest.raises(ValueError, match="not a valid date"):
        parse_date("2026-02-30")


@pytest.mark.slow
def test_split_holds_out_whole_dates_and_is_seeded() -> None:
    task = load_dates(seed=0)
    assert not set(task.train_dates) & set(task.test_dates)
    assert len(task.test_dates) == round(0.1 * (len(task.train_dates) + len(task.test_dates)))
    assert load_dates(seed=0).test_dates == task.test_dates
    assert load_dates(seed=1).test_dates != task.test_dates
    pairs = task.pairs(task.test_dates[:5])
    assert len(pairs) == 5 * len(DIRECTIONS)
    assert pairs.src.shape == (20, MAX_SRC_LEN) and pairs.tgt.shape == (20, MAX_TGT_LEN)
    v = task.vocab
    for i in range(len(pairs)):  # source = tag + text; target = <bos> text <eos>
        assert v.itos[pairs.src[i, 0]] == f"<{pairs.tags[i]}>"
        assert v.decode(pairs.src[i, 1:]) == pairs.src_text[i]
        assert pairs.tgt[i, 0] == v.bos_id and v.decode(pairs.tgt[i]) == pairs.tgt_text[i]
        assert parse_date(pairs.src_text[i]) == parse_date(pairs.tgt_text[i])


def test_vocab_and_padding_bad_input() -> None:
    v = Vocab()
    assert (v.pad_id, v.bos_id, v.eos_id) == (0, 1, 2)
    with pytest.raises(ValueError, match="outside the vocabulary"):
        v.encode("2026/11/28")
    with pytest.raises(ValueError, match="tag"):
        v.encode("2026", tag="fr")
    assert pad_batch([np.array([5, 6]), np.array([7])]).tolist() == [[5, 6], [7, 0]]
    with pytest.raises(ValueError, match="length"):
        pad_batch([np.array([5, 6])], length=1)


# ---- the model --------------------------------------------------------------------------------
def _tiny(seed: int = 0) -> Seq2SeqTransformer:
    return Seq2SeqTransformer(Seq2SeqConfig(len(Vocab()), d_model=8, nhead=2, num_encoder_layers=1,
                                            num_decoder_layers=1, dim_feedforward=16), rng=np.random.default_rng(seed))


@pytest.mark.slow
def test_seq2seq_gradcheck_through_both_stacks() -> None:
    from dlbook.gradcheck import gradcheck

    m = _tiny()
    task = load_dates()
    p = task.pairs(task.train_dates[:1])
    params = dict(m.named_parameters())  # the layers are gradient-checked in full in test_attention.py
    checked = [params[n] for n in ("embed.weight", "decoder.layers_0.multihead_attn.in_proj.weight",
                                   "encoder.norm.weight", "generator.bias")]
    assert gradcheck(lambda *ps: m.loss(p.src[:1], p.tgt[:1]), checked, atol=1e-5)


def test_decoder_is_causal_and_padding_is_ignored() -> None:
    """Changing a later target token leaves earlier logits alone; source padding changes nothing."""
    m = _tiny()
    rng = np.random.default_rng(0)
    src = rng.integers(6, 30, (2, 5))
    tgt = rng.integers(6, 30, (2, 6))
    base = m(src, tgt).data
    tgt2 = tgt.copy()
    tgt2[:, 4] = 7
    np.testing.assert_allclose(m(src, tgt2).data[:, :4], base[:, :4], atol=1e-12)
    padded = np.concatenate([src, np.zeros((2, 3), np.int64)], axis=1)
    np.testing.assert_allclose(m(padded, tgt).data, base, atol=1e-12)


def test_seq2seq_bad_input() -> None:
    m = _tiny()
    with pytest.raises(ValueError, match="src"):
        m(np.zeros((2, 40), np.int64), np.ones((2, 3), np.int64))
    with pytest.raises(ValueError, match="tgt_in"):
        m(np.ones((2, 3), np.int64), np.full((2, 3), 999))
    with pytest.raises(TypeError, match="src"):
        m(np.ones((2, 3)), np.ones((2, 3), np.int64))
    with pytest.raises(ValueError, match="beam_size"):
        m.beam_search(np.ones((1, 3), np.int64), beam_size=0)
    with pytest.raises(ValueError, match="nhead"):
        Seq2SeqConfig(10, d_model=10, nhead=3)
    with pytest.raises(ValueError, match="at most"):
        translate_dates(m, ["二〇二六年十一月二十八日二十"], ["iso"])
    with pytest.raises(ValueError, match="outside the vocabulary"):
        translate_dates(m, ["2026/11/28"], ["zh"])


@pytest.mark.slow
def test_short_training_loss_falls() -> None:
    """The notebook's quick run (a few seconds) takes the loss from ln|V| ≈ 3.6 to below 0.2 nats per token."""
    task = load_dates()
    _, extra = train_date_translator(task, **PRESETS["quick"], progress=False)
    loss = extra["loss"]
    assert loss[:5].mean() > 3.0
    assert loss[-20:].mean() < 0.2


@pytest.mark.slow
def test_shipped_translator_is_exact_on_held_out_dates() -> None:
    """The shipped checkpoint: ≥ 99% exact match on dates it never saw, every direction."""
    task = load_dates(seed=0)
    model = load_date_translator()
    rng = np.random.default_rng(0)
    dates = [task.test_dates[i] for i in rng.choice(len(task.test_dates), 400, replace=False)]
    acc, outputs = exact_match(model, task.pairs(dates))
    assert acc >= 0.99, acc
    out, _, _ = translate_dates(model, ["二〇二六年十一月二十八日", "2026-11-28", "2026-11-28"], ["iso", "zh", "num"])
    assert out == ["2026-11-28", "二〇二六年十一月二十八日", "2026年11月28日"]


@pytest.mark.slow
def test_beam_search_agrees_with_greedy_on_a_confident_model() -> None:
    model = load_date_translator()
    texts, targets = ["1987年3月9日", "2031-07-04"], ["iso", "zh"]
    greedy = translate_dates(model, texts, targets)[0]
    beam = translate_dates(model, texts, targets, beam_size=3)[0]
    assert greedy == beam == ["1987-03-09", "二〇三一年七月四日"]
    found = model.beam_search(Vocab().encode("2031-07-04", tag="zh")[None], beam_size=2, max_len=4)
    assert len(found) == 1 and len(found[0][0]) == 4 and found[0][1] <= 0  # cut at max_len, log-prob ≤ 0


@pytest.mark.slow
def test_cross_attention_aligns_digits_with_characters() -> None:
    """In the last decoder layer, summed over heads, each ISO digit attends most to its Chinese digit."""
    from dlbook.widgets.attention_map import compute_attention_map

    model = load_date_translator()
    text = "二〇二六年十一月二十八日"
    maps = [compute_attention_map(text, "iso", model.config.num_decoder_layers - 1, h, model)
            for h in range(model.config.nhead)]
    cross = sum(m["cross"] for m in maps)
    src, out = maps[0]["src_tokens"], maps[0]["out_tokens"]
    assert "".join(out[:-1]) == "2026-11-28"
    for i, j in ((3, 4), (9, 11)):  # '6' ← 六, '8' ← 八
        assert int(np.argmax(cross[i])) == j, (out[i], src[int(np.argmax(cross[i]))])


# ---- the explorers -----------------------------------------------------------------------------
def test_draw_attention_labels_and_checks() -> None:
    import matplotlib.pyplot as plt

    from dlbook.widgets.attention_map import cjk_font_name, draw_attention

    assert cjk_font_name().startswith("Noto Sans CJK")
    ax = draw_attention(np.eye(3), ["二", "〇", "年"], ["a", "b", "c"], title="t")
    assert [t.get_text() for t in ax.get_yticklabels()] == ["二", "〇", "年"]
    plt.close(ax.figure)
    with pytest.raises(ValueError, match="key_tokens"):
        draw_attention(np.eye(3), ["a", "b", "c"], ["a"])


@pytest.mark.slow
def test_attention_explorer_static_and_live() -> None:
    from PIL import Image

    from dlbook.widgets.attention_map import EXAMPLES, make_attention_explorer
    from dlbook.widgets.base import LEGIBLE_DPI

    static = make_attention_explorer(mode="static", examples=EXAMPLES[:1])
    first = static.last_png
    assert len(static.frames) == 1 * 2 * 4
    assert static.select(head=1) != first
    assert static.select(head=0) == first
    assert set(static.sliders) == {"layer", "head"}                 # one example: stated, not an inert control
    assert static.shown_png() == first
    assert Image.open(io.BytesIO(first)).size[0] == round(10.5 * LEGIBLE_DPI)   # legible, not 72 dpi
    live = make_attention_explorer(mode="live")
    before = live.last_png
    live.controls["text"].value = "2031-07-04"
    live.controls["target"].value = "zh"
    assert live.last_png != before
    live.controls["text"].value = "not a date"  # shows the error instead of raising
    assert live.last_png is not None


def test_scaling_compute_matches_theory() -> None:
    from dlbook.widgets.scaling import D_K, KEYS, compute_scaling, softmax_stats

    r = compute_scaling(64, 1.0)
    big = np.array(D_K) >= 64
    # without scaling, Var(q·k) ≈ d_k and the softmax saturates: low entropy, tiny gradient
    np.testing.assert_allclose(r["var_unscaled"][big] / np.array(D_K)[big], 1.0, atol=0.15)
    assert r["entropy_unscaled"][-1] < 0.3 < 1.5 < r["entropy_scaled"][-1]
    assert r["grad_unscaled"][-1] < 0.25 * r["grad_scaled"][-1]
    # with scaling the curves stay flat in d_k
    assert np.ptp(r["entropy_scaled"][2:]) < 0.3
    # a higher temperature flattens the softmax
    assert compute_scaling(64, 4.0)["entropy_scaled"].mean() > r["entropy_scaled"].mean()
    # uniform scores: entropy log S, max 1/S, Jacobian norm sqrt(1/S − 1/S²)
    st = softmax_stats(np.zeros((1, KEYS)))
    assert st["entropy"] == pytest.approx(np.log(KEYS))
    assert st["grad_norm"] == pytest.approx(np.sqrt(1 / KEYS - 1 / KEYS**2))
    with pytest.raises(ValueError, match="temperature"):
        compute_scaling(4, 0.0)


@pytest.mark.slow
def test_scaling_explorer_static_and_live() -> None:
    from dlbook.widgets.scaling import make_scaling_explorer

    static = make_scaling_explorer(mode="static")
    first = static.last_png
    assert static.select(d_k=1024) != first
    assert static.select(d_k=64) == first
    live = make_scaling_explorer(mode="live")
    before = live.last_png
    live.controls["temperature"].value = 2.0
    assert live.last_png != before
