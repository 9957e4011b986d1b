"""Helpers for the browser tests: build and serve the site, load a page, report what the reader sees.

The site is ``_build/html`` (or ``$DLBOOK_SITE``, a ``…/_build/html`` folder); it is
(re)built with ``scripts/build_book.py`` when it is missing or older than its sources.
Each table-of-contents page is loaded once per session; what the browser requested
and what the reader sees is collected in a :class:`PageReport` that the tests read.
"""

from __future__ import annotations

import fcntl
import functools
import http.server
import importlib.util
import json
import os
import re
import shutil
import socketserver
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from booktools.editions import book_pages

pytest.importorskip("playwright")
from playwright.sync_api import Browser, Locator, Page  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
SITE = Path(os.environ.get("DLBOOK_SITE", ROOT / "_build" / "html")).resolve()
SCREENSHOTS = SITE.parent / "screenshots"
CHROMIUM = os.environ.get("DLBOOK_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
VIEWPORT = {"width": 1280, "height": 900}
SOURCES = ["_toc.yml", "_config.yml", "editions.yml", "intro.ipynb", "chapters", "scripts/build_book.py",
           "src/booktools/editions.py", "_vendor/.versions"]
#: The two editions, each a site folder of its own (``_build/html/en``, ``_build/html/zh``).
EDITIONS = ("en", "zh")
STATE_SCRIPT = re.compile(
    r'<script type="application/vnd.jupyter.widget-state\+json">\s*(.*?)\s*</script>', re.S)


# ---- the site --------------------------------------------------------------------------------
@functools.cache
def toc_pages() -> list[str]:
    """Every page the table of contents lists, as site paths (``chapters/3-1-x.html``), root first.

    Read once per test session, so that every test sees the same book."""
    return [str(page.relative_to(ROOT).with_suffix(".html")) for page in book_pages(ROOT)]


def edition_pages() -> list[str]:
    """Every page of the table of contents in both editions, as site paths (``zh/chapters/3-1-x.html``)."""
    return [f"{lang}/{page}" for lang in EDITIONS for page in toc_pages()]


def _newest_source() -> float:
    times = []
    for name in SOURCES:
        path = ROOT / name
        files = [f for f in path.rglob("*") if f.is_file()] if path.is_dir() else [path] if path.exists() else []
        times += [f.stat().st_mtime for f in files if ".ipynb_checkpoints" not in f.parts]
    return max(times, default=0.0)


def ensure_built() -> None:
    """Build the site with scripts/build_book.py unless it is newer than every source.

    The test workers (pytest-xdist) each ask; a lock lets one build while the others wait, then find it built."""
    stamp = SITE / ".dlbook-built"
    if stamp.exists() and stamp.stat().st_mtime >= _newest_source():
        return
    if SITE.parts[-2:] != ("_build", "html"):
        pytest.fail(f"DLBOOK_SITE must be a …/_build/html folder, got {SITE}")
    SITE.parent.mkdir(parents=True, exist_ok=True)
    with open(SITE.parent / ".build.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if stamp.exists() and stamp.stat().st_mtime >= _newest_source():
            return
        cmd = [sys.executable, str(ROOT / "scripts" / "build_book.py")]
        if SITE != (ROOT / "_build" / "html").resolve():
            cmd += ["--out", str(SITE.parent.parent)]
        done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
        if done.returncode != 0 or not stamp.exists():
            pytest.fail(f"book build failed ({' '.join(cmd)}):\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: Any) -> None:
        pass


def _serve_book_module():
    spec = importlib.util.spec_from_file_location("serve_book", ROOT / "scripts" / "serve_book.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@functools.cache
def _server_for(directory: str, prefix: str) -> str:
    handler = type("Handler", (_serve_book_module().PrefixHandler,),
                   {"prefix": prefix, "log_message": _QuietHandler.log_message})
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), functools.partial(handler, directory=directory))
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_address[1]}{prefix}"


def serve(directory: Path, prefix: str = "/") -> str:
    """Serve ``directory`` on 127.0.0.1 at a free port under the URL path ``prefix`` (scripts/serve_book.py's
    handler, one thread per folder and prefix, for the session); returns its base URL."""
    return _server_for(str(directory), prefix)


# ---- what a page requested and shows ----------------------------------------------------------
@dataclass
class PageReport:
    path: str
    failed: list[str] = field(default_factory=list)  # "url: reason" for failed requests and HTTP >= 400
    external: list[str] = field(default_factory=list)  # requests to anything but 127.0.0.1 (blocked)
    math: dict[str, Any] = field(default_factory=dict)
    mermaid: dict[str, int] = field(default_factory=dict)
    widgets: list[dict[str, Any]] = field(default_factory=list)
    image_views: set[str] = field(default_factory=set)  # displayed widgets that show a figure (figure_views)
    screenshot: Path | None = None
    slider: SliderCheck | None = None  # the first explorer's slider moved, when the page has one
    dropdowns: int = 0  # <details> elements clicked open
    dropdown_failures: list[str] = field(default_factory=list)  # those that did not open


def is_local(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in ("blob", "data", "about") or parts.hostname == "127.0.0.1"


def open_page(browser: Browser, url: str) -> tuple[Page, list[str], list[str]]:
    """A new page at ``url`` whose failed and non-local requests are recorded (non-local ones blocked)."""
    page = browser.new_page(viewport=VIEWPORT)
    failed: list[str] = []
    external: list[str] = []

    def route(r: Any) -> None:
        if is_local(r.request.url):
            r.continue_()
        else:
            external.append(r.request.url)
            r.abort()

    page.route("**/*", route)
    page.on("requestfailed", lambda r: is_local(r.url) and failed.append(f"{r.url}: {r.failure}"))
    page.on("response", lambda r: r.status >= 400 and failed.append(f"{r.url}: HTTP {r.status}"))
    page.goto(url, wait_until="load")
    return page, failed, external


WAIT_WIDGETS = """() => [...document.querySelectorAll('script[type="application/vnd.jupyter.widget-view+json"]')]
  .every(s => { const el = s.previousElementSibling;
    return el && el.classList.contains('widget-subarea') && el.children.length > 0
      && [...el.querySelectorAll('img')].every(i => i.complete); })"""
DRAWN = "(m => { const s = m.querySelector('svg'); return !!s && !!s.querySelector('g') && s.getBBox().width > 0; })"
WAIT_MERMAID = f"() => [...document.querySelectorAll('.mermaid')].every({DRAWN})"
REPORT = r"""() => {
  const DRAWN = """ + DRAWN + r""";
  const skip = 'pre, code, script, style, textarea, mjx-container, .highlight, .cell_input';
  const root = document.querySelector('main') || document.body;
  const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
  const raw = [];
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    if (n.parentElement.closest(skip)) continue;
    const t = n.textContent;
    if (t.includes('$$') || t.includes('\\(') || t.includes('\\[')) raw.push(t.trim().slice(0, 80));
  }
  const maths = [...document.querySelectorAll('.math')];
  const mermaids = [...document.querySelectorAll('.mermaid')];
  const views = [...document.querySelectorAll('script[type="application/vnd.jupyter.widget-view+json"]')].map(s => {
    const el = s.previousElementSibling;
    const rendered = !!(el && el.classList.contains('widget-subarea') && el.children.length > 0);
    const imgs = rendered ? [...el.querySelectorAll('img')].map(i => ({
      width: i.naturalWidth, visible: i.getBoundingClientRect().width > 0 })) : [];
    return { id: JSON.parse(s.textContent).model_id, rendered, imgs };
  });
  return {
    math: { elements: maths.length, containers: document.querySelectorAll('mjx-container').length,
            untypeset: maths.filter(m => !m.querySelector('mjx-container')).map(m => m.textContent.slice(0, 80)),
            raw },
    mermaid: { diagrams: mermaids.length, svg: mermaids.filter(DRAWN).length },
    views };
}"""


VIEW_SCRIPT = 'script[type="application/vnd.jupyter.widget-view+json"]'


def widget_state(html: str) -> dict[str, Any]:
    """The widget state a built page embeds (model id → model)."""
    found = STATE_SCRIPT.search(html)
    return json.loads(found.group(1)).get("state", {}) if found else {}


def view_trees(state: dict[str, Any], html: str) -> dict[str, set[str]]:
    """Each displayed widget (page order) → the ids of every model it references, itself included."""
    from dlbook.widgets.base import model_references, widget_tree

    refs = model_references(state)
    return {view: widget_tree(view, refs)
            for view in re.findall(r'widget-view\+json">\s*\{"model_id": "([0-9a-f]{32})"', html)}


def views_holding(state: dict[str, Any], html: str, *model_names: str) -> list[str]:
    """The displayed widgets (in page order) whose model tree holds every one of ``model_names``."""
    return [view for view, tree in view_trees(state, html).items()
            if all(any(state[m]["model_name"] == name for m in tree) for name in model_names)]


def figure_views(state: dict[str, Any], html: str) -> list[str]:
    """The displayed widgets that show a figure: an Image (static explorers) or a PNG in an Output (live ones)."""
    def shows_figure(model: dict[str, Any]) -> bool:
        return model["model_name"] == "ImageModel" or (
            model["model_name"] == "OutputModel" and "image/png" in json.dumps(model["state"].get("outputs", [])))

    return [view for view, tree in view_trees(state, html).items() if any(shows_figure(state[m]) for m in tree)]


# ---- does moving a slider change the figure? ------------------------------------------------------
@dataclass
class SliderCheck:
    slider_moved: bool
    figure_changed: bool
    detail: str

    @property
    def ok(self) -> bool:
        return self.slider_moved and self.figure_changed


def _visible_figure(widget: Locator) -> Locator:
    return widget.locator("img").filter(visible=True).first


def view_of(page: Page, model_id: str) -> Locator:
    """The rendered view of the displayed widget ``model_id`` (the html-manager puts it just before its script)."""
    find = (f"[...document.querySelectorAll('{VIEW_SCRIPT}')].find(s => s.textContent.includes('{model_id}'))"
            ".previousElementSibling")
    page.wait_for_function(f"() => {{ const v = {find}; return v && v.classList.contains('widget-subarea'); }}",
                           timeout=15_000)
    page.evaluate(f"() => {find}.setAttribute('data-view', '{model_id}')")
    return page.locator(f'[data-view="{model_id}"]')


def slider_changes_figure(page: Page, widget: Locator) -> SliderCheck:
    """Press → on the first slider handle in ``widget``, as a reader would; did the shown figure change?

    Compares the slider's readout, the visible image's source (each frame is its own
    blob) and a screenshot of the image before and after.
    """
    widget.scroll_into_view_if_needed()
    handle = widget.locator(".noUi-handle").first
    readout = widget.locator(".widget-readout").first
    figure = _visible_figure(widget)
    before = (readout.inner_text(), figure.get_attribute("src"), figure.screenshot())
    handle.focus()
    page.keyboard.press("ArrowRight")
    page.wait_for_timeout(400)
    figure = _visible_figure(widget)
    after = (readout.inner_text(), figure.get_attribute("src"), figure.screenshot())
    moved = before[0] != after[0]
    changed = before[1] != after[1] and before[2] != after[2]
    return SliderCheck(moved, changed, f"readout {before[0]!r} → {after[0]!r}; image "
                       f"{'changed' if changed else 'unchanged'} ({'new' if before[1] != after[1] else 'same'} src)")


def first_explorer(html: str) -> str | None:
    """The model id of a built page's first slider-driven figure (a static explorer), or None."""
    views = views_holding(widget_state(html), html, "SelectionSliderModel", "StackModel", "ImageModel")
    return views[0] if views else None


OPENED = """d => d.open && [...d.children].some(c => c.tagName !== 'SUMMARY'
  && c.getBoundingClientRect().height > 0 && getComputedStyle(c).visibility !== 'hidden')"""


def open_every_dropdown(page: Page) -> tuple[int, list[str]]:
    """Click each ``<details>``'s summary, as a reader would: (how many there are, those that did not open)."""
    details = page.locator("details")
    failures = []
    for i in range(details.count()):
        d = details.nth(i)
        d.scroll_into_view_if_needed()
        d.locator("summary").first.click()
        if not d.evaluate(OPENED):
            failures.append(f"<details> {i} did not open")
    return details.count(), failures


def slider_check_on(browser: Browser, url: str, model_id: str) -> tuple[SliderCheck, list[str]]:
    """Open ``url``, wait for the widget ``model_id`` to show its figure, run :func:`slider_changes_figure`.

    Returns the check and the off-host requests the page made.
    """
    page, _, external = open_page(browser, url)
    try:
        widget = view_of(page, model_id)
        widget.locator("img").first.wait_for(timeout=15_000)
        return slider_changes_figure(page, widget), external
    finally:
        page.close()
