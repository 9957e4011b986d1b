"""The equation index: every labelled equation → the code that implements it → the tests that verify it.

Three sources are scanned as text (nothing is imported, so the index needs neither torch nor a kernel):

* the pages of the book (those in ``_toc.yml`` when there is one, else every ``chapters/*.ipynb``
  and ``*.md``): every displayed equation labelled ``$$ ... $$ (eq-…)`` in a markdown cell;
* the package (``src/dlbook``, parsed with :mod:`ast`): every docstring of a module, class,
  function or method with a sentence starting ``Implements`` that names ``(eq-…)`` labels;
* the tests (``tests/test_*.py``): every test docstring with such a sentence starting ``Verifies``.

One sentence may name several labels, as in "Implements (eq-sgd) and (eq-momentum)."

Every *displayed* equation must be labelled, or deliberately exempt: :func:`displays` parses a page's markdown
(as MyST does, with markdown-it) and finds every display — ``$$ … $$``, a bare ``\\begin{align}``, a
``{math}`` directive, also inside dropdowns and other directives, but not in code. A display is exempt when the
line right above it is the MyST comment ``% equation-exempt: <reason>`` — a derivation step or a restatement that
no function implements; the comment is invisible in the book, the reason is reviewable in the source, and the
equation index page lists every exemption with its reason.  :func:`display_problems` reports an unlabelled display
that is not exempt, an exemption without a reason or without a display under it, and a reason citing a label no
page defines; ``tests/test_equation_index.py`` fails on any of them.

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
from typing import TYPE_CHECKING

from booktools.editions import prose_cells, source

if TYPE_CHECKING:
    from markdown_it import MarkdownIt

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
    # The English cells only: a Chinese twin repeats its cell's equations (booktools.editions checks that).
    return [source(c) for c in prose_cells(json.loads(path.read_text(encoding="utf-8")), "en")]


def chapter_pages(root: Path) -> list[Path]:
    """The book's pages under ``root``: ``chapters/*.ipynb``, ``chapters/*.md`` and ``intro.ipynb``/``intro.md`` —
    only those ``root/_toc.yml`` lists, when it exists."""
    pages = sorted([*(root / "chapters").glob("*.ipynb"), *(root / "chapters").glob("*.md")])
    pages += [p for p in (root / "intro.ipynb", root / "intro.md") if p.exists()]
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


# ---- every display labelled or exempt -------------------------------------------
#: The MyST comment that exempts the display right under it: ``% equation-exempt: <reason>``.
EXEMPT = re.compile(r"^\s*equation-exempt:(.*)$", re.DOTALL)
#: Directives whose body is code or data, not markdown: a ``$$`` inside them is no display.
_LITERAL_DIRECTIVES = {"code-cell", "code-block", "code", "sourcecode", "literalinclude", "mermaid", "raw",
                       "csv-table", "glue:text", "glue:figure", "glue:math", "glue:any"}


@dataclass
class Display:
    """One displayed equation of a page: where it is, its LaTeX, and its label or the reason it has none."""

    page: str              # file stem
    cell: str | None       # notebook cell id (None for a .md page)
    line: int              # 1-based line within the cell (or the .md file)
    latex: str
    kind: str              # "$$", "inline $$", "amsmath" or "{math}"
    label: str | None = None
    exempt: str | None = None   # the reason after "% equation-exempt:", "" when the marker has none

    def where(self) -> str:
        """``3-3-cnn cell 77bb5daf line 7``: enough to find the display in the source."""
        return f"{self.page}{f' cell {self.cell}' if self.cell else ''} line {self.line}"


def _parser() -> MarkdownIt:
    """A markdown-it parser with the MyST syntax the book enables (dollarmath with $$ inline, amsmath, comments)."""
    from markdown_it import MarkdownIt
    from mdit_py_plugins.amsmath import amsmath_plugin
    from mdit_py_plugins.colon_fence import colon_fence_plugin
    from mdit_py_plugins.dollarmath import dollarmath_plugin
    from mdit_py_plugins.myst_blocks import myst_block_plugin

    return (MarkdownIt("commonmark").use(dollarmath_plugin, double_inline=True).use(amsmath_plugin)
            .use(myst_block_plugin).use(colon_fence_plugin))


def _directive_body(content: str) -> tuple[str, int]:
    """A directive's markdown body without its ``:option:`` lines or ``---`` YAML block, and the lines skipped."""
    lines = content.split("\n")
    skip = 0
    if lines and lines[0].strip() == "---" and "---" in (x.strip() for x in lines[1:]):
        skip = 1 + [x.strip() for x in lines[1:]].index("---") + 1
    else:
        while skip < len(lines) and re.match(r"^:[\w-]+:", lines[skip]):
            skip += 1
    return "\n".join(lines[skip:]), skip


