"""The equation index: every labelled equation → the code that implements it → the tests that verify it.

Three sources are scanned as text (nothing is imported, so the index needs neither torch nor a kernel):

* the pages of the book (those in ``_toc.yml`` when there is one, else every ``chapters/*.ipynb``
  and ``*.md``): every displayed equation labelled ``$$ ... $$ (eq-…)`` in a markdown cell;
* the package (``src/dlbook``, parsed with :mod:`ast`): every docstring of a module, class,
  function or method with a sentence starting ``Implements`` that names ``(eq-…)`` labels;
* the tests (``tests/test_*.py``): every test docstring with such a sentence starting ``Verifies``.

One sentence may name several labels, as in "Implements (eq-sgd) and (eq-momentum)."

:func:`check` lists what is missing: a labelled equation no function implements, or one no
test verifies; also a label the code or tests cite that no chapter defines, and a label
defined twice.  ``tests/test_equation_index.py`` fails on any of them.
"""

from __future__ import annotations

import ast
import html
import json
import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

#: A displayed, labelled equation in MyST: ``$$ latex $$ (eq-name)``.
LABELLED = re.compile(r"\$\$(.+?)\$\$[ \t]*\((eq-[A-Za-z0-9_-]+)\)", re.DOTALL)
#: A label in parentheses, as cited in docstrings.
LABEL = re.compile(r"\((eq-[A-Za-z0-9_-]+)\)")


def _cited(text: str, keyword: str) -> list[str]:
    """Labels named in the sentences of ``text`` that start with ``keyword``, in order, without repeats."""
    found: list[str] = []
    for m in re.finditer(rf"\b{keyword}\b((?:[^.]|\.(?!\s|$))*)", text):
        for label in LABEL.findall(m.group(1)):
            if label not in found:
                found.append(label)
    return found


@dataclass
class Entry:
    """One labelled equation and what the repository says about it."""

    label: str
    latex: str = ""
    chapters: list[str] = field(default_factory=list)   # file stems where it is labelled
    implemented_by: list[str] = field(default_factory=list)   # qualified names
    verified_by: list[str] = field(default_factory=list)   # test ids: tests/file.py::name


# ---- chapters -------------------------------------------------------------------
def _markdown_sources(path: Path) -> list[str]:
    """The markdown text of a page: the file itself, or a notebook's markdown cells."""
    if path.suffix == ".md":
        return [path.read_text(encoding="utf-8")]
    nb = json.loads(path.read_text(encoding="utf-8"))
    return ["".join(c["source"]) if isinstance(c["source"], list) else c["source"]
            for c in nb.get("cells", []) if c.get("cell_type") == "markdown"]


def chapter_pages(root: Path) -> list[Path]:
    """The book's pages under ``root``: ``chapters/*.ipynb``, ``chapters/*.md`` and ``intro.md`` —
    only those ``root/_toc.yml`` lists, when it exists."""
    pages = sorted([*(root / "chapters").glob("*.ipynb"), *(root / "chapters").glob("*.md")])
    if (root / "intro.md").exists():
        pages.append(root / "intro.md")
    pages = [p for p in pages if ".ipynb_checkpoints" not in p.parts]
    toc = root / "_toc.yml"
    if toc.exists():
        listed = toc_files(toc)
        pages = [p for p in pages if p.relative_to(root).with_suffix("").as_posix() in listed]
    return pages


def toc_files(toc: Path) -> set[str]:
    """The pages a Jupyter Book ``_toc.yml`` lists (``root`` and every ``file:``), without suffixes."""
    import yaml

    found: set[str] = set()

    def walk(node: object) -> None:
        if isinstance(node, dict):
            for key in ("root", "file"):
                if isinstance(node.get(key), str):
                    found.add(str(Path(node[key]).with_suffix("")) if "." in Path(node[key]).name
                              else node[key])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(yaml.safe_load(toc.read_text(encoding="utf-8")))
    return found


def labelled_equations(root: Path) -> dict[str, list[tuple[str, str]]]:
    """label → [(LaTeX, chapter stem), ...] for every ``$$ ... $$ (eq-name)`` in the pages."""
    found: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for page in chapter_pages(root):
        for text in _markdown_sources(page):
            for m in LABELLED.finditer(text):
                found[m.group(2)].append((" ".join(m.group(1).split()), page.stem))
    return dict(found)


