"""The list of every exercise in the book: one entry per exercise, whatever its kind.

Each chapter module (``ch1``, ``ch3_1``, …) registers its exercises when it is imported: a checker with
:func:`register` (used as a decorator), an explore question with :func:`explore`. :func:`exercises` imports the
chapter modules named in :data:`CHAPTER_MODULES`, so counting the exercises of a chapter needs no notebook.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

#: The three kinds of exercise (issue 15): an answer to check, a function to compare, a question to explore.
KINDS = ("compute", "implement", "explore")

#: Chapter number -> the module of ``dlbook.exercises`` that holds its exercises.  A new chapter adds a line.
CHAPTER_MODULES: dict[str, str] = {
    "1": "ch1",
    "2": "ch2",
    "3.1": "ch3_1",
    "3.2": "ch3_2",
    "3.3": "ch3_3",
    "3.4": "ch3_4",
    "3.5": "ch3_5",
    "4.1": "ch4_1",
    "4.2": "ch4_2",
    "4.3": "ch4_3",
    "4.4": "ch4_4",
    "4.5": "ch4_5",
    "5.1": "ch5_1",
    "5.2": "ch5_2",
    "5.3": "ch5_3",
    "5.4": "ch5_4",
    "5.5": "ch5_5",
    "6": "ch6",
    "7": "ch7",
    "8": "ch8",
    "9": "ch9",
}

_EXERCISES: dict[str, Exercise] = {}
F = TypeVar("F", bound=Callable[..., bool])


@dataclass(frozen=True)
class Exercise:
    """One exercise: ``id`` ("3.1-param-count"), its chapter, kind, a one-line title, and its checker
    (``None`` for an explore question, whose answer sits in a dropdown of the chapter)."""

    id: str
    chapter: str
    kind: str
    title: str
    checker: Callable[..., bool] | None = None


def _add(exercise: Exercise) -> None:
    if exercise.kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {exercise.kind!r}")
    if exercise.chapter not in CHAPTER_MODULES:
        raise ValueError(f"chapter must be one of {sorted(CHAPTER_MODULES)}, got {exercise.chapter!r}")
    if not exercise.id.startswith(exercise.chapter + "-"):
        raise ValueError(f"an exercise id starts with its chapter: {exercise.id!r} is not in chapter "
                         f"{exercise.chapter!r}")
    old = _EXERCISES.get(exercise.id)
    if old is not None and old != exercise:
        raise ValueError(f"exercise id {exercise.id!r} is registered twice")
    _EXERCISES[exercise.id] = exercise


def register(id: str, chapter: str, kind: str, title: str) -> Callable[[F], F]:
    """Decorator: record the decorated checker as exercise ``id`` and return it unchanged."""

    def decorate(checker: F) -> F:
        _add(Exercise(id, chapter, kind, title, checker))
        return checker

    return decorate


def explore(id: str, chapter: str, title: str) -> None:
    """Record an explore question (no checker: the chapter's dropdown holds the answer)."""
    _add(Exercise(id, chapter, "explore", title))


def exercises(chapter: str | None = None) -> list[Exercise]:
    """Every registered exercise of ``chapter`` ("3.1"), or of all chapters, in the order they were written."""
    if chapter is not None and chapter not in CHAPTER_MODULES:
        raise ValueError(f"chapter must be one of {sorted(CHAPTER_MODULES)}, got {chapter!r}")
    for name in CHAPTER_MODULES.values():
        importlib.import_module(f"dlbook.exercises.{name}")
    return [e for e in _EXERCISES.values() if chapter is None or e.chapter == chapter]


def get(id: str) -> Exercise:
    """The exercise called ``id``, or a ValueError listing the ids there are."""
    found = {e.id: e for e in exercises()}
    if id not in found:
        raise ValueError(f"no exercise {id!r}; the exercises are {sorted(found)}")
    return found[id]
