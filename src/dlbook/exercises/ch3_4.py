"""Exercises of §3.4, Recurrent neural networks: two steps of an RNN by hand, the parameters of an LSTM layer, a GRU
cell, and the temperature of sampling.

Use in a notebook cell: ``from dlbook.exercises import ch3_4`` then ``ch3_4.check_rnn_steps(answer)``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from dlbook import functional as F
from dlbook.exercises._answers import Mistake, check_number
from dlbook.exercises._compare import compare
from dlbook.exercises._registry import explore, register
from dlbook.functional import sigmoid_array

#: The scalar RNN of the by-hand exercise: hₜ = tanh(w_hh·hₜ₋₁ + w_xh·xₜ + b), h₀ = 0, two inputs.
RNN = dict(w_xh=0.5, w_hh=-1.0, b=0.2, x=(1.0, 2.0))
#: The layer of the counting exercise: nn.LSTM(input_size=32, hidden_size=128), one layer.
INPUT, HIDDEN = 32, 128


def _rnn_run(*, tanh: bool = True, recurrent: bool = True, w_hh: float | None = None) -> list[float]:
    v = RNN
    w = v["w_hh"] if w_hh is None else w_hh
    h, states = 0.0, []
    for x in v["x"]:
        z = (w * h if recurrent else 0.0) + v["w_xh"] * x + v["b"]
        h = math.tanh(z) if tanh else z
        states.append(h)
    return states


@register("3.4-rnn-steps", "3.4", "compute", "Two steps of a one-unit RNN, by hand")
def check_rnn_steps(answer: Any) -> bool:
    """h₂ of hₜ = tanh(w_hh·hₜ₋₁ + w_xh·xₜ + b) with w_xh = 0.5, w_hh = −1.0, b = 0.2, h₀ = 0, x = (1.0, 2.0).

    ``answer``: a number; right to within ±0.001.
    """
    h1, h2 = _rnn_run()
    mistakes = [
        Mistake(h1, "That is h₁: feed it back in, with the second input, for h₂."),
        Mistake(_rnn_run(tanh=False)[1], "The activation is missing: each step passes its sum through tanh."),
        Mistake(_rnn_run(recurrent=False)[1], "The recurrent term is missing: h₂ also depends on h₁ through w_hh·h₁."),
        Mistake(_rnn_run(w_hh=-RNN["w_hh"])[1], "Check the sign of w_hh: it is negative, so h₁ pulls h₂ down."),
        Mistake(math.tanh(RNN["w_hh"] * _rnn_run(tanh=False)[0] + RNN["w_xh"] * RNN["x"][1] + RNN["b"]),
                "h₁ itself is tanh of its sum: apply the activation at every step, the first one too."),
    ]
    return check_number("answer", answer, h2, abs_tol=1e-3, mistakes=mistakes,
                        hint="Step 1: h₁ = tanh(w_xh·x₁ + b), as h₀ = 0. Step 2: h₂ = tanh(w_hh·h₁ + w_xh·x₂ + b).")


@register("3.4-lstm-parameters", "3.4", "compute", "The parameters of nn.LSTM(32, 128)")
def check_lstm_parameters(answer: Any) -> bool:
    """The number of parameters of ``nn.LSTM(input_size=32, hidden_size=128)`` (one layer, PyTorch's two biases).

    ``answer``: an int; checked exactly.
    """
    block = HIDDEN * INPUT + HIDDEN * HIDDEN + 2 * HIDDEN     # one gate: W_ih rows, W_hh rows, b_ih, b_hh
    mistakes = [
        Mistake(3 * block, "That is a GRU (three blocks: r, z, n); the LSTM has four, for the gates i, f, g and o."),
        Mistake(block, "That is one block, a plain RNN's; the LSTM stacks four (i, f, g, o)."),
        Mistake(4 * (block - HIDDEN), "dlbook, like PyTorch, keeps two bias vectors, b_ih and b_hh, each 4·H long."),
        Mistake(4 * (block - 2 * HIDDEN), "The biases are missing: b_ih and b_hh, each of length 4·H."),
        Mistake(4 * (HIDDEN * INPUT + 2 * HIDDEN), "The hidden-to-hidden weights W_hh (4H × H) are missing."),
        Mistake(4 * (HIDDEN * HIDDEN + 2 * HIDDEN), "The input-to-hidden weights W_ih (4H × input_size) are missing."),
        Mistake(4 * block + HIDDEN, "The cell state c is a state, like h, not a parameter."),
    ]
    return check_number("answer", answer, 4 * block, abs_tol=0.5, mistakes=mistakes, unit="parameters",
                        hint="Count weight_ih (4H × input), weight_hh (4H × H), bias_ih and bias_hh (4H each).")


# ---- implement: one GRU step ----------------------------------------------------------------------------------

def _gru_reference(x: np.ndarray, h: np.ndarray, w_ih: np.ndarray, w_hh: np.ndarray, b_ih: np.ndarray,
                   b_hh: np.ndarray) -> np.ndarray:
    return F.gru_cell(x, h, w_ih, w_hh, b_ih, b_hh).data


def _gru_cases() -> list[dict[str, Any]]:
    rng = np.random.default_rng(35)
    cases = []
    for n, d, hid in [(2, 3, 4), (1, 5, 2), (4, 1, 3), (3, 2, 6)]:
        cases.append(dict(x=rng.standard_normal((n, d)), h=rng.standard_normal((n, hid)),
                          w_ih=rng.standard_normal((3 * hid, d)), w_hh=rng.standard_normal((3 * hid, hid)),
                          b_ih=rng.standard_normal(3 * hid), b_hh=rng.standard_normal(3 * hid)))
    return cases


def _gru_variant(case: dict[str, Any], *, swap_z: bool = False, reset_before: bool = False) -> np.ndarray:
    x, h, w_ih, w_hh, b_ih, b_hh = case.values()
    hid = h.shape[1]
    gi, gh = x @ w_ih.T + b_ih, h @ w_hh.T + b_hh
    r = sigmoid_array(gi[:, :hid] + gh[:, :hid])
    z = sigmoid_array(gi[:, hid:2 * hid] + gh[:, hid:2 * hid])
    if reset_before:
        n = np.tanh(gi[:, 2 * hid:] + (r * h) @ w_hh[2 * hid:].T + b_hh[2 * hid:])
    else:
        n = np.tanh(gi[:, 2 * hid:] + r * gh[:, 2 * hid:])
    return z * n + (1 - z) * h if swap_z else (1 - z) * n + z * h


def _gru_hint(case: dict[str, Any], got: tuple[np.ndarray, ...]) -> str | None:
    if np.allclose(got[0], _gru_variant(case, swap_z=True)):
        return ("z and 1 − z are swapped. In dlbook's (and PyTorch's) convention z is the share of the *old* state "
                "kept: hₜ = (1 − z) ⊙ n + z ⊙ hₜ₋₁.")
    if np.allclose(got[0], _gru_variant(case, reset_before=True)):
        return ("You applied the reset gate to hₜ₋₁ before the product; dlbook (like PyTorch) applies it after: "
                "n = tanh(W_in x + b_in + r ⊙ (W_hn hₜ₋₁ + b_hn)).")
    return None


@register("3.4-gru-cell", "3.4", "implement", "One step of a GRU cell")
def check_gru_cell(fn: Any) -> bool:
    """``fn(x, h, w_ih, w_hh, b_ih, b_hh)`` -> hₜ, one GRU step (eq-gru) for a batch.

    x: (N, input_size), h: (N, H), w_ih: (3H, input_size), w_hh: (3H, H), b_ih, b_hh: (3H,), rows in PyTorch's
    order r, z, n.  Compared with ``dlbook.functional.gru_cell``.
    """
    return compare(fn, _gru_reference, _gru_cases(), argument="fn", diagnose=_gru_hint,
                   error_hint="Split the 3H rows of x @ w_ih.T + b_ih and of h @ w_hh.T + b_hh into the blocks r, z, "
                              "n, each H wide (columns [0:H], [H:2H], [2H:3H]).",
                   success="Your GRU cell agrees with dlbook's")


explore("3.4-temperature", "3.4", "What do very low and very high temperatures do to the shipped LSTM's text?")
