"""Hypothesis profiles: deterministic for `make test`, random and longer for `make explore`.

``ci`` (the default): ``derandomize=True`` draws the same examples on every run (seeded from each
test's own code), and no example database, so a result cannot depend on what an earlier run on
this machine happened to find.  A property test then passes or fails on a given commit, not one
run in three.

``explore`` (``HYPOTHESIS_PROFILE=explore``, what ``make explore`` sets): fresh random examples on
every run, each test's ``max_examples`` multiplied by ``HYPOTHESIS_EXPLORE_FACTOR`` (default 10),
failures printed with the ``@reproduce_failure`` blob and saved in ``.hypothesis/`` so the next
explore run tries them first.  What it finds becomes a fixed ``@example`` or a regression test.

The profile is loaded here, before the test modules are imported, because a ``settings(...)``
object in a test module takes every value it does not set itself from the profile loaded when
it is created.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import settings

settings.register_profile("ci", derandomize=True, database=None, print_blob=True)
settings.register_profile("explore", derandomize=False, print_blob=True)

PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "ci")
if PROFILE not in ("ci", "explore"):
    raise pytest.UsageError(f"HYPOTHESIS_PROFILE must be 'ci' or 'explore', got {PROFILE!r}")
settings.load_profile(PROFILE)


def _explore_factor() -> int:
    raw = os.environ.get("HYPOTHESIS_EXPLORE_FACTOR", "10")
    if not raw.isdigit() or int(raw) < 1:
        raise pytest.UsageError(f"HYPOTHESIS_EXPLORE_FACTOR must be a positive integer, got {raw!r}")
    return int(raw)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Under ``explore``, multiply each property test's own ``max_examples``.

    Tests set ``max_examples`` explicitly (to keep `make test` fast), which a profile cannot
    override, so the settings Hypothesis reads when the test runs are replaced here.
    (``_hypothesis_internal_use_settings`` is that attribute in the pinned Hypothesis 6.x.)
    """
    if PROFILE != "explore":
        return
    factor = _explore_factor()
    done: set[int] = set()
    for item in items:
        fn = getattr(item, "obj", None)
        current = getattr(fn, "_hypothesis_internal_use_settings", None)
        if current is None or id(fn) in done:
            continue
        done.add(id(fn))
        fn._hypothesis_internal_use_settings = settings(current, max_examples=current.max_examples * factor)


def pytest_report_header(config: pytest.Config) -> str:
    extra = f", max_examples x{_explore_factor()}" if PROFILE == "explore" else ""
    return f"hypothesis profile: {PROFILE}{extra}"
