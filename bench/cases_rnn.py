"""LSTM forward + backward (sequence 64, batch 32, input 64, hidden 128, float32) vs torch.nn.LSTM."""

from __future__ import annotations

import numpy as np

from bench.common import Case, torch_available

N, T, INPUT, HIDDEN = 32, 64, 64, 128


def _ours() -> tuple:
    from dlbook import nn
    from dlbook.autograd import Tensor

    rng = np.random.default_rng(0)
    layer = nn.LSTM(INPUT, HIDDEN, rng=rng, dtype=np.float32)
    x = rng.standard_normal((N, T, INPUT)).astype(np.float32)
    grad = rng.standard_normal((N, T, HIDDEN)).astype(np.float32)

    def step() -> None:
        layer.zero_grad()
        xt = Tensor(x, requires_grad=True)
        out, _ = layer(xt)
        out.backward(grad)

    return step, x, grad, layer


def _reference(x: np.ndarray, grad: np.ndarray, layer: object) -> object:
    import torch

    model = torch.nn.LSTM(INPUT, HIDDEN, batch_first=True)
    with torch.no_grad():
        for name, p in model.named_parameters():
            p.copy_(torch.from_numpy(dict(layer.named_parameters())[name].data))
    tx = torch.from_numpy(x)
    tg = torch.from_numpy(grad)

    def step() -> None:
        model.zero_grad()
        xt = tx.clone().requires_grad_(True)
        out, _ = model(xt)
        out.backward(tg)

    return step


def _numpy_cells(x: np.ndarray, grad: np.ndarray, layer: object) -> object:
    """Fallback reference without torch: the same layer run cell by cell through autograd."""
    from dlbook import functional as F
    from dlbook.autograd import Tensor

    p = dict(layer.named_parameters())

    def step() -> None:
        h = c = Tensor(np.zeros((N, HIDDEN), dtype=np.float32))
        outs = []
        xt = Tensor(x, requires_grad=True)
        for t in range(T):
            h, c = F.lstm_cell(xt[:, t], h, c, p["weight_ih_l0"], p["weight_hh_l0"], p["bias_ih_l0"],
                               p["bias_hh_l0"])
            outs.append(h)
        F.stack(outs, axis=1).backward(grad)

    return step


def cases() -> list[Case]:
    ours, x, grad, layer = _ours()
    if torch_available():
        ref, ref_name = _reference(x, grad, layer), "torch"
    else:
        ref, ref_name = _numpy_cells(x, grad, layer), "cells"
    return [Case(name=f"LSTM fwd+bwd N={N} T={T} I={INPUT} H={HIDDEN} float32", ours=ours, reference=ref,
                 reference_name=ref_name, target=1.5, unit_of_work=N * T, unit_name="tokens"),
            _layout_case(), _batch_first_case()]


def _layout_case() -> Case:
    """Why the fused kernels keep states features × batch: W_hh (4H, H) @ h (H, N) against h (N, H) @ W_hhᵀ."""
    rng = np.random.default_rng(0)
    w = rng.standard_normal((4 * HIDDEN, HIDDEN)).astype(np.float32)
    h_cols = rng.standard_normal((HIDDEN, N)).astype(np.float32)
    h_rows = np.ascontiguousarray(h_cols.T)
    out_cols, out_rows = np.empty((4 * HIDDEN, N), np.float32), np.empty((N, 4 * HIDDEN), np.float32)
    return Case(name=f"one LSTM step's W_hh product, H={HIDDEN} N={N} f32", threads=(1,),
                ours=lambda: np.matmul(w, h_cols, out=out_cols),
                reference=lambda: np.matmul(h_rows, w.T, out=out_rows), reference_name="h·Wᵀ",
                notes="dlbook.kernels.step_major: W @ h (features × batch) against h @ Wᵀ (batch-first)")


def _batch_first_case() -> Case:
    """Why step_major.batch_first copies twice: (T, H, N) -> (T, N, H) -> (N, T, H) against one gathering copy."""
    from dlbook.kernels.step_major import batch_first

    states = np.random.default_rng(0).standard_normal((T, HIDDEN, N)).astype(np.float32)
    out = np.empty((N, T, HIDDEN), np.float32)
    return Case(name=f"states (T, H, N) to batch-first, T={T} H={HIDDEN} N={N} f32", threads=(1,),
                ours=lambda: batch_first(states, out),
                reference=lambda: np.copyto(out, states.transpose(2, 0, 1)), reference_name="1 copy")
