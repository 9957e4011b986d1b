"""The scratch-buffer cache shared by the fused convolution and recurrent ops."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from dlbook.kernels import _scratch


@pytest.fixture()
def empty_cache(monkeypatch: pytest.MonkeyPatch) -> dict:
    monkeypatch.setattr(_scratch, "_LOCAL", threading.local())     # a fresh, empty set of buffers
    return _scratch._buffers()


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


def test_threads_get_their_own_buffers() -> None:
    mine = _scratch.scratch("t.thread", (4,), np.float64)
    theirs: list[np.ndarray] = []
    worker = threading.Thread(target=lambda: theirs.append(_scratch.scratch("t.thread", (4,), np.float64)))
    worker.start()
    worker.join()
    assert theirs[0] is not mine
    assert _scratch.scratch("t.thread", (4,), np.float64) is mine


def _lstm_grads(seed: int, rounds: int) -> list[np.ndarray]:
    """Weight gradients of an LSTM (fused op, which uses scratch buffers) after each of ``rounds`` backward passes."""
    from dlbook import nn

    rng = np.random.default_rng(seed)
    lstm = nn.LSTM(6, 24, num_layers=2, rng=rng)
    out = []
    for _ in range(rounds):
        x = rng.standard_normal((8, 12, 6))
        y, _ = lstm(x)
        for p in lstm.parameters():
            p.grad = None
        (y * y).sum().backward()
        out += [p.grad.copy() for p in lstm.parameters()]
    return out


def _conv_grads(seed: int, rounds: int) -> list[np.ndarray]:
    """Weight and input gradients of a Conv2d (fast im2col kernel, scratch buffers) after each backward pass."""
    from dlbook import nn
    from dlbook.autograd import Tensor

    rng = np.random.default_rng(seed)
    conv = nn.Conv2d(3, 8, 3, padding=1, rng=rng)
    out = []
    for _ in range(rounds):
        x = Tensor(rng.standard_normal((6, 3, 14, 14)), requires_grad=True)
        y = conv(x)
        for p in conv.parameters():
            p.grad = None
        (y * y).sum().backward()
        out += [p.grad.copy() for p in conv.parameters()] + [x.grad.copy()]
    return out


@pytest.mark.parametrize("grads", [_lstm_grads, _conv_grads], ids=["lstm", "conv2d"])
def test_threads_training_at_once_get_the_single_threaded_gradients(grads) -> None:  # noqa: ANN001
    """Same shapes in every thread, so with one shared set of buffers they would overwrite each other."""
    threads, rounds = 4, 6
    want = [grads(seed, rounds) for seed in range(threads)]
    got: dict[int, list[np.ndarray]] = {}
    errors: list[BaseException] = []
    start = threading.Barrier(threads)

    def run(seed: int) -> None:
        try:
            start.wait()                                   # all threads compute at the same time
            got[seed] = grads(seed, rounds)
        except BaseException as err:   # noqa: BLE001 - reported below, in the test's thread
            errors.append(err)

    workers = [threading.Thread(target=run, args=(seed,)) for seed in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert not errors, errors
    for seed in range(threads):
        assert len(got[seed]) == len(want[seed])
        for k, (g, w) in enumerate(zip(got[seed], want[seed])):
            np.testing.assert_array_equal(g, w, err_msg=f"thread {seed}, gradient {k}")
