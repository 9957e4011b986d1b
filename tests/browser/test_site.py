"""The whole site, both editions: internal links and images, search, launch and download buttons, sliders that
move figures, dropdowns, and the switch between the editions."""

from __future__ import annotations

import html
import json
import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
import yaml
from bookbrowser import (
    EDITIONS,
    ROOT,
    SITE,
    first_explorer,
    open_page,
    serve,
    toc_pages,
    widget_state,
)


class _Refs(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.refs: list[tuple[str, str]] = []
        self.ids: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in ("id", "name") and value:
                self.ids.add(value)
            if value and (name == "src" or (name == "href" and tag in ("a", "link", "area"))):
                self.refs.append((tag, value))


def _parse(path: Path) -> _Refs:
    parser = _Refs()
    parser.feed(path.read_text(errors="replace"))
    return parser


def broken_links(site: Path) -> list[str]:
    """Every local href/src in every HTML page of ``site`` that names a missing file or anchor.

    ``_static/`` is skipped: the themes copy Jinja templates (``webpack-macros.html``) there, not pages.
    """
    pages = {p: _parse(p) for p in site.rglob("*.html") if "_static" not in p.relative_to(site).parts}
    broken = []
    for page, parsed in pages.items():
        for tag, ref in parsed.refs:
            parts = urlsplit(ref)
            if parts.scheme or ref.startswith("//"):
                continue  # external (launch buttons, repository): not fetched by the book
            target = (page.parent / unquote(parts.path)).resolve() if parts.path else page
            if target.is_dir():
                target = target / "index.html"
            where = f"{page.relative_to(site)}: <{tag}> {ref}"
            if not target.is_file():
                broken.append(f"{where} (no file)")
            elif parts.fragment and target.suffix == ".html":
                ids = pages[target].ids if target in pages else _parse(target).ids
                if unquote(parts.fragment) not in ids:
                    broken.append(f"{where} (no anchor)")
    return broken


def test_no_broken_internal_link_or_missing_image(site: str) -> None:
    broken = broken_links(SITE)
    assert not broken, f"{len(broken)} broken: " + "\n".join(broken[:40])


def test_link_checker_finds_a_broken_link(tmp_path: Path) -> None:
    (tmp_path / "a.html").write_text('<a href="b.html#here">b</a><a href="b.html#gone">x</a><img src="missing.png">'
                                     '<a href="https://example.org/">out</a><a href="#top" id="top">top</a>')
    (tmp_path / "b.html").write_text('<h1 id="here">b</h1>')
    assert sorted(broken_links(tmp_path)) == ['a.html: <a> b.html#gone (no anchor)',
                                              'a.html: <img> missing.png (no file)']


def _chapters() -> list[str]:
    return [p for p in toc_pages()[1:] if (ROOT / p).with_suffix(".ipynb").exists()]


def _search(browser, url: str) -> list[str]:
    """The result links the site's search page lists for ``url`` (``…/search.html?q=…``)."""
    page, failed, external = open_page(browser, url)
    try:
        # the results appear one by one; the summary gets its count once the last one is listed
        page.wait_for_function("() => /\\d/.test(document.querySelector('#search-results .search-summary')"
                               "?.innerText || '')", timeout=30_000)
        results = page.locator("#search-results ul.search li a")
        hrefs = [results.nth(i).get_attribute("href") for i in range(results.count())]
    finally:
        page.close()
    assert not failed and not external, (failed, external)
    return [h.split("?")[0].split("#")[0] for h in hrefs]


def test_search_finds_a_term_from_a_chapter(site: str, browser) -> None:
    chapter = _chapters()[0] if _chapters() else toc_pages()[0]
    title = html.unescape(re.search(r"<title>(.*?)</title>", (SITE / "en" / chapter).read_text(), re.S).group(1))
    title = title.split(" — ")[0]
    term = max(re.findall(r"[A-Za-z]{5,}", title), key=len)
    hrefs = _search(browser, f"{site}en/search.html?q={term}")
    assert any(h.endswith(chapter) for h in hrefs), (term, chapter, hrefs)


def _glossary_terms_to_search() -> list[tuple[str, str]]:
    """(Chinese term, its chapter's site path) for one glossary term per chapter, in glossary order."""
    entries = yaml.safe_load((ROOT / "glossary.yml").read_text(encoding="utf-8"))
    chapters = {Path(p).stem: p for p in toc_pages()}
    found: dict[str, str] = {}
    for e in entries:
        chapter = str(e["where"]).split("#")[0]
        if chapter in chapters and chapter not in found.values() and re.fullmatch(r"[\u4e00-\u9fff]{3,}", e["zh"]):
            found[e["zh"]] = chapter
    return [(term, chapters[chapter]) for term, chapter in found.items()]


def test_every_chapter_has_a_chinese_term_to_search_for() -> None:
    assert len(_glossary_terms_to_search()) >= 15, _glossary_terms_to_search()


@pytest.mark.parametrize(("term", "chapter"), _glossary_terms_to_search())
def test_chinese_search_finds_a_chapter_by_a_chinese_word(site: str, browser, term: str, chapter: str) -> None:
    """The Chinese edition's search (Sphinx's zh_CN search, words split by jieba) finds a chapter from a Chinese
    glossary term it defines, for every chapter that defines one."""
    hrefs = _search(browser, f"{site}zh/search.html?q={term}")
    assert any(h.endswith(chapter) for h in hrefs), (term, chapter, hrefs[:5])


@pytest.mark.parametrize(("query", "chapter"), [("训练循环", "chapters/3-2-backpropagation.html"),
                                                ("验证损失", "chapters/5-2-pretraining.html")])
def test_chinese_search_cuts_a_phrase_into_indexed_words(site: str, browser, query: str, chapter: str) -> None:
    """A phrase that is no glossary term, typed without spaces as Chinese is written, is cut into the index's
    words (booktools.zh_search) and finds the chapter that uses it."""
    terms = [e["zh"] for e in yaml.safe_load((ROOT / "glossary.yml").read_text(encoding="utf-8"))]
    assert query not in terms
    assert any(h.endswith(chapter) for h in _search(browser, f"{site}zh/search.html?q={query}"))


def test_launch_and_download_buttons_point_at_the_repository(site: str) -> None:
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    repo = urlsplit(config["repository"]["url"]).path.strip("/")
    branch = config["repository"]["branch"]
    assert repo.count("/") == 1, repo
    assert config["repository"]["url"] in (ROOT / "README.md").read_text()
    chapters = _chapters()
    assert chapters, "no notebook chapter in the table of contents"
    for lang in EDITIONS:
        for chapter in chapters:
            html = (SITE / lang / chapter).read_text()
            nb = str(Path(chapter).with_suffix(".ipynb"))
            assert f"https://mybinder.org/v2/gh/{repo}/{branch}?urlpath=lab/tree/{nb}" in html, chapter
            assert f"https://colab.research.google.com/github/{repo}/blob/{branch}/{nb}" in html, chapter
            assert f'href="https://github.com/{repo}"' in html, chapter
            download = f"_sources/{nb}"
            assert download in html and (SITE / lang / download).is_file(), chapter
            assert "initThebe" not in html, f"{chapter}: a Thebe button would load thebe from unpkg.com"


def test_each_edition_offers_its_own_notebooks_for_download() -> None:
    """A reader who downloads a notebook from an edition gets its prose in that edition's language only, with the
    code cells and outputs of the repository's notebook."""
    for lang in EDITIONS:
        for chapter in _chapters():
            nb = str(Path(chapter).with_suffix(".ipynb"))
            got = json.loads((SITE / lang / "_sources" / nb).read_text(encoding="utf-8"))
            source = json.loads((ROOT / nb).read_text(encoding="utf-8"))
            langs = {c["metadata"].get("dlbook", {}).get("lang", "en") for c in got["cells"]
                     if c["cell_type"] == "markdown"}
            assert langs == {lang}, (lang, nb, langs)
            code = [c for c in source["cells"] if c["cell_type"] == "code"]
            assert [c for c in got["cells"] if c["cell_type"] == "code"] == code, (lang, nb)


def test_explorers_are_on_the_pages_and_shared_by_the_editions(site: str) -> None:
    """The explorers whose sliders tests/browser/test_pages.py moves exist, and each edition's page stores the
    same widgets."""
    with_explorer = [p for p in toc_pages() if first_explorer((SITE / "en" / p).read_text())]
    assert len(with_explorer) >= 8, with_explorer
    for page in toc_pages():
        en, zh = ((SITE / lang / page).read_text() for lang in EDITIONS)
        assert widget_state(en) == widget_state(zh), page


def test_pages_work_under_a_github_pages_prefix(browser) -> None:
    """GitHub Pages serves a project site under /<repo>/: a page with widgets still loads everything."""
    repo = urlsplit(yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]["url"]).path.rstrip("/")
    name = repo.rsplit("/", 1)[-1]
    pages = [p for p in toc_pages() if (SITE / "en" / p).exists() and widget_state((SITE / "en" / p).read_text())]
    if not pages:
        pytest.skip("no page with widgets in the table of contents yet")
    base = serve(SITE, prefix=f"/{name}/")
    for lang in EDITIONS:
        page, failed, external = open_page(browser, f"{base}{lang}/{pages[0]}")
        try:
            page.wait_for_function("() => document.querySelectorAll('.widget-subarea').length > 0", timeout=15_000)
            page.wait_for_timeout(500)
        finally:
            page.close()
        assert not failed and not external, (lang, pages[0], failed, external)


