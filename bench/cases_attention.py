"""Multi-head causal self-attention forward + backward, projections included.

Batch 32, sequence 64, d_model 128, 4 heads, float32: dlbook's ``nn.MultiheadAttention``
(one fused QKV GEMM, heads as strided views, hand-written backward) vs the same
computation in PyTorch (Linear E→3E, ``F.scaled_dot_product_attention(is_causal=True)``,
Linear E→E) in the same run.  Without torch the reference is dlbook's unfused path
(separate autograd reshapes/transposes around ``F.scaled_dot_product_attention``).
"""

from __future__ import annotations

import numpy as np

from bench.common import Case, torch_available

N, L, E, H = 32, 64, 128, 4


def _ours() -> tuple:
    from dlbook import nn
    from dlbook.autograd import Tensor

    rng = np.random.default_rng(0)
    mha = nn.MultiheadAttention(E, H, rng=rng, dtype=np.float32)
    x = rng.standard_normal((N, L, E)).astype(np.float32)
    grad = rng.standard_normal((N, L, E)).astype(np.float32)

    def step() -> None:
        mha.zero_grad()
        xt = Tensor(x, requires_grad=True)
        out, _ = mha(xt, is_causal=True)
        out.backward(grad)

    return step, x, grad, mha


def _torch(x: np.ndarray, grad: np.ndarray, mha: object) -> object:
    import torch

    in_proj, out_proj = torch.nn.Linear(E, 3 * E), torch.nn.Linear(E, E)
    with torch.no_grad():
        in_proj.weight.copy_(torch.from_numpy(mha.in_proj.weight.data))
        in_proj.bias.copy_(torch.from_numpy(mha.in_proj.bias.data))
        out_proj.weight.copy_(torch.from_numpy(mha.out_proj.weight.data))
        out_proj.bias.copy_(torch.from_numpy(mha.out_proj.bias.data))
    tx, tg = torch.from_numpy(x), torch.from_numpy(grad)
    params = [*in_proj.parameters(), *out_proj.parameters()]

    def step() -> None:
        for p in params:
            p.grad = None
        xt = tx.clone().requires_grad_(True)
        q, k, v = in_proj(xt).view(N, L, 3, H, E // H).permute(2, 0, 3, 1, 4)
        o = torch.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True)
        out = out_proj(o.transpose(1, 2).reshape(N, L, E))
        out.backward(tg)

    return step


def _unfused(x: np.ndarray, grad: np.ndarray, mha: object) -> object:
    from dlbook import functional as F
    from dlbook.autograd import Tensor

    def step() -> None:
        mha.zero_grad()
        xt = Tensor(x, requires_grad=True)
        qkv = F.transpose(F.reshape(mha.in_proj(xt), (N, L, 3, H, E // H)), (2, 0, 3, 1, 4))
        o, _ = F.scaled_dot_product_attention(qkv[0], qkv[1], qkv[2], is_causal=True)
        mha.out_proj(F.reshape(F.transpose(o, (0, 2, 1, 3)), (N, L, E))).backward(grad)

    return step


def cases() -> list[Case]:
    ours, x, grad, mha = _ours()
    if torch_available():
        ref, ref_name = _torch(x, grad, mha), "torch"
    else:
        ref, ref_name = _unfused(x, grad, mha), "unfused"
    return [Case(name=f"MHA causal self-attn fwd+bwd N={N} L={L} E={E} H={H} float32", ours=ours, reference=ref,
                 reference_name=ref_name, target=1.2, unit_of_work=N * L, unit_name="tokens"),
            *_row_cases()]


def _row_cases() -> list[Case]:
    """Why the attention kernel has its own row max and row sums: numpy's short-row reductions are slow."""
    from dlbook.kernels.attention import row_max

    scores = np.random.default_rng(0).standard_normal((N, H, L, L)).astype(np.float32)
    return [Case(name=f"row max of (N, H, L, L) scores, L={L} f32", threads=(1,), ours=lambda: row_max(scores),
                 reference=lambda: scores.max(-1, keepdims=True), reference_name=".max"),
            Case(name=f"row sums of (N, H, L, L) scores, L={L} f32", threads=(1,),
                 ours=lambda: np.einsum("...j->...", scores), reference=lambda: scores.sum(-1),
                 reference_name=".sum")]
