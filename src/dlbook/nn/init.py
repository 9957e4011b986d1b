"""Weight initialisers.  Every one takes an explicit ``rng`` (np.random.Generator)."""

from __future__ import annotations

import math

import numpy as np

from dlbook._checks import check_rng


def _fans(shape: tuple[int, ...]) -> tuple[int, int]:
    """(fan_in, fan_out) for a (out, in, *kernel) weight, as PyTorch counts them."""
    if len(shape) < 2:
        raise ValueError(f"fan-in/fan-out need a weight with at least 2 dimensions, got shape {shape}")
    receptive = int(np.prod(shape[2:])) if len(shape) > 2 else 1
    return shape[1] * receptive, shape[0] * receptive


def xavier_uniform(shape: tuple[int, ...], rng: np.random.Generator, gain: float = 1.0) -> np.ndarray:
    """U(−a, a) with a = gain·√(6/(fan_in+fan_out)): keeps the variance of tanh/sigmoid layers steady."""
    check_rng(rng)
    fan_in, fan_out = _fans(shape)
    bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-bound, bound, size=shape)


def he_normal(shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
    """N(0, 2/fan_in): keeps the variance of ReLU layers steady (He et al. 2015)."""
    check_rng(rng)
    fan_in, _ = _fans(shape)
    return rng.standard_normal(shape) * math.sqrt(2.0 / fan_in)


def he_uniform(shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
    """U(−a, a) with a = √(6/fan_in): He initialisation, uniform form."""
    check_rng(rng)
    fan_in, _ = _fans(shape)
    bound = math.sqrt(6.0 / fan_in)
    return rng.uniform(-bound, bound, size=shape)


def lecun_uniform(shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
    """U(−1/√fan_in, 1/√fan_in): PyTorch's default for Linear and Conv2d weights and biases."""
    check_rng(rng)
    fan_in, _ = _fans(shape)
    bound = 1.0 / math.sqrt(fan_in)
    return rng.uniform(-bound, bound, size=shape)


INITIALISERS = {"xavier": xavier_uniform, "he": he_normal, "he_uniform": he_uniform, "default": lecun_uniform}
