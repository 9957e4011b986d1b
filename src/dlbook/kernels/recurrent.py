"""The fused recurrent kernels: RNN, LSTM and GRU over a whole sequence in one op each.

Each is the loop over time inside one :class:`Function` with a hand-written
backpropagation through time (eq-bptt), built for speed in float32: each step is
one matrix product [b | W_ih | W_hh] [1; xₜ; hₜ₋₁] plus elementwise work on
contiguous (features × batch) blocks (:mod:`dlbook.kernels.step_major`), the
backward loop holds only W_hhᵀ ∂L/∂zₜ and elementwise work, and after it every
weight gradient comes out of one matrix product over all steps.

They compute what the loops of cells in :mod:`dlbook.functional.recurrent`
compute (``rnn_reference``, ``lstm_reference``, ``gru_reference``: the readable
twins, tested equal in ``tests/test_fast_equals_readable.py``).  Arguments are
checked by the public ``F.rnn``, ``F.lstm``, ``F.gru``, which call
:func:`rnn_sequence`, :func:`lstm_sequence` and :func:`gru_sequence` here.
Shapes are batch-first: x (N, T, I), states (N, H); weights as PyTorch's.
"""

from __future__ import annotations

import numpy as np

from dlbook.autograd import Context, Function, Tensor
from dlbook.kernels import step_major as layout
from dlbook.kernels._scratch import scratch


# ---------------------------------------------------------------------------
# plain RNN over a sequence
# ---------------------------------------------------------------------------
class RNNSequence(Function):
    """hₜ = f(W_hh hₜ₋₁ + W_ih xₜ + b) for t = 1..T (eq-rnn); the backward pass implements (eq-bptt).

    Backward, with δₜ = ∂L/∂hₜ (from the output at t plus from step t + 1):
    ∂L/∂zₜ = δₜ ⊙ f′(zₜ),   δₜ₋₁ += W_hhᵀ ∂L/∂zₜ,
    ∂L/∂W_hh = Σₜ ∂L/∂zₜ hₜ₋₁ᵀ,  ∂L/∂W_ih = Σₜ ∂L/∂zₜ xₜᵀ.
    """

    @staticmethod
    def forward(ctx: Context, x: np.ndarray, h0: np.ndarray | None, w_ih: np.ndarray, w_hh: np.ndarray,
                b_ih: np.ndarray | None, b_hh: np.ndarray | None, nonlinearity: str,
                truncate: int | None) -> np.ndarray:
        t_len, size = x.shape[1:]
        hidden = w_hh.shape[1]
        dtype = np.result_type(x.dtype, w_hh.dtype)
        xh = layout.stacked_inputs(x, h0, hidden, dtype)   # block t = [1; xₜ; hₜ₋₁]
        w = layout.stacked_weights(_sum_biases(b_ih, b_hh), w_ih, w_hh, dtype)
        hs = xh[:, 1 + size:]                              # (T + 1, H, N) view: h₀..h_T
        relu = nonlinearity == "relu"
        for t in range(t_len):
            h = hs[t + 1]
            np.matmul(w, xh[t], out=h)                     # zₜ = [b | W_ih | W_hh] [1; xₜ; hₜ₋₁]
            if relu:
                np.maximum(h, 0, out=h)
            else:
                np.tanh(h, out=h)
        ctx.save(xh, w_ih, w_hh, relu, truncate)
        return layout.batch_first(hs[1:])

    @staticmethod
    def backward(ctx: Context, g: np.ndarray) -> tuple:
        xh, w_ih, w_hh, relu, truncate = ctx.saved
        hs = xh[:, 1 + w_ih.shape[1]:]
        t_len = hs.shape[0] - 1
        dout = layout.features_by_batch(g, "rnn.dout")
        # f'(z) from the outputs: tanh' = 1 − h², relu' = [h > 0]; vectorised over all steps.
        slope = scratch("rnn.slope", hs[1:].shape, hs.dtype)
        if relu:
            np.greater(hs[1:], 0, out=slope)
        else:
            np.multiply(hs[1:], hs[1:], out=slope)
            np.subtract(1, slope, out=slope)
        dz = scratch("rnn.dz_steps", slope.shape, slope.dtype)
        w_hh_t = np.ascontiguousarray(w_hh.T)
        dh = np.zeros_like(hs[0])
        for t in range(t_len - 1, -1, -1):
            dh += dout[t]
            np.multiply(dh, slope[t], out=dz[t])
            if layout.cut(t, truncate):
                dh[:] = 0
            else:
                np.matmul(w_hh_t, dz[t], out=dh)
        need = ctx.needs_grad
        dx, dw_ih, dw_hh, db, _ = layout.weight_grads(dz, xh, w_ih, need[0])
        return (dx, dh.T.copy() if need[1] else None, dw_ih, dw_hh,
                db if need[4] else None, db if need[5] else None)


