"""Checking an answer the reader computed: a number, a shape, an array.

A check prints one short verdict — ``✓`` and what was right, or ``✗`` and where to look — and returns a bool.
A wrong answer never raises; an argument of the wrong kind (text where a number belongs) is a TypeError that
names the argument.  A wrong answer is compared with the results of the mistakes one can foresee (a forgotten
bias, a forward pass counted without its backward pass …); when it matches one of them, the hint names that
mistake, otherwise a general hint for the exercise is printed.  The expected value is never printed.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from numbers import Real
from typing import Any

import numpy as np

OK, WRONG = "✓", "✗"


def verdict(ok: bool, message: str) -> bool:
    """Print ``✓ message`` or ``✗ message`` and return ``ok``."""
    print(f"{OK if ok else WRONG} {message}\n", end="")   # one write, so a notebook stores one stream chunk
    return ok


@dataclass(frozen=True)
class Mistake:
    """A foreseeable mistake: the answer it leads to, and the hint that names it."""

    answer: Any
    hint: str


def as_number(name: str, value: Any) -> float:
    """``value`` as a finite float, or a TypeError/ValueError naming ``name`` (bools and strings are refused)."""
    if isinstance(value, np.ndarray) and value.shape == ():
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, Real):
        raise TypeError(f"{name} must be a number (an int or a float), got {type(value).__name__} {value!r}")
    if not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value}")
    return float(value)


def as_shape(name: str, value: Any) -> tuple[int, ...]:
    """``value`` as a tuple of ints (a tuple or list of non-negative ints), or a TypeError naming ``name``."""
    if not isinstance(value, tuple | list) or not all(
            isinstance(n, int | np.integer) and not isinstance(n, bool) for n in value):
        raise TypeError(f"{name} must be a shape: a tuple of ints such as (2, 3), got {value!r}")
    if any(n < 0 for n in value):
        raise ValueError(f"{name} must be a shape of sizes >= 0, got {tuple(value)}")
    return tuple(int(n) for n in value)


def close(a: float, b: float, rel_tol: float, abs_tol: float) -> bool:
    """|a − b| ≤ max(rel_tol·|b|, abs_tol)."""
    return abs(a - b) <= max(rel_tol * abs(b), abs_tol)


def _tolerance(rel_tol: float, abs_tol: float) -> str:
    if rel_tol:
        return f"to within {rel_tol * 100:g} %"
    return "as a whole number" if abs_tol >= 0.5 else f"to within ±{abs_tol:g}"


def check_number(name: str, answer: Any, expected: float, *, rel_tol: float = 0.0, abs_tol: float = 0.0,
                 mistakes: Sequence[Mistake] = (), hint: str, unit: str = "") -> bool:
    """A number checked against ``expected`` to the stated tolerance, with the hint of a recognised mistake."""
    value = as_number(name, answer)
    shown = f"{value:,.6g}{' ' + unit if unit else ''}"
    if close(value, expected, rel_tol, abs_tol):
        return verdict(True, f"Right (checked {_tolerance(rel_tol, abs_tol)}).")
    for m in mistakes:
        if close(value, float(m.answer), rel_tol, abs_tol):
            return verdict(False, f"Not {shown}. {m.hint}")
    if expected and value and abs(expected) != abs(value):
        ratio = abs(value / expected)
        power = round(math.log10(ratio))
        if power and close(ratio, 10.0 ** power, 0.02, 0.0):
            return verdict(False, f"Not {shown}: off by a factor of 10^{power}. Check the units (k, M, G are "
                                  f"10^3, 10^6, 10^9) and what the question asks for.")
    if expected and close(-value, expected, rel_tol, abs_tol):
        return verdict(False, f"Not {shown}: the size is right but the sign is not. {hint}")
    return verdict(False, f"Not {shown} (checked {_tolerance(rel_tol, abs_tol)}). {hint}")


def check_shape(name: str, answer: Any, expected: tuple[int, ...], *, mistakes: Sequence[Mistake] = (),
                hint: str) -> bool:
    """A shape (a tuple of ints) compared exactly, with the hint of a recognised mistake."""
    shape = as_shape(name, answer)
    if shape == tuple(expected):
        return verdict(True, "Right: that is the shape.")
    for m in mistakes:
        if shape == tuple(m.answer):
            return verdict(False, f"Not {shape}. {m.hint}")
    if len(shape) != len(expected):
        return verdict(False, f"Not {shape}: the answer has {len(expected)} axes, yours has {len(shape)}. {hint}")
    return verdict(False, f"Not {shape}. {hint}")
