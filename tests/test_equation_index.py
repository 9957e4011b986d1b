"""The equation index: every labelled equation of the book has an implementing function and a verifying test."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from booktools.equations import _cited, build_index, check, html_table, toc_files

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
