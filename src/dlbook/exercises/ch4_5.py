"""Exercises of §4.5, The attention formula: the spread of unscaled scores, the backward pass of attention,
multi-head attention from one-head attentions, and a query with every key masked.

Use in a notebook cell: ``from dlbook.exercises import ch4_5`` then ``ch4_5.check_score_spread(answer)``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from dlbook.autograd import Tensor
from dlbook.exercises._answers import Mistake, check_number
from dlbook.exercises._compare import compare
from dlbook.exercises._registry import explore, register
from dlbook.functional import softmax_array
from dlbook.functional.attention import attention_reference, multihead_attention_reference

#: The spread exercise: d_k and the variances of the entries of q and of k.
D_K, VAR_Q, VAR_K = 64, 1.0, 4.0


@register("4.5-score-spread", "4.5", "compute", "The standard deviation of an unscaled attention score")
def check_score_spread(answer: Any) -> bool:
    """The standard deviation of q·k (not divided by √d_k) for d_k = 64, the entries of q independent with mean 0
    and variance 1, those of k independent with mean 0 and variance 4.

    ``answer``: a number; right to within 1 %.
    """
    var = D_K * VAR_Q * VAR_K
    mistakes = [
        Mistake(var, "That is the variance; the standard deviation is its square root."),
        Mistake(math.sqrt(D_K * VAR_Q), "The keys' entries have variance 4, not 1: each term q_c·k_c has variance "
                                        "E[q_c²]·E[k_c²]."),
        Mistake(math.sqrt(D_K) * VAR_Q * VAR_K, "Variances multiply, so the standard deviations do: √4 = 2 per key "
                                                "entry, not 4."),
        Mistake(math.sqrt(VAR_Q * VAR_K), "That is the spread after the division by √d_k; the exercise asks for the "
                                          "raw dot product."),
        Mistake(D_K * math.sqrt(VAR_Q * VAR_K), "The d_k terms are independent: their *variances* add, so the "
                                                "standard deviation grows like √d_k, not d_k."),
    ]
    return check_number("answer", answer, math.sqrt(var), rel_tol=0.01, mistakes=mistakes,
                        hint="q·k = Σ_c q_c k_c: d_k independent terms, each of variance E[q_c²]·E[k_c²]; the "
                             "variances add; take the square root at the end.")


# ---- implement: the backward pass of attention ----------------------------------------------------------------

def _backward_reference(q: np.ndarray, k: np.ndarray, v: np.ndarray, g: np.ndarray) -> tuple[np.ndarray, ...]:
    tq, tk, tv = (Tensor(a, requires_grad=True) for a in (q, k, v))
    out, _ = attention_reference(tq, tk, tv)
    out.backward(g)
    return tq.grad, tk.grad, tv.grad


def _backward_cases() -> list[dict[str, Any]]:
    rng = np.random.default_rng(48)
    cases = []
    for lead, length, source, d, dv in [((), 3, 4, 2, 2), ((2,), 4, 4, 3, 5), ((2, 2), 2, 5, 4, 3), ((1,), 5, 3, 6, 1)]:
        cases.append(dict(q=rng.standard_normal((*lead, length, d)), k=rng.standard_normal((*lead, source, d)),
                          v=rng.standard_normal((*lead, source, dv)), g=rng.standard_normal((*lead, length, dv))))
    return cases


def _backward_variant(q: np.ndarray, k: np.ndarray, v: np.ndarray, g: np.ndarray, *, jacobian: bool = True,
                      scale_back: bool = True) -> tuple[np.ndarray, ...]:
    c = 1 / math.sqrt(q.shape[-1])
    p = softmax_array(q @ np.swapaxes(k, -1, -2) * c)
    dp = g @ np.swapaxes(v, -1, -2)
    ds = p * (dp - np.sum(dp * p, axis=-1, keepdims=True)) if jacobian else p * dp
    f = c if scale_back else 1.0
    return f * ds @ k, f * np.swapaxes(ds, -1, -2) @ q, np.swapaxes(p, -1, -2) @ g


def _backward_hint(case: dict[str, Any], got: tuple[np.ndarray, ...]) -> str | None:
    dq = got[0]
    if dq.shape == case["q"].shape and np.allclose(dq, _backward_variant(**case, jacobian=False)[0]):
        return ("∂L/∂S is missing the softmax's second term: P ⊙ (∂L/∂P − rowsum(∂L/∂P ⊙ P)), since every weight "
                "of a row depends on every score of it.")
    if dq.shape == case["q"].shape and np.allclose(dq, _backward_variant(**case, scale_back=False)[0]):
        return "The factor 1/√d_k is missing: S = QKᵀ/√d_k, so ∂L/∂Q and ∂L/∂K carry it too."
    return None


@register("4.5-attention-backward", "4.5", "implement", "The backward pass of attention")
def check_attention_backward(fn: Any) -> bool:
    """``fn(q, k, v, g)`` -> ``(dq, dk, dv)`` for O = softmax(q kᵀ/√d_k) v, given g = ∂L/∂O.

    q: (..., L, d_k), k: (..., S, d_k), v: (..., S, d_v), g: (..., L, d_v), any leading axes; each gradient has the
    shape of its input.  Compared with autograd through ``dlbook.functional.attention_reference``.
    """
    return compare(fn, _backward_reference, _backward_cases(), argument="fn", outputs=("dq", "dk", "dv"),
                   diagnose=_backward_hint,
                   error_hint="Transpose only the last two axes (np.swapaxes(a, -1, -2)) so that leading batch and "
                              "head axes stay in place; the keys may be more or fewer than the queries.",
                   success="Your attention backward agrees with dlbook's")


# ---- implement: multi-head attention --------------------------------------------------------------------------

def _multihead_reference(q: np.ndarray, k: np.ndarray, v: np.ndarray, num_heads: int) -> np.ndarray:
    out, _ = multihead_attention_reference(q, k, v, num_heads)
    return out.data


def _multihead_cases() -> list[dict[str, Any]]:
    rng = np.random.default_rng(49)
    cases = []
    for n, length, source, e, h in [(1, 3, 3, 4, 2), (2, 4, 5, 6, 3), (1, 2, 4, 8, 4), (2, 3, 3, 6, 1)]:
        cases.append(dict(q=rng.standard_normal((n, length, e)), k=rng.standard_normal((n, source, e)),
                          v=rng.standard_normal((n, source, e)), num_heads=h))
    return cases


def _attend(q: np.ndarray, k: np.ndarray, v: np.ndarray, scale: float) -> np.ndarray:
    return softmax_array(q @ np.swapaxes(k, -1, -2) * scale) @ v


def _multihead_hint(case: dict[str, Any], got: tuple[np.ndarray, ...]) -> str | None:
    q, k, v, h = case.values()
    if h == 1 or got[0].shape != q.shape:
        return None
    n, length, e = q.shape
    d = e // h
    if np.allclose(got[0], _attend(q, k, v, 1 / math.sqrt(e))):
        return "That is one attention over all E features: split them into num_heads heads of d = E / H features."

    def interleaved(x: np.ndarray) -> np.ndarray:                # head j takes the features j, j + H, j + 2H, …
        return x.reshape(n, x.shape[1], d, h).transpose(0, 3, 1, 2)

    out = _attend(interleaved(q), interleaved(k), interleaved(v), 1 / math.sqrt(d))
    if np.allclose(got[0], out.transpose(0, 2, 3, 1).reshape(n, length, e)):
        return ("Head h reads the h-th block of d *consecutive* features, x[..., h·d:(h + 1)·d]: reshape to "
                "(N, T, H, d), then move the head axis forward.")

    def heads(x: np.ndarray) -> np.ndarray:
        return x.reshape(n, x.shape[1], h, d).transpose(0, 2, 1, 3)

    wrong_scale = _attend(heads(q), heads(k), heads(v), 1 / math.sqrt(e))
    if np.allclose(got[0], wrong_scale.transpose(0, 2, 1, 3).reshape(n, length, e)):
        return "Each head scales its scores by 1/√d with d = E / H, the size of *its* queries and keys, not 1/√E."

    def reshaped(x: np.ndarray) -> np.ndarray:                   # a reshape to (N, H, T, d) without the transpose
        return x.reshape(n, h, x.shape[1], d)

    if np.allclose(got[0], _attend(reshaped(q), reshaped(k), reshaped(v), 1 / math.sqrt(d)).reshape(n, length, e)):
        return ("A reshape alone to (N, H, T, d) mixes positions into the heads: reshape to (N, T, H, d) first, "
                "then transpose the head axis forward (and back before joining the heads).")
    return None


@register("4.5-multihead", "4.5", "implement", "Multi-head attention from one-head attentions")
def check_multihead(fn: Any) -> bool:
    """``fn(q, k, v, num_heads)`` -> the heads' outputs side by side, (N, L, E): head h runs (eq-attention) on the
    h-th block of d = E / H consecutive features of the (already projected) q, k, v (eq-multihead, without W^O).

    q: (N, L, E), k and v: (N, S, E).  Compared with ``dlbook.functional.multihead_attention_reference``.
    """
    return compare(fn, _multihead_reference, _multihead_cases(), argument="fn", diagnose=_multihead_hint,
                   error_hint="Split with x.reshape(N, T, H, d).transpose(0, 2, 1, 3), attend, then undo it.",
                   success="Your multi-head attention agrees with dlbook's")


explore("4.5-fully-masked-row", "4.5", "What should attention return for a query whose every key is masked?")
