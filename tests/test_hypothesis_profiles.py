"""`make test` draws the same Hypothesis examples on every run; `make explore` draws fresh ones."""

from __future__ import annotations

import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "ci")
SEEN: list[int] = []


@settings(max_examples=5)  # a test's own settings take the rest from the profile (loaded by conftest)
@given(st.integers())
def _draw(n: int) -> None:
    SEEN.append(n)


@pytest.mark.skipif(PROFILE != "ci", reason="the explore profile is random on purpose")
def test_default_profile_is_derandomised_and_has_no_example_database() -> None:
    assert settings.default.derandomize is True and settings.default.database is None
    assert settings(max_examples=3).derandomize is True
    runs = []
    for _ in range(2):
        SEEN.clear()
        _draw()
        runs.append(list(SEEN))
    assert runs[0] == runs[1] and len(runs[0]) == 5
