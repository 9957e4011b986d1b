"""Checking a function the reader wrote against dlbook's own, on seeded random inputs of several shapes.

:func:`compare` calls the reader's function and the reference on the same inputs, case by case, and stops at
the first case where they differ: the verdict names the inputs' shapes, the output, the index of the first
entry that differs, the reader's value and the expected one, and how many entries differ.  A function that
raises, returns ``None``, a Tensor, or an array of the wrong shape gets a verdict that says so.  Values are
compared in float64 with ``np.isclose(rtol=1e-6, atol=1e-9)``, so any correct formula passes whatever order
it adds things in.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from dlbook.exercises._answers import verdict

RTOL, ATOL = 1e-6, 1e-9
#: A test case: the arguments, by name, in the order the function takes them.
Case = dict[str, Any]
#: Recognises a specific mistake from a case and the reader's outputs: a hint, or None.
Diagnose = Callable[[Case, tuple[np.ndarray, ...]], str | None]


def check_callable(name: str, fn: Any) -> None:
    """A TypeError naming ``name`` unless ``fn`` can be called."""
    if not callable(fn):
        raise TypeError(f"{name} must be a function (something callable), got {type(fn).__name__} {fn!r}")


def describe(case: Case) -> str:
    """'z: (3, 4), axis=-1' — arrays by shape, the other arguments by value."""
    parts = []
    for name, v in case.items():
        if isinstance(v, np.ndarray):
            parts.append(f"{name}: {np.shape(v)}")
        else:
            parts.append(f"{name}={v:.4g}" if isinstance(v, float) else f"{name}={v!r}")
    return ", ".join(parts)


def _copy(case: Case) -> list[Any]:
    return [v.copy() if isinstance(v, np.ndarray) else v for v in case.values()]


def _as_outputs(got: Any, count: int, names: Sequence[str]) -> tuple[tuple[np.ndarray, ...] | None, str]:
    """The reader's result as ``count`` float64 arrays, or None and the reason it cannot be read."""
    if got is None:
        return None, "your function returned None. Did you forget `return`?"
    items = tuple(got) if count > 1 and isinstance(got, tuple | list) else (got,)
    if len(items) != count:
        return None, f"return {count} things, ({', '.join(names)}); your function returned {len(items)}."
    arrays = []
    for name, item in zip(names, items):
        if hasattr(item, "requires_grad") and isinstance(getattr(item, "data", None), np.ndarray):
            return None, f"{name} is a dlbook Tensor: return the numpy array (its .data) instead."
        array = np.asarray(item)
        if array.dtype.kind not in "biuf":
            return None, f"{name} must be numbers, got {type(item).__name__} of dtype {array.dtype}."
        arrays.append(array.astype(np.float64))
    return tuple(arrays), ""


def first_mismatch(got: np.ndarray, expected: np.ndarray) -> str | None:
    """None if the arrays agree; else the index, both values and the count of the entries that differ."""
    bad = ~np.isclose(got, expected, rtol=RTOL, atol=ATOL)
    if not bad.any():
        return None
    index = tuple(int(i) for i in np.argwhere(bad)[0])
    if not index:
        return f"you returned {_fmt(got[index])}, expected {_fmt(expected[index])}"
    return (f"at index {index} you returned {_fmt(got[index])}, expected {_fmt(expected[index])} "
            f"({int(bad.sum())} of {bad.size} entries differ)")


def _fmt(v: float) -> str:
    """Whole numbers in full (a parameter count), others to 6 significant digits."""
    return f"{int(v):,}" if np.isfinite(v) and v == int(v) and abs(v) < 1e15 else f"{v:.6g}"


def _hint(diagnose: Diagnose | None, case: Case, got: tuple[np.ndarray, ...]) -> str:
    """The diagnosis of a wrong result, as ' hint', or '' (also when the reader's output confuses it)."""
    if diagnose is None:
        return ""
    try:
        hint = diagnose(case, got)
    except (ValueError, TypeError, IndexError):  # an output of an unexpected shape: no specific hint
        return ""
    return f" {hint}" if hint else ""


def compare(fn: Any, reference: Callable[..., Any], cases: Sequence[Case], *, argument: str,
            outputs: Sequence[str] = ("the output",), diagnose: Diagnose | None = None, error_hint: str = "",
            success: str) -> bool:
    """The reader's ``fn`` against ``reference`` on every case; a verdict on the first that differs.

    ``outputs`` names what the function returns (one name, or several for a tuple such as (dx, dW, db));
    ``diagnose`` may recognise a specific mistake and add its hint to the verdict; ``error_hint`` is added when
    the reader's function raises (say, where a shape error usually comes from).
    """
    check_callable(argument, fn)
    count = len(outputs)
    for case in cases:
        expected_raw = reference(*_copy(case))
        expected = tuple(np.asarray(e, dtype=np.float64) for e in (expected_raw if count > 1 else (expected_raw,)))
        inputs = describe(case)
        try:
            got_raw = fn(*_copy(case))
        except Exception as err:  # the reader's code may raise anything; report it, do not crash the notebook
            extra = f" {error_hint}" if error_hint else ""
            raised = f"{type(err).__name__}: {str(err).strip()}"
            return verdict(False, f"For inputs {inputs}: your function raised {raised}.{extra}")
        got, problem = _as_outputs(got_raw, count, outputs)
        if got is None:
            return verdict(False, f"For inputs {inputs}: {problem}")
        for name, g, e in zip(outputs, got, expected):
            if g.shape != e.shape:
                problem = f"{name} should have shape {e.shape}, yours has shape {g.shape}."
            elif (mismatch := first_mismatch(g, e)) is not None:
                problem = f"{name} is wrong: {mismatch}."
            else:
                continue
            return verdict(False, f"For inputs {inputs}: {problem}{_hint(diagnose, case, got)}")
    return verdict(True, f"{success} (compared with dlbook on {len(cases)} random inputs of different shapes).")


def optimizer_path(make_optimizer: Callable[[list[Any]], Any], w: np.ndarray, grads: np.ndarray) -> np.ndarray:
    """The weights after each step of a ``dlbook.optim`` optimiser fed the gradients ``grads``: (steps, *w.shape).

    ``make_optimizer(params)`` builds it, e.g. ``lambda ps: SGD(ps, lr=0.1)``.
    """
    from dlbook.nn.module import Parameter

    p = Parameter(w)
    opt = make_optimizer([p])
    path = []
    for g in grads:
        p.grad = g.copy()
        opt.step()
        path.append(p.data.copy())
    return np.stack(path)

