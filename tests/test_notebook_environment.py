"""`make notebooks` does not depend on the caller's environment: MPLBACKEND=Agg still stores figures.

Headless machines and CI services often export MPLBACKEND=Agg; a kernel started with it draws nothing for
plt.show(), so every stored figure would be reported missing by nbval. The fixture notebook stores one
figure; `make notebooks` must reproduce it with MPLBACKEND=Agg set, while plain nbval in that environment
fails — which shows the check can fail.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIXTURE = "tests/fixtures/figure.ipynb"


def _env_with_agg() -> dict[str, str]:
    return {**os.environ, "MPLBACKEND": "Agg"}


@pytest.mark.slow
def test_make_notebooks_stores_figures_under_agg() -> None:
    done = subprocess.run(["make", "-s", "notebooks", f"NOTEBOOKS={FIXTURE}", f"PY={sys.executable}"], cwd=ROOT,
                          env=_env_with_agg(), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "passed" in done.stdout


@pytest.mark.slow
def test_plain_nbval_under_agg_fails() -> None:
    done = subprocess.run([sys.executable, "-m", "pytest", "-p", "nbval", "--nbval", "--nbval-current-env",
                           "-p", "no:cacheprovider", "-q", FIXTURE], cwd=ROOT, env=_env_with_agg(),
                          capture_output=True, text=True, timeout=300)
    assert done.returncode != 0, "nbval under MPLBACKEND=Agg should miss the stored figure"
