"""Build the HTML book into _build/html.

With --strict, Sphinx warnings are errors (-W -n --keep-going).  --toc FILE and
--out DIR build another table of contents into another folder (for checking
one chapter while others are being written).  When
_vendor/ is missing (npm was not available), the page assets come from CDNs:
a copy of _config.yml without the local paths is used and the build says so.

After a successful build, the widget manager's icon fonts are copied next to
every page that embeds widgets: the vendored html-manager asks for them at
``<page's folder>/@jupyter-widgets/html-manager/dist/<hash>.woff2`` (a path
relative to the page, resolved by require.js), so copying them beside the pages
keeps them working when GitHub Pages serves the site under ``/<repo>/``.  A
stamp file ``.dlbook-built`` records when the build finished (the browser
tests rebuild when a source is newer).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def config_path() -> Path:
    if (ROOT / "_vendor" / ".versions").exists():
        return ROOT / "_config.yml"
    print("build_book: _vendor/ is missing; math, diagrams and widgets will load from CDNs", file=sys.stderr)
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    sphinx_config = config["sphinx"]["config"]
    for key in ("html_static_path", "mathjax_path", "mermaid_use_local", "mermaid_version", "nb_ipywidgets_js"):
        sphinx_config.pop(key, None)
    out = ROOT / "_build" / "_config_cdn.yml"
    out.parent.mkdir(exist_ok=True)
    out.write_text(yaml.safe_dump(config, allow_unicode=True))
    return out


def _option(name: str) -> str | None:
    return sys.argv[sys.argv.index(name) + 1] if name in sys.argv else None


def main() -> int:
    cmd = [str(Path(sys.executable).parent / "jupyter-book"), "build", str(ROOT), "--builder", "html",
           "--config", str(config_path())]
    if _option("--toc"):
        cmd += ["--toc", str(Path(_option("--toc")).resolve())]
    if _option("--out"):
        cmd += ["--path-output", str(Path(_option("--out")).resolve())]
    if "--strict" in sys.argv:
        cmd += ["-W", "-n", "--keep-going", "--all"]
    code = subprocess.call(cmd, cwd=ROOT)
    if code == 0:
        html = (Path(_option("--out")).resolve() if _option("--out") else ROOT) / "_build" / "html"
        copy_widget_fonts(html)
        (html / ".nojekyll").touch()  # GitHub Pages must serve _static/, _images/, _sources/ as they are
        (html / ".dlbook-built").write_text("built by scripts/build_book.py\n")
    return code


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
