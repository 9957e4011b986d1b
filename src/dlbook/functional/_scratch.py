"""Reusable work buffers for temporaries that never leave one call of a fused op.

Allocating and freeing many megabytes per call makes glibc hand the memory back
to the operating system, and touching it again costs a page fault per 4 kB
(measured 1.3–1.8× slower on the convolution and LSTM backward passes).  A
buffer is kept per (tag, shape, dtype); the oldest are dropped when there are
more than :data:`MAX_BUFFERS` or they hold more than :data:`MAX_BYTES`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

MAX_BUFFERS = 64
MAX_BYTES = 256 * 2**20

_BUFFERS: dict[tuple[str, tuple[int, ...], str], np.ndarray] = {}


def scratch(tag: str, shape: tuple[int, ...], dtype: Any) -> np.ndarray:
    """An uninitialised buffer for a temporary of one call (contents are garbage).

    Never use it for anything that is saved for the backward pass or returned:
    the next call with the same tag, shape and dtype overwrites it.
    """
    key = (tag, tuple(shape), np.dtype(dtype).str)
    buf = _BUFFERS.get(key)
    if buf is None:
        buf = np.empty(shape, dtype=dtype)
        while _BUFFERS and (len(_BUFFERS) >= MAX_BUFFERS
                            or sum(b.nbytes for b in _BUFFERS.values()) + buf.nbytes > MAX_BYTES):
            _BUFFERS.pop(next(iter(_BUFFERS)))               # the oldest first
        _BUFFERS[key] = buf
    return buf
