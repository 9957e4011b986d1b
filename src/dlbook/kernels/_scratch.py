"""Reusable work buffers for temporaries that never leave one call of a fused op.

Allocating and freeing many megabytes per call makes glibc hand the memory back
to the operating system, and touching it again costs a page fault per 4 kB
(``make bench TOPICS="conv rnn"`` shows what the reuse is worth).  A
buffer is kept per (tag, shape, dtype); the oldest are dropped when there are
more than :data:`MAX_BUFFERS` or they hold more than :data:`MAX_BYTES`.

Each thread has its own buffers (``threading.local``): two threads running the
same op on the same shapes would otherwise write into one buffer at once and
corrupt each other's gradients without any error.  The limits apply per thread.
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np

MAX_BUFFERS = 64
MAX_BYTES = 256 * 2**20

_LOCAL = threading.local()


def _buffers() -> dict[tuple[str, tuple[int, ...], str], np.ndarray]:
    """This thread's buffers, oldest first (created empty on a thread's first call)."""
    buffers = getattr(_LOCAL, "buffers", None)
    if buffers is None:
        buffers = _LOCAL.buffers = {}
    return buffers


def scratch(tag: str, shape: tuple[int, ...], dtype: Any) -> np.ndarray:
    """An uninitialised buffer for a temporary of one call (contents are garbage).

    Never use it for anything that is saved for the backward pass or returned:
    the next call in the same thread with the same tag, shape and dtype overwrites it.
    """
    key = (tag, tuple(shape), np.dtype(dtype).str)
    buffers = _buffers()
    buf = buffers.get(key)
    if buf is None:
        buf = np.empty(shape, dtype=dtype)
        while buffers and (len(buffers) >= MAX_BUFFERS
                           or sum(b.nbytes for b in buffers.values()) + buf.nbytes > MAX_BYTES):
            buffers.pop(next(iter(buffers)))               # the oldest first
        buffers[key] = buf
    return buf
