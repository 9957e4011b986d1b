"""The spine's benchmarks: an MLP training step, and the per-op overhead of autograd.

* MLP step: batch 64, 784 → 256 → 256 → 10 ReLU, float32 — forward, cross-entropy, backward, Adam step —
  against the same network in PyTorch (CPU), or against the step written out in plain numpy when PyTorch is
  not installed.
* Overhead: a chain of 100 small elementwise ops (tanh(h·1.01 + 0.01) − h·0.5, 20 times) on a (16,)-vector, forward and
  backward.  The arithmetic is negligible, so this measures what recording and walking the graph costs per op.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from bench.common import Case, torch_available

BATCH, SIZES = 64, (784, 256, 256, 10)
CHAIN, VEC = 100, 16


def _mlp_data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    return rng.standard_normal((BATCH, SIZES[0])).astype(np.float32), rng.integers(0, SIZES[-1], BATCH)


def _ours_mlp() -> tuple[Callable[[], None], object]:
    from dlbook import functional as F
    from dlbook import optim
    from dlbook.autograd import Tensor
    from dlbook.models import MLP

    model = MLP(SIZES, rng=np.random.default_rng(0), dtype=np.float32)
    opt = optim.Adam(model.parameters(), lr=1e-3)
    x, y = _mlp_data()

    def step() -> None:
        loss = F.cross_entropy(model(Tensor(x)), y)
        opt.zero_grad()
        loss.backward()
        opt.step()

    return step, model


def _torch_mlp(model: object) -> Callable[[], None]:
    import torch

    layers = []
    for i, (a, b) in enumerate(zip(SIZES[:-1], SIZES[1:])):
        layers.append(torch.nn.Linear(a, b))
        if i < len(SIZES) - 2:
            layers.append(torch.nn.ReLU())
    net = torch.nn.Sequential(*layers)
    ours = [p.data for p in model.parameters()]
    with torch.no_grad():
        for p, q in zip(net.parameters(), ours):
            p.copy_(torch.from_numpy(q))
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    x, y = (torch.from_numpy(a) for a in _mlp_data())

    def step() -> None:
        loss = torch.nn.functional.cross_entropy(net(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()

    return step


def _numpy_mlp(model: object) -> Callable[[], None]:
    """The same step written out by hand in numpy: the floor autograd's bookkeeping is measured against."""
    Ws = [p.data.copy() for p in model.parameters()]  # w1, b1, w2, b2, w3, b3
    ms = [np.zeros_like(w) for w in Ws]
    vs = [np.zeros_like(w) for w in Ws]
    x, y = _mlp_data()
    onehot = np.eye(SIZES[-1], dtype=np.float32)[y]
    t = [0]

    def step() -> None:
        h1 = np.maximum(x @ Ws[0].T + Ws[1], 0)
        h2 = np.maximum(h1 @ Ws[2].T + Ws[3], 0)
        z = h2 @ Ws[4].T + Ws[5]
        p = np.exp(z - z.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        g3 = (p - onehot) / BATCH
        g2 = (g3 @ Ws[4]) * (h2 > 0)
        g1 = (g2 @ Ws[2]) * (h1 > 0)
        grads = [g1.T @ x, g1.sum(0), g2.T @ h1, g2.sum(0), g3.T @ h2, g3.sum(0)]
        t[0] += 1
        step_size = 1e-3 * (1 - 0.999 ** t[0]) ** 0.5 / (1 - 0.9 ** t[0])
        for w, m, v, g in zip(Ws, ms, vs, grads):
            m *= 0.9
            m += 0.1 * g
            v *= 0.999
            v += 0.001 * (g * g)
            w -= step_size * m / (np.sqrt(v) + 1e-8)

    return step


def _ours_chain() -> Callable[[], None]:
    from dlbook import functional as F
    from dlbook.autograd import Tensor

    x0 = np.linspace(-1, 1, VEC)

    def step() -> None:
        x = Tensor(x0, requires_grad=True)
        h = x
        for _ in range(CHAIN // 5):  # 5 ops each: mul, add, tanh, mul, sub
            h = F.tanh(h * 1.01 + 0.01) - h * 0.5
        h.sum().backward()

    return step


def _torch_chain() -> Callable[[], None]:
    import torch

    x0 = torch.linspace(-1, 1, VEC, dtype=torch.float64)

    def step() -> None:
        x = x0.clone().requires_grad_(True)
        h = x
        for _ in range(CHAIN // 5):  # 5 ops each: mul, add, tanh, mul, sub
            h = torch.tanh(h * 1.01 + 0.01) - h * 0.5
        h.sum().backward()

    return step


def _numpy_chain() -> Callable[[], None]:
    """The same chain forward and backward by hand in numpy (no graph at all)."""
    x0 = np.linspace(-1, 1, VEC)

    def step() -> None:
        h, saved = x0, []
        for _ in range(CHAIN // 5):
            t = np.tanh(h * 1.01 + 0.01)
            saved.append(t)
            h = t - h * 0.5
        g = np.ones(VEC)
        for t in reversed(saved):
            g = g * (1 - t * t) * 1.01 - g * 0.5

    return step


def cases() -> list[Case]:
    ours_mlp, model = _ours_mlp()
    if torch_available():
        ref_mlp, ref_chain, name = _torch_mlp(model), _torch_chain(), "torch"
    else:
        ref_mlp, ref_chain, name = _numpy_mlp(model), _numpy_chain(), "numpy"
    return [
        Case(name=f"MLP train step B={BATCH} {'-'.join(map(str, SIZES))} f32 Adam", ours=ours_mlp,
             reference=ref_mlp, reference_name=name, unit_of_work=BATCH, unit_name="images"),
        Case(name=f"autograd overhead: {CHAIN} elementwise ops on ({VEC},)", ours=_ours_chain(),
             reference=ref_chain, reference_name=name, threads=(1,),
             notes=f"per op: divide dlbook's time by {CHAIN}"),
    ]
