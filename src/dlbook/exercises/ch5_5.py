"""Exercises of §5.5, A modern block: the parameters of Llama 7B's SwiGLU, the attention weights of a grouped-query
layer of Llama 2 70B, RMSNorm and RoPE written by the reader, and RoPE's relative positions with the explorer.

Use in a notebook cell: ``from dlbook.exercises import ch5_5`` then ``ch5_5.check_swiglu_parameters(answer)``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from dlbook.autograd import Tensor
from dlbook.exercises._answers import Mistake, check_number
from dlbook.exercises._compare import compare
from dlbook.exercises._registry import explore, register
from dlbook.functional import rms_norm, rope

#: Llama 7B (Touvron et al. 2023): width and SwiGLU hidden size.
LLAMA7B_D, LLAMA7B_HIDDEN = 4096, 11008
#: Llama 2 70B (Touvron et al. 2023b): width, query heads, key/value heads.
LLAMA70B_D, LLAMA70B_HEADS, LLAMA70B_KV_HEADS = 8192, 64, 8


@register("5.5-swiglu-parameters", "5.5", "compute", "The parameters of one SwiGLU feed-forward of Llama 7B")
def check_swiglu_parameters(answer: Any) -> bool:
    """The number of parameters of one SwiGLU feed-forward (eq-swiglu) of Llama 7B: d_model = 4096, hidden = 11008,
    no biases.

    ``answer``: a whole number.
    """
    d, h = LLAMA7B_D, LLAMA7B_HIDDEN
    mistakes = [
        Mistake(2 * d * h, "That is two matrices, as in a GELU feed-forward; SwiGLU has three: the gate W₁, the "
                           "value W₃ and the output W₂."),
        Mistake(3 * d * h + 2 * h + d, "Llama's linear layers have no biases."),
        Mistake(d * h, "That is one matrix; count W₁, W₃ (d → hidden) and W₂ (hidden → d)."),
        Mistake(3 * d * 4 * d, "The hidden size is 11008 (about 8/3 · d), not 4·d."),
    ]
    return check_number("answer", answer, 3 * d * h, abs_tol=0.5, mistakes=mistakes,
                        hint="Each of the three matrices maps between d_model and hidden (or back): "
                             "count their entries and add them up.")


@register("5.5-gqa-parameters", "5.5", "compute", "The attention weights of one grouped-query layer of Llama 2 70B")
def check_gqa_parameters(answer: Any) -> bool:
    """The number of weights of the four projections W_Q, W_K, W_V, W_O of one attention layer of Llama 2 70B
    (eq-gqa): d_model = 8192, 64 query heads, 8 key/value heads, no biases.

    ``answer``: a whole number.
    """
    d, h, hkv = LLAMA70B_D, LLAMA70B_HEADS, LLAMA70B_KV_HEADS
    dh = d // h
    right = 2 * d * d + 2 * d * hkv * dh
    mistakes = [
        Mistake(4 * d * d, "That is multi-head attention, every head with its own keys and values; here only 8 "
                           "key/value heads are projected, so W_K and W_V are d × (8 · head size)."),
        Mistake(2 * d * d + 2 * d * dh, "That is multi-query attention (one key/value head); Llama 2 70B has 8."),
        Mistake(d * d + 2 * d * hkv * dh, "The output projection W_O (d × d) is part of the layer too."),
        Mistake(2 * d * d + 2 * d * hkv, "W_K maps d_model to 8 heads of head size d / 64 = 128 features each."),
    ]
    return check_number("answer", answer, right, abs_tol=0.5, mistakes=mistakes,
                        hint="W_Q and W_O are d × d; W_K and W_V map d to (key/value heads) × (head size), with "
                             "head size = d / (query heads).")


# ---- implement: RMSNorm ------------------------------------------------------------------------------------

def _rms_reference(x: np.ndarray, weight: np.ndarray, eps: float) -> np.ndarray:
    return rms_norm(Tensor(x), Tensor(weight), eps).data


def _rms_cases() -> list[dict[str, Any]]:
    rng = np.random.default_rng(55)
    cases = []
    for shape, eps in [((6,), 0.1), ((3, 5), 1e-5), ((2, 3, 8), 0.5), ((4, 1), 1e-6)]:
        cases.append(dict(x=rng.standard_normal(shape) + 0.5, weight=rng.standard_normal(shape[-1]), eps=eps))
    return cases


def _rms_hint(case: dict[str, Any], got: tuple[np.ndarray, ...]) -> str | None:
    x, w, eps = case["x"], case["weight"], case["eps"]
    ms = np.mean(x * x, axis=-1, keepdims=True)
    centred = x - x.mean(axis=-1, keepdims=True)
    if np.allclose(got[0], centred / np.sqrt(np.mean(centred ** 2, axis=-1, keepdims=True) + eps) * w):
        return "That is LayerNorm: RMSNorm subtracts no mean, it divides x by √(mean(x²) + ε) as it is."
    if np.allclose(got[0], x / (np.sqrt(ms) + eps) * w):
        return "ε goes inside the square root: x / √(mean(x²) + ε)."
    if np.allclose(got[0], x / np.sqrt(ms + eps)):
        return "The weight γ is missing: multiply the normalised x by it, feature by feature."
    if np.allclose(got[0], x / np.sqrt(np.mean(x * x) + eps) * w):
        return "The mean of x² is taken over the last axis only (each vector on its own), not over the whole array."
    return None


@register("5.5-rms-norm", "5.5", "implement", "RMSNorm")
def check_rms_norm(fn: Any) -> bool:
    """``fn(x, weight, eps)`` -> y = x / √(mean(x²) + ε) · weight over the last axis (eq-rmsnorm).

    x: (..., d), weight: (d,), eps a float; y has x's shape.  Compared with ``dlbook.functional.rms_norm``.
    """
    return compare(fn, _rms_reference, _rms_cases(), argument="fn", diagnose=_rms_hint,
                   error_hint="Keep the last axis for the broadcast: np.mean(x * x, axis=-1, keepdims=True).",
                   success="Your RMSNorm agrees with dlbook's")


# ---- implement: RoPE ---------------------------------------------------------------------------------------

def _rope_reference(x: np.ndarray, base: float) -> np.ndarray:
    return rope(Tensor(x), 0, base).data


def _rope_cases() -> list[dict[str, Any]]:
    rng = np.random.default_rng(56)
    return [dict(x=rng.standard_normal(shape), base=base)
            for shape, base in [((5, 4), 10000.0), ((2, 6, 8), 100.0), ((2, 3, 4, 6), 10000.0), ((9, 2), 10.0)]]


def _rope_variant(x: np.ndarray, base: float, *, pairs: str = "half", sign: int = 1, step: int = 2) -> np.ndarray:
    t, d = x.shape[-2], x.shape[-1]
    angles = np.arange(t)[:, None] * base ** (-step * np.arange(d // 2) / d)
    cos, sin = np.cos(angles), sign * np.sin(angles)
    if pairs == "half":
        a, b = x[..., :d // 2], x[..., d // 2:]
        return np.concatenate([a * cos - b * sin, a * sin + b * cos], axis=-1)
    a, b = x[..., 0::2], x[..., 1::2]                                  # neighbours (2i, 2i + 1)
    out = np.empty_like(x)
    out[..., 0::2], out[..., 1::2] = a * cos - b * sin, a * sin + b * cos
    return out


def _rope_hint(case: dict[str, Any], got: tuple[np.ndarray, ...]) -> str | None:
    x, base = case["x"], case["base"]
    if x.shape[-1] <= 2:
        return None
    if np.allclose(got[0], _rope_variant(x, base, pairs="neighbours")):
        return ("You paired neighbours (x[2i], x[2i+1]), as the RoPE paper does; the book (like Llama's Hugging "
                "Face code) pairs feature i with feature i + d/2.")
    if np.allclose(got[0], _rope_variant(x, base, sign=-1)):
        return "You rotated clockwise: the rotated pair is (a cos − b sin, a sin + b cos)."
    if np.allclose(got[0], _rope_variant(x, base, step=1)):
        return "The frequencies are θᵢ = base^(−2i/d) for i = 0 … d/2 − 1, not base^(−i/d)."
    return None


@register("5.5-rope", "5.5", "implement", "Rotary position embedding")
def check_rope(fn: Any) -> bool:
    """``fn(x, base)`` -> x with row t (position t = 0, 1, …) rotated by RoPE (eq-rope): pair (x[i], x[i + d/2])
    turned by the angle t·base^(−2i/d).

    x: (..., T, d) with d even; the result has x's shape.  Compared with ``dlbook.functional.rope``.
    """
    return compare(fn, _rope_reference, _rope_cases(), argument="fn", diagnose=_rope_hint,
                   error_hint="The positions run along axis −2 and the features along axis −1: the angles are a "
                              "(T, d/2) array that broadcasts over any leading axes.",
                   success="Your RoPE agrees with dlbook's")


explore("5.5-rope-offset", "5.5", "With the RoPE explorer: what happens to the score when the query and the key "
                                  "move by the same number of positions, and when only one moves?")
