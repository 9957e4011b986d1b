"""Build the two editions of the HTML book: English in _build/html/en, Chinese in _build/html/zh.

Both come from the same notebooks (:mod:`booktools.editions`).  For each edition the pages are written in one
language into ``_build/editions/<lang>`` (the prose cells of that language, the shared code cells and outputs),
with a ``_config.yml`` and ``_toc.yml`` made from the repository's and ``editions.yml``: the Sphinx language
(``zh_CN`` gives the Chinese interface strings and a search that splits Chinese words with jieba, which
:mod:`booktools.zh_search` teaches the glossary's terms and applies to the reader's query too), the title,
the part captions, a link on every page to the same page of the other edition, and a style sheet that shows
only this edition's half of an output written for both (``<div class="only-zh">``).  Jupyter Book builds each,
and the site is copied to ``_build/html/<lang>``; ``_build/html/index.html`` sends a reader to the edition
their browser's language asks for.  A reader who downloads a notebook from an edition gets that edition's
single-language copy.

With --strict, Sphinx warnings are errors (-W -n --keep-going).  --lang en|zh builds one edition only; --out
DIR builds into DIR/_build instead of the repository's _build.  When _vendor/ is missing (npm was not
available), the page assets come from CDNs, and the build says so.

After a successful build, the widget manager's icon fonts are copied next to every page that embeds widgets:
the vendored html-manager asks for them at ``<page's folder>/@jupyter-widgets/html-manager/dist/<hash>.woff2``
(a path relative to the page, resolved by require.js), so copying them beside the pages keeps them working
when GitHub Pages serves the site under ``/<repo>/``.  A stamp file ``.dlbook-built`` records when the build
finished (the browser tests rebuild when a source is newer).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
from booktools.editions import LANGS, book_pages, dumps, read, single_language  # noqa: E402
from booktools.zh_search import write_jieba_dict  # noqa: E402

CDN_KEYS = ("html_static_path", "mathjax_path", "mermaid_use_local", "mermaid_version", "nb_ipywidgets_js")

#: The link to the other edition, in the article's header bar beside the download and launch buttons.
SWITCH_TEMPLATE = """\
{%- set other = edition_other -%}
<a class="btn btn-sm edition-switch" href="{{ '../' * (pagename.count('/') + 1) }}{{ other }}/{{ pagename }}.html"
   hreflang="{{ other }}" lang="{{ other }}" title="{{ edition_other_label }}">{{ edition_other_label }}</a>
"""

#: Outputs written for both editions carry both halves; each edition shows its own.
EDITION_CSS = """\
{hide} {{ display: none !important; }}
.header-article-items__end {{ display: flex; align-items: center; }}
.edition-switch {{ font-weight: 600; border: 1px solid var(--pst-color-border); border-radius: .25rem;
                   padding: 0 .5rem; margin-right: .5rem; }}
"""

ROOT_INDEX = """\
<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{title}</title>
<script>location.replace(/^zh/i.test(navigator.language || "") ? "zh/intro.html" : "en/intro.html");</script>
<noscript><meta http-equiv="refresh" content="0; url=en/intro.html"></noscript>
</head><body><p><a href="en/intro.html" hreflang="en">English</a> · <a href="zh/intro.html" hreflang="zh">中文</a></p>
</body></html>
"""


def editions() -> dict:
    return yaml.safe_load((ROOT / "editions.yml").read_text(encoding="utf-8"))


def _write_if_changed(path: Path, text: str) -> bool:
    """Write only a changed file, so that Sphinx rebuilds only what changed; True when it was written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists() and path.read_text(encoding="utf-8") == text:
        return False
    path.write_text(text, encoding="utf-8")
    return True


def edition_config(lang: str, vendored: bool, build: Path) -> dict:
    """The Jupyter Book configuration of one edition."""
    eds = editions()
    other = next(x for x in LANGS if x != lang)
    config = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
    config["title"] = eds[lang]["title"]
    sphinx = config["sphinx"]["config"]
    if not vendored:
        print("build_book: _vendor/ is missing; math, diagrams and widgets will load from CDNs", file=sys.stderr)
        for key in CDN_KEYS:
            sphinx.pop(key, None)
    sphinx["language"] = eds[lang]["language"]
    sphinx["html_static_path"] = [*sphinx.get("html_static_path", []), "_edition"]
    sphinx["html_css_files"] = ["edition.css"]
    sphinx["templates_path"] = ["_templates"]
    sphinx["html_context"] = {"edition": lang, "edition_other": other,
                              "edition_other_label": eds[other]["switch_label"]}
    if lang == "zh":  # Chinese words found as a reader types them (booktools.zh_search)
        config["sphinx"]["extra_extensions"] = [*config["sphinx"].get("extra_extensions", []), "booktools.zh_search"]
        sphinx["html_search_options"] = {"dict": str(build / "editions" / lang / "_search" / "jieba_dict.txt")}
    options = sphinx.setdefault("html_theme_options", {})
    options["article_header_end"] = ["edition-switch.html", "article-header-buttons.html"]
    return config


