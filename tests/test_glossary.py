"""The bilingual glossary: complete entries, no duplicates, each term found where the book says it is defined."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from booktools.editions import twin_cell
from booktools.glossary import Term, editions_html, html_table, load_glossary, planned_chapters, problems

ROOT = Path(__file__).resolve().parent.parent


def test_the_books_glossary_has_no_problems() -> None:
    """Every entry of glossary.yml: all five fields, unique terms, a chapter of _toc.yml, found in its English and
    its Chinese text."""
    assert problems(ROOT / "glossary.yml", ROOT) == []
    terms = load_glossary(ROOT / "glossary.yml")
    assert len(terms) >= 50
    assert [t.en.lower() for t in terms] == sorted(t.en.lower() for t in terms)


BROKEN = """\
- en: convolution
  zh: 卷积
  definition: Sliding a kernel over the input.
  definition_zh: 让卷积核在输入上滑动。
  where: a
- en: convolution
  zh: 卷积运算
  definition: A duplicate.
  definition_zh: 重复的条目。
  where: a
- en: pooling
  zh: 池化
  definition_zh: 缺少英文释义。
  where: a
- en: dropout
  zh: 丢弃法
  definition: Zeroing random activations while training.
  definition_zh: 训练时随机把激活置零。
  where: a
- en: attention
  zh: 注意力
  definition: Not in the table of contents.
  definition_zh: 不在目录中。
  where: zzz
- en: stride (step)
  zh: 步幅
  definition: Found through the part in parentheses.
  definition_zh: 通过括号里的部分找到。
  where: a
- en: padding
  zh: 填充
  definition: In the English text but not in the Chinese one.
  definition_zh: 英文正文里有，中文正文里没有。
  where: a
- en: kernel
  zh: 卷积核
  definition: Planned chapter, not written yet, so only its fields are checked.
  definition_zh:
  where: b
  colour: red
"""


def _book(tmp_path: Path) -> Path:
    (tmp_path / "chapters").mkdir()
    cell = {"cell_type": "markdown", "id": "a1", "metadata": {},
            "source": ["A convolution (卷积) with a step of 2, pooling (池化) and padding (填充)."]}
    twin = twin_cell(cell, "步长为 2 的卷积（convolution），再做池化；汇聚（pooling）即池化。")
    (tmp_path / "chapters" / "a.ipynb").write_text(json.dumps({"cells": [cell, twin], "metadata": {}, "nbformat": 4,
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
        "dropout: its Chinese 丢弃法 does not occur in the Chinese text of a",
        "stride (step): its Chinese 步幅 does not occur in the text of a",
        "stride (step): its Chinese 步幅 does not occur in the Chinese text of a",
        "convolution: its Chinese 卷积运算 does not occur in the text of a",
        "convolution: its Chinese 卷积运算 does not occur in the Chinese text of a",
        "padding: its Chinese 填充 does not occur in the Chinese text of a",
        "pooling: a's Chinese text glosses it as 'ion），再做池化；汇聚', not 池化",
        "convolution: a's Chinese text glosses it as '步长为 2 的卷积', not 卷积运算",
        "attention: where='zzz' names no chapter in _toc.yml",
        "entry 8 (kernel): missing or empty definition_zh",
        "entry 8 (kernel): unknown fields colour",
    ])
    with pytest.raises(ValueError, match="duplicate en term"):
        load_glossary(root / "glossary.yml")


def test_not_a_list(tmp_path: Path) -> None:
    (tmp_path / "g.yml").write_text("en: x\n")
    with pytest.raises(TypeError, match="list of mappings"):
        load_glossary(tmp_path / "g.yml")


def test_term_variants_and_table() -> None:
    t = Term("recurrent neural network (RNN)", "循环神经网络", "A network with a loop.", "带环的网络。",
             "3-4-rnn#the-loop")
    assert t.variants == ["recurrent neural network (RNN)", "recurrent neural network", "RNN"]
    assert t.chapter == "3-4-rnn"
    table = html_table([t], linked={"3-4-rnn"})
    assert '<a href="3-4-rnn.html#the-loop">3-4-rnn</a>' in table and "循环神经网络" in table
    assert "A network with a loop." in table and "带环的网络。" not in table
    assert "3-4-rnn (in preparation)" in html_table([t], linked=set())
    chinese = html_table([t], linked=set(), lang="zh")
    assert "带环的网络。" in chinese and "A network with a loop." not in chinese and "3-4-rnn (编写中)" in chinese
    assert chinese.index("循环神经网络") < chinese.index("recurrent neural network (RNN)")
    with pytest.raises(ValueError, match="lang must be one of"):
        html_table([t], lang="fr")


def test_both_editions_tables_in_one_output() -> None:
    """The glossary page's one output holds both tables, each in the div its edition's style sheet keeps."""
    t = Term("query", "查询", "What a position looks for.", "一个位置要找的东西。", "4-5-attention-formula")
    both = editions_html([t])
    en, zh = both.split('<div class="only-zh">')
    assert en.startswith('<div class="only-en">') and "What a position looks for." in en and "一个位置" not in en
    assert "一个位置要找的东西。" in zh and "What a position" not in zh
