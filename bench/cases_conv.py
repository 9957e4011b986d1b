"""conv2d and 2×2 max-pool, forward + backward, float32, vs torch.nn.functional (or the naive loops).

With PyTorch: the issue's sizes (batch 64).  Without it: a much smaller input,
against :func:`dlbook.functional.conv.conv2d_reference` (the naive loops, so the
ratio there is far below 1).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from bench.common import Case, torch_available


def _conv_step(fn: Callable, x: np.ndarray, w: np.ndarray, b: np.ndarray, g: np.ndarray) -> Callable[[], None]:
    from dlbook.autograd import Tensor

    def step() -> None:
        xt, wt, bt = Tensor(x, requires_grad=True), Tensor(w, requires_grad=True), Tensor(b, requires_grad=True)
        fn(xt, wt, bt, stride=1, padding=1).backward(g)

    return step


def _torch_conv_step(x: np.ndarray, w: np.ndarray, b: np.ndarray, g: np.ndarray) -> Callable[[], None]:
    import torch

    tx, tw, tb, tg = (torch.from_numpy(a) for a in (x, w, b, g))

    def step() -> None:
        xt, wt, bt = (t.clone().requires_grad_(True) for t in (tx, tw, tb))
        torch.nn.functional.conv2d(xt, wt, bt, stride=1, padding=1).backward(tg)

    return step


def _conv_case(batch: int, c_in: int, c_out: int, size: int, target: float) -> Case:
    from dlbook.functional.conv import conv2d, conv2d_reference

    rng = np.random.default_rng(0)
    if not torch_available():
        batch, size = 1, 6
    x = rng.standard_normal((batch, c_in, size, size)).astype(np.float32)
    w = (rng.standard_normal((c_out, c_in, 3, 3)) * 0.1).astype(np.float32)
    b = np.zeros(c_out, dtype=np.float32)
    g = rng.standard_normal((batch, c_out, size, size)).astype(np.float32)
    if torch_available():
        ref, ref_name = _torch_conv_step(x, w, b, g), "torch"
    else:
        ref, ref_name = _conv_step(conv2d_reference, x, w, b, g), "naive"
    return Case(name=f"conv2d fwd+bwd {batch}×{c_in}→{c_out} {size}×{size} k3 p1 f32",
                ours=_conv_step(conv2d, x, w, b, g), reference=ref, reference_name=ref_name,
                target=target if torch_available() else None,
                unit_of_work=float(batch), unit_name="images")


def _naive_max_pool(x: np.ndarray, g: np.ndarray) -> Callable[[], None]:
    """Fallback reference: reshape into 2×2 blocks, max and arg-max per block."""

    def step() -> None:
        n, c, h, w = x.shape
        blocks = x.reshape(n, c, h // 2, 2, w // 2, 2).transpose(0, 1, 2, 4, 3, 5).reshape(n, c, h // 2, w // 2, 4)
        arg = blocks.argmax(axis=-1)
        grad = np.zeros_like(blocks)
        np.put_along_axis(grad, arg[..., None], g[..., None], axis=-1)
        grad.reshape(n, c, h // 2, w // 2, 2, 2).transpose(0, 1, 2, 4, 3, 5).reshape(n, c, h, w)

    return step


def _pool_cases() -> list[Case]:
    from dlbook.autograd import Tensor
    from dlbook.functional.conv import MaxPool2d, max_pool2d

    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 16, 32, 32)).astype(np.float32)
    g = rng.standard_normal((64, 16, 16, 16)).astype(np.float32)

    def ours() -> None:
        max_pool2d(Tensor(x, requires_grad=True), 2).backward(g)

    if torch_available():
        import torch

        tx, tg = torch.from_numpy(x), torch.from_numpy(g)

        def ref() -> None:
            torch.nn.functional.max_pool2d(tx.clone().requires_grad_(True), 2).backward(tg)

        ref_name = "torch"
    else:
        ref, ref_name = _naive_max_pool(x, g), "numpy"
    def general() -> None:
        MaxPool2d.apply(Tensor(x, requires_grad=True), kernel=(2, 2), stride=(2, 2), padding=(0, 0),
                        out_size=(16, 16)).backward(g)

    return [Case(name="max_pool2d 2×2 fwd+bwd (64,16,32,32) f32", ours=ours, reference=ref, reference_name=ref_name,
                 target=1.0 if torch_available() else None,
                 notes="dlbook.kernels.pool.MaxPool2x2 (what max_pool2d runs for 2×2, stride 2)"),
            Case(name="  the same by the general MaxPool2d (any window)", ours=general, reference=ref,
                 reference_name=ref_name, notes="the readable kernel that MaxPool2x2 is tested equal to, bit for bit")]


def cases() -> list[Case]:
    return [_conv_case(64, 3, 16, 32, 1.5), _conv_case(64, 16, 32, 16, 3.0), *_pool_cases()]