def edition_toc(lang: str) -> dict:
    """``_toc.yml`` with the part captions of one edition."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8"))
    captions = editions()[lang].get("captions", {})
    for part in toc.get("parts", []):
        if lang != "en":
            part["caption"] = captions[part["caption"]]
    return toc


def stage(lang: str, build: Path, vendored: bool) -> tuple[Path, bool]:
    """Write the sources of one edition into ``build/editions/<lang>``; returns that folder, and whether the
    configuration, contents, template or style sheet changed (Sphinx then has to write every page again: it does
    not notice all of these, e.g. the order of the widget scripts). Dictionaries keep their order, as the
    widget manager's script must come after require.js."""
    src = build / "editions" / lang
    for page in book_pages(ROOT):
        _write_if_changed(src / page.relative_to(ROOT), dumps(single_language(read(page), lang)))
    other = next(x for x in LANGS if x != lang)
    changed = _write_if_changed(src / "_config.yml", yaml.safe_dump(edition_config(lang, vendored, build),
                                                                    allow_unicode=True, sort_keys=False))
    changed |= _write_if_changed(src / "_toc.yml", yaml.safe_dump(edition_toc(lang), allow_unicode=True,
                                                                  sort_keys=False))
    changed |= _write_if_changed(src / "_templates" / "edition-switch.html", SWITCH_TEMPLATE)
    before = (src / "_search" / "jieba_dict.txt").read_bytes() if (src / "_search" / "jieba_dict.txt").exists() else b""
    changed |= write_jieba_dict(ROOT / "glossary.yml", src / "_search" / "jieba_dict.txt").read_bytes() != before
    changed |= _write_if_changed(src / "_edition" / "edition.css", EDITION_CSS.format(hide=f".only-{other}"))
    vendor = src / "_vendor"
    if vendored and not vendor.exists():
        vendor.symlink_to(ROOT / "_vendor", target_is_directory=True)
    return src, changed


def _option(name: str) -> str | None:
    return sys.argv[sys.argv.index(name) + 1] if name in sys.argv else None


def build_edition(lang: str, build: Path, strict: bool) -> int:
    vendored = (ROOT / "_vendor" / ".versions").exists()
    src, changed = stage(lang, build, vendored)
    cmd = [str(Path(sys.executable).parent / "jupyter-book"), "build", str(src), "--builder", "html"]
    if strict:
        cmd += ["-W", "-n", "--keep-going"]
    if strict or changed:
        cmd += ["--all"]
    code = subprocess.call(cmd, cwd=src)
    if code == 0:
        html = build / "html" / lang
        if html.exists():
            shutil.rmtree(html)
        shutil.copytree(src / "_build" / "html", html, symlinks=False)
        copy_widget_fonts(html)
    return code


def main() -> int:
    build = (Path(_option("--out")).resolve() if _option("--out") else ROOT) / "_build"
    langs = [_option("--lang")] if _option("--lang") else list(LANGS)
    if any(lang not in LANGS for lang in langs):
        print(f"build_book: --lang must be one of {LANGS}", file=sys.stderr)
        return 2
    for lang in langs:
        code = build_edition(lang, build, "--strict" in sys.argv)
        if code:
            return code
    html = build / "html"
    if set(langs) == set(LANGS):  # what an earlier layout of the site left behind (the book at the root)
        for stale in set(html.iterdir()) - {html / lang for lang in LANGS}:
            shutil.rmtree(stale) if stale.is_dir() else stale.unlink()
    (html / "index.html").write_text(ROOT_INDEX.format(title=editions()["en"]["title"]), encoding="utf-8")
    (html / ".nojekyll").touch()  # GitHub Pages must serve _static/, _images/, _sources/ as they are
    (html / ".dlbook-built").write_text("built by scripts/build_book.py\n")
    return 0


WIDGET_STATE = b"application/vnd.jupyter.widget-state+json"
FONT_SUFFIXES = (".woff2", ".woff")  # every current browser takes one of these; .ttf/.eot/.svg are not requested


def copy_widget_fonts(html: Path) -> list[Path]:
    """Copy the html-manager's icon fonts beside every page with widgets; returns the folders written."""
    fonts = [f for f in (ROOT / "_vendor" / "html-manager").glob("*") if f.suffix in FONT_SUFFIXES]
    folders = sorted({page.parent for page in html.rglob("*.html") if WIDGET_STATE in page.read_bytes()})
    for folder in folders if fonts else []:
        dest = folder / "@jupyter-widgets" / "html-manager" / "dist"
        dest.mkdir(parents=True, exist_ok=True)
        for font in fonts:
            shutil.copyfile(font, dest / font.name)
    return folders


if __name__ == "__main__":
    sys.exit(main())
