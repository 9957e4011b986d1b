"""Build the HTML book into _build/html.

With --strict, Sphinx warnings are errors (-W -n --keep-going).  --toc FILE and
--out DIR build another table of contents into another folder (for checking
one chapter while others are being written).  When
_vendor/ is missing (npm was not available), the page assets come from CDNs:
a copy of _config.yml without the local paths is used and the build says so.
"""

from __future__ import annotations

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
    return subprocess.call(cmd, cwd=ROOT)


if __name__ == "__main__":
    sys.exit(main())
