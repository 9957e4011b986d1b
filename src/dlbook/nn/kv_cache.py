"""The KV cache (键值缓存): generation reuses the keys and values of the tokens it has already seen.

A decoder generates one token at a time, and the keys and values of earlier positions never change
(attention is causal), so each layer keeps them in preallocated arrays: the prompt is run once
(*prefill*, its keys and values written at positions 0 .. P−1), then every new token is run alone,
its key and value appended and attended over together with the cached ones.  Each step then costs
O(T) attention instead of recomputing the whole O(T²) window.

Its memory, for B sequences of T positions:

    bytes = 2 · layers · kv_heads · head_dim · T · B · bytes per number     (keys and values)

which is why grouped-query attention (fewer kv_heads) matters for serving.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from dlbook._checks import array_of, check_int, check_positive_int
from dlbook.autograd import is_grad_enabled


def kv_cache_bytes(num_layers: int, n_kv_heads: int, head_dim: int, length: int, dtype: Any = np.float32,
                   batch_size: int = 1) -> int:
    """2 · layers · kv_heads · head_dim · length · batch_size · (bytes per number of ``dtype``).

    Implements (eq-kv-cache-memory): the bytes of the keys and values a :class:`KVCache` of that shape holds.
    """
    for name, value in (("num_layers", num_layers), ("n_kv_heads", n_kv_heads), ("head_dim", head_dim),
                        ("batch_size", batch_size)):
        check_positive_int(name, value)
    check_int("length", length, 0)
    return 2 * num_layers * n_kv_heads * head_dim * length * batch_size * np.dtype(dtype).itemsize


class KVCache:
    """Keys and values of every layer, preallocated: ``keys[l]``, ``values[l]``: (B, n_kv_heads, max_length, head_dim).

    ``length`` positions are filled.  Each layer's attention calls :meth:`update` with its new keys and
    values (written at ``length`` ..) and reads back all filled positions; after all layers ran, the model
    calls :meth:`advance`.  The cache stores plain arrays (no graph): it is for generation, and :meth:`update`
refuses to run while gradients are recorded (use ``no_grad``).
    """

    def __init__(self, num_layers: int, batch_size: int, n_kv_heads: int, max_length: int, head_dim: int,
                 dtype: Any = np.float32) -> None:
        self.num_layers = check_positive_int("num_layers", num_layers)
        self.max_length = check_positive_int("max_length", max_length)
        shape = (check_positive_int("batch_size", batch_size), check_positive_int("n_kv_heads", n_kv_heads),
                 self.max_length, check_positive_int("head_dim", head_dim))
        self.keys = [np.zeros(shape, dtype=dtype) for _ in range(self.num_layers)]
        self.values = [np.zeros(shape, dtype=dtype) for _ in range(self.num_layers)]
        self.length = 0

    @property
    def nbytes(self) -> int:
        """Bytes held by the arrays (all ``max_length`` positions, filled or not)."""
        return sum(a.nbytes for a in self.keys + self.values)

    def update(self, layer: int, k: Any, v: Any) -> tuple[np.ndarray, np.ndarray]:
        """Write k, v: (B, n_kv_heads, T, head_dim) at positions ``length`` .. ``length`` + T − 1 of ``layer``;
        return the keys and values of positions 0 .. ``length`` + T − 1 (views of the cache)."""
        if is_grad_enabled():                 # the cache keeps plain arrays: no gradient would reach them
            raise ValueError("cache is for inference: use a KVCache inside dlbook.no_grad() (or eval_mode)")
        layer = check_int("layer", layer, 0, self.num_layers - 1)
        ka, va = array_of(k), array_of(v)
        b, h, _, d = self.keys[layer].shape
        for name, a in (("k", ka), ("v", va)):
            if a.ndim != 4 or a.shape[:2] != (b, h) or a.shape[3] != d:
                raise ValueError(f"{name} must have shape ({b}, {h}, T, {d}) to fit the cache, got {a.shape}")
        end = self.length + ka.shape[2]
        if end > self.max_length:
            raise ValueError(f"the cache holds {self.max_length} positions; {self.length} are filled and "
                             f"{ka.shape[2]} more do not fit")
        self.keys[layer][:, :, self.length:end] = ka
        self.values[layer][:, :, self.length:end] = va
        return self.keys[layer][:, :, :end], self.values[layer][:, :, :end]

    def advance(self, steps: int) -> None:
        """Mark ``steps`` more positions as filled (after every layer has written them)."""
        steps = check_int("steps", steps, 0)
        if self.length + steps > self.max_length:
            raise ValueError(f"steps={steps} would fill {self.length + steps} of {self.max_length} positions")
        self.length += steps

    def reset(self) -> None:
        """Forget every position (the arrays stay allocated)."""
        self.length = 0

    def __repr__(self) -> str:
        b, h, t, d = self.keys[0].shape
        return (f"KVCache(num_layers={self.num_layers}, batch_size={b}, n_kv_heads={h}, max_length={t}, "
                f"head_dim={d}, length={self.length}, nbytes={self.nbytes})")
