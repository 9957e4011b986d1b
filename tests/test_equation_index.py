"""The equation index: every labelled equation of the book has an implementing function and a verifying test."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from booktools.equations import (
    _cited,
    build_index,
    chapter_pages,
    check,
    display_problems,
    displays,
    exemptions,
    html_table,
    labelled_equations,
    toc_files,
)

ROOT = Path(__file__).resolve().parent.parent


def test_every_labelled_equation_is_implemented_and_verified() -> None:
    """The whole book: no labelled equation lacks a function saying Implements or a test saying Verifies."""
    entries = build_index(ROOT)
    labelled = [e for e in entries if e.chapters]
    assert len(labelled) >= 10, "the scan found almost no labelled equations: is the pattern broken?"
    assert check(entries) == []


def _book(tmp_path: Path, toc: bool = False) -> Path:
    """A broken miniature book: eq-ok is complete, eq-missing has neither code nor test, eq-untested no test."""
    (tmp_path / "chapters").mkdir()
    (tmp_path / "chapters" / "a.md").write_text(
        "# A\n\n$$ y = w x $$ (eq-ok)\n\n$$\nz = 2\n$$ (eq-missing)\n\n$$ u = v $$ (eq-untested)\n")
    cell = {"cell_type": "markdown", "metadata": {}, "source": ["$$ q = 1 $$ (eq-ok)\n"]}
    (tmp_path / "chapters" / "b.ipynb").write_text(json.dumps({"cells": [cell], "metadata": {}, "nbformat": 4,
                                                               "nbformat_minor": 5}))
    pkg = tmp_path / "src" / "dlbook"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "ops.py").write_text(
        'def f(x):\n    """y = w x.  Implements (eq-ok)."""\n\n\n'
        'class G:\n    def g(self):\n        """Implements (eq-untested) and (eq-only-in-code)."""\n')
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_ops.py").write_text(
        'def test_f():\n    """Verifies (eq-ok) by hand."""\n\n\ndef helper():\n    """Verifies (eq-untested)."""\n')
    if toc:
        (tmp_path / "_toc.yml").write_text("format: jb-book\nroot: intro\nchapters:\n  - file: chapters/a\n")
    return tmp_path


def test_checker_reports_a_broken_book(tmp_path: Path) -> None:
    """The test of the test: on a book with gaps, the checker names exactly the gaps."""
    entries = build_index(_book(tmp_path))
    by_label = {e.label: e for e in entries}
    assert by_label["eq-ok"].implemented_by == ["dlbook.ops.f"]
    assert by_label["eq-ok"].verified_by == ["tests/test_ops.py::test_f"]
    assert by_label["eq-untested"].implemented_by == ["dlbook.ops.G.g"]
    assert by_label["eq-missing"].latex == "z = 2"
    problems = check(entries)
    assert "eq-missing (a): no function says 'Implements (eq-missing)'" in problems
    assert "eq-missing (a): no test says 'Verifies (eq-missing)'" in problems
    # a helper that is not a test does not count as verification
    assert "eq-untested (a): no test says 'Verifies (eq-untested)'" in problems
    assert any(p.startswith("eq-ok: labelled more than once, in a, b") for p in problems)
    assert len(problems) == 4
    assert any(p.startswith("eq-only-in-code: cited by dlbook.ops.G.g") for p in check(entries, orphans=True))
    table = html_table(entries)
    assert '<a href="a.html#equation-eq-missing">a</a>' in table and "<b>missing</b>" in table


def test_only_pages_in_the_toc_count(tmp_path: Path) -> None:
    """With a _toc.yml, a chapter not yet listed (b.ipynb) is not scanned."""
    root = _book(tmp_path, toc=True)
    assert toc_files(root / "_toc.yml") == {"intro", "chapters/a"}
    entries = {e.label: e for e in build_index(root)}
    assert entries["eq-ok"].chapters == ["a"]


def test_sentences_name_several_labels() -> None:
    assert _cited("Implements (eq-sgd) and (eq-momentum). Uses (eq-x).", "Implements") == ["eq-sgd", "eq-momentum"]
    assert _cited("Max.  Verifies (eq-maxpool).  Verifies (eq-avgpool).", "Verifies") == ["eq-maxpool", "eq-avgpool"]
    assert _cited("Implements (eq-rnn) for every step, h = f(W h + b), and (eq-bptt).", "Implements") == [
        "eq-rnn", "eq-bptt"]
    assert _cited("No keyword (eq-a).", "Verifies") == []


def test_bad_root(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="chapters/"):
        build_index(tmp_path)


# ---- every display labelled or exempt ------------------------------------------------
FIXTURE = ROOT / "tests" / "fixtures" / "unlabelled-equation.ipynb"


def test_every_display_is_labelled_or_exempt() -> None:
    """Every $$ … $$, amsmath block or {math} directive of the book's pages has a label, or a
    '% equation-exempt: <reason>' line above it whose reason cites only labels that exist."""
    pages = chapter_pages(ROOT)
    assert len(pages) >= 15, "the scan found almost no pages: is _toc.yml read?"
    found = [d for page in pages for d in displays(page)[0]]
    assert sum(d.label is not None for d in found) >= 40, "almost no labelled displays found: is the parser broken?"
    assert display_problems(pages, set(labelled_equations(ROOT))) == []


def test_unlabelled_display_checker_reports_the_fixture() -> None:
    """The test of the test: on a notebook planting each fault, the checker names exactly those faults."""
    found, _ = displays(FIXTURE)
    assert [(d.cell, d.kind, d.label) for d in found if d.cell == "labelled"] == [
        ("labelled", "$$", "eq-ok"), ("labelled", "$$", None)]     # the `$$ … $$` in inline code is no display
    assert not any("inside code" in d.latex or "code cell" in d.latex for d in found)
    problems = display_problems([FIXTURE], known_labels={"eq-ok"})
    prefix = "unlabelled-equation cell"
    assert sorted(problems) == sorted([
        f"{prefix} labelled line 9: the display $$ z = 2 x $$ has no label: write it as $$ … $$ (eq-name), "
        "or put '% equation-exempt: <reason>' on the line above it",
        f"{prefix} exempt line 5: the exemption cites eq-nowhere, which no page labels",
        f"{prefix} exempt line 8: '% equation-exempt:' gives no reason for $$ u = 0 $$",
        f"{prefix} exempt line 10: '% equation-exempt' is not followed by a display",
        f"{prefix} directive line 2: the display $$ s = t $$ has no label: write it as $$ … $$ (eq-name), "
        "or put '% equation-exempt: <reason>' on the line above it",
        f"{prefix} other-forms line 1: $$ a = b $$ sits inside a paragraph, where it can carry no label: "
        "put it on lines of its own",
        f"{prefix} other-forms line 3: the display $$ m = n $$ is a {{math}} directive: write it as $$ … $$ "
        "(eq-name), or put '% equation-exempt: <reason>' on the line above it",
        f"{prefix} other-forms line 8: the display $$ \\begin{{align}} p &= q \\end{{align}} $$ has no label: "
        "write it as $$ … $$ (eq-name), or put '% equation-exempt: <reason>' on the line above it",
    ])
    # the exemption with a reason citing a label that exists is accepted, and listed with its reason
    exempt = [d for d in found if d.exempt]
    assert exempt[0].latex == "y = x w" and exempt[0].exempt.startswith("restates (eq-ok)")


def test_the_books_exemptions_give_reasons() -> None:
    """The deliberately unlabelled displays are few, and each says why (the equation index page lists them)."""
    exempt = exemptions(ROOT)
    assert 1 <= len(exempt) <= 10
    assert all(len(d.exempt or "") >= 20 for d in exempt)
