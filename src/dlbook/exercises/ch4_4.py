"""Exercises of §4.4, The recurrence formula: a BPTT gradient by hand, how fast a gradient vanishes, backpropagation
through time for a batch, and the gradient through time of the three cells.

Use in a notebook cell: ``from dlbook.exercises import ch4_4`` then ``ch4_4.check_bptt_by_hand(answer)``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from dlbook import functional as F
from dlbook.autograd import Tensor
from dlbook.exercises._answers import Mistake, check_number
from dlbook.exercises._compare import compare
from dlbook.exercises._registry import explore, register

#: The one-unit RNN of §3.4's exercise, hₜ = tanh(w_hh·hₜ₋₁ + w_xh·xₜ + b), h₀ = 0; the loss is L = h₂.
RNN = dict(w_xh=0.5, w_hh=-1.0, b=0.2, x=(1.0, 2.0))
#: The vanishing exercise: the factor per step and the fraction to fall below.
RHO, FRACTION = 0.9, 1e-3


@register("4.4-bptt-by-hand", "4.4", "compute", "∂L/∂w_xh of a one-unit RNN over two steps, by hand")
def check_bptt_by_hand(answer: Any) -> bool:
    """∂L/∂w_xh for L = h₂ of hₜ = tanh(w_hh·hₜ₋₁ + w_xh·xₜ + b), w_xh = 0.5, w_hh = −1.0, b = 0.2, h₀ = 0,
    x = (1.0, 2.0) (eq-bptt).

    ``answer``: a number; right to within ±0.001.
    """
    v = RNN
    (x1, x2), w, u, b = v["x"], v["w_hh"], v["w_xh"], v["b"]
    h1 = math.tanh(u * x1 + b)
    h2 = math.tanh(w * h1 + u * x2 + b)
    d2, d1 = 1 - h2**2, 1 - h1**2                       # f'(z₂), f'(z₁)
    mistakes = [
        Mistake(d2 * x2, "That is step 2's term only: w_xh is used at step 1 too, and that use reaches L through "
                         "h₁ → h₂. Add the terms of both steps."),
        Mistake(d2 * (x2 + w * x1), "The path through h₁ also passes the tanh of step 1: multiply by "
                                    "f'(z₁) = 1 − h₁²."),
        Mistake(d2 * (x2 - w * d1 * x1), "Check the sign: the path from h₁ to h₂ is multiplied by w_hh, which is "
                                         "negative."),
        Mistake(x2 + w * d1 * x1, "The last tanh is missing: ∂h₂/∂z₂ = 1 − h₂²."),
        Mistake(x2 + w * x1, "The derivatives of both tanh are missing: f'(z) = 1 − tanh²(z) at each step."),
        Mistake(d2 * h1, "That is ∂L/∂w_hh (the input of w_hh at step 2 is h₁); the exercise asks for ∂L/∂w_xh."),
    ]
    return check_number("answer", answer, d2 * (x2 + w * d1 * x1), abs_tol=1e-3, mistakes=mistakes,
                        hint="δ₂ = 1 and δ₁ = w_hh·f'(z₂)·δ₂; then ∂L/∂w_xh = Σₜ f'(zₜ)·δₜ·xₜ over both steps.")


@register("4.4-vanishing-steps", "4.4", "compute", "How many steps until a gradient has vanished")
def check_vanishing_steps(answer: Any) -> bool:
    """In the linear regime the gradient shrinks by the factor ρ = 0.9 per step back in time.  After how many steps
    is it first smaller than 1/1000 of its size at the loss?

    ``answer``: a whole number of steps; checked exactly.
    """
    exact = math.log(FRACTION) / math.log(RHO)
    steps = math.ceil(exact)
    mistakes = [
        Mistake(math.floor(exact), "After that many steps the factor ρᵏ is still just above 1/1000: round "
                                   "k > ln(1/1000) / ln ρ up, not down."),
        Mistake(round(math.log(1 / FRACTION) / (1 - RHO)), "ln(1/ρ) ≈ 1 − ρ is only an approximation: "
                                                          "ln(1/0.9) is a little more than 0.1."),
        Mistake(math.ceil(math.log10(1 / FRACTION) / math.log(1 / RHO)), "Mixing log10 and ln: use the same "
                                                                         "logarithm for 1000 and for ρ."),
        Mistake(math.ceil(math.log(1 / FRACTION) / math.log10(1 / RHO)), "Mixing ln and log10: use the same "
                                                                         "logarithm for 1000 and for ρ."),
    ]
    return check_number("answer", answer, steps, abs_tol=0.5, mistakes=mistakes, unit="steps",
                        hint="The gradient after k steps is ρᵏ times its size: solve ρᵏ < 1/1000 for the smallest k.")


# ---- implement: backpropagation through time ------------------------------------------------------------------

def _bptt_reference(x: np.ndarray, h0: np.ndarray, w_xh: np.ndarray, w_hh: np.ndarray, b: np.ndarray,
                    g: np.ndarray) -> tuple[np.ndarray, ...]:
    th0, twx, twh, tb = (Tensor(a, requires_grad=True) for a in (h0, w_xh, w_hh, b))
    out, _ = F.rnn_reference(x, th0, twx, twh, tb)
    out.backward(g)
    return twx.grad, twh.grad, tb.grad, th0.grad


def _bptt_cases() -> list[dict[str, Any]]:
    rng = np.random.default_rng(47)
    cases = []
    for n, t, i, h in [(1, 3, 2, 3), (2, 5, 3, 4), (3, 1, 2, 2), (2, 6, 1, 5)]:
        cases.append(dict(x=rng.standard_normal((n, t, i)), h0=0.5 * rng.standard_normal((n, h)),
                          w_xh=0.6 * rng.standard_normal((h, i)), w_hh=0.6 * rng.standard_normal((h, h)),
                          b=0.2 * rng.standard_normal(h), g=rng.standard_normal((n, t, h))))
    return cases


def _bptt_local_only(x: np.ndarray, h0: np.ndarray, w_xh: np.ndarray, w_hh: np.ndarray, b: np.ndarray,
                     g: np.ndarray) -> np.ndarray:
    """dW_xh when each step's gradient is only its own ∂L_t/∂h_t (the recurrent term forgotten)."""
    h, d = h0, np.zeros_like(w_xh)
    for t in range(x.shape[1]):
        h = np.tanh(x[:, t] @ w_xh.T + h @ w_hh.T + b)
        d += ((1 - h**2) * g[:, t]).T @ x[:, t]
    return d