def test_deploy_workflow_publishes_main_and_only_builds_pull_requests() -> None:
    flow = yaml.safe_load((ROOT / ".github" / "workflows" / "book.yml").read_text())
    triggers = flow[True]  # YAML 1.1 reads the key `on` as True
    assert triggers["push"]["branches"] == ["main"] and "pull_request" in triggers
    build, deploy = flow["jobs"]["build"], flow["jobs"]["deploy"]
    runs = " ".join(step.get("run", "") for step in build["steps"])
    assert "vendor_assets.sh" in runs and "build_book.py" in runs
    upload = next(step for step in build["steps"] if "upload-pages-artifact" in step.get("uses", ""))
    assert upload["with"]["path"] == "_build/html" and "pull_request" in upload["if"]
    assert deploy["needs"] == "build" and "pull_request" in deploy["if"] and "refs/heads/main" in deploy["if"]
    assert any("deploy-pages" in step.get("uses", "") for step in deploy["steps"])
    assert deploy["permissions"] == {"pages": "write", "id-token": "write"}


def test_the_editions_have_the_same_dropdowns(site: str) -> None:
    """Every page has as many dropdowns in Chinese as in English, and the exercises' are there (each is clicked
    open in tests/browser/test_pages.py)."""
    counts = {lang: {p: (SITE / lang / p).read_text().count("<details") for p in toc_pages()} for lang in EDITIONS}
    assert counts["zh"] == counts["en"]
    assert sum(counts["en"].values()) >= 2 * 3 * 9, counts["en"]


