"""Browser tests of the built book: the site served on 127.0.0.1, read by Debian's chromium through Playwright.

Fixtures: ``site`` (the built book's base URL), ``browser`` (chromium), ``load_page(path)``
(a :class:`bookbrowser.PageReport`, one load per page per session).  Helpers live in
``bookbrowser.py``; set ``DLBOOK_SITE`` to test a site built elsewhere (a ``…/_build/html``).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("playwright")
from bookbrowser import (  # noqa: E402
    CHROMIUM,
    CHROMIUM_ARGS,
    EDITIONS,
    REPORT,
    SCREENSHOTS,
    SITE,
    WAIT_MERMAID,
    WAIT_WIDGETS,
    PageReport,
    ensure_built,
    figure_views,
    first_explorer,
    open_every_dropdown,
    open_page,
    serve,
    slider_changes_figure,
    view_of,
    widget_state,
)
from playwright.sync_api import Browser, sync_playwright  # noqa: E402

_reports: dict[str, PageReport] = {}


@pytest.fixture(scope="session")
def site() -> str:
    """The built book, served on 127.0.0.1: its base URL."""
    ensure_built()
    return serve(SITE)


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"chromium not found at {CHROMIUM}: apt-get install chromium (never `playwright install`)")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture(scope="session")
def load_page(site: str, browser: Browser):
    """``load_page(path)``: the :class:`PageReport` of one site page (loaded once per session)."""

    def load(path: str) -> PageReport:
        if path in _reports:
            return _reports[path]
        report = PageReport(path)
        page, report.failed, report.external = open_page(browser, site + path)
        try:
            page.evaluate("async () => { if (window.MathJax && MathJax.startup) await MathJax.startup.promise; }")
            for condition in (WAIT_MERMAID, WAIT_WIDGETS):
                try:
                    page.wait_for_function(condition, timeout=15_000)
                except Exception:  # noqa: BLE001 - the report below says what did not render
                    pass
            seen = page.evaluate(REPORT)
            report.math, report.mermaid, report.widgets = seen["math"], seen["mermaid"], seen["views"]
            html = (SITE / path).read_text()
            report.image_views = set(figure_views(widget_state(html), html))
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            report.screenshot = SCREENSHOTS / (str(Path(path).with_suffix("")).replace("/", "_") + ".png")
            page.evaluate("() => window.scrollTo(0, 0)")
            page.wait_for_timeout(300)  # let mermaid's and the widgets' last paint land in the screenshot
            page.screenshot(path=str(report.screenshot))
            # what a reader does next, on the same load: move the first explorer's slider, open every dropdown.
            # The slider only in English: the Chinese page stores the same widgets, run by the same scripts
            # (test_explorers_are_on_the_pages_and_shared_by_the_editions), so moving it twice tests nothing new.
            explorer = first_explorer(html)
            if explorer and path.startswith(f"{EDITIONS[0]}/"):
                report.slider = slider_changes_figure(page, view_of(page, explorer))
            report.dropdowns, report.dropdown_failures = open_every_dropdown(page)
        finally:
            page.close()
        _reports[path] = report
        return report

    return load
