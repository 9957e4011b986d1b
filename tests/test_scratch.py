"""The scratch-buffer cache shared by the fused convolution and recurrent ops."""

from __future__ import annotations

import numpy as np
import pytest

from dlbook.functional import _scratch


@pytest.fixture()
def empty_cache(monkeypatch: pytest.MonkeyPatch) -> dict:
    cache: dict = {}
    monkeypatch.setattr(_scratch, "_BUFFERS", cache)
    return cache


def test_same_key_same_buffer(empty_cache: dict) -> None:
    a = _scratch.scratch("t.a", (3, 4), np.float32)
    assert a.shape == (3, 4) and a.dtype == np.float32
    assert _scratch.scratch("t.a", (3, 4), np.float32) is a
    assert _scratch.scratch("t.a", (3, 4), np.float64) is not a      # dtype is part of the key
    assert _scratch.scratch("t.a", (4, 3), np.float32) is not a      # and so is the shape
    assert _scratch.scratch("t.b", (3, 4), np.float32) is not a      # and the tag


def test_limits_drop_the_oldest(empty_cache: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_scratch, "MAX_BUFFERS", 3)
    monkeypatch.setattr(_scratch, "MAX_BYTES", 1000)
    first = _scratch.scratch("t.0", (10,), np.float64)                # 80 bytes
    for k in range(1, 4):
        _scratch.scratch(f"t.{k}", (10,), np.float64)
    assert len(empty_cache) == 3 and ("t.0", (10,), "<f8") not in empty_cache
    assert _scratch.scratch("t.0", (10,), np.float64) is not first    # it was dropped, so a new one comes back
    _scratch.scratch("t.big", (100,), np.float64)                     # 800 bytes: the byte budget drops the rest
    assert sum(b.nbytes for b in empty_cache.values()) <= 1000
    assert list(empty_cache)[-1] == ("t.big", (100,), "<f8")