def _bptt_hint(case: dict[str, Any], got: tuple[np.ndarray, ...]) -> str | None:
    x = case["x"]
    if x.shape[1] > 1 and got[0].shape == case["w_xh"].shape and np.allclose(got[0], _bptt_local_only(**case)):
        return ("The recurrent term is missing: δₜ = ∂Lₜ/∂hₜ + W_hhᵀ (f'(zₜ₊₁) ⊙ δₜ₊₁) also collects what "
                "reaches hₜ through hₜ₊₁.")
    expected = _bptt_reference(**case)
    if got[1].shape == expected[1].shape and np.allclose(got[1], expected[1].T):
        return "dW_hh is transposed: its gradient is Σₜ (f'(zₜ) ⊙ δₜ) hₜ₋₁ᵀ, rows for the output units."
    return None


@register("4.4-bptt", "4.4", "implement", "Backpropagation through time for a batch of sequences")
def check_bptt(fn: Any) -> bool:
    """``fn(x, h0, w_xh, w_hh, b, g)`` -> ``(dw_xh, dw_hh, db, dh0)`` for hₜ = tanh(W_xh xₜ + W_hh hₜ₋₁ + b)
    run from h0, given g[:, t] = ∂L/∂hₜ of every step (eq-bptt).

    x: (N, T, I), h0: (N, H), w_xh: (H, I), w_hh: (H, H), b: (H,), g: (N, T, H).  Compared with the gradients
    autograd computes through ``dlbook.functional.rnn_reference``.
    """
    return compare(fn, _bptt_reference, _bptt_cases(), argument="fn", outputs=("dw_xh", "dw_hh", "db", "dh0"),
                   diagnose=_bptt_hint,
                   error_hint="Keep every hₜ of the forward pass (with h0 first); the batch is axis 0, so a step's "
                              "weight gradient is a product like dz.T @ x[:, t].",
                   success="Your backpropagation through time agrees with dlbook's")


explore("4.4-radius-per-cell", "4.4", "Which cell's gradient through time depends most on the spectral radius?")
