"""Input checks shared by the public functions: clear errors, named arguments."""

from __future__ import annotations

from typing import Any

import numpy as np


def array_of(x: Any) -> np.ndarray:
    """The ndarray behind a Tensor, an ndarray or anything array-like."""
    data = getattr(x, "data", x)
    return data if isinstance(data, np.ndarray) else np.asarray(data)


def layer_input(name: str, x: Any, dtype: Any) -> Any:
    """A layer's input: a Tensor or ndarray unchanged, anything array-like (a list) as an ndarray of ``dtype``.

    Layers accept what the functional ops accept; a list has no dtype of its own, so it takes the
    layer's.  Raises a TypeError naming ``name`` if ``x`` is not numbers (strings, ragged lists).
    """
    if isinstance(x, np.ndarray) or isinstance(getattr(x, "data", None), np.ndarray):
        return x
    try:
        arr = np.asarray(x)
    except ValueError as err:                                  # ragged nested lists
        raise TypeError(f"{name} must be an array of numbers, got a ragged {type(x).__name__}: {err}") from None
    if arr.dtype.kind not in "iuf":
        raise TypeError(f"{name} must be an array of numbers, got {type(x).__name__} of dtype {arr.dtype}")
    return arr.astype(dtype)


def check_float(name: str, x: Any) -> None:
    """Raise TypeError unless ``x`` holds floating-point numbers."""
    dtype = array_of(x).dtype
    if dtype.kind != "f":
        raise TypeError(f"{name} must hold floating-point numbers, got dtype {dtype}")


def check_integer(name: str, x: Any) -> None:
    """Raise TypeError unless ``x`` holds integers."""
    dtype = array_of(x).dtype
    if dtype.kind not in "iu":
        raise TypeError(f"{name} must hold integers, got dtype {dtype}")


def check_positive_int(name: str, value: Any) -> int:
    """``value`` as an int > 0, or a TypeError/ValueError naming ``name``."""
    value = check_int(name, value)
    if value <= 0:
        raise ValueError(f"{name} must be positive, got {value}")
    return int(value)


def check_nonnegative(name: str, value: Any) -> float:
    """``value`` as a float >= 0, or an error naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)):
        raise TypeError(f"{name} must be a number, got {type(value).__name__}")
    if not np.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a finite number >= 0, got {value}")
    return float(value)


def check_int(name: str, value: Any, minimum: int | None = None, maximum: int | None = None) -> int:
    """``value`` as an int (not a bool, not a float) in [``minimum``, ``maximum``] (either bound optional),
    or a TypeError/ValueError naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an int, got {type(value).__name__} {value!r}")
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        if maximum is None:
            allowed = f">= {minimum}"
        elif minimum is None:
            allowed = f"<= {maximum}"
        else:
            allowed = f"in [{minimum}, {maximum}]"
        raise ValueError(f"{name} must be an int {allowed}, got {value}")
    return int(value)


def check_rng(rng: Any, name: str = "rng") -> np.random.Generator:
    """``rng`` unchanged if it is a numpy Generator, else a TypeError naming ``name``."""
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"{name} must be a numpy Generator (np.random.default_rng(seed)), got {type(rng).__name__}")
    return rng