def _sum_biases(b_ih: np.ndarray | None, b_hh: np.ndarray | None) -> np.ndarray | None:
    if b_ih is None:
        return b_hh
    return b_ih if b_hh is None else b_ih + b_hh


# ---------------------------------------------------------------------------
# LSTM over a sequence
# ---------------------------------------------------------------------------
# Inside the fused op the gate rows are reordered from PyTorch's (i, f, g, o) to (o, i, f, g):
# then the three sigmoids (o, i, f) are one contiguous block in the forward pass, and the three
# gates whose gradient is driven by ∂L/∂c (i, f, g) are one contiguous block in the backward pass.
_LSTM_ORDER = np.array([3, 0, 1, 2])


def _gate_rows(order: np.ndarray, hidden: int) -> np.ndarray:
    return (order[:, None] * hidden + np.arange(hidden)).reshape(-1)


class LSTMSequence(Function):
    """The LSTM (eq-lstm) over t = 1..T; backward by (eq-bptt) through both h and c.

    Returns one array (N, T + 1, H): rows 0..T−1 are h₁..h_T (the output) and
    row T is c_T (the final cell state), so that both can carry gradient.

    Backward, with δₜ = ∂L/∂hₜ and γₜ = ∂L/∂cₜ:
    γₜ = δₜ ⊙ oₜ ⊙ (1 − tanh²cₜ) + γₜ₊₁ ⊙ fₜ₊₁   (the additive path: only ⊙ f, no W_hh),
    ∂L/∂(i, f, g) pre-activations = γₜ ⊙ (gₜ iₜ(1−iₜ), cₜ₋₁ fₜ(1−fₜ), iₜ(1−gₜ²)),
    ∂L/∂o pre-activation = δₜ ⊙ tanh(cₜ) oₜ(1−oₜ),  δₜ₋₁ += W_hhᵀ ∂L/∂gatesₜ.
    """

    @staticmethod
    def forward(ctx: Context, x: np.ndarray, h0: np.ndarray | None, c0: np.ndarray | None, w_ih: np.ndarray,
                w_hh: np.ndarray, b_ih: np.ndarray | None, b_hh: np.ndarray | None,
                truncate: int | None) -> np.ndarray:
        n, t_len, size = x.shape
        hidden = w_hh.shape[1]
        sig_rows = 3 * hidden
        rows = _gate_rows(_LSTM_ORDER, hidden)
        w_ih_r, w_hh_r = w_ih[rows], w_hh[rows]
        bias = _sum_biases(b_ih, b_hh)
        dtype = np.result_type(x.dtype, w_hh.dtype)
        xh = layout.stacked_inputs(x, h0, hidden, dtype)   # block t = [1; xₜ; hₜ₋₁]
        hs = xh[:, 1 + size:]                              # (T + 1, H, N) view: h₀..h_T
        w = layout.stacked_weights(None if bias is None else bias[rows], w_ih_r, w_hh_r, dtype)
        # σ(z) = ½ tanh(z/2) + ½: with the o, i, f rows halved, one tanh serves all four gates.
        w[:sig_rows] *= 0.5
        gates = np.empty((t_len, 4 * hidden, n), dtype=dtype)   # o, i, f, g blocks per step
        cs = np.empty((t_len + 1, hidden, n), dtype=dtype)
        tcs = np.empty((t_len, hidden, n), dtype=dtype)
        cs[0] = 0 if c0 is None else c0.T
        ig = np.empty((hidden, n), dtype=dtype)
        for t in range(t_len):
            pre = gates[t]
            np.matmul(w, xh[t], out=pre)                   # [b | W_ih | W_hh] [1; xₜ; hₜ₋₁], o, i, f rows halved
            np.tanh(pre, out=pre)                          # g = tanh(z_g); o, i, f still need ½(·) + ½
            sig = pre[:sig_rows]
            sig *= 0.5
            sig += 0.5
            o, i, f, g = pre[:hidden], pre[hidden:2 * hidden], pre[2 * hidden:sig_rows], pre[sig_rows:]
            c = cs[t + 1]
            np.multiply(f, cs[t], out=c)                   # cₜ = fₜ ⊙ cₜ₋₁ + iₜ ⊙ gₜ
            np.multiply(i, g, out=ig)
            c += ig
            np.tanh(c, out=tcs[t])
            np.multiply(o, tcs[t], out=hs[t + 1])          # hₜ = oₜ ⊙ tanh(cₜ)
        ctx.save(xh, cs, tcs, gates, w_ih_r, w_hh_r, rows, truncate)
        out = np.empty((n, t_len + 1, hidden), dtype=dtype)
        layout.batch_first(hs[1:], out[:, :t_len])
        out[:, t_len] = cs[t_len].T
        return out

    @staticmethod
    def backward(ctx: Context, g: np.ndarray) -> tuple:
        xh, cs, tcs, gates, w_ih_r, w_hh_r, rows, truncate = ctx.saved
        t_len, hidden, n = tcs.shape
        dout = layout.features_by_batch(g[:, :t_len], "lstm.dout")
        gates4 = gates.reshape(t_len, 4, hidden, n)
        o, i, f, g_gate = gates4[:, 0], gates4[:, 1], gates4[:, 2], gates4[:, 3]
        # Everything that does not depend on the recursion, vectorised over all steps.
        dh_dc = scratch("lstm.dh_dc", tcs.shape, tcs.dtype)
        np.multiply(tcs, tcs, out=dh_dc)                   # ∂hₜ/∂cₜ = oₜ (1 − tanh² cₜ)
        np.subtract(1, dh_dc, out=dh_dc)
        dh_dc *= o
        local = scratch("lstm.local", gates4.shape, gates.dtype)
        np.subtract(1, gates4[:, :3], out=local[:, :3])    # σ′ = s(1 − s) for o, i, f
        local[:, :3] *= gates4[:, :3]
        local[:, 0] *= tcs                                 # ∂hₜ/∂(o pre-activation) = tanh(cₜ) σ′(o)
        local[:, 1] *= g_gate                              # ∂cₜ/∂(i pre-activation) = gₜ σ′(i)
        local[:, 2] *= cs[:-1]                             # ∂cₜ/∂(f pre-activation) = cₜ₋₁ σ′(f)
        np.multiply(g_gate, g_gate, out=local[:, 3])       # ∂cₜ/∂(g pre-activation) = iₜ (1 − gₜ²)
        np.subtract(1, local[:, 3], out=local[:, 3])
        local[:, 3] *= i
        dgates = scratch("lstm.dgates", local.shape, local.dtype)
        w_hh_t = np.ascontiguousarray(w_hh_r.T)            # (H, 4H)
        dh = np.zeros((hidden, n), dtype=gates.dtype)
        dc = np.array(g[:, t_len].T, dtype=gates.dtype, order="C")  # gradient arriving at c_T
        through_c = np.empty_like(dh)
        for t in range(t_len - 1, -1, -1):
            dh += dout[t]
            np.multiply(dh, dh_dc[t], out=through_c)
            dc += through_c
            np.multiply(dh, local[t, 0], out=dgates[t, 0])
            np.multiply(dc, local[t, 1:], out=dgates[t, 1:])
            if layout.cut(t, truncate):
                dh[:] = 0
                dc[:] = 0
            else:
                np.matmul(w_hh_t, dgates[t].reshape(4 * hidden, n), out=dh)
                dc *= f[t]
        need = ctx.needs_grad
        dgates = dgates.reshape(t_len, 4 * hidden, n)
        dx, dw_ih_r, dw_hh_r, db_r, _ = layout.weight_grads(dgates, xh, w_ih_r, need[0])
        dw_ih, dw_hh, db = np.empty_like(dw_ih_r), np.empty_like(dw_hh_r), np.empty_like(db_r)
        dw_ih[rows], dw_hh[rows], db[rows] = dw_ih_r, dw_hh_r, db_r
        return (dx, dh.T.copy() if need[1] else None, dc.T.copy() if need[2] else None, dw_ih, dw_hh,
                db if need[5] else None, db if need[6] else None)


