"""Exercises of §5.4, Inference: the memory of a KV cache, the work generation saves with it, per-row absmax int8
quantisation, the dequantising matrix product, and how few bits the weights can keep.

Use in a notebook cell: ``from dlbook.exercises import ch5_4`` then ``ch5_4.check_cache_memory(answer)``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from dlbook.exercises._answers import Mistake, check_number
from dlbook.exercises._compare import compare
from dlbook.exercises._registry import explore, register
from dlbook.nn.kv_cache import kv_cache_bytes
from dlbook.quantize import QMAX, QuantizedLinear, quantize_int8

#: The cache exercise: a model of 24 layers whose 16 query heads share 4 key/value heads of size 64, serving
#: 8 sequences of 2,048 tokens in float16 (2 bytes a number).  The answer is asked in MB (10⁶ bytes).
LAYERS, HEADS, KV_HEADS, HEAD_DIM, LENGTH, BATCH, BYTES = 24, 16, 4, 64, 2048, 8, 2
#: The counting exercise: a prompt of 16 tokens, then 100 new tokens.
PROMPT, NEW = 16, 100


@register("5.4-cache-memory", "5.4", "compute", "The memory of a KV cache with grouped-query attention")
def check_cache_memory(answer: Any) -> bool:
    """The KV cache (eq-kv-cache-memory) of a model with 24 layers, 16 query heads sharing 4 key/value heads of size
    64, for a batch of 8 sequences of 2,048 tokens, each number in float16 (2 bytes), in MB (1 MB = 10⁶ bytes).

    ``answer``: a number of MB; right to within 0.5 %.
    """
    mb = 1e6
    exact = kv_cache_bytes(LAYERS, KV_HEADS, HEAD_DIM, LENGTH, np.float16, BATCH) / mb
    mistakes = [
        Mistake(exact / 2, "The cache holds two tensors per layer, the keys *and* the values: a factor 2 is missing."),
        Mistake(exact * HEADS / KV_HEADS, "Only the 4 key/value heads are cached: the 16 query heads share them, and "
                                          "a query is never cached."),
        Mistake(exact * 2, "float16 takes 2 bytes a number, not 4."),
        Mistake(exact / BATCH, "Each of the 8 sequences of the batch has its own keys and values."),
        Mistake(exact / LAYERS, "Every layer caches its own keys and values: multiply by the 24 layers."),
        Mistake(exact * mb / 2**20, "That is in MiB (2²⁰ bytes); the question asks for MB, 10⁶ bytes."),
    ]
    return check_number("answer", answer, exact, rel_tol=0.005, mistakes=mistakes, unit="MB",
                        hint="2 (keys and values) · layers · kv heads · head size · tokens · sequences · bytes per "
                             "number, then divide by 10⁶.")


@register("5.4-positions", "5.4", "compute", "Positions a decoder runs without a cache")
def check_positions(answer: Any) -> bool:
    """Generating 100 new tokens after a prompt of 16 without a KV cache (the context is long enough, so nothing
    slides out): how many token positions go through the model in all, over every step?

    ``answer``: a whole number.
    """
    lengths = np.arange(PROMPT, PROMPT + NEW)                 # step k runs the prompt and the k tokens drawn before it
    exact = int(lengths.sum())
    mistakes = [
        Mistake(PROMPT + NEW - 1, "That is the count *with* the cache: the prompt once, then one position per step. "
                                  "Without it every step runs the whole text again."),
        *(Mistake(NEW * n, "Not every step runs the full final length: step k runs the prompt and only the tokens "
                           "drawn before it.") for n in (PROMPT + NEW - 1, PROMPT + NEW)),
        Mistake(int((lengths + 1).sum()), "One too many per step: the last token drawn is never fed back in, so step "
                                          "1 runs the 16 prompt tokens only."),
        Mistake(int(np.arange(1, PROMPT + NEW).sum()), "The prompt is run whole at the first step, not token by "
                                                       "token: the steps run 16, 17, … tokens."),
        Mistake(NEW * NEW // 2, "Count the prompt too: every step runs its 16 tokens again."),
    ]
    return check_number("answer", answer, exact, abs_tol=0.5, mistakes=mistakes, unit="positions",
                        hint="Step k (k = 1 … 100) runs the 16 prompt tokens and the k − 1 tokens drawn so far; "
                             "add the lengths of the 100 steps.")


# ---- implement: per-row absmax quantisation -------------------------------------------------------------------

def _quantize_reference(w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return quantize_int8(w)


def _quantize_cases() -> list[dict[str, Any]]:
    rng = np.random.default_rng(54)
    cases = []
    for shape, spread in [((3, 5), 1.0), ((4, 6), 0.05), ((6, 4), 3.0), ((2, 40), 0.5)]:
        w = rng.standard_normal(shape) * spread * rng.uniform(0.2, 5.0, size=(shape[0], 1))
        w[0, 1] = -4 * np.abs(w[0]).max()               # a negative outlier: |w|, not w, sets its row's scale
        cases.append(dict(w=w))
    return cases


def _quantize_hint(case: dict[str, Any], got: tuple[np.ndarray, ...]) -> str | None:
    w = case["w"]
    q, scale = got
    if scale.shape != (w.shape[0],):
        return "The scale belongs to an output channel: one per row, the max over axis=1, shape (out_features,)."
    absmax = np.abs(w).max(axis=1)
    if np.allclose(scale, np.abs(w).max() / QMAX):
        return "One scale for the whole matrix wastes the range of every row without the largest entry: take the " \
               "max of |w| row by row."
    if np.allclose(scale, w.max(axis=1) / QMAX):
        return "A row's largest *magnitude* sets its scale: a large negative entry counts, so take np.abs(w) first."
    for wrong in (128, 255, 256):
        if np.allclose(scale, absmax / wrong):
            return f"Divide by 127, not {wrong}: q runs from −127 to 127, so the largest |w| of a row maps to 127."
    if np.allclose(scale, absmax / QMAX) and np.allclose(q, np.trunc(w / scale[:, None])):
        return "Round to the nearest integer (np.round): casting to int8 cuts towards zero, which doubles the error."
    return None


@register("5.4-quantize", "5.4", "implement", "Per-row absmax int8 quantisation")
def check_quantize(fn: Any) -> bool:
    """``fn(w)`` -> ``(q, scale)`` for a weight w: (out_features, in_features) by (eq-int8): one scale per output row,
    ``scale[o] = max_i |w[o, i]| / 127``, and ``q = round(w / scale)`` as integers in [−127, 127].

    Compared with ``dlbook.quantize.quantize_int8`` on random weights (no row is all zeros).
    """
    return compare(fn, _quantize_reference, _quantize_cases(), argument="fn", outputs=("q", "scale"),
                   diagnose=_quantize_hint,
                   error_hint="The scale has one entry per row: divide w by scale[:, None] so that it broadcasts "
                              "along each row.",
                   success="Your quantisation agrees with dlbook's")


# ---- implement: the dequantising matrix product ---------------------------------------------------------------

def _linear_reference(x: np.ndarray, q: np.ndarray, scale: np.ndarray, b: np.ndarray) -> np.ndarray:
    return QuantizedLinear(q, scale, b, dtype=np.float64)(x).data


def _linear_cases() -> list[dict[str, Any]]:
    rng = np.random.default_rng(55)
    cases = []
    for n, i, o in [(1, 5, 3), (4, 6, 6), (3, 8, 2), (2, 3, 7)]:
        q, scale = quantize_int8(rng.standard_normal((o, i)) * rng.uniform(0.1, 2.0, size=(o, 1)))
        cases.append(dict(x=rng.standard_normal((n, i)), q=q, scale=scale, b=rng.standard_normal(o)))
    return cases


def _linear_hint(case: dict[str, Any], got: tuple[np.ndarray, ...]) -> str | None:
    x, q, scale, b = case["x"], case["q"].astype(np.float64), case["scale"].astype(np.float64), case["b"]
    y = got[0]
    if np.allclose(y, (x @ q.T) * scale):
        return "The bias is missing: y = s_o Σ_i x_i q_oi + b_o."
    if np.allclose(y, x @ q.T + b):
        return "The scales are missing: q holds integers, and row o of the weight is q[o] · scale[o]."
    if q.shape[0] == q.shape[1] and np.allclose(y, (x * scale) @ q.T + b):
        return "scale[o] belongs to output o (a row of q), so it multiplies the output's column o, not x's features."
    return None


@register("5.4-int8-linear", "5.4", "implement", "The dequantising matrix product of an int8 layer")
def check_int8_linear(fn: Any) -> bool:
    """``fn(x, q, scale, b)`` -> y: (N, out_features), the output of a Linear layer whose weight is stored as int8
    rows q: (out, in) with one float scale per row, scale: (out,), and a float bias b: (out,) (eq-int8-matmul).

    x: (N, in_features).  Compared with ``dlbook.quantize.QuantizedLinear``.
    """
    return compare(fn, _linear_reference, _linear_cases(), argument="fn", diagnose=_linear_hint,
                   error_hint="x is (N, in) and q is (out, in): multiply by q.T (as floats), then scale each output "
                              "column.",
                   success="Your int8 layer agrees with dlbook's")


explore("5.4-bits", "5.4", "How few bits can the weights keep, and what does a scale per row buy at 4 bits?")
