"""Exercises of §5.2, Pretraining: the base GPT's parameters from its shape, the compute of the second stage by
6·N·D, a perplexity from a loss, top-p sampling in code, and temperature against top-k in the generation widget.

Use in a notebook cell: ``from dlbook.exercises import ch5_2`` then ``ch5_2.check_param_count(answer)``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from dlbook.costs import matmul_parameters, training_flops
from dlbook.exercises._answers import Mistake, check_number
from dlbook.exercises._compare import compare
from dlbook.exercises._registry import explore, register
from dlbook.exercises._shipped import base_gpt
from dlbook.sampling import next_token_distribution


def _shipped() -> tuple[Any, dict[str, Any], dict[str, Any]]:
    """The shipped base GPT of §5.2: the model, its checkpoint record and its history."""
    model, _, record, extra = base_gpt()
    return model, record, extra


@register("5.2-param-count", "5.2", "compute", "The base GPT's parameters from its shape")
def check_param_count(answer: Any) -> bool:
    """The number of parameters of ``GPT(GPTConfig.preset("base", vocab_size=3934))``: V = 3,934, context 128,
    d = 192, 4 pre-LN blocks (4 heads, feed-forward 768, biases everywhere), a final LayerNorm, the output layer
    tied to the token embedding.  ``answer``: an int; checked exactly.
    """
    model = _shipped()[0]
    c = model.config
    n, d, v = model.num_parameters(), c.d_model, c.vocab_size
    block = (n - v * d - c.context * d - 2 * d) // c.num_layers
    mistakes = [
        Mistake(n + v * d, "The output layer is tied to the token embedding: one V×d matrix serves both."),
        Mistake(n - c.context * d, "The position embedding is a table of its own, context × d parameters: N of "
                                   "6·N·D leaves it out (it is looked up, not multiplied), the count does not."),
        Mistake(n - 2 * d, "The final LayerNorm has a gain and a bias of d entries each."),
        Mistake(n - c.num_layers * 4 * d - 2 * d, "Every LayerNorm (two per block and the final one) has a gain "
                                                  "and a bias."),
        Mistake(n - c.num_layers * block + block, "There are four blocks, each with its own weights."),
    ]
    return check_number("answer", answer, n, abs_tol=0.5, mistakes=mistakes, unit="parameters",
                        hint="Add up: token embedding V·d (tied, counted once), positions context·d, per block "
                             "attention 4d² + 4d, feed-forward 2·d·f + f + d, two LayerNorms 2·2d, and the final "
                             "LayerNorm 2d.")


@register("5.2-run-flops", "5.2", "compute", "The training compute of the second stage, by 6·N·D")
def check_run_flops(answer: Any) -> bool:
    """C ≈ 6·N·D for stage 2 of the base GPT: N = the parameters in matrix products (``matmul_parameters``,
    without the attention term), D = the characters it was trained on (steps × windows per step × context).

    ``answer``: a number of FLOPs, e.g. ``1e14``; right within 0.5 %.
    """
    model, record, _ = _shipped()
    c, s = model.config, record["settings"]
    n_mat = matmul_parameters(c)
    steps, batch = int(record["step"]), int(s["batch_size"])
    d = steps * batch * c.context
    expected = training_flops(n_mat, d)
    mistakes = [
        Mistake(training_flops(n_mat, steps * batch), "D counts characters: every window holds context = 128 of "
                                                      "them, and each is a prediction the model is trained on."),
        Mistake(training_flops(n_mat, steps * c.context), "A step trains on a batch of windows, not one."),
        Mistake(2 * n_mat * d, "That is the forward pass alone; the backward pass costs about twice as much."),
        Mistake(n_mat * d, "Each parameter costs about 6 FLOPs per token: 2 forward, 4 backward."),
        Mistake(training_flops(model.num_parameters(), d), "N counts only the parameters used in matrix products: "
                                                           "the position table is looked up, not multiplied."),
    ]
    return check_number("answer", answer, expected, rel_tol=0.005, mistakes=mistakes, unit="FLOPs",
                        hint="D = steps × batch × context characters of stage 2; then C ≈ 6·N·D "
                             "(eq-training-flops).")


@register("5.2-perplexity", "5.2", "compute", "The perplexity of the shipped GPT's final validation loss")
def check_perplexity(answer: Any) -> bool:
    """The perplexity (eq-lm-loss) of stage 2's last validation loss, in nats per character, as the chapter prints
    it.  ``answer``: a number; right within 0.5 %.
    """
    loss = float(_shipped()[2]["hist_val_loss"][-1])
    mistakes = [
        Mistake(2 ** loss, "The loss is in nats (natural logarithm): the perplexity is e^loss, not 2^loss."),
        Mistake(10 ** loss, "The loss is in nats (natural logarithm): the perplexity is e^loss, not 10^loss."),
        Mistake(math.exp(-loss), "e^(−loss) is the geometric mean of the probabilities; the perplexity is its "
                                 "inverse."),
        Mistake(math.log(loss), "The perplexity undoes the logarithm: exponentiate the loss."),
    ]
    return check_number("answer", answer, math.exp(loss), rel_tol=0.005, mistakes=mistakes,
                        hint="perplexity = e^loss (eq-lm-loss), with the loss in nats per character.")


# ---- implement: temperature and top-p ---------------------------------------------------------------------------

def _top_p_reference(logits: np.ndarray, temperature: float, top_p: float) -> np.ndarray:
    return next_token_distribution(logits, temperature=temperature, top_p=top_p)


def _top_p_cases() -> list[dict[str, Any]]:
    rng = np.random.default_rng(52)
    cases = [dict(logits=np.array([2.0, 1.0, 0.5, -1.0]), temperature=1.0, top_p=0.8)]
    for v, t, p in [(10, 0.7, 0.5), (50, 1.5, 0.9), (30, 1.0, 0.3), (8, 2.0, 1.0), (100, 0.5, 0.95)]:
        cases.append(dict(logits=2 * rng.standard_normal(v), temperature=t, top_p=p))
    return cases


def _top_p_variant(logits: np.ndarray, temperature: float, top_p: float, *, crossing: bool = True,
                   renormalise: bool = True, divide: bool = True) -> np.ndarray:
    z = logits / temperature if divide else logits * temperature
    p = np.exp(z - z.max())
    p /= p.sum()
    order = np.argsort(-p)
    cum = np.cumsum(p[order])
    keep = np.searchsorted(cum, top_p) + 1 if crossing else max(int(np.searchsorted(cum, top_p)), 1)
    out = np.zeros_like(p)
    out[order[:keep]] = p[order[:keep]]
    return out / out.sum() if renormalise else out


def _top_p_hint(case: dict[str, Any], got: tuple[np.ndarray, ...]) -> str | None:
    for kw, hint in [
        (dict(renormalise=False), "Divide the kept probabilities by their sum, so the result is a distribution."),
        (dict(crossing=False), "Keep the token that makes the running sum reach p as well: top-p keeps the smallest "
                               "set whose probabilities add up to *at least* p."),
        (dict(divide=False), "Temperature divides the logits: softmax(z / T), so T > 1 flattens the distribution."),
    ]:
        if np.allclose(got[0], _top_p_variant(**case, **kw)):
            return hint
    return None


@register("5.2-top-p", "5.2", "implement", "Temperature and top-p (nucleus) sampling's distribution")
def check_top_p(fn: Any) -> bool:
    """``fn(logits, temperature, top_p)`` -> the distribution generation samples from, (V,): softmax(logits / T),
    then only the smallest set of most likely tokens whose probabilities add up to at least ``top_p``, rescaled to
    sum to 1.  Compared with ``dlbook.sampling.next_token_distribution``."""
    return compare(fn, _top_p_reference, _top_p_cases(), argument="fn", outputs=("p",), diagnose=_top_p_hint,
                   error_hint="np.argsort(-p) orders the tokens from most to least likely; np.cumsum adds them up.",
                   success="Your top-p distribution agrees with dlbook's")


explore("5.2-temperature-top-k", "5.2", "What does top-k do to a high temperature? (generation widget)")