# ---------------------------------------------------------------------------
# GRU over a sequence
# ---------------------------------------------------------------------------
class GRUSequence(Function):
    """The GRU (eq-gru) over t = 1..T; backward by (eq-bptt).

    With δₜ = ∂L/∂hₜ, every gate's gradient is δₜ times a factor known from
    the forward pass: ∂L/∂n-pre = δₜ(1−zₜ)(1−nₜ²), ∂L/∂z-pre = δₜ(hₜ₋₁−nₜ)zₜ(1−zₜ),
    ∂L/∂r-pre = ∂L/∂n-pre ⊙ (W_hn hₜ₋₁ + b_hn) rₜ(1−rₜ);  δₜ₋₁ = δₜ ⊙ zₜ + W_hhᵀ ∂L/∂(W_hh h)ₜ.
    """

    @staticmethod
    def forward(ctx: Context, x: np.ndarray, h0: np.ndarray | None, w_ih: np.ndarray, w_hh: np.ndarray,
                b_ih: np.ndarray | None, b_hh: np.ndarray | None, truncate: int | None) -> np.ndarray:
        n, t_len, size = x.shape
        hidden = w_hh.shape[1]
        h2 = 2 * hidden
        dtype = np.result_type(x.dtype, w_hh.dtype)
        xh = layout.stacked_inputs(x, h0, hidden, dtype)   # block t = [1; xₜ; hₜ₋₁]
        hs = xh[:, 1 + size:]                              # (T + 1, H, N) view: h₀..h_T
        # W_ih xₜ + b_ih for all steps in one batched product [b_ih | W_ih] [1; xₜ]: (T, 3H, N).
        # Its r, z parts become the gates; r multiplies only the hidden side of n, hence two products.
        gi = np.matmul(layout.stacked_weights(b_ih, w_ih, None, dtype), xh[:-1, :1 + size])
        hn = np.empty((t_len, hidden, n), dtype=dtype)     # W_hn hₜ₋₁ + b_hn, needed by the backward pass
        ns = np.empty((t_len, hidden, n), dtype=dtype)
        gh = np.empty((3 * hidden, n), dtype=dtype)
        b_col = None if b_hh is None else b_hh[:, None]
        for t in range(t_len):
            np.matmul(w_hh, hs[t], out=gh)
            if b_col is not None:
                gh += b_col
            rz = gi[t, :h2]                                # in place: from here gi's r, z rows hold σ(r), σ(z),
            rz += gh[:h2]                                  # which the backward pass reads back as the gates
            layout.sigmoid_(rz)
            r, z = rz[:hidden], rz[hidden:]
            hn[t] = gh[h2:]
            nt = ns[t]
            np.multiply(r, hn[t], out=nt)                  # nₜ = tanh(W_in x + b_in + rₜ ⊙ (W_hn h + b_hn))
            nt += gi[t, h2:]
            np.tanh(nt, out=nt)
            h = hs[t + 1]
            np.subtract(hs[t], nt, out=h)                  # hₜ = nₜ + zₜ ⊙ (hₜ₋₁ − nₜ)
            h *= z
            h += nt
        ctx.save(xh, gi, hn, ns, w_ih, w_hh, truncate)
        return layout.batch_first(hs[1:])

    @staticmethod
    def backward(ctx: Context, g: np.ndarray) -> tuple:
        xh, gi, hn, ns, w_ih, w_hh, truncate = ctx.saved
        t_len, hidden, n = ns.shape
        hs = xh[:, 1 + w_ih.shape[1]:]
        r, z = gi[:, :hidden], gi[:, hidden:2 * hidden]   # the gates σ(r), σ(z), written over gi in forward
        dout = layout.features_by_batch(g, "gru.dout")
        # ∂L/∂(pre-activations fed by x) = δₜ ⊙ q[t]; fed by h: the same but r's candidate part times rₜ.
        q = scratch("gru.q", (t_len, 3, hidden, n), ns.dtype)
        q[:, 2] = (1 - z) * (1 - ns * ns)
        q[:, 1] = (hs[:-1] - ns) * z * (1 - z)
        q[:, 0] = q[:, 2] * hn * r * (1 - r)
        qh = scratch("gru.qh", q.shape, q.dtype)
        np.copyto(qh, q)
        qh[:, 2] *= r
        dgi = scratch("gru.dgi", q.shape, q.dtype)
        dgh = scratch("gru.dgh", q.shape, q.dtype)
        w_hh_t = np.ascontiguousarray(w_hh.T)
        dh = np.zeros((hidden, n), dtype=ns.dtype)
        rec = np.empty_like(dh)
        for t in range(t_len - 1, -1, -1):
            dh += dout[t]
            np.multiply(dh, q[t], out=dgi[t])
            np.multiply(dh, qh[t], out=dgh[t])
            if layout.cut(t, truncate):
                dh[:] = 0
            else:
                dh *= z[t]
                np.matmul(w_hh_t, dgh[t].reshape(3 * hidden, n), out=rec)
                dh += rec
        need = ctx.needs_grad
        dgi = dgi.reshape(t_len, 3 * hidden, n)
        dgh = dgh.reshape(t_len, 3 * hidden, n)
        dx, dw_ih, dw_hh, db_ih, db_hh = layout.weight_grads(dgi, xh, w_ih, need[0], dz_h=dgh)
        return (dx, dh.T.copy() if need[1] else None, dw_ih, dw_hh,
                db_ih if need[4] else None, db_hh if need[5] else None)


