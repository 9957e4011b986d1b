"""Exercises of chapter 6, Applications: the compute of a chat assistant's pretraining scaled from ours by 6·N·D,
the number of dates the translator never saw, temperature and top-k sampling in code, and what greedy decoding
writes.

Use in a notebook cell: ``from dlbook.exercises import ch6`` then ``ch6.check_assistant_flops(answer)``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np

from dlbook.costs import matmul_parameters, training_flops
from dlbook.exercises._answers import Mistake, check_number
from dlbook.exercises._compare import compare
from dlbook.exercises._registry import explore, register
from dlbook.exercises._shipped import base_gpt
from dlbook.sampling import next_token_distribution

#: The chapter's comparison: a chat assistant has about 10^5 times our parameters and 10^6 times our tokens.
PARAMS_FACTOR, TOKENS_FACTOR = 1e5, 1e6
#: The translator's calendar and the share of its days held out.
FIRST_YEAR, LAST_YEAR, TEST_FRACTION = 1950, 2049, 0.1


def _our_run() -> tuple[int, int]:
    """N (parameters in matrix products) of the shipped GPT, and D, the characters of both its stages."""
    from dlbook.models.gpt import load_gpt
    from dlbook.recipes.pretrain import STAGE1_ASSET

    model, _, record, _ = base_gpt()
    stages = (load_gpt(STAGE1_ASSET)[2], record)
    tokens = sum(int(c["step"]) * int(c["settings"]["batch_size"]) for c in stages) * model.config.context
    return matmul_parameters(model.config), tokens


@register("6-assistant-flops", "6", "compute", "A chat assistant's pretraining compute, scaled from our GPT's")
def check_assistant_flops(answer: Any) -> bool:
    """C ≈ 6·N·D for a model with 10⁵ times the N and 10⁶ times the D of our GPT (N: its parameters in matrix
    products; D: the characters of both pretraining stages).  ``answer``: FLOPs; right within 1 %.
    """
    n, d = _our_run()
    ours = training_flops(n, d)
    expected = training_flops(PARAMS_FACTOR * n, TOKENS_FACTOR * d)
    mistakes = [
        Mistake(ours * PARAMS_FACTOR, "More tokens cost compute too: D grows by 10⁶ as well."),
        Mistake(ours * TOKENS_FACTOR, "A bigger model costs more per token: N grows by 10⁵ as well."),
        Mistake(ours * (PARAMS_FACTOR + TOKENS_FACTOR), "N and D multiply in 6·N·D, so their factors multiply."),
        Mistake(PARAMS_FACTOR * TOKENS_FACTOR, "That is how many times our run's compute it is; multiply by our "
                                               "run's 6·N·D."),
        Mistake(expected / 6, "Keep the 6: 2 FLOPs per parameter and token forward, 4 backward."),
    ]
    return check_number("answer", answer, expected, rel_tol=0.01, mistakes=mistakes, unit="FLOPs",
                        hint="Our run: N from matmul_parameters, D = (steps × batch) of both stages × context; then "
                             "scale N and D and apply C ≈ 6·N·D.")


@register("6-held-out-dates", "6", "compute", "How many dates the translator never saw")
def check_held_out_dates(answer: Any) -> bool:
    """The number of days ``load_dates()`` holds out: one day in ten, at random, of every day from 1 January 1950
    to 31 December 2049.  ``answer``: an int; checked as a whole number.
    """
    from dlbook.data.dates import load_dates

    expected = len(load_dates().test_dates)
    days = (dt.date(LAST_YEAR, 12, 31) - dt.date(FIRST_YEAR, 1, 1)).days + 1
    years = LAST_YEAR - FIRST_YEAR + 1
    mistakes = [
        Mistake(TEST_FRACTION * 365 * years, "Leap years have 366 days: count the 29 Februaries too."),
        Mistake(expected + 1, "Rounded up: load_dates rounds a tenth of the days with Python's round(), which takes "
                              "an exact half to the even neighbour."),
        Mistake(days, "That is every day; one in ten of them is held out."),
        Mistake(days - expected, "That is the training days; the question asks for the held-out ones."),
    ]
    return check_number("answer", answer, expected, abs_tol=0.5, mistakes=mistakes, unit="dates",
                        hint="Count the days of the hundred years, leap days included, and take a tenth.")


# ---- implement: temperature and top-k ------------------------------------------------------------------------------

def _top_k_reference(logits: np.ndarray, temperature: float, k: int) -> np.ndarray:
    return next_token_distribution(logits, temperature=temperature, top_k=k)


def _top_k_cases() -> list[dict[str, Any]]:
    rng = np.random.default_rng(60)
    cases = [dict(logits=np.array([1.0, 3.0, 0.0, 2.0]), temperature=1.0, k=2)]
    for v, t, k in [(20, 0.8, 5), (50, 1.5, 20), (10, 0.5, 1), (6, 1.0, 6)]:
        cases.append(dict(logits=2 * rng.standard_normal(v), temperature=t, k=k))
    return cases


def _top_k_variant(logits: np.ndarray, temperature: float, k: int, *, keep: int | None = None,
                   renormalise: bool = True, divide: bool = True) -> np.ndarray:
    z = logits / temperature if divide else logits * temperature
    p = np.exp(z - z.max())
    p /= p.sum()
    top = np.argsort(-p)[: k if keep is None else keep]
    out = np.zeros_like(p)
    out[top] = p[top]
    return out / out.sum() if renormalise else out


def _top_k_hint(case: dict[str, Any], got: tuple[np.ndarray, ...]) -> str | None:
    k = case["k"]
    for kw, hint in [
        (dict(renormalise=False), "Divide the kept probabilities by their sum, so the result is a distribution."),
        (dict(divide=False), "Temperature divides the logits: softmax(z / T)."),
        (dict(keep=k - 1), "Keep k tokens, not k − 1 (check the end of your slice)."),
        (dict(keep=k + 1), "Keep k tokens, not k + 1 (check the end of your slice)."),
    ]:
        if (kw.get("keep") is None or kw["keep"] >= 1) and np.allclose(got[0], _top_k_variant(**case, **kw)):
            return hint
    return None


@register("6-top-k", "6", "implement", "Temperature and top-k sampling's distribution")
def check_top_k(fn: Any) -> bool:
    """``fn(logits, temperature, k)`` -> the distribution ``generate(..., temperature, top_k=k)`` samples from,
    (V,): softmax(logits / T), every token outside the k most likely set to 0, rescaled to sum to 1.  Compared with
    ``dlbook.sampling.next_token_distribution``."""
    return compare(fn, _top_k_reference, _top_k_cases(), argument="fn", outputs=("p",), diagnose=_top_k_hint,
                   error_hint="np.argsort(-p)[:k] are the indices of the k most likely tokens.",
                   success="Your top-k distribution agrees with dlbook's")


explore("6-greedy", "6", "What does the GPT write with top-k = 1, greedy decoding? (a changed generation run)")
