"""The bilingual glossary (术语表): load, validate and render ``glossary.yml``.

Each entry of the YAML list has five fields::

    - en: backpropagation                 # the English term; an abbreviation may follow in parentheses
      zh: 反向传播                          # the Chinese term
      definition: One line, in the book's own words.
      definition_zh: 一行释义，中文版用。      # the same definition for the Chinese edition
      where: 3-2-backpropagation            # the chapter (file stem) that defines it, optionally #anchor

The glossary is the one list of terms for both editions (:mod:`booktools.editions`).
:func:`problems` lists what is wrong with the entries: a missing or empty field, a definition on more
than one line, a duplicated English or Chinese term, a ``where`` that names no chapter of the table of
contents, or a term that does not occur in the text of the chapter it points to: the English term and its
Chinese form in the English text (which gives the Chinese term beside the English one), and the Chinese form in
the chapter's Chinese text.
"""

from __future__ import annotations

import html
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from booktools.editions import LANGS, prose_cells, source

FIELDS = ("en", "zh", "definition", "definition_zh", "where")


@dataclass(frozen=True)
class Term:
    """One glossary entry."""

    en: str
    zh: str
    definition: str
    definition_zh: str
    where: str

    @property
    def chapter(self) -> str:
        """The chapter's file stem (``where`` without its ``#anchor``)."""
        return self.where.split("#", 1)[0]

    @property
    def variants(self) -> list[str]:
        """The forms the term may take in the text: the whole, the part before a parenthesis, the part inside."""
        m = re.fullmatch(r"(.+?)\s*\((.+)\)", self.en)
        return [self.en, m.group(1), m.group(2)] if m else [self.en]


def load_entries(path: str | Path) -> list[dict[str, Any]]:
    """The raw entries of a glossary file (a YAML list of mappings); TypeError if the file is not such a list."""
    import yaml

    data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    if not isinstance(data, list) or not all(isinstance(e, dict) for e in data):
        raise TypeError(f"{path} must hold a YAML list of mappings, got {type(data).__name__}")
    return data


def load_glossary(path: str | Path) -> list[Term]:
    """The valid terms of ``path``, sorted by English term (case-insensitive); ValueError listing any problem
    of the entries themselves (fields, duplicates)."""
    entries = load_entries(path)
    errors = entry_problems(entries)
    if errors:
        raise ValueError(f"{path}: " + "; ".join(errors))
    return sorted((Term(**{k: str(e[k]).strip() for k in FIELDS}) for e in entries), key=lambda t: t.en.lower())


def entry_problems(entries: list[dict[str, Any]]) -> list[str]:
    """Problems visible in the entries alone: missing/empty/extra fields, multi-line definitions, duplicates."""
    errors: list[str] = []
    seen: dict[str, dict[str, int]] = {"en": {}, "zh": {}}
    for i, e in enumerate(entries):
        name = f"entry {i + 1} ({e.get('en', '?')})"
        missing = [k for k in FIELDS if not str(e.get(k) or "").strip()]
        if missing:
            errors.append(f"{name}: missing or empty {', '.join(missing)}")
        extra = sorted(set(e) - set(FIELDS))
        if extra:
            errors.append(f"{name}: unknown fields {', '.join(extra)}")
        for k in ("definition", "definition_zh"):
            if "\n" in str(e.get(k, "")).strip():
                errors.append(f"{name}: {k} must be one line")
        for k in ("en", "zh"):
            key = str(e.get(k) or "").strip().lower()
            if key and key in seen[k]:
                errors.append(f"{name}: duplicate {k} term {e[k]!r} (first in entry {seen[k][key] + 1})")
            elif key:
                seen[k][key] = i
    return errors


def planned_chapters(toc: str | Path) -> set[str]:
    """Chapter stems the table of contents names, commented-out lines included (chapters still being written)."""
    return set(re.findall(r"file:\s*chapters/([\w.-]+?)(?:\.ipynb|\.md)?\s*$", Path(toc).read_text(encoding="utf-8"),
                          re.MULTILINE))


def chapter_text(path: Path, lang: str = "en") -> str:
    """The prose of a chapter in one language: a notebook's markdown cells of that edition, or a markdown page."""
    if path.suffix == ".md":
        return path.read_text(encoding="utf-8")
    return "\n".join(source(c) for c in prose_cells(json.loads(path.read_text(encoding="utf-8")), lang))


#: A run of Chinese characters: each run of a glossary entry's Chinese term must appear in its chapter, so that
#: "im2col（图像转列）" needs 图像转列 there, and "生成式预训练Transformer" needs 生成式预训练.
CJK_RUN = re.compile(r"[\u3400-\u9fff]+")


def _chapter_file(chapters: Path, stem: str) -> Path | None:
    for suffix in (".ipynb", ".md"):
        if (chapters / f"{stem}{suffix}").exists():
            return chapters / f"{stem}{suffix}"
    return None


