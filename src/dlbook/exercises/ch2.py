"""Exercises of chapter 2, Core concepts: a network's parameters, the CNN's shapes, a forward pass by hand.

Use in a notebook cell: ``from dlbook.exercises import ch2`` then ``ch2.check_mlp_parameters(answer)``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from dlbook import functional as F
from dlbook.exercises._answers import Mistake, check_number, check_shape
from dlbook.exercises._compare import compare
from dlbook.exercises._registry import explore, register
from dlbook.functional import conv_output_size

#: The network of the parameter exercise: 10 inputs, one hidden layer of 20, 3 outputs.
WIDTHS = (10, 20, 3)
#: The shape exercise: a batch of 3 grey images of 16×16 through DigitsCNN's two conv + pool blocks.
BATCH, SIDE, CHANNELS = 3, 16, (16, 32)


@register("2-mlp-parameters", "2", "compute", "Parameters of a 10 → 20 → 3 network")
def check_mlp_parameters(answer: Any) -> bool:
    """The number of weights and biases of a network with 10 inputs, 20 hidden neurons and 3 outputs.

    ``answer``: an int; checked exactly.
    """
    pairs = list(zip(WIDTHS[:-1], WIDTHS[1:]))
    weights, biases = sum(a * b for a, b in pairs), sum(b for _, b in pairs)
    mistakes = [
        Mistake(weights, "You counted the weight matrices only: every neuron of the hidden and the output layer "
                         "also has a bias."),
        Mistake(weights + biases + WIDTHS[0], "The input layer is the data itself: it has no bias."),
        Mistake(int(np.prod(WIDTHS)), "Weights connect neighbouring layers only: add one matrix per pair of layers, "
                                      "do not multiply all the widths."),
        Mistake(sum(WIDTHS), "That counts neurons; the question asks for weights and biases."),
    ]
    return check_number("answer", answer, weights + biases, abs_tol=0.5, mistakes=mistakes, unit="parameters",
                        hint="A layer from a to b neurons has a weight matrix of shape (b, a) and a bias of b.")


def _after_blocks(side: int, blocks: int) -> int:
    for _ in range(blocks):
        side = conv_output_size(side, 3, 1, 1)      # the 3×3 convolution with padding 1 keeps the size
        side = conv_output_size(side, 2, 2, 0)      # the 2×2 max-pool halves it
    return side


@register("2-cnn-shape", "2", "compute", "DigitsCNN's feature maps for 16×16 images")
def check_pool_shape(answer: Any) -> bool:
    """The shape of the second MaxPool2d's output when DigitsCNN's ``features`` read 3 images of 16×16.

    ``answer``: a tuple of ints such as ``(2, 8, 5, 5)``; checked exactly.
    """
    n, (c1, c2) = BATCH, CHANNELS
    expected = (n, c2, _after_blocks(SIDE, 2), _after_blocks(SIDE, 2))
    one, none, eight = _after_blocks(SIDE, 1), SIDE, _after_blocks(8, 2)
    mistakes = [
        Mistake((n, c2, one, one), "You halved the size once; each of the two blocks ends in a 2×2 max-pool."),
        Mistake((n, c2, none, none), "The convolutions keep the size (padding 1), but every max-pool halves it."),
        Mistake((n, c2, eight, eight), "That is the shape for 8×8 digits; these images are 16×16."),
        Mistake((n, c1) + expected[2:], "The channels are the filters of the *last* convolution before the pool."),
        Mistake(expected[1:], "Keep the batch axis: the first axis is N, the number of images."),
        Mistake((n,) + expected[2:] + (c2,), "dlbook, like PyTorch, puts channels before height and width: "
                                             "(N, C, H, W)."),
    ]
    return check_shape("answer", answer, expected, mistakes=mistakes,
                       hint="Follow the image through both blocks: 3×3 convolution (padding 1), ReLU, 2×2 max-pool.")


def _forward_reference(x: np.ndarray, w1: np.ndarray, b1: np.ndarray, w2: np.ndarray, b2: np.ndarray) -> np.ndarray:
    return F.linear(F.tanh(F.linear(x, w1, b1)), w2, b2).data


def _forward_cases() -> list[dict[str, Any]]:
    rng = np.random.default_rng(2)
    cases = []
    for n, a, h, b in [(2, 4, 5, 3), (1, 3, 7, 2), (6, 5, 4, 8), (3, 2, 2, 2)]:
        cases.append(dict(x=rng.standard_normal((n, a)), W1=rng.standard_normal((h, a)), b1=rng.standard_normal(h),
                          W2=rng.standard_normal((b, h)), b2=rng.standard_normal(b)))
    return cases


def _forward_hint(case: dict[str, Any], got: tuple[np.ndarray, ...]) -> str | None:
    x, w1, b1, w2, b2 = case.values()
    candidates = {
        "Apply tanh to the hidden layer: without it two linear layers are one linear layer.":
            (x @ w1.T + b1) @ w2.T + b2,
        "No activation on the output layer: its raw scores are the output.":
            np.tanh(np.tanh(x @ w1.T + b1) @ w2.T + b2),
        "Each layer adds its own bias, after the product with its own weights.":
            np.tanh(x @ w1.T) @ w2.T + b2,
    }
    for hint, wrong in candidates.items():
        if wrong.shape == got[0].shape and np.allclose(got[0], wrong):
            return hint
    return None


@register("2-forward", "2", "implement", "The forward pass of the two-layer network of 2.1")
def check_forward(fn: Any) -> bool:
    """``fn(x, W1, b1, W2, b2)`` -> the outputs of Linear, Tanh, Linear for a batch ``x`` of shape (N, in),
    weights (out, in) as in ``nn.Linear``; compared with dlbook's ``F.linear`` and ``F.tanh``."""
    return compare(fn, _forward_reference, _forward_cases(), argument="fn", outputs=("the output",),
                   diagnose=_forward_hint, success="Your forward pass agrees with dlbook's layers",
                   error_hint="Weights are stored (out_features, in_features), as in nn.Linear: x @ W.T + b.")


explore("2-learning-rates", "2", "Why does fine-tuning use a smaller learning rate than training from scratch?")
