"""Attention-map explorer (§3.5): where each layer and head of the date translator looks.

:func:`compute_attention_map` translates one date with the model and returns,
for one layer and one head, the encoder's self-attention (S × S), the decoder's
masked self-attention (T × T) and the encoder–decoder attention (T × S), with
the tokens that label their rows and columns.  :func:`draw_attention` draws one
such matrix as a heat map with the tokens on the axes (Chinese characters in a
real CJK font); the GPT chapter reuses it for its own attention maps.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from dlbook._checks import check_int
from dlbook.widgets.base import LEGIBLE_DPI, Explorer

#: Examples the static explorer precomputes: (source text, target form).
EXAMPLES = (("二〇二六年十一月二十八日", "iso"), ("2026-11-28", "zh"), ("1987年3月9日", "iso"))


@functools.lru_cache(maxsize=1)
def cjk_font_name() -> str:
    """The family name of an installed Noto Sans CJK font, or "" (with a warning) when there is none."""
    from matplotlib import font_manager

    names = {f.name for f in font_manager.fontManager.ttflist if f.name.startswith("Noto Sans CJK")}
    for preferred in ("Noto Sans CJK SC", "Noto Sans CJK JP"):
        if preferred in names:
            return preferred
    if names:
        return sorted(names)[0]
    warnings.warn("no Noto Sans CJK font found (Debian: fonts-noto-cjk); Chinese labels may show as boxes",
                  stacklevel=2)
    return ""


def _font() -> Any:
    from matplotlib.font_manager import FontProperties

    name = cjk_font_name()
    return FontProperties(family=[name, "DejaVu Sans"] if name else ["DejaVu Sans"])


def draw_attention(weights: Any, query_tokens: Sequence[str], key_tokens: Sequence[str], ax: Any = None,
                   title: str = "", query_label: str = "query", key_label: str = "key") -> Any:
    """One attention matrix as a heat map.  weights: (L, S), rows = queries, columns = keys.

    Row i shows how query ``query_tokens[i]`` spreads its attention over the keys
    ``key_tokens`` (each row sums to 1).  Returns the Axes (a new figure when ``ax`` is None).
    """
    import matplotlib.pyplot as plt

    w = np.asarray(weights, dtype=float)
    if w.ndim != 2:
        raise ValueError(f"weights must be 2-D (L, S), got shape {w.shape}")
    if len(query_tokens) != w.shape[0] or len(key_tokens) != w.shape[1]:
        raise ValueError(f"need {w.shape[0]} query_tokens and {w.shape[1]} key_tokens for weights of shape "
                         f"{w.shape}, got {len(query_tokens)} and {len(key_tokens)}")
    if ax is None:
        _, ax = plt.subplots(figsize=(0.3 * w.shape[1] + 1.5, 0.3 * w.shape[0] + 1.2))
    ax.imshow(w, cmap="viridis", vmin=0.0, vmax=1.0, aspect="auto", interpolation="nearest")
    font = _font()
    ax.set_xticks(range(w.shape[1]))
    ax.set_xticklabels(list(key_tokens), fontproperties=font, fontsize=8, rotation=90)
    ax.set_yticks(range(w.shape[0]))
    ax.set_yticklabels(list(query_tokens), fontproperties=font, fontsize=8)
    ax.set_xlabel(key_label, fontsize=8)
    ax.set_ylabel(query_label, fontsize=8)
    if title:
        ax.set_title(title, fontsize=9, fontproperties=font)
    return ax


def _short(token: str) -> str:
    return {"<pad>": "·", "<bos>": "BOS", "<eos>": "EOS"}.get(token, token)


@functools.lru_cache(maxsize=1)
def _shipped_model() -> Any:
    from dlbook.recipes.translator import load_date_translator

    return load_date_translator()


def compute_attention_map(text: str, target: str, layer: int, head: int, model: Any = None) -> dict[str, Any]:
    """Translate ``text`` into form ``target`` ("iso", "zh" or "num") and read one layer's, one head's weights.

    Returns ``output`` (the translation), ``src_tokens`` (S), ``out_tokens`` (T:
    the tokens the decoder *produces*, ending with EOS), and the (head's)
    matrices ``encoder`` (S, S), ``decoder`` (T, T) and ``cross`` (T, S).
    ``model`` defaults to the shipped date translator.
    """
    from dlbook.data.dates import Vocab
    from dlbook.recipes.translator import translate_dates

    m = _shipped_model() if model is None else model
    c = m.config
    check_int("layer", layer, 0, c.num_decoder_layers - 1)
    check_int("head", head, 0, c.nhead - 1)
    (output,), src, out_ids = translate_dates(m, [text], [target])
    vocab = Vocab()
    n_out = int(np.argmax(out_ids[0] == vocab.eos_id)) + 1 if vocab.eos_id in out_ids[0] else out_ids.shape[1]
    produced = out_ids[:, :n_out]
    tgt_in = np.concatenate([[[vocab.bos_id]], produced[:, :-1]], axis=1)
    weights = m.attention_weights(src, tgt_in)
    src_tokens = [_short(t) for t in vocab.tokens(src[0])]
    return {
        "output": output,
        "src_tokens": src_tokens,
        "out_tokens": [_short(t) for t in vocab.tokens(produced[0])],
        "encoder": weights["encoder"][min(layer, c.num_encoder_layers - 1)][0, head],
        "decoder": weights["decoder"][layer][0, head],
        "cross": weights["cross"][layer][0, head],
    }


def draw_attention_map(text: str, target: str, layer: int, head: int, model: Any = None) -> Any:
    """Three heat maps side by side: encoder self-attention, decoder self-attention, cross-attention."""
    import matplotlib.pyplot as plt

    r = compute_attention_map(text, target, layer, head, model)
    fig, axes = plt.subplots(1, 3, figsize=(10.5, 3.6), gridspec_kw={"width_ratios": [1, 1, 1]})
    draw_attention(r["encoder"], r["src_tokens"], r["src_tokens"], ax=axes[0], title="encoder self-attention",
                   query_label="source token", key_label="source token")
    draw_attention(r["decoder"], r["out_tokens"], ["BOS", *r["out_tokens"][:-1]], ax=axes[1],
                   title="decoder masked self-attention", query_label="producing", key_label="decoder input")
    draw_attention(r["cross"], r["out_tokens"], r["src_tokens"], ax=axes[2], title="encoder–decoder attention",
                   query_label="producing", key_label="source token")
    fig.suptitle(f"{text} → {r['output']}   (layer {layer}, head {head})", fontproperties=_font(), fontsize=10)
    fig.tight_layout()
    return fig


def make_attention_explorer(mode: str = "static", model: Any = None,
                            examples: Sequence[tuple[str, str]] = EXAMPLES) -> Explorer:
    """Pick an example (static) or type a date (live), a layer and a head.

    Static: len(examples) × layers × heads frames, the example picked from a drop-down (a slider's readout
    could not hold a date and would run into the layer slider).  Live: a text box and the target form.
    """
    import ipywidgets as W

    m = _shipped_model() if model is None else model
    layers, heads = list(range(m.config.num_decoder_layers)), list(range(m.config.nhead))
    labels = [f"{t} → {f}" for t, f in examples]
    by_label = dict(zip(labels, examples))
    if mode == "live":
        controls: dict[str, Any] = {
            "text": W.Text(value=examples[0][0], description="date", continuous_update=False),
            "target": W.Dropdown(options=["iso", "zh", "num"], value=examples[0][1], description="into"),
        }
        grid: dict[str, list[Any]] = {"text": [examples[0][0]], "target": ["iso", "zh", "num"]}

        def draw(text: str, target: str, layer: int, head: int) -> Any:
            try:
                return draw_attention_map(text.strip(), target, layer, head, m)
            except ValueError as err:  # a typo in the box: say what is wrong instead of failing
                import matplotlib.pyplot as plt

                fig, ax = plt.subplots(figsize=(10.5, 1.2))
                ax.axis("off")
                ax.text(0.0, 0.5, str(err), fontproperties=_font(), fontsize=9, wrap=True)
                return fig
    else:
        controls = {"example": W.Dropdown(options=labels, value=labels[0], description="example")}
        grid = {"example": labels}

        def draw(example: str, layer: int, head: int) -> Any:
            return draw_attention_map(*by_label[example], layer, head, m)
    controls["layer"] = W.IntSlider(value=0, min=0, max=layers[-1], description="layer", continuous_update=False)
    controls["head"] = W.IntSlider(value=0, min=0, max=heads[-1], description="head", continuous_update=False)
    grid["layer"], grid["head"] = layers, heads
    return Explorer(draw, controls, grid, mode=mode, title="Attention maps of the date translator", dpi=LEGIBLE_DPI)
