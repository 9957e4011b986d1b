"""A results file that several processes fill, one finished run at a time: what the long sweeps share.

A sweep (the fine-tuning sweep of §5.3, the IsoFLOP study of §8) is a list of runs, each minutes to an hour
long.  Each finished run is stored at once under its key (:func:`store_run`), atomically and under a lock, so
two processes can share one file and a sweep stopped at any moment resumes by skipping the keys already there.
A header (the recipe, the checkpoint …) is stored with the runs; a file made with another header is refused,
so runs of different recipes are never mixed.  :func:`balanced_shard` splits the runs between processes.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from dlbook._io import atomic_write

T = TypeVar("T")


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """An exclusive lock beside ``path`` (POSIX), so two shards never overwrite each other's runs."""
    try:
        import fcntl
    except ImportError:                      # no fcntl (Windows): run one shard per results file there
        yield
        return
    with open(path.with_name(path.name + ".lock"), "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def read_runs(path: Path, header: dict[str, Any]) -> dict[str, Any]:
    """The results in ``path`` (or an empty sweep with ``header``); refuses a file made with another header."""
    if not path.exists():
        return {**header, "runs": {}}
    results = json.loads(path.read_text(encoding="utf-8"))
    differ = [k for k in header if results.get(k) != header[k]]
    if differ:
        raise ValueError(f"{path} holds runs made with another {', '.join(differ)}: "
                         f"{ {k: results.get(k) for k in differ} } vs this sweep's { {k: header[k] for k in differ} }")
    return results


def store_run(path: Path, header: dict[str, Any], key: str, row: dict[str, Any]) -> None:
    """Add run ``key`` with its ``row`` to the results in ``path`` (created with ``header`` if absent)."""
    with locked(path):
        results = read_runs(path, header)
        results["runs"][key] = row
        results["runs"] = dict(sorted(results["runs"].items()))
        text = (json.dumps(results, indent=1, ensure_ascii=False) + "\n").encode("utf-8")
        atomic_write(path, lambda f: f.write(text))


def done_keys(path: Path, header: dict[str, Any]) -> set[str]:
    """The keys of the runs already stored in ``path``."""
    with locked(path):
        return set(read_runs(path, header)["runs"])


def balanced_shard(runs: Sequence[T], index: int, count: int, cost: Callable[[T], float],
                   key: Callable[[T], str]) -> list[T]:
    """The runs of shard ``index`` of ``count``: costliest first, each to the shard with the least work so far.

    Every shard computes the same split from the same list, so the processes need not talk; the runs keep
    their order in ``runs``.
    """
    if not 0 <= index < count:
        raise ValueError(f"shard must be i/n with 0 <= i < n, got {index}/{count}")
    load, mine = [0.0] * count, set()
    for run in sorted(runs, key=lambda r: (-cost(r), key(r))):
        target = int(np.argmin(load))
        load[target] += cost(run)
        if target == index:
            mine.add(key(run))
    return [r for r in runs if key(r) in mine]
