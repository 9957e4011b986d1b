"""The two editions from one source (booktools.editions): the book has no drift, and each drift is caught.

Each kind of drift the issue names has a fixture that shows the check failing: a prose cell without a twin, a
twin whose numbers, equation references, glue names or links differ, and — beyond that — a twin that is
misplaced, orphaned, doubled or stale, and formulas, labels and code that differ.
"""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from booktools.editions import (
    book_pages,
    fingerprint,
    join_cjk_lines,
    markers,
    notebook_problems,
    pair_problems,
    prose_cells,
    read,
    set_twins,
    single_language,
    source,
    todo,
    twin_cell,
)

ROOT = Path(__file__).resolve().parent.parent

EN = """## 3.2 The chain rule

With {glue:text}`n_steps:,` steps at lr $\\eta = 0.1$ the loss falls from 2.30 to 0.41, as
{eq}`eq-chain` predicts; see [§4.2](4-2-backprop-formula.ipynb) and `Tensor.backward`.

$$ \\frac{\\partial L}{\\partial w} = \\delta\\, x $$ (eq-chain)
"""
ZH = """## 3.2 链式法则

以学习率 $\\eta = 0.1$ 训练 {glue:text}`n_steps:,` 步，损失从 2.30 降到 0.41，正如 {eq}`eq-chain`
所预言；见 [§4.2](4-2-backprop-formula.ipynb) 和 `Tensor.backward`。

$$ \\frac{\\partial L}{\\partial w} = \\delta\\, x $$ (eq-chain)
"""


