"""Two editions, English and Chinese (中文版), from one set of notebooks.

Every prose (markdown) cell of a page is written in English; its Chinese twin is the markdown cell right after it,
marked in the cell's metadata::

    "metadata": {"dlbook": {"lang": "zh", "twin": "<id of the English cell>", "en_sha": "<fingerprint>"}}

Code cells, their outputs and widgets are shared by both editions.  ``en_sha`` is the fingerprint of the English
text the twin translates, so a twin whose English cell was edited afterwards is reported as stale until its
translation is looked at again (``apply`` re-stamps it).

:func:`single_language` gives the notebook of one edition (the build and ``make lab LANG=zh`` use it);
:func:`notebook_problems` is the drift check: an English cell without a twin, a twin without its English cell or
not right after it, a stale twin, and a pair whose *markers* differ — formulas, equation labels and references,
``glue`` names, links, code, directive names and options, targets and numbers must be identical in both
languages (:func:`markers`) — and any prose cell, in either language, whose bold or italics would not render
(:func:`unrendered_emphasis`), and a Chinese line broken between two characters (:func:`join_cjk_lines`).
A glued string of English words (a verdict, a list) has its Chinese form glued as
``NAME_zh``, which the Chinese prose names instead.

The command line, for whoever translates (``python -m booktools.editions …``):

``todo PAGE``            the English cells of PAGE without a current twin, as JSON {cell id: English text}
``apply PAGE FILE``      FILE is JSON {cell id: Chinese text}: insert or replace those twins, then check PAGE
``check [PAGE ...]``     the drift problems of the pages (default: every page of the book)
``split LANG DIR``       single-language copies of the book's pages into DIR (as ``make lab LANG=zh`` opens)
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
import sys
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

LANGS = ("en", "zh")
ROOT = Path(__file__).resolve().parents[2]

Cell = dict[str, Any]
Notebook = dict[str, Any]


# ---- cells -----------------------------------------------------------------------
def source(cell: Cell) -> str:
    """A cell's text (nbformat stores it as a string or a list of lines)."""
    s = cell.get("source", "")
    return "".join(s) if isinstance(s, list) else s


def cell_lang(cell: Cell) -> str:
    """``"zh"`` for a Chinese twin, ``"en"`` for every other cell."""
    return cell.get("metadata", {}).get("dlbook", {}).get("lang", "en")


def is_prose(cell: Cell, lang: str = "en") -> bool:
    return cell.get("cell_type") == "markdown" and cell_lang(cell) == lang


def prose_cells(nb: Notebook, lang: str = "en") -> list[Cell]:
    """The markdown cells of one language, in order."""
    _check_lang(lang)
    return [c for c in nb.get("cells", []) if is_prose(c, lang)]


def fingerprint(text: str) -> str:
    """A short hash of an English cell's text, ignoring trailing whitespace."""
    return hashlib.sha256(text.strip().encode("utf-8")).hexdigest()[:12]


def _check_lang(lang: str) -> None:
    if lang not in LANGS:
        raise ValueError(f"lang must be one of {LANGS}, got {lang!r}")


def single_language(nb: Notebook, lang: str) -> Notebook:
    """A copy of ``nb`` with the markdown cells of the other language removed (code cells kept)."""
    _check_lang(lang)
    out = copy.deepcopy(nb)
    out["cells"] = [c for c in out["cells"] if c.get("cell_type") != "markdown" or cell_lang(c) == lang]
    return out


def twin_cell(en: Cell, zh_text: str) -> Cell:
    """The Chinese twin of the English cell ``en``."""
    text = zh_text.strip("\n") + "\n"
    return {"cell_type": "markdown", "id": f"{en['id']}-zh",
            "metadata": {"dlbook": {"lang": "zh", "twin": en["id"], "en_sha": fingerprint(source(en))}},
            "source": text.rstrip("\n").splitlines(keepends=True)}


def set_twins(nb: Notebook, translations: dict[str, str]) -> Notebook:
    """Insert (or replace) the Chinese twins ``{English cell id: Chinese text}`` right after their English cells."""
    if not isinstance(translations, dict) or not all(isinstance(v, str) for v in translations.values()):
        raise TypeError("translations must be a dict {English cell id: Chinese text}")
    english = {c.get("id"): c for c in prose_cells(nb, "en")}
    unknown = sorted(set(translations) - set(english))
    if unknown:
        raise ValueError(f"translations name cells that are not English prose cells of this page: {unknown}")
    cells: list[Cell] = []
    for c in nb["cells"]:
        if cell_lang(c) == "zh" and c["metadata"]["dlbook"].get("twin") in translations:
            continue  # replaced below
        cells.append(c)
        if c.get("id") in translations and is_prose(c, "en"):
            cells.append(twin_cell(c, translations[c["id"]]))
    nb["cells"] = cells
    return nb


