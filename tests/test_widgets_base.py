"""widgets.base: static frames, links, quantisation and what a widget weighs on its page."""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path

import ipywidgets as W
import matplotlib.pyplot as plt
import numpy as np
import pytest
from PIL import Image

from dlbook.widgets.base import (
    MAX_WIDGET_BYTES,
    Explorer,
    figure_png,
    quantize_png,
    stored_widget_sizes,
    widget_state_bytes,
)

ROOT = Path(__file__).resolve().parent.parent


def draw_wave(freq: float, phase: float = 0.0):
    fig, ax = plt.subplots(figsize=(3, 2))
    x = np.linspace(0, 2 * np.pi, 200)
    ax.plot(x, np.sin(freq * x + phase))
    ax.set_title(f"sin({freq:g}x + {phase:g})")
    return fig


def wave_explorer(**kwargs) -> Explorer:
    controls = {"freq": W.FloatSlider(value=1.0, min=1, max=3, description="freq"),
                "phase": W.FloatSlider(value=0.0, min=0, max=1, description="phase")}
    return Explorer(draw_wave, controls, {"freq": [1.0, 2.0, 3.0], "phase": [0.0, 1.0]}, **kwargs)


@pytest.mark.slow
def test_static_explorer_links_every_stack_to_its_slider() -> None:
    ex = wave_explorer()
    assert len(ex.frames) == 6 and len(set(ex.frames.values())) == 6
    # one link for the outer stack (freq), one per inner stack (phase)
    assert len(ex.links) == 1 + 3
    targets = {(link.source[0], link.source[1], link.target[1]) for link in ex.links}
    assert {(s, n) for s, n, _ in targets} == {(ex.sliders["freq"], "index"), (ex.sliders["phase"], "index")}
    assert all(t == "selected_index" for _, _, t in targets)
    stacks = [ex.display, *ex.display.children]
    assert [link.target[0] for link in ex.links] == [*stacks[1:], stacks[0]]  # inner stacks are linked first
    # the frame a reader reaches by moving both sliders is the one drawn for those values
    assert ex.select(freq=3.0, phase=1.0) == ex.frames[(3.0, 1.0)] == ex.display.children[2].children[1].value
    assert ex.sliders["freq"].index == 2 and ex.sliders["phase"].index == 1


@pytest.mark.slow
def test_unlinked_debug_variant_has_frames_but_no_links() -> None:
    ex = wave_explorer(linked=False)
    assert ex.links == [] and len(ex.frames) == 6
    ex.select(freq=2.0)
    assert ex.display.selected_index == 0  # nothing follows the slider: the broken widget the browser test catches


@pytest.mark.slow
def test_frames_are_quantised_deterministically_and_smaller() -> None:
    full = figure_png(draw_wave(2.0))
    small = figure_png(draw_wave(2.0), colors=256)
    assert small == figure_png(draw_wave(2.0), colors=256) == quantize_png(full, 256)
    assert len(small) < 0.6 * len(full)
    a = np.asarray(Image.open(io.BytesIO(full)).convert("RGB"), dtype=float)
    b = np.asarray(Image.open(io.BytesIO(small)).convert("RGB"), dtype=float)
    assert a.shape == b.shape and np.abs(a - b).mean() < 2.0  # same picture, up to the palette
    assert Image.open(io.BytesIO(small)).mode == "P"
    ex_full, ex_small = wave_explorer(colors=None), wave_explorer()
    assert ex_full.frames[(1.0, 0.0)] == figure_png(draw_wave(1.0))
    assert sum(map(len, ex_small.frames.values())) < 0.6 * sum(map(len, ex_full.frames.values()))


@pytest.mark.parametrize("colors, error", [(0, ValueError), (1, ValueError), (257, ValueError),
                                           (2.5, TypeError), (True, TypeError)])
def test_bad_colors_rejected(colors, error) -> None:  # noqa: ANN001
    with pytest.raises(error, match=r"colors must be an int"):
        wave_explorer(colors=colors)


@pytest.mark.slow
def test_state_bytes_counts_the_base64_frames_and_the_links() -> None:
    ex = wave_explorer()
    size = ex.state_bytes()
    frames = sum(len(base64.b64encode(f)) for f in ex.frames.values())
    assert frames < size < frames + 60_000  # frames dominate; controls, layouts and links are small
    from ipywidgets.embed import dependency_state

    state = dependency_state([ex.widget])
    assert {link.model_id for link in ex.links} <= set(state)  # the jslinks are counted with the widget
    assert size == widget_state_bytes(ex.widget) == len(json.dumps(state))
    assert widget_state_bytes(wave_explorer(linked=False).widget) < size
    assert size < MAX_WIDGET_BYTES
    bigger = Explorer(draw_wave, {"freq": W.FloatSlider()}, {"freq": [1.0, 2.0, 3.0, 4.0]})
    assert widget_state_bytes(bigger.widget) > widget_state_bytes(W.Image(value=bigger.last_png))


@pytest.mark.slow
def test_stored_widget_sizes_match_the_state_a_notebook_would_store() -> None:
    from ipywidgets.embed import dependency_state

    ex = wave_explorer()
    state = dependency_state([ex.widget, *ex.links])
    other = W.IntSlider()
    state.update(dependency_state([other]))
    view = "application/vnd.jupyter.widget-view+json"
    nb = {"metadata": {"widgets": {"application/vnd.jupyter.widget-state+json": {"state": state}}},
          "cells": [{"outputs": [{"data": {view: {"model_id": ex.widget.model_id}}},
                                 {"data": {view: {"model_id": other.model_id}}}]}]}
    sizes = stored_widget_sizes(nb)
    assert set(sizes) == {ex.widget.model_id, other.model_id}
    assert abs(sizes[ex.widget.model_id] - ex.state_bytes()) < 0.02 * ex.state_bytes()
    assert sizes[other.model_id] < 5_000
    assert stored_widget_sizes({"cells": []}) == {}


