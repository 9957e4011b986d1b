"""The label-efficiency sweep's plan and results, without any training: what 5.3 and the tests load.

A sweep is a set of *runs*; a run is one (method, number of labels, seed,
LoRA rank) and is stored under :func:`run_key` in the results file that
:mod:`dlbook.recipes.finetune_sweep` writes.  :func:`plan` lists the runs a sweep
asks for, :func:`missing_runs` the ones a results file lacks, and
:func:`summarise` turns the runs into mean ± standard deviation over seeds.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

#: Label budgets: numbers of labelled training reviews ("all" = the whole training split).
BUDGETS: tuple[int | str, ...] = (100, 300, 1000, 3000, "all")
#: tfidf = TF-IDF character 1–2-grams + logistic regression; scratch = a random GPT trained on the labels;
#: frozen = linear probe on the pretrained GPT's pooled features; lora = LoRA adapters + head; full = all weights.
METHODS: tuple[str, ...] = ("tfidf", "scratch", "frozen", "lora", "full")
SEEDS: tuple[int, ...] = (0, 1, 2)
#: The LoRA rank of the main curve, and the ranks swept at ``RANK_SWEEP_AT`` labels.
LORA_RANK = 8
RANK_SWEEP: tuple[int, ...] = (1, 2, 4, 8, 16, 32, 64)
RANK_SWEEP_AT = 1000


class Run(NamedTuple):
    """One fine-tuning run: ``rank`` is None for every method but LoRA."""

    method: str
    n_labels: int
    seed: int
    rank: int | None = None


def run_key(run: Run) -> str:
    """The results file's key of ``run``: ``"lora|1000|2|8"``, ``"full|100|0|-"``."""
    return f"{run.method}|{run.n_labels}|{run.seed}|{'-' if run.rank is None else run.rank}"


def parse_key(key: str) -> Run:
    """Inverse of :func:`run_key`."""
    method, n, seed, rank = key.split("|")
    return Run(method, int(n), int(seed), None if rank == "-" else int(rank))


def resolve_budget(budget: int | str, n_train: int) -> int:
    """A budget as a number of reviews: "all" -> ``n_train``; a number must lie in [1, n_train]."""
    if budget == "all":
        return n_train
    n = int(budget)
    if not 1 <= n <= n_train:
        raise ValueError(f"budget must be 'all' or a number of reviews in [1, {n_train}], got {budget!r}")
    return n


def plan(n_train: int, budgets: Sequence[int | str] = BUDGETS, methods: Sequence[str] = METHODS,
         seeds: Sequence[int] = SEEDS, lora_rank: int = LORA_RANK, ranks: Sequence[int] = RANK_SWEEP,
         rank_sweep_at: int | str = RANK_SWEEP_AT) -> list[Run]:
    """Every run of a sweep, in a fixed order (duplicates dropped).

    Each method at each budget and seed (LoRA at ``lora_rank``); with LoRA among
    the methods, also each rank of ``ranks`` at ``rank_sweep_at`` labels.
    """
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        raise ValueError(f"methods must be among {METHODS}, got {unknown}")
    counts = [resolve_budget(b, n_train) for b in budgets]
    runs: list[Run] = []
    for n in counts:
        for method in methods:
            for seed in seeds:
                runs.append(Run(method, n, int(seed), lora_rank if method == "lora" else None))
    if "lora" in methods and ranks:
        at = resolve_budget(rank_sweep_at, n_train)
        runs += [Run("lora", at, int(seed), int(r)) for r in ranks for seed in seeds]
    return list(dict.fromkeys(runs))


def load_results(path: str | os.PathLike) -> dict[str, Any]:
    """A results file written by :mod:`dlbook.recipes.finetune_sweep`."""
    results = json.loads(Path(path).read_text(encoding="utf-8"))
    if not isinstance(results, dict) or "runs" not in results or "n_train" not in results:
        raise ValueError(f"{path} is not a fine-tuning sweep results file")
    return results


def missing_runs(results: dict[str, Any], budgets: Sequence[int | str] = BUDGETS,
                 methods: Sequence[str] = METHODS, seeds: Sequence[int] = SEEDS, lora_rank: int = LORA_RANK,
                 ranks: Sequence[int] = RANK_SWEEP, rank_sweep_at: int | str = RANK_SWEEP_AT) -> list[str]:
    """Keys of the planned runs (see :func:`plan`) that ``results`` lacks; empty when the sweep is complete."""
    wanted = plan(int(results["n_train"]), budgets, methods, seeds, lora_rank, ranks, rank_sweep_at)
    return [run_key(r) for r in wanted if run_key(r) not in results["runs"]]


