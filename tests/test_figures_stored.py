"""Every figure a chapter shows is stored in the notebook (a plt.show() with no PNG means the backend was Agg)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

CHAPTERS = sorted((Path(__file__).resolve().parent.parent / "chapters").glob("*.ipynb"))


def count_figures(path: Path) -> tuple[int, int]:
    """(cells calling plt.show(), PNG outputs stored by those cells)."""
    nb = json.loads(path.read_text(encoding="utf-8"))
    shows = pngs = 0
    for cell in nb["cells"]:
        if cell["cell_type"] != "code":
            continue
        source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        if "plt.show()" in source:
            shows += 1
            pngs += sum("image/png" in o.get("data", {}) for o in cell.get("outputs", []))
    return shows, pngs


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_every_shown_figure_is_stored(path: Path) -> None:
    shows, pngs = count_figures(path)
    assert pngs >= shows, f"{path.name}: {shows} cells call plt.show() but only {pngs} PNGs are stored"


def test_the_check_can_fail(tmp_path: Path) -> None:
    """A notebook whose plot cell stored nothing is caught."""
    cell = {"cell_type": "code", "metadata": {}, "execution_count": 1, "outputs": [],
            "source": ["plt.plot([1, 2])\n", "plt.show()"]}
    path = tmp_path / "x.ipynb"
    path.write_text(json.dumps({"cells": [cell], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    assert count_figures(path) == (1, 0)