# ---- markers: what must be identical in both languages ------------------------------
_DISPLAY = re.compile(r"\$\$(.+?)\$\$(?:[ \t]*\((eq-[\w-]+)\))?", re.DOTALL)
_ENV = re.compile(r"\\begin\{(\w+\*?)\}.*?\\end\{\1\}", re.DOTALL)
_INLINE_MATH = re.compile(r"(?<![\\$])\$(?!\$)((?:[^$\n]|\n(?!\s*\n))+?)(?<![\\$])\$")  # may break a line
_FENCE = re.compile(r"^(`{3,}|:{3,})[ \t]*(\{[\w:-]+\})?([^\n]*)\n(.*?)^\1[ \t]*$", re.DOTALL | re.MULTILINE)
_ROLE = re.compile(r"\{([\w:-]+)\}`([^`]*)`")
_CODE = re.compile(r"(`+)(.+?)\1", re.DOTALL)
_LINK = re.compile(r"\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
_HTML_LINK = re.compile(r"""(?:href|src)=["']([^"']+)["']""")
_URL = re.compile(r"(?<![(\"'<])\bhttps?://[^\s)<>\"']+")
_TARGET = re.compile(r"^\(([\w:.-]+)\)=[ \t]*$", re.MULTILINE)
_OPTION = re.compile(r"^[ \t]*:([\w-]+):[ \t]*(.*?)[ \t]*$", re.MULTILINE)
_COMMENT = re.compile(r"^%[^\n]*$", re.MULTILINE)
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
#: Directive options whose value is prose (translated); the others (label, name, class…) must match.
_PROSE_OPTIONS = {"alt", "caption", "title"}
#: Directives whose argument is a path or a target, not a title.
_PATH_DIRECTIVES = {"figure", "image", "include", "literalinclude", "glue:figure", "glue"}
#: Roles whose content is "text <target>": only the target must match.
_XREF_ROLES = {"ref", "doc", "numref", "eq", "term", "download", "any", "func", "mod", "class", "meth"}


def _normal_math(latex: str) -> str:
    return re.sub(r"\s+", "", latex)


def markers(text: str) -> Counter:
    """What a translation must keep: a multiset of (kind, value) pairs found in the markdown ``text``.

    Kinds: ``math`` (displays, environments and inline formulas, whitespace removed), ``label`` (an equation's
    ``(eq-…)``), ``directive``, ``option``, ``code``, ``role`` (role and its target; for ``glue`` the name and
    format), ``link``, ``target``, ``comment`` (MyST ``%`` lines, such as equation exemptions) and ``number``
    (each number left in the prose, thousands separators removed)."""
    found: Counter = Counter()

    def take(pattern: re.Pattern, text: str, record) -> str:
        def sub(m: re.Match) -> str:
            record(m)
            return " "
        return pattern.sub(sub, text)

    def display(m: re.Match) -> None:
        found["math", _normal_math(m.group(1))] += 1
        if m.group(2):
            found["label", m.group(2)] += 1

    def fence(m: re.Match) -> None:
        name, arg, body = m.group(2), m.group(3).strip(), m.group(4)
        if not name:
            found["code", body.strip()] += 1
            return
        found["directive", name] += 1
        if name.strip("{}") in _PATH_DIRECTIVES and arg:
            found["link", arg] += 1
        for opt, value in _OPTION.findall(body):
            found["option", opt if opt in _PROSE_OPTIONS else f"{opt}: {value}"] += 1
        inner.append(_OPTION.sub(" ", body))

    def role(m: re.Match) -> None:
        name, content = m.group(1), m.group(2)
        if name in _XREF_ROLES:
            target = re.search(r"<([^<>]+)>\s*$", content)
            content = target.group(1) if target else content
        found["role", f"{name}`{content.strip()}`"] += 1

    rest = take(_COMMENT, text, lambda m: found.update([("comment", m.group(0).strip())]))
    inner: list[str] = []
    rest = take(_FENCE, rest, fence)
    while inner:  # the bodies of directives are prose: nested directives, math and all
        body = inner.pop()
        rest += "\n" + take(_FENCE, body, fence)
    rest = take(_DISPLAY, rest, display)
    rest = take(_ENV, rest, lambda m: found.update([("math", _normal_math(m.group(0)))]))
    rest = take(_ROLE, rest, role)
    rest = take(_CODE, rest, lambda m: found.update([("code", m.group(2).strip())]))
    rest = take(_INLINE_MATH, rest, lambda m: found.update([("math", _normal_math(m.group(1)))]))
    rest = take(_TARGET, rest, lambda m: found.update([("target", m.group(1))]))
    rest = take(_LINK, rest, lambda m: found.update([("link", m.group(1))]))
    rest = take(_HTML_LINK, rest, lambda m: found.update([("link", m.group(1))]))
    rest = take(_URL, rest, lambda m: found.update([("link", m.group(0).rstrip(".,;:"))]))
    for n in _NUMBER.findall(rest):
        found["number", n.replace(",", "")] += 1
    return found


#: A glued *string of words* is glued twice, in English as NAME and in Chinese as NAME_zh; the Chinese prose
#: names the second, and counts as naming the first.
_GLUE_ZH = re.compile(r"^(glue(?::\w+)?`[\w.-]+?)_zh(?=[:`])")


def pair_problems(en: str, zh: str) -> list[str]:
    """How the Chinese text ``zh`` differs from the English ``en`` in what both must keep (empty when it does not)."""
    a, b = markers(en), Counter()
    for (kind, value), n in markers(zh).items():
        b[kind, _GLUE_ZH.sub(r"\1", value) if kind == "role" else value] += n
    out = []
    for key in sorted(set(a) | set(b)):
        if a[key] != b[key]:
            kind, value = key
            out.append(f"{kind} {value!r}: {a[key]}× in English, {b[key]}× in Chinese")
    return out


_DIRECTIVE_OPTION = re.compile(r"(?m)^:[\w-]+:.*$")


def unrendered_emphasis(text: str) -> list[str]:
    """The runs of prose in ``text`` that keep a literal ``*`` after MyST's markdown parser has read it.

    CommonMark closes ``**`` only where it is "right-flanking": ``**反向传播（backpropagation）**是`` stays
    literal, since the closing ``**`` follows punctuation and precedes a letter; ``**反向传播**（backpropagation）``
    renders.  Directive bodies are prose too and are read the same way (mermaid's are not markdown)."""
    from markdown_it import MarkdownIt
    from mdit_py_plugins.colon_fence import colon_fence_plugin
    from mdit_py_plugins.dollarmath import dollarmath_plugin
    from mdit_py_plugins.myst_role import myst_role_plugin

    md = (MarkdownIt("commonmark").use(dollarmath_plugin, double_inline=True).use(colon_fence_plugin)
          .use(myst_role_plugin).enable("table"))
    stray: list[str] = []
    for tok in md.parse(text):
        if tok.type in ("fence", "colon_fence") and tok.info.startswith("{") and "mermaid" not in tok.info:
            stray += unrendered_emphasis(_DIRECTIVE_OPTION.sub("", tok.content))
        elif tok.type == "inline":
            stray += [t.content for t in tok.children or [] if t.type == "text" and "*" in t.content]
    return stray


#: A line break between two Chinese characters (or full-width punctuation), outside code: HTML shows it as a space.
_CJK_BREAK = re.compile(r"([\u3000-\u303f\u4e00-\u9fff\uff00-\uffef])\n([\u3000-\u303f\u4e00-\u9fff\uff00-\uffef])")
_ANY_FENCE = re.compile(r"^(`{3,}|:{3,}).*?^\1[ \t]*$", re.DOTALL | re.MULTILINE)


def join_cjk_lines(text: str) -> str:
    """``text`` with the line breaks between two Chinese characters removed, except inside fenced blocks (a
    diagram's lines are its syntax); a browser shows such a break as a space in the middle of a sentence."""
    out, last = [], 0
    for m in _ANY_FENCE.finditer(text):
        out += [_CJK_BREAK.sub(r"\1\2", text[last:m.start()]), m.group(0)]
        last = m.end()
    return "".join(out) + _CJK_BREAK.sub(r"\1\2", text[last:])


def notebook_problems(nb: Notebook, name: str = "page") -> list[str]:
    """Every drift problem of one page (see the module docstring); empty when both editions agree."""
    problems: list[str] = []
    cells = nb.get("cells", [])
    english = {c.get("id"): c for c in cells if is_prose(c, "en")}
    twinned: Counter = Counter()
    for i, c in enumerate(cells):
        if not is_prose(c, "zh"):
            continue
        meta = c["metadata"]["dlbook"]
        en = english.get(meta.get("twin"))
        where = f"{name}: Chinese cell {c.get('id')}"
        if en is None:
            problems.append(f"{where} is the twin of {meta.get('twin')!r}, which is not an English prose cell")
            continue
        twinned[en["id"]] += 1
        if i == 0 or cells[i - 1] is not en:
            problems.append(f"{where} does not come right after its English cell {en['id']}")
        if meta.get("en_sha") != fingerprint(source(en)):
            problems.append(f"{where} is stale: English cell {en['id']} changed after it was translated "
                            "(update the translation, then `python -m booktools.editions apply` re-stamps it)")
        problems += [f"{where} vs {en['id']}: {p}" for p in pair_problems(source(en), source(c))]
        if join_cjk_lines(source(c)) != source(c):
            problems.append(f"{where} breaks a line between two Chinese characters, which shows as a space "
                            "(join_cjk_lines mends it)")
    for c in cells:
        if c.get("cell_type") == "markdown":
            problems += [f"{name}: {cell_lang(c)} cell {c.get('id')}: a literal * in {run[:60]!r} (bold or italics "
                         "that do not render)" for run in unrendered_emphasis(source(c))]
    for cid in english:
        if twinned[cid] == 0:
            problems.append(f"{name}: English cell {cid} has no Chinese twin")
        elif twinned[cid] > 1:
            problems.append(f"{name}: English cell {cid} has {twinned[cid]} Chinese twins")
    return problems


# ---- the book's pages ----------------------------------------------------------------------
def book_pages(root: Path = ROOT) -> list[Path]:
    """The notebooks of the table of contents, root page first."""
    import yaml

    toc = yaml.safe_load((root / "_toc.yml").read_text(encoding="utf-8"))
    files = [toc["root"]]

    def walk(entries: Iterable[dict]) -> None:
        for entry in entries or []:
            if "file" in entry:
                files.append(entry["file"])
            for key in ("parts", "chapters", "sections"):
                walk(entry.get(key, []))

    walk(toc.get("parts", []) + toc.get("chapters", []))
    return [root / f"{f}.ipynb" for f in files]


def read(path: Path) -> Notebook:
    return json.loads(Path(path).read_text(encoding="utf-8"))


def dumps(nb: Notebook) -> str:
    """A notebook's text as the repository stores them (one-space indent, UTF-8, trailing newline)."""
    return json.dumps(nb, ensure_ascii=False, indent=1) + "\n"


def write(path: Path, nb: Notebook) -> None:
    """Write a notebook as the repository stores them, atomically."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(dumps(nb), encoding="utf-8")
    tmp.replace(path)


def todo(nb: Notebook) -> dict[str, str]:
    """The English cells without a current Chinese twin: {cell id: English text}."""
    current = {c["metadata"]["dlbook"]["twin"] for c in prose_cells(nb, "zh")
               if c["metadata"]["dlbook"].get("en_sha") == _sha_of(nb, c["metadata"]["dlbook"]["twin"])}
    return {c["id"]: source(c) for c in prose_cells(nb, "en") if c["id"] not in current}


def _sha_of(nb: Notebook, cell_id: str) -> str | None:
    for c in nb["cells"]:
        if c.get("id") == cell_id:
            return fingerprint(source(c))
    return None


def split_book(lang: str, out: Path, root: Path = ROOT) -> list[Path]:
    """Write the single-language copy of every page of the book under ``out`` (same relative paths)."""
    _check_lang(lang)
    written = []
    for page in book_pages(root):
        dest = Path(out) / page.relative_to(root)
        dest.parent.mkdir(parents=True, exist_ok=True)
        write(dest, single_language(read(page), lang))
        written.append(dest)
    return written


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in ("todo", "apply", "check", "split"):
        print(__doc__)
        return 2
    cmd, args = argv[0], argv[1:]
    if cmd == "todo":
        print(json.dumps(todo(read(Path(args[0]))), ensure_ascii=False, indent=1))
        return 0
    if cmd == "apply":
        page = Path(args[0])
        translations = json.loads(Path(args[1]).read_text(encoding="utf-8"))
        write(page, set_twins(read(page), translations))
        args = [args[0]]
    if cmd == "split":
        for p in split_book(args[0], Path(args[1])):
            print(p)
        return 0
    pages = [Path(a) for a in args] or book_pages()
    problems = [p for page in pages for p in notebook_problems(read(page), page.stem)]
    print("\n".join(problems) or "no drift: every English prose cell has a current Chinese twin that keeps its markers")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
