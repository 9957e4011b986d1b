"""Generation explorers (§5.2, §3.4): prompt, temperature, top-k -> a continuation, each token with its probability.

:func:`compute_generation` samples a continuation from a GPT with
:meth:`dlbook.models.gpt.GPT.generate` (temperature and top-k through
``dlbook.sampling``) and returns the tokens with the probability each had
when it was drawn; :func:`draw_generation` shows them as a row of bars, one
per generated token, the token written under its bar (coloured by
probability).  The same seed gives the same continuation for every setting,
so moving a slider changes only what the setting changes.

``mode="static"``: a few prompts × temperatures × top-k precomputed;
``mode="live"``: a Text box for any prompt.  :func:`make_generation_explorer` samples the GPT of Part IV,
:func:`make_char_sampling_explorer` the character LSTM of §3.4 (one character per bar); both are the one
:func:`sampling_explorer` over a different sampler.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import matplotlib
import numpy as np

from dlbook.widgets.attention_map import cjk_font_name
from dlbook.widgets.base import DPI, LEGIBLE_DPI, Explorer

STATIC_TEMPERATURES = (0.5, 1.0, 1.5)
STATIC_TOP_K = (5, 50, 0)            # 0 = no top-k cut
STATIC_PROMPTS = ("中国", "经济", "今天")
#: The character LSTM's static settings (§3.4): English prompts of Python's help text, and top-k 5, 20, off.
CHAR_PROMPTS = ("The ", "def ")
CHAR_TOP_K = (20, 5, 0)


def use_cjk_font() -> str:
    """Put a CJK font first in matplotlib's sans-serif list so Chinese text renders; returns its name."""
    name = cjk_font_name()
    if name:
        matplotlib.rcParams["font.sans-serif"] = [name, *[f for f in matplotlib.rcParams["font.sans-serif"]
                                                            if f != name]]
        matplotlib.rcParams["font.family"] = "sans-serif"
        matplotlib.rcParams["axes.unicode_minus"] = False
    return name


def compute_generation(model: Any, tokenizer: Any, prompt: str, temperature: float = 1.0, top_k: int = 0,
                       max_new_tokens: int = 20, seed: int = 0) -> dict[str, Any]:
    """Sample a continuation of ``prompt``: {"prompt", "tokens" (list of str, ``<unk>`` as "?"), "probs" (T,), "text"}.

    ``top_k=0`` means no top-k cut.  Raises ValueError for an empty prompt or
    one longer than the model's context.
    """
    if not isinstance(prompt, str) or not prompt:
        raise ValueError(f"prompt must be a non-empty string, got {prompt!r}")
    ids = tokenizer.encode(prompt)
    new, probs = model.generate(ids, max_new_tokens, rng=np.random.default_rng(seed), temperature=temperature,
                                top_k=top_k or None)
    tokens = [tokenizer.decode([int(i)]).replace("\ufffd", "?") for i in new]   # <unk> shown as "?"
    return {"prompt": prompt, "tokens": tokens, "probs": probs, "text": "".join(tokens)}


def compute_char_sampling(model: Any, prompt: str, temperature: float = 1.0, top_k: int = 0,
                          length: int = 40, seed: int = 0) -> dict[str, Any]:
    """Sample ``length`` characters after ``prompt`` from a :class:`~dlbook.models.CharLM`, in the form of
    :func:`compute_generation`: {"prompt", "tokens" (one character each), "probs" (length,), "text"}."""
    ids, probs = model.sample(prompt, length, np.random.default_rng(seed), temperature, top_k or None)
    tokens = [model.tokenizer.decode([int(i)]).replace("\ufffd", "?") for i in ids]
    return {"prompt": prompt, "tokens": tokens, "probs": probs, "text": "".join(tokens)}


