"""Exercises of chapter 7, Tools and resources: the parameters of the parity CNN read from its PyTorch definition,
the memory of training the GPT in float32 with AdamW, dlbook's warm-up and cosine schedule as the lambda PyTorch's
``LambdaLR`` takes, and what the names without a PyTorch counterpart have in common.

Use in a notebook cell: ``from dlbook.exercises import ch7`` then ``ch7.check_cnn_parameters(answer)``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from dlbook.exercises._answers import Mistake, check_number
from dlbook.exercises._compare import compare
from dlbook.exercises._registry import explore, register
from dlbook.exercises._shipped import base_gpt
from dlbook.optim import warmup_cosine

#: Bytes per parameter when training in float32 with AdamW: the weight, its gradient, Adam's two moments.
FLOAT32 = 4
MB = 1e6


@register("7-cnn-parameters", "7", "compute", "The parity CNN's parameters, read from its PyTorch definition")
def check_cnn_parameters(answer: Any) -> bool:
    """The parameters of ``nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
    nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(32 * 2 * 2, 10))``, the
    PyTorch twin of dlbook's ``DigitsCNN``.  ``answer``: an int; checked exactly.
    """
    from dlbook.models.cnn import DigitsCNN

    model = DigitsCNN(rng=np.random.default_rng(0))
    expected = model.num_parameters()
    shapes = {name: p.data.shape for name, p in model.named_parameters()}
    weights = sum(math.prod(s) for name, s in shapes.items() if len(s) > 1)
    conv2 = [s for s in shapes.values() if len(s) == 4][1]
    mistakes = [
        Mistake(weights, "Every Conv2d and Linear has a bias too: one number per output channel or feature."),
        Mistake(expected - math.prod(conv2) + conv2[0] * 9, "The second convolution sees all 16 input channels: its "
                                                            "weight is (32, 16, 3, 3)."),
        Mistake(expected + 2 * 16 + 2 * 32, "ReLU, MaxPool2d and Flatten have no parameters."),
        Mistake(expected - 32 * 4 * 10 + 32 * 8 * 8 * 10, "Two poolings halve 8×8 twice: the Linear layer reads "
                                                          "32 channels of 2×2."),
    ]
    return check_number("answer", answer, expected, abs_tol=0.5, mistakes=mistakes, unit="parameters",
                        hint="Conv2d(c_in, c_out, k): c_out·c_in·k·k weights and c_out biases; Linear(a, b): a·b + b.")


@register("7-adamw-memory", "7", "compute", "The memory of training the GPT in float32 with AdamW")
def check_adamw_memory(answer: Any) -> bool:
    """Megabytes (10⁶ bytes) that the shipped GPT's weights, gradients and AdamW state take when it is trained in
    float32 (PyTorch's default), every parameter trainable; activations not counted.

    ``answer``: a number of MB; right within 1 %.
    """
    from dlbook.costs import training_memory

    n = base_gpt()[0].num_parameters()
    expected = training_memory(n, n, weight_bytes=FLOAT32, grad_bytes=FLOAT32,
                               optimizer_bytes=2 * FLOAT32)["total"] / MB
    mistakes = [
        Mistake(FLOAT32 * n / MB, "That is the weights alone; training also holds a gradient and AdamW's two "
                                  "moments for every parameter."),
        Mistake(2 * FLOAT32 * n / MB, "Weights and gradients; AdamW adds two moments (m and v) per parameter."),
        Mistake(3 * FLOAT32 * n / MB, "AdamW keeps two moments per parameter, m and v, besides the weight and its "
                                      "gradient."),
        Mistake(n * (FLOAT32 * 4) / 2**20, "Use 1 MB = 10⁶ bytes here (not 2²⁰)."),
    ]
    return check_number("answer", answer, expected, rel_tol=0.01, mistakes=mistakes, unit="MB",
                        hint="4 bytes each for the weight, its gradient, and AdamW's m and v; times the parameters.")


# ---- implement: the schedule as PyTorch's LambdaLR wants it -------------------------------------------------------

def _lambda_reference(step: int, total_steps: int, warmup_steps: int, min_ratio: float) -> float:
    return warmup_cosine(step, total_steps, warmup_steps, max_lr=1.0, min_lr=min_ratio)


def _lambda_cases() -> list[dict[str, Any]]:
    cases = []
    for total, warmup, ratio in [(100, 10, 0.1), (50, 0, 0.0), (1000, 30, 0.05)]:
        for step in sorted({0, 1, warmup // 2, max(warmup - 1, 0), warmup, (total + warmup) // 2, total - 1, total}):
            cases.append(dict(step=step, total_steps=total, warmup_steps=warmup, min_ratio=ratio))
    return cases


def _lambda_hint(case: dict[str, Any], got: tuple[np.ndarray, ...]) -> str | None:
    step, total, warmup, ratio = case.values()
    value = float(got[0])
    if step < warmup and math.isclose(value, step / warmup, abs_tol=1e-9):
        return "Warm-up counts from step + 1: step 0 already trains, with rate max_lr / warmup_steps, not 0."
    if step >= warmup:
        progress = min(1.0, (step - warmup) / max(1, total - warmup))
        if math.isclose(value, 0.5 * (1 + math.cos(math.pi * progress)), abs_tol=1e-9):
            return "The cosine ends at min_ratio, not 0: min_ratio + ½(1 − min_ratio)(1 + cos πt)."
        if math.isclose(value, ratio + 0.5 * (1 - ratio) * (1 + math.cos(math.pi * min(1.0, step / total))),
                        abs_tol=1e-9):
            return "Measure the cosine's progress from the end of the warm-up: t = (step − warmup)/(total − warmup)."
    return None


@register("7-lambda-lr", "7", "implement", "The warm-up and cosine schedule as a LambdaLR lambda")
def check_lambda_lr(fn: Any) -> bool:
    """``fn(step, total_steps, warmup_steps, min_ratio)`` -> the factor PyTorch's ``LambdaLR`` multiplies the base
    learning rate by at ``step``: dlbook's ``warmup_cosine`` with max_lr = 1 and min_lr = min_ratio.  Compared with
    ``dlbook.optim.warmup_cosine``."""
    return compare(fn, _lambda_reference, _lambda_cases(), argument="fn", outputs=("the factor",),
                   diagnose=_lambda_hint,
                   error_hint="Handle warmup_steps = 0: then there is no warm-up branch at all.",
                   success="Your schedule agrees with dlbook's warmup_cosine")


explore("7-no-counterpart", "7", "What do the dlbook names without a PyTorch counterpart have in common?")