def check_complete(results: dict[str, Any], **grid: Any) -> None:
    """Raise ValueError naming the missing runs unless ``results`` covers every planned run.

    ``grid``: the keyword arguments of :func:`missing_runs` (budgets, methods, seeds, ...).
    """
    missing = missing_runs(results, **grid)
    if missing:
        raise ValueError(f"the sweep results lack {len(missing)} run(s), e.g. {missing[:5]}")


def summarise(results: dict[str, Any], metric: str = "test_acc") -> list[dict[str, Any]]:
    """Mean and sample standard deviation of ``metric`` over seeds, per (method, n_labels, rank).

    Rows sorted by method (in :data:`METHODS` order), rank, then n_labels; each
    row has method, rank, n_labels, mean, std (ddof=1; 0 for one seed), n_seeds
    and the per-seed values.
    """
    groups: dict[tuple[str, int | None, int], list[float]] = {}
    for key, row in results["runs"].items():
        run = parse_key(key)
        groups.setdefault((run.method, run.rank, run.n_labels), []).append(float(row[metric]))
    order = {m: i for i, m in enumerate(METHODS)}
    rows = []
    for (method, rank, n), values in sorted(groups.items(),
                                            key=lambda g: (order.get(g[0][0], 99), g[0][1] or 0, g[0][2])):
        v = np.asarray(values)
        rows.append(dict(method=method, rank=rank, n_labels=n, mean=float(v.mean()),
                         std=float(v.std(ddof=1)) if len(v) > 1 else 0.0, n_seeds=len(v), values=values))
    return rows


def curve(rows: list[dict[str, Any]], method: str, rank: int | None = None, n_labels: int | None = None
          ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One line of a plot from :func:`summarise`'s rows: (x, mean, std), sorted by x.

    With ``n_labels`` None, x is the number of labels (a label-efficiency curve of ``method`` at ``rank``);
    with ``n_labels`` given, x is the LoRA rank at that number of labels (the rank sweep).
    """
    if n_labels is None:
        picked = [(r["n_labels"], r) for r in rows if r["method"] == method and r["rank"] == rank]
    else:
        picked = [(r["rank"], r) for r in rows if r["method"] == method and r["n_labels"] == n_labels]
    if not picked:
        raise ValueError(f"no rows for method={method!r}, rank={rank!r}, n_labels={n_labels!r}")
    picked.sort(key=lambda p: p[0])
    return (np.array([p[0] for p in picked]), np.array([p[1]["mean"] for p in picked]),
            np.array([p[1]["std"] for p in picked]))


class PilotPair(NamedTuple):
    """One pilot run beside the base sweep's run of the same key: its seed, key and the two values."""

    seed: int
    key: str
    base: float
    pilot: float


def pilot_changes(pilot: dict[str, Any], base: dict[str, Any], metric: str = "test_acc"
                  ) -> dict[tuple[str, int], list[PilotPair]]:
    """A pilot's runs against the same runs of a base sweep: {(method, n_labels): [PilotPair, ...]}.

    A pilot is a results file made with one recipe setting changed; a run is compared only with the base
    run of the same key (method, labels, seed, rank), which saw the same labelled reviews and started from
    the same draw.  Raises ValueError when the two files were scored on different splits or a pilot run has
    no twin in ``base``.  Lists sorted by seed, groups by method and labels.
    """
    for field in ("n_train", "n_val", "n_test"):
        if pilot[field] != base[field]:
            raise ValueError(f"pilot_changes: the pilot has {field}={pilot[field]}, the base {base[field]}")
    out: dict[tuple[str, int], list[PilotPair]] = {}
    for key, row in pilot["runs"].items():
        if key not in base["runs"]:
            raise ValueError(f"pilot_changes: the base has no run {key!r} to compare with")
        run = parse_key(key)
        out.setdefault((run.method, run.n_labels), []).append(
            PilotPair(run.seed, key, float(base["runs"][key][metric]), float(row[metric])))
    return {k: sorted(v) for k, v in sorted(out.items())}