def draw_generation(result: dict[str, Any], title: str = "", width_per_token: float = 0.32) -> Any:
    """One bar per generated token (height = its probability), the token under it, the prompt in the title."""
    import matplotlib.pyplot as plt

    use_cjk_font()
    tokens, probs = result["tokens"], np.asarray(result["probs"])
    fig, ax = plt.subplots(figsize=(max(6.0, width_per_token * len(tokens) + 1.5), 2.6))
    colours = plt.get_cmap("viridis")(probs)
    x = np.arange(len(tokens))
    ax.bar(x, probs, color=colours, width=0.85)
    ax.set_xticks(x, [t.replace("\n", "⏎") for t in tokens], fontsize=11)
    ax.set_ylim(0, 1)
    ax.set_ylabel("p(token)")
    ax.set_title(title or f"「{result['prompt']}」→ {result['text'].replace(chr(10), '⏎')}", fontsize=10)
    fig.tight_layout()
    return fig


def sampling_explorer(sample: Callable[[str, float, int], dict[str, Any]], prompts: tuple[str, ...], title: str,
                      mode: str = "static", temperatures: tuple[float, ...] = STATIC_TEMPERATURES,
                      top_ks: tuple[int, ...] = STATIC_TOP_K, quote: tuple[str, str] = ("「", "」"),
                      width_per_token: float = 0.32, dpi: int = DPI) -> Explorer:
    """Prompt, temperature and top-k controls over the bars of ``sample(prompt, temperature, top_k)`` (a result
    as :func:`compute_generation` returns it); ``quote`` frames the prompt in each frame's title."""
    import ipywidgets as W

    def draw(prompt: str, temperature: float, top_k: int) -> Any:
        try:
            res = sample(prompt, temperature, top_k)
        except ValueError as error:               # live mode: an empty or too long prompt
            res = {"prompt": prompt, "tokens": [], "probs": np.zeros(0), "text": ""}
            return draw_generation(res, title=str(error))
        return draw_generation(res, title=f"T={temperature:g}, top-k={top_k or 'off'}: {quote[0]}{prompt}{quote[1]}→ "
                                          + res["text"].replace("\n", "⏎"), width_per_token=width_per_token)

    prompt_control = (W.Dropdown(options=list(prompts), value=prompts[0], description="prompt") if mode == "static"
                      else W.Text(value=prompts[0], description="prompt", continuous_update=False))
    controls = {
        "prompt": prompt_control,
        "temperature": W.FloatSlider(value=temperatures[0], min=0.1, max=2.0, step=0.1, description="temperature"),
        "top_k": W.IntSlider(value=top_ks[0], min=0, max=100, step=5, description="top-k (0 = off)"),
    }
    grid = {"prompt": list(prompts), "temperature": list(temperatures), "top_k": list(top_ks)}
    return Explorer(draw, controls, grid, mode=mode, title=title, dpi=dpi)


def make_generation_explorer(model: Any, tokenizer: Any, mode: str = "static", max_new_tokens: int = 20,
                             seed: int = 0, prompts: tuple[str, ...] = STATIC_PROMPTS) -> Explorer:
    """The generation widget: prompt, temperature and top-k controls over a continuation's token probabilities."""
    def sample(prompt: str, temperature: float, top_k: int) -> dict[str, Any]:
        return compute_generation(model, tokenizer, prompt, temperature, top_k, max_new_tokens, seed)

    return sampling_explorer(sample, prompts, "Sampling from the pretrained GPT", mode)


def make_char_sampling_explorer(model: Any, mode: str = "static", length: int = 40, seed: int = 0,
                                prompts: tuple[str, ...] = CHAR_PROMPTS) -> Explorer:
    """§3.4's sampler: prompt, temperature and top-k over ``length`` characters of a character LSTM
    (:class:`~dlbook.models.CharLM`), each with the probability it had when drawn; the same seed for every frame.

    ``mode="static"``: 2 prompts × temperatures 1, 0.5, 1.5 × top-k 20, 5, off (18 frames)."""
    def sample(prompt: str, temperature: float, top_k: int) -> dict[str, Any]:
        return compute_char_sampling(model, prompt, temperature, top_k, length, seed)

    return sampling_explorer(sample, prompts, "Sampling from the character LSTM", mode,
                             temperatures=(1.0, 0.5, 1.5), top_ks=CHAR_TOP_K, quote=("“", "”"),
                             width_per_token=0.2, dpi=LEGIBLE_DPI)
