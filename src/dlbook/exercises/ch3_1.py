"""Exercises of §3.1, Neural network basics: counting parameters, cross-entropy by hand, softmax, a neuron.

Use in a notebook cell: ``from dlbook.exercises import ch3_1`` then ``ch3_1.check_param_count(answer)``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from dlbook.exercises._answers import Mistake, check_number
from dlbook.exercises._compare import compare
from dlbook.exercises._registry import explore, register
from dlbook.functional import log_softmax_array, sigmoid_array, softmax_array

#: The MLP of the counting exercise: MNIST's 28×28 = 784 pixels, hidden layers of 256 and 128, 10 classes.
SIZES = (784, 256, 128, 10)
#: The cross-entropy exercise: three logits and the index of the true class.
LOGITS, TARGET = (2.0, 1.0, 0.1), 0


@register("3.1-param-count", "3.1", "compute", "Parameters of MLP([784, 256, 128, 10])")
def check_param_count(answer: Any) -> bool:
    """The number of parameters of ``MLP([784, 256, 128, 10])``.  ``answer``: an int; checked exactly."""
    pairs = list(zip(SIZES[:-1], SIZES[1:]))
    weights, biases = sum(a * b for a, b in pairs), sum(b for _, b in pairs)
    mistakes = [
        Mistake(weights, "You counted the weights only: every neuron after the input layer also has a bias."),
        Mistake(weights + biases + SIZES[0], "The input layer is the data: it has no bias of its own."),
        Mistake(weights + biases - SIZES[-1] * SIZES[-2] - SIZES[-1], "Count the output layer too: it is a "
                                                                       "Linear layer with weights and biases."),
        Mistake(weights + SIZES[-1], "Only the output layer has a bias in your count; each Linear layer has one."),
        Mistake(int(np.prod(SIZES)), "Layers are connected pairwise: add a·b + b for each neighbouring pair."),
    ]
    return check_number("answer", answer, weights + biases, abs_tol=0.5, mistakes=mistakes, unit="parameters",
                        hint="Each Linear layer from a to b neurons holds a·b weights and b biases.")


@register("3.1-cross-entropy", "3.1", "compute", "Cross-entropy of three logits, by hand")
def check_cross_entropy(answer: Any) -> bool:
    """The cross-entropy loss of the logits (2.0, 1.0, 0.1) when the true class is 0, in nats (natural log).

    ``answer``: a number; right to within ±0.001.
    """
    z = np.array(LOGITS)
    logp, p = log_softmax_array(z), softmax_array(z)
    mistakes = [
        Mistake(p[TARGET], "That is the probability of the true class; the loss is its negative logarithm."),
        Mistake(-logp[TARGET] / math.log(10), "Use the natural logarithm (ln), not log10: the loss is in nats."),
        Mistake(-logp[TARGET] / math.log(2), "Use the natural logarithm (ln), not log2: the loss is in nats."),
        Mistake(-z[TARGET], "Turn the logits into probabilities with softmax before taking the logarithm."),
        Mistake(-math.log(z[TARGET] / z.sum()), "Softmax exponentiates the logits before it normalises them."),
    ]
    mistakes += [Mistake(-logp[k], f"That is the loss if the true class were {k}; the true class is {TARGET}.")
                 for k in range(len(z)) if k != TARGET]
    return check_number("answer", answer, -logp[TARGET], abs_tol=1e-3, mistakes=mistakes, unit="nats",
                        hint="softmax the logits (eq-softmax), then E = −ln p[true class] (eq-cross-entropy).")


def _softmax_cases() -> list[dict[str, Any]]:
    rng = np.random.default_rng(31)
    return [dict(z=3 * rng.standard_normal(shape)) for shape in [(5,), (3, 4), (4, 3), (2, 3, 6), (1, 1)]]


def _softmax_hint(case: dict[str, Any], got: tuple[np.ndarray, ...]) -> str | None:
    z = case["z"]
    if z.ndim >= 2 and got[0].shape == z.shape and np.allclose(got[0], softmax_array(z, axis=0)):
        return "You normalised along axis 0; softmax works along the last axis (each row sums to 1)."
    if got[0].shape == z.shape and np.allclose(got[0], np.exp(z) / np.exp(z).sum()):
        return "You divided by the sum over the whole array; each row is normalised on its own (keepdims=True)."
    return None


@register("3.1-softmax", "3.1", "implement", "softmax over the last axis")
def check_softmax(fn: Any) -> bool:
    """``fn(z)`` -> softmax of ``z`` along its last axis, compared with ``dlbook.functional.softmax_array``."""
    return compare(fn, softmax_array, _softmax_cases(), argument="fn", diagnose=_softmax_hint,
                   error_hint="Sum along axis=-1 with keepdims=True, so the sums broadcast back over each row.",
                   success="Your softmax agrees with dlbook's")


def _neuron_reference(x: np.ndarray, w: np.ndarray, b: float) -> np.ndarray:
    return sigmoid_array(x @ w + b)


def _neuron_cases() -> list[dict[str, Any]]:
    rng = np.random.default_rng(32)
    return [dict(x=rng.standard_normal((n, k)), w=rng.standard_normal(k), b=float(rng.standard_normal()))
            for n, k in [(4, 3), (1, 5), (7, 2), (3, 1)]]


def _neuron_hint(case: dict[str, Any], got: tuple[np.ndarray, ...]) -> str | None:
    x, w, b = case.values()
    if got[0].shape == (len(x),) and np.allclose(got[0], sigmoid_array(x @ w)):
        return "The bias b is missing: it is added to the weighted sum before the activation."
    if got[0].shape == (len(x),) and np.allclose(got[0], x @ w + b):
        return "The activation is missing: pass the weighted sum through σ(z) = 1 / (1 + e^(−z))."
    return None


@register("3.1-neuron", "3.1", "implement", "A sigmoid neuron on a batch of inputs")
def check_neuron(fn: Any) -> bool:
    """``fn(x, w, b)`` -> σ(x·w + b) for every row of ``x`` (N, n), weights ``w`` (n,), bias ``b`` a number;
    returns (N,).  Compared with dlbook's ``sigmoid_array``."""
    return compare(fn, _neuron_reference, _neuron_cases(), argument="fn", diagnose=_neuron_hint,
                   error_hint="x holds one example per row: the weighted sums of all rows are x @ w.",
                   success="Your neuron agrees with dlbook's sigmoid")


explore("3.1-narrow-network", "3.1", "How narrow can the spirals network be? (change the hidden widths)")
