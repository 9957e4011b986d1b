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