SWITCH = re.compile(r'<a class="btn btn-sm edition-switch" href="([^"]+)"')


def test_every_page_links_to_the_same_page_of_the_other_edition() -> None:
    """Every page of the table of contents exists in both editions, and its switch link names its twin."""
    for lang in EDITIONS:
        other = next(x for x in EDITIONS if x != lang)
        for page in toc_pages():
            file = SITE / lang / page
            assert file.is_file(), f"{lang}/{page} missing"
            switch = SWITCH.findall(file.read_text())
            assert len(switch) == 1, (lang, page, switch)
            assert (file.parent / switch[0]).resolve() == (SITE / other / page).resolve(), (lang, page, switch)


def test_the_language_switch_lands_on_the_same_page(site: str, browser) -> None:
    """A reader on a chapter clicks the switch and reads the same chapter in the other language, and back."""
    chapter = _chapters()[1]
    page, failed, external = open_page(browser, f"{site}en/{chapter}")
    try:
        seen = []
        for _ in range(2):
            page.locator("a.edition-switch").click()
            page.wait_for_load_state("load")
            seen.append((page.url, page.evaluate("() => document.documentElement.lang")))
    finally:
        page.close()
    assert seen == [(f"{site}zh/{chapter}", "zh-CN"), (f"{site}en/{chapter}", "en")], seen
    assert not external  # (requests still loading when the reader clicks away are aborted: not a failure)


@pytest.mark.parametrize(("locale", "edition"), [("en-GB", "en"), ("zh-CN", "zh")])
def test_the_site_root_opens_the_edition_the_browser_asks_for(site: str, browser, locale: str, edition: str) -> None:
    context = browser.new_context(locale=locale)
    try:
        page = context.new_page()
        page.goto(site, wait_until="load")
        page.wait_for_url(f"{site}{edition}/intro.html", timeout=15_000)
    finally:
        context.close()
