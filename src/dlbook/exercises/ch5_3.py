"""Exercises of §5.3, Fine-tuning: LoRA's trainable numbers for a rank, the accuracy of a majority-class baseline,
a LoRA layer's forward pass, and what the step limit did to the runs with every label.

Use in a notebook cell: ``from dlbook.exercises import ch5_3`` then ``ch5_3.check_lora_trainable(answer)``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from dlbook.autograd import Tensor, no_grad
from dlbook.exercises._answers import Mistake, check_number
from dlbook.exercises._compare import compare
from dlbook.exercises._registry import explore, register
from dlbook.exercises._shipped import base_gpt

#: The rank of the counting exercise (the sweep ran powers of two, so this one is not printed in the chapter).
RANK = 3


@register("5.3-lora-trainable", "5.3", "compute", "LoRA's trainable numbers at rank 3 on the base GPT classifier")
def check_lora_trainable(answer: Any) -> bool:
    """Trainable numbers of ``build_classifier(gpt, "lora", rank=3)``: LoRA on the four projections of each of the
    4 blocks (``in_proj`` d→3d, ``out_proj`` d→d, ``linear1`` d→f, ``linear2`` f→d; d = 192, f = 768) plus the
    classification head (d → 2 logits, with a bias).  ``answer``: an int; checked exactly.
    """
    from dlbook.finetune import build_classifier, count_parameters

    gpt = base_gpt()[0]
    c = gpt.config
    d, layers, r = c.d_model, c.num_layers, RANK
    expected = count_parameters(build_classifier(gpt, "lora", rng=np.random.default_rng(0), rank=r))["trainable"]
    head = 2 * d + 2
    adapters = expected - head
    mistakes = [
        Mistake(adapters, "The classification head is new, so it is trained too: d·2 weights and 2 biases."),
        Mistake(adapters // 2 + head, "Each adapter has two factors, A (r × d_in) and B (d_out × r): r·(d_in + "
                                      "d_out) numbers."),
        Mistake(layers * r * ((d + 3 * d) + (d + d)) + head, "apply_lora wraps the feed-forward layers too "
                                                             "(linear1, linear2), not only attention."),
        Mistake(layers * 2 * r * (d + d) + head, "That is LoRA on the query and value projections only (Hu et al.); "
                                                 "here it wraps in_proj, out_proj, linear1 and linear2."),
        Mistake(expected + gpt.num_parameters(), "Only the adapters and the head are trained; the GPT is frozen."),
    ]
    return check_number("answer", answer, expected, abs_tol=0.5, mistakes=mistakes, unit="trainable numbers",
                        hint="Per wrapped layer r·(d_in + d_out); four layers per block, four blocks; then the "
                             "head.")


@register("5.3-majority-baseline", "5.3", "compute", "The test accuracy of always predicting the majority class")
def check_majority_baseline(answer: Any) -> bool:
    """The test accuracy of the classifier that ignores the review and always predicts the label most common among
    the *training* reviews (``load_reviews()``).  ``answer``: a fraction between 0 and 1 (not a percentage); right
    to within ±0.001.
    """
    from dlbook.data.chinese import load_reviews

    reviews = load_reviews()
    majority = int(reviews.train_y.mean() > 0.5)
    expected = float(np.mean(reviews.test_y == majority))
    mistakes = [
        Mistake(1 - expected, "That is the accuracy of always predicting the *minority* class of the training "
                              "reviews."),
        Mistake(max(reviews.train_y.mean(), 1 - reviews.train_y.mean()), "That is the majority's share among the "
                                                                         "training reviews; score it on the test "
                                                                         "reviews."),
        Mistake(0.5, "The classes are not exactly balanced: count them."),
        Mistake(100 * expected, "Give a fraction between 0 and 1, not a percentage."),
    ]
    return check_number("answer", answer, expected, abs_tol=1e-3, mistakes=mistakes,
                        hint="Find the more common label in reviews.train_y, then the share of reviews.test_y equal "
                             "to it.")


# ---- implement: a LoRA layer's forward pass -----------------------------------------------------------------------

def _lora_reference(x: np.ndarray, W: np.ndarray, b: np.ndarray, A: np.ndarray, B: np.ndarray,
                    alpha: float) -> np.ndarray:
    from dlbook import nn
    from dlbook.finetune import LoRALinear

    layer = nn.Linear(W.shape[1], W.shape[0], rng=np.random.default_rng(0), dtype=np.float64)
    layer.weight.data[...], layer.bias.data[...] = W, b
    lora = LoRALinear(layer, rank=A.shape[0], alpha=alpha, rng=np.random.default_rng(0))
    lora.lora_A.data[...], lora.lora_B.data[...] = A, B
    with no_grad():
        return lora(Tensor(x)).data


def _lora_cases() -> list[dict[str, Any]]:
    rng = np.random.default_rng(53)
    cases = []
    for n, d_in, d_out, r, alpha in [(3, 6, 4, 2, 4.0), (5, 8, 8, 1, 8.0), (2, 5, 12, 4, 2.0), (4, 16, 3, 8, 16.0)]:
        cases.append(dict(x=rng.standard_normal((n, d_in)), W=rng.standard_normal((d_out, d_in)),
                          b=rng.standard_normal(d_out), A=rng.standard_normal((r, d_in)),
                          B=rng.standard_normal((d_out, r)), alpha=alpha))
    return cases


def _lora_hint(case: dict[str, Any], got: tuple[np.ndarray, ...]) -> str | None:
    x, W, b, A, B, alpha = case.values()
    r, base, update = A.shape[0], x @ W.T + b, x @ A.T @ B.T
    for out, hint in [(base + update, "The update is scaled by α/r: (α/r)·B A x."),
                      (base + alpha * update, "Scale by α/r, not by α: the factor keeps the update's size when the "
                                              "rank changes."),
                      (base, "The low-rank update (α/r)·B A x is missing."),
                      (x @ W.T + (alpha / r) * update, "The base layer's bias b is missing.")]:
        if got[0].shape == out.shape and np.allclose(got[0], out):
            return hint
    return None


@register("5.3-lora-forward", "5.3", "implement", "A LoRA layer's forward pass")
def check_lora_forward(fn: Any) -> bool:
    """``fn(x, W, b, A, B, alpha)`` -> x Wᵀ + b + (α/r)(x Aᵀ) Bᵀ (eq-lora for a batch of rows), with x: (N, d_in),
    W: (d_out, d_in), b: (d_out,), A: (r, d_in), B: (d_out, r); returns (N, d_out).  Compared with
    ``dlbook.finetune.LoRALinear``."""
    return compare(fn, _lora_reference, _lora_cases(), argument="fn", diagnose=_lora_hint,
                   error_hint="x holds one example per row: the base layer is x @ W.T + b, and the update "
                              "(x @ A.T) @ B.T never forms the d_out × d_in product B A.",
                   success="Your LoRA forward agrees with dlbook's LoRALinear")


explore("5.3-step-limit", "5.3", "Where did the runs with every label keep their weights? (the sweep's explorer)")
