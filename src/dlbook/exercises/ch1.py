"""Exercises of chapter 1, Background: training compute (6·N·D), training memory, LoRA's parameter count.

Use in a notebook cell: ``from dlbook.exercises import ch1`` then ``ch1.check_training_flops(answer)``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from dlbook.costs import ADAM_BYTES, GRAD_BYTES, WEIGHT_BYTES, lora_parameters, training_flops, training_memory
from dlbook.exercises._answers import Mistake, check_number
from dlbook.exercises._compare import compare
from dlbook.exercises._registry import explore, register

#: The model of the compute exercise: 1.3 G parameters, trained on Chinchilla's 20 tokens per parameter.
FLOPS_PARAMS, TOKENS_PER_PARAM = 1.3e9, 20
#: The model of the memory exercise: 3 G parameters, fully fine-tuned with mixed-precision Adam.
MEMORY_PARAMS = 3e9
GB = 1e9


@register("1-training-flops", "1", "compute", "Training compute of a Chinchilla-optimal 1.3 G model")
def check_training_flops(answer: Any) -> bool:
    """Training FLOPs of a 1.3 G-parameter model trained on 20 tokens per parameter, by C ≈ 6·N·D.

    ``answer``: a number of floating-point operations, e.g. ``2.5e21``; right within 1 %.
    """
    n, d = FLOPS_PARAMS, TOKENS_PER_PARAM * FLOPS_PARAMS
    mistakes = [
        Mistake(2 * n * d, "That is the forward pass alone (2·N per token); the backward pass costs another 4·N."),
        Mistake(4 * n * d, "That is the backward pass alone (4·N per token); add the forward pass's 2·N."),
        Mistake(6 * n * n, "D is the number of training tokens: Chinchilla's rule gives 20 tokens per parameter."),
        Mistake(n * d, "Each token costs about 6 operations per parameter, not 1 (2 forward, 4 backward)."),
        Mistake(6 * n * TOKENS_PER_PARAM, "D is tokens, not tokens per parameter: multiply by N."),
    ]
    return check_number("answer", answer, training_flops(n, d), rel_tol=0.01, mistakes=mistakes, unit="FLOPs",
                        hint="Find D from Chinchilla's rule first, then use C ≈ 6·N·D (eq-training-flops).")


@register("1-finetune-memory", "1", "compute", "Memory of fully fine-tuning a 3 G model with Adam")
def check_finetune_memory(answer: Any) -> bool:
    """Gigabytes (10^9 bytes) of model state to fully fine-tune 3 G parameters with mixed-precision Adam.

    ``answer``: a number of GB; right within 1 %.  Activations are not counted.
    """
    n = MEMORY_PARAMS
    expected = training_memory(n, n)["total"] / GB
    mistakes = [
        Mistake(WEIGHT_BYTES * n / GB, "That is the 16-bit weights alone. Every trained parameter also has a "
                                       "gradient and Adam's optimizer state."),
        Mistake((WEIGHT_BYTES + GRAD_BYTES) * n / GB, "Weights and gradients, but not the optimizer state: "
                                                      "a 32-bit master copy and Adam's two moments."),
        Mistake((WEIGHT_BYTES + ADAM_BYTES) * n / GB, "You left out the 16-bit gradient of every trained weight."),
        Mistake(ADAM_BYTES * n / GB, "That is the optimizer state alone; the weights and gradients come on top."),
        Mistake(4 * n / GB, "4 bytes per parameter is one 32-bit copy; count everything (eq-training-memory)."),
    ]
    return check_number("answer", answer, expected, rel_tol=0.01, mistakes=mistakes, unit="GB",
                        hint="Count the bytes per trained parameter in eq-training-memory, then convert to GB.")


def _lora_cases() -> list[dict[str, Any]]:
    rng = np.random.default_rng(1)
    cases = [dict(n_layers=32, d_model=4096, rank=8), dict(n_layers=40, d_model=5120, rank=1)]
    for _ in range(4):
        cases.append(dict(n_layers=int(rng.integers(1, 100)), d_model=int(rng.integers(8, 20000)),
                          rank=int(rng.integers(1, 65))))
    return cases


def _lora_hint(case: dict[str, Any], got: tuple[np.ndarray, ...]) -> str | None:
    layers, d, r = case["n_layers"], case["d_model"], case["rank"]
    value = float(got[0])
    if value == layers * r * 2 * d or value == layers * 2 * r * d:
        return "Half of it: each adapted matrix gets two factors (B: d×r, A: r×d), in two matrices per layer."
    if value == 2 * r * 2 * d:
        return "That is one layer; every layer has its own adapters."
    if value == layers * 2 * d * d:
        return "That is the full d×d matrices; LoRA trains only the thin factors B and A."
    return None


@register("1-lora-count", "1", "implement", "LoRA's trainable parameters from the model's shape")
def check_lora_parameters(fn: Any) -> bool:
    """``fn(n_layers, d_model, rank)`` -> LoRA's trainable parameters, adapting the query and value
    projections (d×d each) of every layer, compared with :func:`dlbook.costs.lora_parameters`."""
    return compare(fn, lora_parameters, _lora_cases(), argument="fn", outputs=("the count",), diagnose=_lora_hint,
                   success="Your count agrees with dlbook.costs.lora_parameters")


explore("1-one-gpu", "1", "Which models can be fine-tuned on one 80 GB GPU, fully and with LoRA? (costs explorer)")
