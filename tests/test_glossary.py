"""The bilingual glossary: complete entries, no duplicates, each term found where the book says it is defined."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from booktools.glossary import Term, html_table, load_glossary, planned_chapters, problems

ROOT = Path(__file__).resolve().parent.parent


def test_the_books_glossary_has_no_problems() -> None:
    """Every entry of glossary.yml: all four fields, unique terms, a chapter of _toc.yml, found in its text."""
    assert problems(ROOT / "glossary.yml", ROOT) == []
    terms = load_glossary(ROOT / "glossary.yml")
    assert len(terms) >= 50
    assert [t.en.lower() for t in terms] == sorted(t.en.lower() for t in terms)


BROKEN = """\
- en: convolution
  zh: 卷积
  definition: Sliding a kernel over the input.
  where: a
- en: convolution
  zh: 卷积运算
  definition: A duplicate.
  where: a
- en: pooling
  zh: 池化
  where: a
- en: dropout
  zh: 丢弃法
  definition: Zeroing random activations while training.
  where: a
- en: attention
  zh: 注意力
  definition: Not in the table of contents.
  where: zzz
- en: stride (step)
  zh: 步幅
  definition: Found through the part in parentheses.
  where: a
- en: kernel
  zh: 卷积核
  definition: Planned chapter, not written yet, so only its fields are checked.
  where: b
  colour: red
"""


def _book(tmp_path: Path) -> Path:
    (tmp_path / "chapters").mkdir()
    cell = {"cell_type": "markdown", "metadata": {}, "source": ["A convolution (卷积) with a step of 2."]}
    (tmp_path / "chapters" / "a.ipynb").write_text(json.dumps({"cells": [cell], "metadata": {}, "nbformat": 4,
                                                               "nbformat_minor": 5}))
    (tmp_path / "_toc.yml").write_text("format: jb-book\nroot: intro\nchapters:\n  - file: chapters/a\n"
                                       "  # - file: chapters/b\n")
    (tmp_path / "glossary.yml").write_text(BROKEN, encoding="utf-8")
    return tmp_path


def test_checker_reports_a_broken_glossary(tmp_path: Path) -> None:
    """The test of the test: every planted fault is reported, and nothing else."""
    root = _book(tmp_path)
    assert planned_chapters(root / "_toc.yml") == {"a", "b"}
    found = problems(root / "glossary.yml", root)
    assert sorted(found) == sorted([
        "entry 2 (convolution): duplicate en term 'convolution' (first in entry 1)",
        "entry 3 (pooling): missing or empty definition",
        "dropout: does not occur in the text of a",
        "stride (step): its Chinese 步幅 does not occur in the text of a",
        "convolution: its Chinese 卷积运算 does not occur in the text of a",
        "attention: where='zzz' names no chapter in _toc.yml",
        "entry 7 (kernel): unknown fields colour",
    ])
    with pytest.raises(ValueError, match="duplicate en term"):
        load_glossary(root / "glossary.yml")


def test_not_a_list(tmp_path: Path) -> None:
    (tmp_path / "g.yml").write_text("en: x\n")
    with pytest.raises(TypeError, match="list of mappings"):
        load_glossary(tmp_path / "g.yml")


def test_term_variants_and_table() -> None:
    t = Term("recurrent neural network (RNN)", "循环神经网络", "A network with a loop.", "3-4-rnn#the-loop")
    assert t.variants == ["recurrent neural network (RNN)", "recurrent neural network", "RNN"]
    assert t.chapter == "3-4-rnn"
    table = html_table([t], linked={"3-4-rnn"})
    assert '<a href="3-4-rnn.html#the-loop">3-4-rnn</a>' in table and "循环神经网络" in table
    assert "3-4-rnn (in preparation)" in html_table([t], linked=set())