# ---------------------------------------------------------------------------
# the entry points (arguments already checked by dlbook.functional.recurrent)
# ---------------------------------------------------------------------------
def rnn_sequence(x: Tensor, h0: Tensor | None, w_ih: Tensor, w_hh: Tensor, b_ih: Tensor | None,
                 b_hh: Tensor | None, nonlinearity: str, truncate: int | None) -> tuple[Tensor, Tensor]:
    """(output (N, T, H), h_T (N, H)) of the fused RNN."""
    out = RNNSequence.apply(x, h0, w_ih, w_hh, b_ih, b_hh, nonlinearity=nonlinearity, truncate=truncate)
    return out, layout.step(out, out.shape[1] - 1)


def lstm_sequence(x: Tensor, h0: Tensor | None, c0: Tensor | None, w_ih: Tensor, w_hh: Tensor,
                  b_ih: Tensor | None, b_hh: Tensor | None, truncate: int | None) -> tuple[Tensor, Tensor, Tensor]:
    """(output (N, T, H), h_T (N, H), c_T (N, H)) of the fused LSTM."""
    packed = LSTMSequence.apply(x, h0, c0, w_ih, w_hh, b_ih, b_hh, truncate=truncate)
    t_len = packed.shape[1] - 1
    return layout.steps(packed, 0, t_len), layout.step(packed, t_len - 1), layout.step(packed, t_len)


def gru_sequence(x: Tensor, h0: Tensor | None, w_ih: Tensor, w_hh: Tensor, b_ih: Tensor | None,
                 b_hh: Tensor | None, truncate: int | None) -> tuple[Tensor, Tensor]:
    """(output (N, T, H), h_T (N, H)) of the fused GRU."""
    out = GRUSequence.apply(x, h0, w_ih, w_hh, b_ih, b_hh, truncate=truncate)
    return out, layout.step(out, out.shape[1] - 1)
