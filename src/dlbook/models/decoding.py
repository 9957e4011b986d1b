"""Sampling a continuation from a decoder language model (the GPT, the Llama), with or without a KV cache.

Without a cache, the step that sees t tokens runs all t positions again: t times the projections and
feed-forward, and t queries over t keys, O(t²) attention.  With the cache (:class:`~dlbook.nn.KVCache`),
the prompt runs once (*prefill*) and then each new token runs alone: one position's projections and one
query over the t cached keys, O(t).  Both compute the same logits to rounding, and with the same ``rng``
they draw the same tokens.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from dlbook._checks import check_integer, check_positive_int, check_rng
from dlbook.modes import eval_mode
from dlbook.sampling import next_token_distribution


def generate(model: Any, prompt: Any, max_new_tokens: int, *, rng: np.random.Generator, temperature: float = 1.0,
             top_k: int | None = None, top_p: float | None = None,
             use_cache: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Sample ``max_new_tokens`` tokens after ``prompt`` (1-D ids): (new ids (n,), each one's probability (n,)).

    ``model``: called as ``model(ids (1, T), cache)`` -> logits (1, T, V), with ``config.context`` and
    ``new_cache()``.  ``use_cache=False`` runs the last ``context`` tokens for every new token (the window
    slides once the text outgrows the context).  ``use_cache=True`` runs the prompt once and each new token
    alone; prompt and new tokens must then fit in the context the cache holds.  Each token is drawn from
    :func:`~dlbook.sampling.next_token_distribution` (temperature, top-k, top-p) with ``rng``.
    """
    idx = np.asarray(prompt)
    if idx.size == 0:
        raise ValueError("prompt is empty: give at least one token to continue from")
    check_integer("prompt", idx)
    seq = [int(i) for i in idx.reshape(-1)]
    context = model.config.context
    if len(seq) > context:
        raise ValueError(f"prompt is {len(seq)} tokens long, longer than the model's context ({context})")
    check_rng(rng)
    max_new_tokens = check_positive_int("max_new_tokens", max_new_tokens)
    if use_cache and len(seq) + max_new_tokens - 1 > context:
        raise ValueError(f"prompt ({len(seq)} tokens) + max_new_tokens ({max_new_tokens}) − 1 exceed the "
                         f"context ({context}) that the KV cache holds; use_cache=False slides the window")
    cache = model.new_cache() if use_cache else None
    new, probs = [], []
    with eval_mode(model):
        unseen = seq                                    # the tokens the cache does not hold yet
        for _ in range(max_new_tokens):
            window = unseen if use_cache else seq[-context:]
            logits = model(np.array([window], dtype=np.int64), cache).data[0, -1]
            p = next_token_distribution(logits, temperature, top_k, top_p)
            i = int(rng.choice(p.size, p=p))
            new.append(i)
            probs.append(float(p[i]))
            seq.append(i)
            unseen = [i]
    return np.asarray(new, dtype=np.int64), np.asarray(probs)