# ---- code -----------------------------------------------------------------------
def _docstrings(tree: ast.Module, prefix: str) -> list[tuple[str, str]]:
    """(qualified name, docstring) for the module and every class, function and method in it."""
    out: list[tuple[str, str]] = []
    if doc := ast.get_docstring(tree):
        out.append((prefix, doc))

    def visit(node: ast.AST, qual: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
                name = f"{qual}.{child.name}"
                if doc := ast.get_docstring(child):
                    out.append((name, doc))
                visit(child, name)

    visit(tree, prefix)
    return out


def implementations(package: Path) -> dict[str, list[str]]:
    """label → qualified names (``dlbook.functional.conv.conv2d``) whose docstring says ``Implements (label)``."""
    found: dict[str, list[str]] = defaultdict(list)
    for path in sorted(package.rglob("*.py")):
        parts = path.relative_to(package.parent).with_suffix("").parts
        module = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        for name, doc in _docstrings(ast.parse(path.read_text(encoding="utf-8")), module):
            for label in _cited(doc, "Implements"):
                found[label].append(name)
    return dict(found)


def verifications(tests: Path) -> dict[str, list[str]]:
    """label → test ids (``tests/test_conv.py::test_conv2d_matches_formula``) whose docstring says ``Verifies``."""
    found: dict[str, list[str]] = defaultdict(list)
    for path in sorted(tests.rglob("test_*.py")):
        rel = path.relative_to(tests.parent).as_posix()
        for name, doc in _docstrings(ast.parse(path.read_text(encoding="utf-8")), ""):
            leaf = name.rsplit(".", 1)[-1]
            if not name or not leaf.startswith("test"):
                continue
            for label in _cited(doc, "Verifies"):
                found[label].append(f"{rel}::{name.lstrip('.').replace('.', '::')}")
    return dict(found)


# ---- the index ------------------------------------------------------------------
def build_index(root: str | Path, package: str | Path | None = None, tests: str | Path | None = None) -> list[Entry]:
    """The index of the book at ``root`` (pages under it, package ``root/src/dlbook``, tests ``root/tests``),
    sorted by label; labels cited only by code or tests appear too (with no chapter)."""
    root = Path(root)
    package = Path(package) if package else root / "src" / "dlbook"
    tests = Path(tests) if tests else root / "tests"
    if not (root / "chapters").is_dir():
        raise ValueError(f"root must be a book folder holding chapters/, got {str(root)!r}")
    eqs = labelled_equations(root)
    impl = implementations(package) if package.is_dir() else {}
    ver = verifications(tests) if tests.is_dir() else {}
    entries = []
    for label in sorted(set(eqs) | set(impl) | set(ver)):
        places = eqs.get(label, [])
        entries.append(Entry(label, places[0][0] if places else "", [stem for _, stem in places],
                             impl.get(label, []), ver.get(label, [])))
    return entries


def check(entries: list[Entry], orphans: bool = False) -> list[str]:
    """What is missing or inconsistent, one line each (empty when the index is complete).

    With ``orphans``, labels that code or tests cite but no page of the book labels are reported too
    (while a chapter is being written its code lands first, so these are not errors by default)."""
    problems = []
    for e in entries:
        if not e.chapters:
            if orphans:
                problems.append(f"{e.label}: cited by {', '.join(e.implemented_by + e.verified_by)} "
                            "but labelled in no chapter")
            continue
        if len(e.chapters) > 1:
            problems.append(f"{e.label}: labelled more than once, in {', '.join(e.chapters)}")
        if not e.implemented_by:
            problems.append(f"{e.label} ({e.chapters[0]}): no function says 'Implements ({e.label})'")
        if not e.verified_by:
            problems.append(f"{e.label} ({e.chapters[0]}): no test says 'Verifies ({e.label})'")
    return problems


def html_table(entries: list[Entry]) -> str:
    """The index as an HTML table for the book's page; links point at the equations in the built chapters."""
    def cell(items: list[str]) -> str:
        return "<br>".join(f"<code>{html.escape(i)}</code>" for i in items) or "<b>missing</b>"

    rows = []
    for e in entries:
        where = (f'<a href="{e.chapters[0]}.html#equation-{e.label}">{e.chapters[0]}</a>'
                 if e.chapters else "<b>missing</b>")
        rows.append(f"<tr><td><code>{e.label}</code></td><td><code>{html.escape(e.latex)}</code></td>"
                    f"<td>{cell(e.implemented_by)}</td><td>{cell(e.verified_by)}</td><td>{where}</td></tr>")
    head = "<tr><th>label</th><th>LaTeX</th><th>implemented by</th><th>verified by</th><th>chapter</th></tr>"
    return f'<table class="equation-index">\n<thead>{head}</thead>\n<tbody>\n' + "\n".join(rows) + "\n</tbody></table>"


def main() -> int:
    """``python -m booktools.equations [ROOT]``: print the problems (exit status 1 if any)."""
    import sys

    root = Path(sys.argv[1]) if len(sys.argv) > 1 else Path.cwd()
    entries = build_index(root)
    problems = check(entries, orphans=True)
    print(f"{len(entries)} labels, {len(problems)} problems")
    for p in problems:
        print("  " + p)
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