def _page(zh: str | None = ZH) -> dict:
    en = {"cell_type": "markdown", "id": "c1", "metadata": {}, "source": EN.splitlines(keepends=True)}
    code = {"cell_type": "code", "id": "c2", "metadata": {}, "execution_count": 1, "source": ["x = 1"],
            "outputs": [{"output_type": "stream", "name": "stdout", "text": ["1\n"]}]}
    nb = {"cells": [en, code], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    return set_twins(nb, {"c1": zh}) if zh is not None else nb


def test_the_book_has_no_drift() -> None:
    """Every page of the table of contents: every English prose cell has a current Chinese twin keeping its
    formulas, labels, references, glue names, links, code and numbers."""
    pages = book_pages(ROOT)
    assert len(pages) == 24 and pages[0].name == "intro.ipynb"
    problems = [p for page in pages for p in notebook_problems(read(page), page.stem)]
    assert not problems, f"{len(problems)} problems:\n" + "\n".join(problems[:40])
    for page in pages:
        nb = read(page)
        assert len(prose_cells(nb, "zh")) == len(prose_cells(nb, "en")) > 0, page.name


def test_a_faithful_twin_passes() -> None:
    nb = _page()
    assert notebook_problems(nb) == []
    assert [c["id"] for c in nb["cells"]] == ["c1", "c1-zh", "c2"]
    assert nb["cells"][1]["metadata"]["dlbook"] == {"lang": "zh", "twin": "c1", "en_sha": fingerprint(EN)}
    assert todo(nb) == {}


def test_a_prose_cell_without_a_twin_is_reported() -> None:
    nb = _page(zh=None)
    assert notebook_problems(nb, "p") == ["p: English cell c1 has no Chinese twin"]
    assert todo(nb) == {"c1": EN}


@pytest.mark.parametrize(("old", "new", "expected"), [
    ("2.30", "2.3", "number '2.30': 1× in English, 0× in Chinese"),
    ("{eq}`eq-chain`\n所预言", "{eq}`eq-chains`\n所预言", "role 'eq`eq-chain`': 1× in English, 0× in Chinese"),
    ("{glue:text}`n_steps:,`", "{glue:text}`n_step:,`", "role 'glue:text`n_steps:,`': 1× in English, 0× in Chinese"),
    ("](4-2-backprop-formula.ipynb)", "](4-1-layer-formula.ipynb)",
     "link '4-2-backprop-formula.ipynb': 1× in English, 0× in Chinese"),
    ("\\delta\\, x $$", "\\delta x $$",
     "math '\\\\frac{\\\\partialL}{\\\\partialw}=\\\\delta\\\\,x': 1× in English, 0× in Chinese"),
    ("$$ (eq-chain)", "$$", "label 'eq-chain': 1× in English, 0× in Chinese"),
    ("`Tensor.backward`", "`backward`", "code 'Tensor.backward': 1× in English, 0× in Chinese"),
    ("降到 0.41", "降到 0.41（第 3 轮）", "number '3': 0× in English, 1× in Chinese"),
])
def test_a_twin_whose_markers_differ_is_reported(old: str, new: str, expected: str) -> None:
    assert old in ZH
    problems = notebook_problems(_page(ZH.replace(old, new)), "p")
    assert any(p.endswith(expected) for p in problems), problems
    assert all(p.startswith("p: Chinese cell c1-zh vs c1: ") for p in problems), problems


def test_a_stale_misplaced_orphaned_or_doubled_twin_is_reported() -> None:
    stale = _page()
    stale["cells"][0]["source"] = EN.replace("falls", "drops").splitlines(keepends=True)
    assert any("c1-zh is stale" in p for p in notebook_problems(stale, "p"))

    misplaced = _page()
    misplaced["cells"] = [misplaced["cells"][i] for i in (0, 2, 1)]
    assert notebook_problems(misplaced, "p") == ["p: Chinese cell c1-zh does not come right after its English cell c1"]

    orphan = _page()
    orphan["cells"][1]["metadata"]["dlbook"]["twin"] = "gone"
    assert notebook_problems(orphan, "p") == [
        "p: Chinese cell c1-zh is the twin of 'gone', which is not an English prose cell",
        "p: English cell c1 has no Chinese twin"]

    doubled = _page()
    doubled["cells"].insert(2, copy.deepcopy(doubled["cells"][1]))
    assert "p: English cell c1 has 2 Chinese twins" in notebook_problems(doubled, "p")


def test_bold_that_would_not_render_is_reported() -> None:
    """CommonMark leaves ``**`` literal when it closes after a full-width bracket right before a Chinese character."""
    def with_line(line: str) -> dict:
        return _page(ZH.replace("## 3.2 链式法则\n", f"## 3.2 链式法则\n\n{line}\n"))

    assert notebook_problems(with_line("**链式法则（chain rule）**是基础。")) == [
        "page: zh cell c1-zh: a literal * in '**链式法则（chain rule）**是基础。' (bold or italics that do not render)"]
    assert notebook_problems(with_line("**链式法则**（chain rule）是基础。")) == []


def test_a_line_broken_between_chinese_characters_is_reported_and_mended() -> None:
    broken = ZH.replace("损失从", "损失\n从")
    assert any("breaks a line between two Chinese characters" in p for p in notebook_problems(_page(broken)))
    assert join_cjk_lines(broken) == ZH
    diagram = "```{mermaid}\ngraph LR\n输入\n输出\n```\n"
    assert join_cjk_lines(diagram) == diagram  # a diagram's lines are its syntax


def test_set_twins_replaces_and_refuses_what_is_not_english_prose() -> None:
    nb = set_twins(_page(), {"c1": ZH.replace("链式法则", "链式求导法则")})
    assert [c["id"] for c in nb["cells"]] == ["c1", "c1-zh", "c2"] and "链式求导法则" in source(nb["cells"][1])
    with pytest.raises(ValueError, match=r"\['c2'\]"):
        set_twins(_page(), {"c2": "代码"})
    with pytest.raises(TypeError, match="translations must be a dict"):
        set_twins(_page(), {"c1": 3})


def test_single_language_keeps_the_code_and_one_language_of_prose() -> None:
    nb = _page()
    zh, en = single_language(nb, "zh"), single_language(nb, "en")
    assert [c["id"] for c in zh["cells"]] == ["c1-zh", "c2"] and [c["id"] for c in en["cells"]] == ["c1", "c2"]
    assert zh["cells"][1] == en["cells"][1] == nb["cells"][2]
    assert len(nb["cells"]) == 3  # the source is not changed
    with pytest.raises(ValueError, match="lang must be one of"):
        single_language(nb, "fr")


def test_markers_of_directives_options_targets_and_comments() -> None:
    text = """(sec-x)=
```{admonition} A title
:class: dropdown
Inside, 12 items and $a_1$.
```
% equation-exempt: a restatement
See https://example.org/x. and <img src="fig.png">
"""
    found = markers(text)
    assert found["directive", "{admonition}"] == 1 and found["option", "class: dropdown"] == 1
    assert found["target", "sec-x"] == 1 and found["comment", "% equation-exempt: a restatement"] == 1
    assert found["number", "12"] == 1 and found["math", "a_1"] == 1
    assert found["link", "https://example.org/x"] == 1 and found["link", "fig.png"] == 1
    assert ("number", "1") not in found  # the digit inside a formula is part of the formula, not the prose
    assert pair_problems(text, text.replace("A title", "一个标题").replace("Inside,", "其中")) == []


def test_inline_formula_may_break_a_line_but_not_a_paragraph() -> None:
    assert markers("a $p(b\n\\mid a)$ z")["math", "p(b\\mida)"] == 1
    assert not any(k == "math" for k, _ in markers("cost $5\n\nand $6"))


def test_every_part_caption_has_its_chinese_form() -> None:
    editions = yaml.safe_load((ROOT / "editions.yml").read_text(encoding="utf-8"))
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8"))
    captions = [part["caption"] for part in toc["parts"]]
    assert set(editions["zh"]["captions"]) == set(captions)
    assert editions["zh"]["language"] == "zh_CN" and editions["en"]["language"] == "en"


def test_split_writes_single_language_notebooks(tmp_path: Path) -> None:
    """`make lab EDITION=zh` opens what `split` writes: every page, its prose in one language only."""
    done = subprocess.run([sys.executable, "-m", "booktools.editions", "split", "zh", str(tmp_path)],
                          capture_output=True, text=True, cwd=ROOT, env={"PYTHONPATH": str(ROOT / "src")})
    assert done.returncode == 0, done.stderr
    written = sorted(tmp_path.rglob("*.ipynb"))
    assert len(written) == len(book_pages(ROOT))
    for path in written:
        nb = json.loads(path.read_text(encoding="utf-8"))
        assert prose_cells(nb, "en") == [] and prose_cells(nb, "zh"), path.name


def test_the_check_command_fails_on_drift(tmp_path: Path) -> None:
    page = tmp_path / "p.ipynb"
    page.write_text(json.dumps(_page(ZH.replace("2.30", "2.3"))), encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "booktools.editions", "check", str(page)],
                          capture_output=True, text=True, env={"PYTHONPATH": str(ROOT / "src")})
    assert done.returncode == 1 and "number '2.30'" in done.stdout


def test_twin_cell_ids_are_valid_notebook_ids() -> None:
    twin = twin_cell({"cell_type": "markdown", "id": "ab12-x_y", "metadata": {}, "source": "x"}, "中")
    assert twin["id"] == "ab12-x_y-zh" and len(twin["id"]) <= 64