@pytest.mark.parametrize("path", sorted((ROOT / "chapters").glob("*.ipynb")), ids=lambda p: p.stem)
def test_every_stored_widget_in_the_chapters_is_under_the_page_budget(path: Path) -> None:
    sizes = stored_widget_sizes(json.loads(path.read_text()))
    too_big = {mid: n for mid, n in sizes.items() if n > MAX_WIDGET_BYTES}
    assert not too_big, f"{path.name}: widgets over {MAX_WIDGET_BYTES:,} bytes: {too_big}"


@pytest.mark.slow
def test_sliders_run_in_increasing_order_and_start_at_the_grids_first_value() -> None:
    """A grid listing its default first (2, 1, 3) still gives a slider 1, 2, 3, showing 2's frame at the start."""
    ex = Explorer(draw_wave, {"freq": W.FloatSlider(description="freq"), "phase": W.FloatSlider(description="phase")},
                  {"freq": [2.0, 1.0, 3.0], "phase": [1.0, 0.0]})
    assert [label for label, _ in ex.sliders["freq"].options] == ["1", "2", "3"]
    assert [label for label, _ in ex.sliders["phase"].options] == ["0", "1"]
    assert ex.sliders["freq"].index == 1 and ex.sliders["phase"].index == 1
    assert ex.shown_png() == ex.last_png == ex.frames[(2.0, 1.0)]
    # every slider position shows the frame drawn for the value its label names
    for i, f in enumerate([1.0, 2.0, 3.0]):
        for j, p in enumerate([0.0, 1.0]):
            ex.display.selected_index, ex.display.children[i].selected_index = i, j   # what the jslinks do
            assert ex.shown_png() == ex.frames[(f, p)] == ex.select(freq=f, phase=p)


@pytest.mark.slow
def test_a_single_valued_control_gets_no_slider_but_a_stated_value() -> None:
    """A slider with one value changes nothing: static mode shows none, and says the value it keeps."""
    ex = wave_explorer_with({"freq": [1.0, 2.0], "phase": [0.5]})
    assert list(ex.sliders) == ["freq"] and ex.fixed == {"phase": 0.5}
    texts = [c.value for c in ex.widget.children if isinstance(c, W.HTML)]
    assert any("phase = 0.5" in t for t in texts)
    assert ex.select(freq=2.0, phase=0.5) == ex.frames[(2.0, 0.5)]
    with pytest.raises(ValueError, match="phase is fixed at 0.5"):
        ex.select(phase=1.0)
    only_fixed = wave_explorer_with({"freq": [3.0], "phase": [0.0]})
    assert only_fixed.sliders == {} and only_fixed.shown_png() == only_fixed.frames[(3.0, 0.0)]


def wave_explorer_with(grid: dict, **kwargs) -> Explorer:
    controls = {"freq": W.FloatSlider(description="freq"), "phase": W.FloatSlider(description="phase")}
    return Explorer(draw_wave, controls, grid, **kwargs)


@pytest.mark.slow
def test_frames_are_drawn_at_the_chosen_dpi() -> None:
    """draw_wave is 3 × 2 inches: 300 × 200 pixels at the legible 100 dpi, 216 × 144 at the old 72."""
    from dlbook.widgets.base import LEGIBLE_DPI

    for dpi, size in ((LEGIBLE_DPI, (300, 200)), (72, (216, 144))):
        for mode in ("static", "live"):
            ex = wave_explorer_with({"freq": [1.0, 2.0], "phase": [0.0]}, mode=mode, dpi=dpi)
            assert Image.open(io.BytesIO(ex.last_png)).size == size
    with pytest.raises(ValueError, match="dpi must be"):
        wave_explorer_with({"freq": [1.0], "phase": [0.0]}, dpi=10)


@pytest.mark.slow
def test_a_control_over_words_is_a_dropdown_wide_enough_for_its_longest_label() -> None:
    """3.5's examples are dates like 二〇二六年十一月二十八日: a slider's readout cannot hold one and ran into the next
    control; a drop-down as wide as the longest label (CJK characters count double) does not."""
    def draw(word: str, freq: float):  # noqa: ANN202
        return draw_wave(freq)

    words = ["二〇二六年十一月二十八日 → iso", "2026-11-28 → zh"]
    ex = Explorer(draw, {"word": W.Dropdown(description="example"), "freq": W.FloatSlider(description="freq")},
                  {"word": words, "freq": [1.0, 2.0]})
    assert isinstance(ex.sliders["word"], W.Dropdown) and isinstance(ex.sliders["freq"], W.SelectionSlider)
    assert [label for label, _ in ex.sliders["word"].options] == words          # words keep their order
    width = int(ex.sliders["word"].layout.width.removesuffix("ch"))
    assert width >= len("example") + 2 * 12 + len(" → iso")
    assert ex.select(word=words[1], freq=2.0) == ex.frames[(words[1], 2.0)]
    ex.display.selected_index = 1           # what the jslink from the drop-down's index does in the page
    ex.display.children[1].selected_index = 1
    assert ex.shown_png() == ex.frames[(words[1], 2.0)]
    short = Explorer(draw, {"word": W.Dropdown(description="surface"), "freq": W.FloatSlider(description="freq")},
                     {"word": ["ravine", "banana"], "freq": [1.0]})
    assert isinstance(short.sliders["word"], W.SelectionSlider)     # short words fit a slider's readout
