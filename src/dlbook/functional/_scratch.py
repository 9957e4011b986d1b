"""Reusable work buffers for temporaries that never leave one call of a fused op.

Allocating and freeing many megabytes per call makes glibc hand the memory back
to the operating system, and touching it again costs a page fault per 4 kB
(measured 1.3–1.8× slower on the convolution and LSTM backward passes).  A
buffer is kept per (tag, shape, dtype); the oldest is dropped past a limit.
"""

from __future__ import annotations

from typing import Any

import numpy as np

_BUFFERS: dict[tuple[str, tuple[int, ...], str], np.ndarray] = {}
_LIMIT = 64


def scratch(tag: str, shape: tuple[int, ...], dtype: Any) -> np.ndarray:
    """An uninitialised buffer for a temporary of one call (contents are garbage).

    Never use it for anything that is saved for the backward pass or returned:
    the next call with the same tag, shape and dtype overwrites it.
    """
    key = (tag, tuple(shape), np.dtype(dtype).str)
    buf = _BUFFERS.get(key)
    if buf is None:
        if len(_BUFFERS) >= _LIMIT:
            _BUFFERS.pop(next(iter(_BUFFERS)))
        buf = _BUFFERS[key] = np.empty(shape, dtype=dtype)
    return buf
