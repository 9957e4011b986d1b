"""The slider check can fail: an explorer whose frames are not linked to its slider is caught.

Both variants of a tiny static explorer go through the same static embedding a page
uses (``ipywidgets.embed.embed_minimal_html`` with the site's vendored require.js and
html-manager, served on 127.0.0.1): the check must pass on the linked one and fail on
the unlinked one (``Explorer(linked=False)``), whose slider moves but whose figure stays.
"""

from __future__ import annotations

from pathlib import Path

import ipywidgets as W
import matplotlib.pyplot as plt
import pytest
from bookbrowser import ROOT, serve, slider_check_on
from ipywidgets.embed import embed_minimal_html

from dlbook.widgets.base import Explorer

TEMPLATE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="UTF-8"><title>{title}</title>
<script src="_static/require.min.js"></script></head>
<body>{snippet}</body></html>
"""


def draw_bar(height: float):
    fig, ax = plt.subplots(figsize=(2.5, 2))
    ax.bar([0], [height], color="tab:blue")
    ax.set_ylim(0, 3)
    ax.set_title(f"height {height:g}")
    return fig


@pytest.fixture(scope="module")
def fixture_pages(tmp_path_factory: pytest.TempPathFactory) -> dict[bool, tuple[str, str]]:
    """linked → (URL, model id of the displayed explorer)."""
    if not (ROOT / "_vendor" / "html-manager" / "embed-amd.js").exists():
        pytest.fail("_vendor/ is missing: run `make vendor` (npm) first")
    folder = tmp_path_factory.mktemp("explorer-fixture")
    (folder / "_static").symlink_to(ROOT / "_vendor", target_is_directory=True)
    base = serve(folder)
    pages = {}
    for linked in (True, False):
        ex = Explorer(draw_bar, {"height": W.FloatSlider(description="height")}, {"height": [1.0, 2.0, 3.0]},
                      title=f"linked={linked}", linked=linked)
        name = f"explorer-linked-{linked}.html"
        embed_minimal_html(folder / name, views=[ex.widget], title=name, template=TEMPLATE, requirejs=False,
                           embed_url="_static/html-manager/embed-amd.js", cors=False,
                           drop_defaults=False)  # every value, as a notebook stores it (with defaults dropped,
        # the slider has no index in the page and the linked stack shows no frame at all)
        pages[linked] = (base + name, ex.widget.model_id)
    return pages


@pytest.mark.parametrize("linked", [True, False], ids=["linked", "unlinked"])
def test_slider_check_passes_only_when_frames_are_linked(browser, fixture_pages, linked: bool) -> None:
    url, model_id = fixture_pages[linked]
    check, external = slider_check_on(browser, url, model_id)
    assert not external
    assert check.slider_moved, check.detail  # the reader's key press moved the slider in both variants
    assert check.figure_changed is linked, check.detail
    assert check.ok is linked


def test_fixture_is_not_in_the_table_of_contents() -> None:
    assert "explorer-fixture" not in (ROOT / "_toc.yml").read_text()
    assert not list(Path(ROOT / "chapters").glob("explorer-linked-*"))
