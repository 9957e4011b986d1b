"""Execute notebooks top to bottom in place, storing outputs and widget state.

Usage: python scripts/run_notebook.py chapters/3-1-*.ipynb
Run through `make run NB=...` so the thread settings match the nbval check.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient


def run(path: Path) -> float:
    nb = nbformat.read(path, as_version=4)
    start = time.perf_counter()
    NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}},
                   store_widget_state=True).execute()
    seconds = time.perf_counter() - start
    nbformat.write(nb, path)
    return seconds


if __name__ == "__main__":
    for arg in sys.argv[1:]:
        print(f"{arg}: ran in {run(Path(arg)):.1f} s", flush=True)
