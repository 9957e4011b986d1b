"""Exercises with automatic checks, one module per chapter: ``ch1``, ``ch2``, ``ch3_1`` … ``ch3_5``, ``ch4_1`` …
``ch4_5`` (:data:`CHAPTER_MODULES` lists them).

In a notebook cell::

    from dlbook.exercises import ch3_1
    ch3_1.check_param_count(235_000)      # prints ✓ or ✗ with a hint, returns True or False

A chapter's checkers sit together in its module, named after what they check, so ``ch3_1.<Tab>`` lists a
chapter's exercises and ``ch3_1.check_softmax?`` shows the question.  Three kinds (see :data:`KINDS`):

- *compute*: ``check_…(answer)`` with a number or a shape; a wrong answer gets a hint aimed at the likely
  mistake, never the answer itself; the tolerance is printed with the verdict;
- *implement*: ``check_…(fn)`` with the reader's function, compared with dlbook's own on seeded random inputs of
  several shapes; the verdict names the first mismatch (inputs' shapes, index, both values);
- *explore*: a question answered with a widget or a changed run; its answer is in the chapter's dropdown, and
  it is registered here only so that every chapter's exercises can be counted.

A checker returns a bool and never raises on a wrong answer; an argument of the wrong kind (text for a number,
a number for a function) is a TypeError that names it.  :func:`exercises` lists the registered exercises of a
chapter.  This package imports dlbook's implementations, never the chapters.
"""

from dlbook.exercises._registry import CHAPTER_MODULES, KINDS, Exercise, exercises, get

__all__ = ["CHAPTER_MODULES", "KINDS", "Exercise", "exercises", "get"]
