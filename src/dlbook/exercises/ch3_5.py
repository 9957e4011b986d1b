"""Exercises of §3.5, The Transformer: attention for one query by hand, causal attention, the parameters of an
encoder layer, and why a Transformer needs positions.

Use in a notebook cell: ``from dlbook.exercises import ch3_5`` then ``ch3_5.check_attention_output(answer)``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from dlbook.exercises._answers import Mistake, check_number
from dlbook.exercises._compare import compare
from dlbook.exercises._registry import explore, register
from dlbook.functional import softmax_array
from dlbook.functional.attention import attention_reference

#: The by-hand exercise: one query, three keys (d_k = 2) and three one-number values.
QUERY = (1.0, 2.0)
KEYS = ((1.0, 0.0), (0.0, 1.0), (1.0, 1.0))
VALUES = (1.0, -1.0, 2.0)
#: The layer of the counting exercise: nn.TransformerEncoderLayer(d_model=64, nhead=4, dim_feedforward=256).
D_MODEL, NHEAD, D_FF = 64, 4, 256


@register("3.5-attention-output", "3.5", "compute", "The output of attention for one query, by hand")
def check_attention_output(answer: Any) -> bool:
    """softmax(q Kᵀ / √d_k) v for q = (1, 2), keys (1, 0), (0, 1), (1, 1) and values 1, −1, 2 (eq-attention).

    ``answer``: a number; right to within ±0.001.
    """
    q, k, v = np.array(QUERY), np.array(KEYS), np.array(VALUES)
    scores = k @ q
    d_k = len(q)
    w = softmax_array(scores / math.sqrt(d_k))
    mistakes = [
        Mistake(softmax_array(scores) @ v, "The scaling is missing: divide the scores by √d_k before the softmax."),
        Mistake(softmax_array(scores / d_k) @ v, "Divide by √d_k, the square root of the key size, not by d_k."),
        Mistake(v.mean(), "That is a plain average: the weights come from the softmax of the scores, not 1/3 each."),
        Mistake(v[np.argmax(scores)], "Attention does not pick the best key alone: it averages every value with "
                                      "the softmax weights."),
        Mistake((scores / math.sqrt(d_k)) @ v, "Turn the scaled scores into weights with a softmax first."),
        Mistake((scores / math.sqrt(d_k) / (scores / math.sqrt(d_k)).sum()) @ v,
                "Softmax exponentiates the scores before normalising them."),
        Mistake(w[-1], "That is the weight of the third key; the output is the weighted sum of all values."),
    ]
    return check_number("answer", answer, float(w @ v), abs_tol=1e-3, mistakes=mistakes,
                        hint="Scores q·kⱼ, divided by √d_k, softmax over the three keys, then Σⱼ wⱼ vⱼ.")


# ---- implement: causal attention ------------------------------------------------------------------------------

def _causal_reference(q: np.ndarray, k: np.ndarray, v: np.ndarray) -> np.ndarray:
    out, _ = attention_reference(q, k, v, is_causal=True)
    return out.data


def _causal_cases() -> list[dict[str, Any]]:
    rng = np.random.default_rng(36)
    cases = []
    for lead, t, d, dv in [((), 4, 3, 2), ((2,), 5, 4, 4), ((2, 3), 3, 2, 5), ((1,), 1, 3, 3), ((), 6, 8, 1)]:
        cases.append(dict(q=rng.standard_normal((*lead, t, d)), k=rng.standard_normal((*lead, t, d)),
                          v=rng.standard_normal((*lead, t, dv))))
    return cases


def _attention_variant(q: np.ndarray, k: np.ndarray, v: np.ndarray, *, mask: str = "causal",
                       scale: bool = True, renormalise: bool = True) -> np.ndarray:
    t = q.shape[-2]
    scores = q @ np.swapaxes(k, -1, -2) / (math.sqrt(q.shape[-1]) if scale else 1.0)
    allowed = {"causal": np.tril(np.ones((t, t), bool)), "none": np.ones((t, t), bool),
               "future": np.triu(np.ones((t, t), bool))}[mask]
    if renormalise:
        w = softmax_array(np.where(allowed, scores, -np.inf))
    else:
        w = softmax_array(scores) * allowed
    return w @ v


def _causal_hint(case: dict[str, Any], got: tuple[np.ndarray, ...]) -> str | None:
    q, k, v = case.values()
    if q.shape[-2] < 2:
        return None
    known = [
        (dict(mask="none"), "There is no mask: position i may only attend to keys j ≤ i."),
        (dict(mask="future"), "The mask is the wrong way round: keep j ≤ i (np.tril), hide the future (j > i)."),
        (dict(renormalise=False), "You zeroed the future weights after the softmax, so a row no longer sums to 1: "
                                  "set the future scores to −∞ *before* the softmax."),
        (dict(scale=False), "The scaling is missing: divide the scores by √d_k."),
    ]
    for kwargs, hint in known:
        if np.allclose(got[0], _attention_variant(q, k, v, **kwargs)):
            return hint
    return None


@register("3.5-causal-attention", "3.5", "implement", "Attention with a causal mask")
def check_causal_attention(fn: Any) -> bool:
    """``fn(q, k, v)`` -> softmax(q kᵀ/√d_k + causal mask) v, where query i may attend only to keys j ≤ i.

    q, k: (..., T, d_k), v: (..., T, d_v), any number of leading axes -> (..., T, d_v).  Compared with
    ``dlbook.functional.attention_reference(q, k, v, is_causal=True)``.
    """
    return compare(fn, _causal_reference, _causal_cases(), argument="fn", diagnose=_causal_hint,
                   error_hint="Transpose only the last two axes of k (np.swapaxes(k, -1, -2)), so leading batch and "
                              "head axes stay where they are.",
                   success="Your causal attention agrees with dlbook's")


@register("3.5-encoder-parameters", "3.5", "compute", "The parameters of a Transformer encoder layer")
def check_encoder_parameters(answer: Any) -> bool:
    """The number of parameters of ``nn.TransformerEncoderLayer(d_model=64, nhead=4, dim_feedforward=256)``.

    ``answer``: an int; checked exactly.
    """
    d, f, h = D_MODEL, D_FF, NHEAD
    attention = (3 * d * d + 3 * d) + (d * d + d)          # in_proj (Q, K, V) and out_proj
    feed_forward = (d * f + f) + (f * d + d)
    norms = 2 * 2 * d                                      # two LayerNorms, γ and β each
    mistakes = [
        Mistake(attention + feed_forward, "The two LayerNorms have parameters too: a scale γ and a shift β each."),
        Mistake(attention - (d * d + d) + feed_forward + norms, "The attention's output projection (d × d and a "
                                                                "bias) is missing."),
        Mistake(h * attention + feed_forward + norms, "The heads share the projections: each head reads d/h of the "
                                                      "columns, so the count does not grow with the number of heads."),
        Mistake(attention + d * f + f + norms, "The feed-forward network has two Linear layers: d → d_ff "
                                                       "and d_ff → d."),
        Mistake(4 * d * d + 2 * d * f + 4 * d, "The biases are missing: every Linear layer has one."),
        Mistake(4 * d * d + 2 * d * f, "The biases and the LayerNorms' γ and β are missing."),
        Mistake(attention + feed_forward + 3 * 2 * d, "An encoder layer has two LayerNorms (one per sublayer); the "
                                                      "decoder layer has three."),
    ]
    return check_number("answer", answer, attention + feed_forward + norms, abs_tol=0.5, mistakes=mistakes,
                        unit="parameters",
                        hint="Add up self-attention (Q, K, V and output projections, with biases), the two Linear "
                             "layers of the feed-forward network, and two LayerNorms.")


explore("3.5-shuffled-positions", "3.5", "What does an encoder layer do with shuffled positions, and why?")