def _scan(text: str, page: str, cell: str | None, offset: int, md: MarkdownIt) -> tuple[list[Display], list[str]]:
    """The displays of one markdown text, and the problems only the token stream shows (dangling markers)."""
    found: list[Display] = []
    problems: list[str] = []
    pending: tuple[str, int] | None = None      # an exemption marker waiting for its display

    def add(latex: str, kind: str, line: int, label: str | None = None) -> None:
        nonlocal pending
        reason = pending[0] if pending and pending[1] == line - 1 else None
        found.append(Display(page, cell, line, " ".join(latex.split()), kind, label, reason))
        pending = None

    for tok in md.parse(text):
        line = offset + (tok.map[0] + 1 if tok.map else 0)
        if pending and tok.map and tok.type != "myst_line_comment":
            if tok.type not in ("math_block", "math_block_label", "amsmath") and not (
                    tok.type in ("fence", "colon_fence") and tok.info.strip().startswith("{math}")):
                problems.append(f"{page}{f' cell {cell}' if cell else ''} line {pending[1]}: "
                                "'% equation-exempt' is not followed by a display")
                pending = None
        if tok.type == "myst_line_comment":
            if m := EXEMPT.match(tok.content):
                pending = (m.group(1).strip(), line + tok.content.count("\n"))
        elif tok.type in ("math_block", "math_block_label"):
            add(tok.content, "$$", line, tok.info.strip() or None)
        elif tok.type == "amsmath":
            add(tok.content, "amsmath", line)
        elif tok.type == "inline":
            for child in tok.children or []:
                if child.type == "math_inline_double":
                    found.append(Display(page, cell, line, " ".join(child.content.split()), "inline $$"))
        elif tok.type in ("fence", "colon_fence") and tok.info.strip().startswith("{"):
            name = tok.info.strip()[1:].split("}", 1)[0]
            if name == "math":
                add(_directive_body(tok.content)[0], "{math}", line)
            elif name not in _LITERAL_DIRECTIVES:
                body, skipped = _directive_body(tok.content)
                inner, inner_problems = _scan(body, page, cell, line + skipped, md)
                found += inner
                problems += inner_problems
    if pending:
        problems.append(f"{page}{f' cell {cell}' if cell else ''} line {pending[1]}: "
                        "'% equation-exempt' is not followed by a display")
    return found, problems


def _markdown_cells(path: Path) -> list[tuple[str | None, str]]:
    """(cell id, markdown) for each English markdown cell of a notebook, or [(None, text)] for a .md page.

    A Chinese twin has the same displays and exemption comments as its English cell (booktools.editions
    checks that), so reading it again would only list each display twice."""
    if path.suffix == ".md":
        return [(None, path.read_text(encoding="utf-8"))]
    return [(c.get("id"), source(c)) for c in prose_cells(json.loads(path.read_text(encoding="utf-8")), "en")]


def displays(page: Path) -> tuple[list[Display], list[str]]:
    """Every displayed equation of one page (a notebook's markdown cells or a .md file), and any misplaced
    ``% equation-exempt`` marker."""
    md = _parser()
    found: list[Display] = []
    problems: list[str] = []
    for cell, text in _markdown_cells(page):
        f, p = _scan(text, page.stem, cell, 0, md)
        found += f
        problems += p
    return found, problems


def display_problems(pages: list[Path], known_labels: set[str] | None = None) -> list[str]:
    """What breaks "every display is labelled or exempt" in ``pages``, one line each (empty when nothing does).

    ``known_labels``, when given, are the labels a reason may cite (``restates (eq-conv)``); citing another is
    reported, so an exemption cannot point at an equation that is not there."""
    problems: list[str] = []
    for page in pages:
        found, misplaced = displays(page)
        problems += misplaced
        for d in found:
            short = d.latex if len(d.latex) <= 60 else d.latex[:57] + "..."
            if d.kind == "inline $$":
                problems.append(f"{d.where()}: $$ {short} $$ sits inside a paragraph, where it can carry no "
                                "label: put it on lines of its own")
            elif d.exempt is not None:
                if not d.exempt:
                    problems.append(f"{d.where()}: '% equation-exempt:' gives no reason for $$ {short} $$")
                if d.label:
                    problems.append(f"{d.where()}: {d.label} is both labelled and exempt")
                for label in LABEL.findall(d.exempt):
                    if known_labels is not None and label not in known_labels:
                        problems.append(f"{d.where()}: the exemption cites {label}, which no page labels")
            elif d.kind != "$$" or not d.label:
                how = "is a {math} directive" if d.kind == "{math}" else "has no label"
                problems.append(f"{d.where()}: the display $$ {short} $$ {how}: write it as $$ … $$ (eq-name), "
                                "or put '% equation-exempt: <reason>' on the line above it")
    return problems


def exemptions(root: str | Path) -> list[Display]:
    """The displays of the book's pages that are deliberately unlabelled, each with its reason."""
    return [d for page in chapter_pages(Path(root)) for d in displays(page)[0] if d.exempt is not None]


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