def problems(glossary: str | Path, root: str | Path) -> list[str]:
    """Everything wrong with ``glossary`` for the book at ``root`` (``root/_toc.yml``, ``root/chapters``).

    A term whose chapter is planned but not written yet is only checked for its fields."""
    root = Path(root)
    entries = load_entries(glossary)
    errors = entry_problems(entries)
    planned = planned_chapters(root / "_toc.yml")
    texts: dict[tuple[str, str], str] = {}
    for e in entries:
        if any(not str(e.get(k) or "").strip() for k in ("en", "zh", "where")):
            continue  # reported by entry_problems; the text checks need only these three
        term = Term(**{k: str(e.get(k) or "").strip() for k in FIELDS})
        if term.chapter not in planned:
            errors.append(f"{term.en}: where={term.where!r} names no chapter in _toc.yml")
            continue
        page = _chapter_file(root / "chapters", term.chapter)
        if page is None:
            continue
        for lang in LANGS:
            if (term.chapter, lang) not in texts:
                texts[term.chapter, lang] = chapter_text(page, lang).lower()
        english, chinese = texts[term.chapter, "en"], texts[term.chapter, "zh"]
        if not any(v.lower() in english for v in term.variants):
            errors.append(f"{term.en}: does not occur in the text of {term.chapter}")
        elif not all(run in english for run in CJK_RUN.findall(term.zh)):
            errors.append(f"{term.en}: its Chinese {term.zh} does not occur in the text of {term.chapter}")
        if not all(run in chinese for run in CJK_RUN.findall(term.zh)):
            errors.append(f"{term.en}: its Chinese {term.zh} does not occur in the Chinese text of {term.chapter}")
    errors += gloss_problems([Term(**{k: str(e.get(k) or "").strip() for k in FIELDS}) for e in entries
                              if all(str(e.get(k) or "").strip() for k in ("en", "zh"))], root)
    return errors


def gloss_problems(terms: list[Term], root: Path) -> list[str]:
    """Where the Chinese text glosses a glossary term with another Chinese word: wherever it writes the English
    term in brackets, 反向传播（backpropagation）, the Chinese right before must be the glossary's (without a
    bracket it may carry, 未归一化分数 (logit); a term whose Chinese form starts in Latin letters, such as im2col,
    is skipped)."""
    from booktools.editions import book_pages, read

    errors = []
    glossed = [(t, re.sub(r"\s*[（(][^（()）]*[）)]\s*$", "", t.zh)) for t in terms]
    for page in (p for p in book_pages(root) if p.exists()):
        text = "\n".join(source(c) for c in prose_cells(read(page), "zh"))
        for term, lead in glossed:
            if not CJK_RUN.match(lead):
                continue
            english = term.variants[1] if len(term.variants) > 1 else term.en
            for m in re.finditer(rf"（{re.escape(english)}[）,，]", text, re.IGNORECASE):
                before = text[:m.start()].rstrip("*")
                if not before.endswith(lead):
                    errors.append(f"{term.en}: {page.stem}'s Chinese text glosses it as "
                                  f"{before[-12:]!r}, not {lead}")
    return errors


#: Column heads and the "not yet in the book" note, per edition.
_HEADS = {"en": ("English", "中文", "definition", "defined in", "in preparation"),
          "zh": ("中文", "English", "释义", "所在章节", "编写中")}


def html_table(terms: list[Term], linked: set[str] | None = None, lang: str = "en") -> str:
    """The glossary as an HTML table for one edition (``lang``): the English edition sorts by English term and
    gives the English definition, the Chinese one leads with the Chinese term and gives ``definition_zh``.
    A term links to its chapter when the chapter is in ``linked`` (the chapters of the built book), else the
    chapter is named without a link."""
    if lang not in LANGS:
        raise ValueError(f"lang must be one of {LANGS}, got {lang!r}")
    first, second, meaning, defined_in, pending = _HEADS[lang]
    rows = []
    for t in terms:
        anchor = "#" + t.where.split("#", 1)[1] if "#" in t.where else ""
        where = (f'<a href="{t.chapter}.html{anchor}">{t.chapter}</a>' if linked is None or t.chapter in linked
                 else f"{t.chapter} ({pending})")
        pair = (t.en, t.zh) if lang == "en" else (t.zh, t.en)
        definition = t.definition if lang == "en" else t.definition_zh
        rows.append(f"<tr><td>{html.escape(pair[0])}</td><td>{html.escape(pair[1])}</td>"
                    f"<td>{html.escape(definition)}</td><td>{where}</td></tr>")
    head = f"<tr><th>{first}</th><th>{second}</th><th>{meaning}</th><th>{defined_in}</th></tr>"
    return (f'<table class="glossary" lang="{lang}">\n<thead>{head}</thead>\n<tbody>\n' + "\n".join(rows)
            + "\n</tbody></table>")


def editions_html(terms: list[Term], linked: set[str] | None = None) -> str:
    """Both editions' tables in one output, each wrapped in ``<div class="only-LANG">``: the notebook's output
    is shared by the two editions, and each edition's style sheet hides the other's table."""
    return "\n".join(f'<div class="only-{lang}">\n{html_table(terms, linked, lang)}\n</div>' for lang in LANGS)
