"""Every page in the table of contents, in both editions, as a reader's browser shows it (served on 127.0.0.1,
no network).  The tests of one page run on one worker (``xdist_group``), which loads the page once."""

from __future__ import annotations

import pytest
from bookbrowser import EDITIONS, edition_pages

PAGES = [pytest.param(p, marks=pytest.mark.xdist_group(p)) for p in edition_pages()]


@pytest.mark.parametrize("path", PAGES)
def test_page_loads_everything_from_the_site_itself(load_page, path: str) -> None:
    report = load_page(path)
    assert not report.external, f"{path} requested outside 127.0.0.1 (blocked): {report.external}"
    assert not report.failed, f"{path} has failed requests: {report.failed}"
    assert report.screenshot is not None and report.screenshot.stat().st_size > 10_000


@pytest.mark.parametrize("path", PAGES)
def test_math_is_typeset(load_page, path: str) -> None:
    math = load_page(path).math
    assert not math["untypeset"], f"{path}: math left as TeX by MathJax: {math['untypeset'][:5]}"
    assert not math["raw"], f"{path}: TeX delimiters in the text that were never parsed as math: {math['raw'][:5]}"
    assert math["containers"] >= math["elements"]


@pytest.mark.parametrize("path", PAGES)
def test_mermaid_diagrams_are_drawn(load_page, path: str) -> None:
    mermaid = load_page(path).mermaid
    assert mermaid["svg"] == mermaid["diagrams"], f"{path}: {mermaid['diagrams'] - mermaid['svg']} diagram(s) not drawn"


@pytest.mark.parametrize("path", PAGES)
def test_stored_widgets_render_with_their_figures(load_page, path: str) -> None:
    report = load_page(path)
    not_rendered = [v["id"] for v in report.widgets if not v["rendered"]]
    assert not not_rendered, f"{path}: widgets not rendered: {not_rendered}"
    broken = [v["id"] for v in report.widgets if any(i["width"] == 0 for i in v["imgs"])]
    assert not broken, f"{path}: widget images that did not load: {broken}"
    without_figure = [v["id"] for v in report.widgets
                      if v["id"] in report.image_views and not any(i["visible"] and i["width"] for i in v["imgs"])]
    assert not without_figure, f"{path}: widgets showing no figure: {without_figure}"


@pytest.mark.parametrize("path", PAGES)
def test_moving_a_slider_changes_the_figure(load_page, path: str) -> None:
    """On every English page with a static explorer: the first slider moves the figure.  The Chinese page of each
    stores the same widgets (test_site.py checks that), so its slider is the one moved here."""
    slider = load_page(path).slider
    if slider is None:
        pytest.skip(f"{path} has no static explorer" if path.startswith(f"{EDITIONS[0]}/") else
                    f"{path}: the same widgets as its English page, whose slider is moved")
    assert slider.ok, f"{path}: {slider.detail}"


@pytest.mark.parametrize("path", PAGES)
def test_every_dropdown_opens_when_clicked(load_page, path: str) -> None:
    """The exercises' solution dropdowns and collapsed solution cells (issue 15): a click on each one's summary
    opens it and shows its body."""
    failures = load_page(path).dropdown_failures
    assert not failures, f"{path}: {failures}"
