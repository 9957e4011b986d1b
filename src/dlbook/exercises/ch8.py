"""Exercises of §8, Compute-optimal size: the tokens a budget buys, Chinchilla's rule of thumb, the vertex of an
IsoFLOP parabola, the worth of repeated data, and what one budget more or less does to the fitted exponent.

Use in a notebook cell: ``from dlbook.exercises import ch8`` then ``ch8.check_tokens(answer)``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from dlbook.exercises._answers import Mistake, check_number
from dlbook.exercises._compare import compare
from dlbook.exercises._registry import explore, register
from dlbook.scaling import effective_tokens, parabola_minimum

#: The tokens exercise: a budget (FLOPs) and N, the parameters a token passes through (FLOPs per token / 6).
BUDGET, N_PARAMS, TRAIN_CHARS = 8e12, 292_176, 1_673_977
#: Chinchilla's rule of thumb (about 20 tokens per parameter) and the budget of the sizing exercise.
TOKENS_PER_PARAM, BIG_BUDGET = 20, 1e21
#: The repeated-data exercise: unique tokens and epochs.
UNIQUE, EPOCHS = 1_673_977, 8


@register("8-tokens", "8", "compute", "The tokens a compute budget buys a model")
def check_tokens(answer: Any) -> bool:
    """How many training tokens D does a budget of C = 8·10¹² FLOPs buy a model with N = 292,176 parameters (the
    level-3 model of the study), by C = 6·N·D?

    ``answer``: a number of tokens; right to within 1 %.
    """
    d = BUDGET / (6 * N_PARAMS)
    return check_number("answer", answer, d, rel_tol=0.01, unit="tokens", mistakes=[
        Mistake(BUDGET / N_PARAMS, "Each token costs 6·N FLOPs in training, not N: 2·N forward, 4·N backward."),
        Mistake(BUDGET / (2 * N_PARAMS), "2·N FLOPs per token is the forward pass alone; training adds the "
                                         "backward pass, 4·N more."),
        Mistake(d / TRAIN_CHARS, "That is the number of epochs (passes over the 1,673,977-character training "
                                 "text); the question asks for tokens."),
    ], hint="Solve C = 6·N·D for D.")


@register("8-chinchilla-size", "8", "compute", "Chinchilla's rule of thumb: the model size for a budget")
def check_chinchilla_size(answer: Any) -> bool:
    """With Chinchilla's rule of thumb D ≈ 20·N and C = 6·N·D, what model size N is compute-optimal for a budget of
    C = 10²¹ FLOPs?

    ``answer``: a number of parameters; right to within 2 %.
    """
    n = math.sqrt(BIG_BUDGET / (6 * TOKENS_PER_PARAM))
    return check_number("answer", answer, n, rel_tol=0.02, unit="parameters", mistakes=[
        Mistake(math.sqrt(BIG_BUDGET / TOKENS_PER_PARAM), "The 6 of C = 6·N·D is missing: C = 6·N·(20·N)."),
        Mistake(math.sqrt(BIG_BUDGET / 6), "The 20 tokens per parameter are missing: D = 20·N."),
        Mistake(TOKENS_PER_PARAM * n, "That is D, the tokens; the question asks for N."),
        Mistake(BIG_BUDGET / (6 * TOKENS_PER_PARAM), "That is N², not N."),
    ], hint="Put D = 20·N into C = 6·N·D and solve for N.")


def _vertex_cases() -> list[dict[str, Any]]:
    rng = np.random.default_rng(81)
    cases = []
    for k, centre, curve in [(5, 12.0, 0.4), (3, 11.0, 1.0), (6, 13.5, 0.15), (5, 10.5, 2.0)]:
        log_n = np.sort(rng.uniform(centre - 2, centre + 2, k))
        loss = curve * (log_n - centre - rng.normal(0, 0.3)) ** 2 + 4 + 0.01 * rng.standard_normal(k)
        cases.append(dict(n=np.exp(log_n), loss=loss))
    return cases


def _vertex_hint(case: dict[str, Any], got: tuple[np.ndarray, ...]) -> str:
    p2, p1, p0 = np.polyfit(case["n"], case["loss"], 2)
    if np.isclose(got[0], -p1 / (2 * p2), rtol=1e-6):
        return "That is the vertex of a parabola in N; fit it in ln N (np.log(n)) and return exp of the vertex."
    n_opt, _ = parabola_minimum(case["n"], case["loss"])
    if np.isclose(got[0], np.log(n_opt), rtol=1e-6):
        return "That is ln N_opt; return N_opt itself, np.exp of the vertex."
    return ""


@register("8-parabola-vertex", "8", "implement", "The vertex of an IsoFLOP parabola")
def check_parabola_vertex(fn: Any) -> bool:
    """``fn(n, loss)`` -> ``(n_opt, l_min)``: fit L ≈ p₂·(ln N)² + p₁·ln N + p₀ by least squares and return the
    N at its lowest point and the loss there (eq-isoflop-parabola).

    n, loss: (K,) with K ≥ 3.  Compared with ``dlbook.scaling.parabola_minimum``.
    """
    return compare(fn, parabola_minimum, _vertex_cases(), argument="fn", outputs=("n_opt", "l_min"),
                   diagnose=_vertex_hint,
                   error_hint="np.polyfit(np.log(n), loss, 2) gives (p₂, p₁, p₀); the vertex is at ln N = −p₁/(2p₂).",
                   success="Your vertex agrees with dlbook's")


@register("8-repeated-data", "8", "compute", "What eight epochs of the same text are worth")
def check_repeated_data(answer: Any) -> bool:
    """By Muennighoff et al.'s rule (D' = U + U·R*·(1 − e^(−R/R*)), R = D/U − 1 repetitions, R* = 15.4), how many
    unique tokens are 8 epochs over our U = 1,673,977-character training text worth?

    ``answer``: a number of tokens; right to within 1 %.
    """
    d = EPOCHS * UNIQUE
    expected = float(effective_tokens(d, UNIQUE))
    r = EPOCHS - 1
    return check_number("answer", answer, expected, rel_tol=0.01, unit="tokens", mistakes=[
        Mistake(d, "That is the tokens seen; repeated tokens are worth less than new ones, so D' < D."),
        Mistake(UNIQUE + UNIQUE * 15.4 * (1 - math.exp(-EPOCHS / 15.4)),
                "R counts the repetitions after the first epoch: R = D/U − 1 = 7, not 8."),
        Mistake(UNIQUE * 15.4 * (1 - math.exp(-r / 15.4)), "The first epoch, U itself, is worth in full: add it."),
    ], hint="R = 8 − 1 = 7; D' = U·(1 + 15.4·(1 − e^(−7/15.4))).")


explore("8-drop-a-budget", "8", "How much does the fitted exponent a move when one budget is left out?")
