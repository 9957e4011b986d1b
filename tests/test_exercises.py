"""dlbook.exercises: every checker passes its solution and fails a wrong answer with a hint that names the
mistake; implement-checkers report the first mismatch; bad arguments are errors that name them; and every
chapter done so far registers at least three exercises."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from dlbook.baselines.ladder import load_ladder
from dlbook.data.chinese import load_reviews
from dlbook.exercises import (
    CHAPTER_MODULES,
    KINDS,
    ch1,
    ch2,
    ch3_1,
    ch3_2,
    ch3_3,
    ch3_4,
    ch3_5,
    ch4_1,
    ch4_2,
    ch4_3,
    ch4_4,
    ch4_5,
    ch5_1,
    ch5_2,
    ch5_3,
    ch5_4,
    ch5_5,
    ch6,
    ch7,
    ch9,
    exercises,
    get,
)
from dlbook.exercises._registry import explore, register
from dlbook.exercises._shipped import base_gpt

ROOT = Path(__file__).resolve().parent.parent

#: Chapters whose exercises are written, with their notebook.  A new chapter adds a line here.
CHAPTERS_DONE = {
    "1": "1-background",
    "2": "2-core-concepts",
    "3.1": "3-1-neural-network-basics",
    "3.2": "3-2-backpropagation",
    "3.3": "3-3-cnn",
    "3.4": "3-4-rnn",
    "3.5": "3-5-transformer",
    "4.1": "4-1-layer-formula",
    "4.2": "4-2-backprop-formula",
    "4.3": "4-3-convolution-formula",
    "4.4": "4-4-recurrence-formula",
    "4.5": "4-5-attention-formula",
    "6": "6-applications",
    "7": "7-tools-and-resources",
    "9": "9-faq",
    "8": "8-summary",
    "5.1": "5-1-setup-and-data",
    "5.2": "5-2-pretraining",
    "5.3": "5-3-fine-tuning",
    "5.4": "5-4-inference",
    "5.5": "5-5-modern-block",
}


def run(capsys: pytest.CaptureFixture[str], checker, answer) -> tuple[bool, str]:
    """The checker's result and what it printed."""
    result = checker(answer)
    return result, capsys.readouterr().out


# --- solutions ------------------------------------------------------------------------------------------------

def softmax(z):
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def sgd_step(w, grad, velocity, lr, momentum):
    velocity = momentum * velocity + grad
    return w - lr * velocity, velocity


def conv2d(x, k):
    (h, w), (kh, kw) = x.shape, k.shape
    y = np.zeros((h - kh + 1, w - kw + 1))
    for i in range(y.shape[0]):
        for j in range(y.shape[1]):
            y[i, j] = np.sum(x[i:i + kh, j:j + kw] * k)
    return y


def max_pool(x, k):
    n, c, h, w = x.shape
    ho, wo = h // k, w // k
    return x[:, :, :ho * k, :wo * k].reshape(n, c, ho, k, wo, k).max(axis=(3, 5))


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


def gru_cell(x, h, w_ih, w_hh, b_ih, b_hh, swap_z=False, reset_before=False):
    n_hidden = h.shape[1]
    r_, z_, n_ = (slice(k * n_hidden, (k + 1) * n_hidden) for k in range(3))
    gi, gh = x @ w_ih.T + b_ih, h @ w_hh.T + b_hh
    r, z = sigmoid(gi[:, r_] + gh[:, r_]), sigmoid(gi[:, z_] + gh[:, z_])
    if reset_before:
        n = np.tanh(gi[:, n_] + (r * h) @ w_hh[n_].T + b_hh[n_])
    else:
        n = np.tanh(gi[:, n_] + r * gh[:, n_])
    return z * n + (1 - z) * h if swap_z else (1 - z) * n + z * h


def causal_attention(q, k, v, mask="causal", scale=True, after_softmax=False):
    t = q.shape[-2]
    scores = q @ np.swapaxes(k, -1, -2) / (np.sqrt(q.shape[-1]) if scale else 1.0)
    allowed = {"causal": np.tril(np.ones((t, t), bool)), "none": np.ones((t, t), bool),
               "future": np.triu(np.ones((t, t), bool))}[mask]
    if after_softmax:
        return softmax(scores) * allowed @ v
    return softmax(np.where(allowed, scores, -np.inf)) @ v


def gelu_derivative(z, first_term_only=False):
    c = np.sqrt(2 / np.pi)
    t = np.tanh(c * (z + 0.044715 * z**3))
    if first_term_only:
        return 0.5 * (1 + t)
    return 0.5 * (1 + t) + 0.5 * z * (1 - t**2) * c * (1 + 3 * 0.044715 * z**2)


def cross_entropy(z, y, naive=False):
    n, rows = len(z), np.arange(len(z))
    if naive:
        with np.errstate(over="ignore", divide="ignore", invalid="ignore"):   # it overflows, as it should here
            p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
            loss = -np.log(p[rows, y]).mean()
    else:
        m = z.max(axis=1, keepdims=True)
        p = np.exp(z - m) / np.exp(z - m).sum(axis=1, keepdims=True)
        loss = (np.log(np.exp(z - m).sum(axis=1)) + m[:, 0] - z[rows, y]).mean()
    return loss, (p - np.eye(z.shape[1])[y]) / n


def numerical_gradient(f, x, h, forward=False):
    grad = np.zeros_like(x)
    for i in range(x.size):
        e = np.zeros_like(x)
        e.flat[i] = h
        grad.flat[i] = (f(x + e) - f(x)) / h if forward else (f(x + e) - f(x - e)) / (2 * h)
    return grad


def adam_step(w, grad, m, v, t, lr, beta1, beta2, eps, corrected=True):
    m = beta1 * m + (1 - beta1) * grad
    v = beta2 * v + (1 - beta2) * grad**2
    m_hat, v_hat = (m / (1 - beta1**t), v / (1 - beta2**t)) if corrected else (m, v)
    return w - lr * m_hat / (np.sqrt(v_hat) + eps), m, v


def conv_layer(x, w, b, stride, padding, flip=False, one_side=False):
    pads = (0, 2 * padding) if one_side else (padding, padding)
    xp = np.pad(x, ((0, 0), (0, 0), pads, pads))
    k = w.shape[2]
    w = w[:, :, ::-1, ::-1] if flip else w
    ho, wo = (xp.shape[2] - k) // stride + 1, (xp.shape[3] - k) // stride + 1
    y = np.zeros((x.shape[0], w.shape[0], ho, wo))
    for i in range(ho):
        for j in range(wo):
            patch = xp[:, :, i * stride:i * stride + k, j * stride:j * stride + k]
            y[:, :, i, j] = np.einsum("ncab,ocab->no", patch, w) + b
    return y


def conv_backward(x, k, g, flip_dx=True, flip_dk=False):
    kh, kw = k.shape
    dx = conv2d(np.pad(g, ((kh - 1, kh - 1), (kw - 1, kw - 1))), k[::-1, ::-1] if flip_dx else k)
    dk = conv2d(x, g)
    return dx, dk[::-1, ::-1] if flip_dk else dk


def bptt(x, h0, w_xh, w_hh, b, g, recurrent=True):
    hs = [h0]
    for t in range(x.shape[1]):
        hs.append(np.tanh(x[:, t] @ w_xh.T + hs[-1] @ w_hh.T + b))
    dw_xh, dw_hh, db, back = np.zeros_like(w_xh), np.zeros_like(w_hh), np.zeros_like(b), np.zeros_like(h0)
    for t in range(x.shape[1], 0, -1):
        dz = (1 - hs[t] ** 2) * (g[:, t - 1] + (back if recurrent else 0.0))
        dw_xh += dz.T @ x[:, t - 1]
        dw_hh += dz.T @ hs[t - 1]
        db += dz.sum(axis=0)
        back = dz @ w_hh
    return dw_xh, dw_hh, db, back


def _bptt_by_hand():
    h1 = np.tanh(0.5 * 1.0 + 0.2)
    h2 = np.tanh(-1.0 * h1 + 0.5 * 2.0 + 0.2)
    return float((1 - h2**2) * (2.0 + (-1.0) * (1 - h1**2) * 1.0))


def attention_backward(q, k, v, g, jacobian=True, scale_back=True):
    c = 1 / np.sqrt(q.shape[-1])
    p = softmax(q @ np.swapaxes(k, -1, -2) * c)
    dp = g @ np.swapaxes(v, -1, -2)
    ds = p * (dp - np.sum(dp * p, axis=-1, keepdims=True)) if jacobian else p * dp
    f = c if scale_back else 1.0
    return f * ds @ k, f * np.swapaxes(ds, -1, -2) @ q, np.swapaxes(p, -1, -2) @ g


def multihead(q, k, v, num_heads, split="blocks", scale_by="head"):
    n, length, e = q.shape
    d = e // num_heads

    def heads(x):
        if split == "blocks":
            return x.reshape(n, x.shape[1], num_heads, d).transpose(0, 2, 1, 3)
        return x.reshape(n, x.shape[1], d, num_heads).transpose(0, 3, 1, 2)      # interleaved features

    scores = heads(q) @ np.swapaxes(heads(k), -1, -2) / np.sqrt(d if scale_by == "head" else e)
    out = softmax(scores) @ heads(v)
    if split == "blocks":
        return out.transpose(0, 2, 1, 3).reshape(n, length, e)
    return out.transpose(0, 2, 3, 1).reshape(n, length, e)


def kn_bigram(ids, vocab_size, lower="continuation", start=True, interpolate=True):
    """The interpolated Kneser–Ney bigram table P[h, w] (one discount per order), or a mistaken variant."""
    v = vocab_size

    def discount(counts):
        n1, n2 = np.sum(counts == 1), np.sum(counts == 2)
        return n1 / (n1 + 2 * n2) if n1 else 0.5

    if lower == "raw":
        a1 = np.bincount(ids, minlength=v).astype(float)
    else:
        left = np.concatenate([[v], ids[:-1]])
        seen = np.zeros((v + 1, v), bool)
        seen[left, ids] = True
        a1 = seen[:v if not start else v + 1].sum(axis=0).astype(float)
    d1 = discount(a1[a1 > 0])
    p1 = np.maximum(a1 - d1, 0) / a1.sum() + d1 * np.count_nonzero(a1) / a1.sum() / v
    c = np.zeros((v, v))
    np.add.at(c, (ids[:-1], ids[1:]), 1.0)
    d2 = discount(c[c > 0])
    total = c.sum(axis=1, keepdims=True)
    safe = np.where(total > 0, total, 1.0)
    lam = np.where(total > 0, d2 * np.count_nonzero(c, axis=1, keepdims=True) / safe, 1.0)
    return np.maximum(c - d2, 0) / safe + (lam * p1 if interpolate else 0.0)


def quantize(w, scale_of="rows", divide_by=127, rounding=np.round):
    """Per-row absmax int8 quantisation (q, scale), or a mistaken variant."""
    if scale_of == "rows":
        absmax = np.abs(w).max(axis=1)
    elif scale_of == "signed rows":
        absmax = w.max(axis=1)
    else:
        absmax = np.full(w.shape[0], np.abs(w).max())
    scale = absmax / divide_by
    return np.clip(rounding(w / scale[:, None]), -127, 127).astype(np.int8), scale


def int8_linear(x, q, scale, b, bias=True, scales=True):
    """y = (x qᵀ) ⊙ scale + b, or a mistaken variant."""
    y = x @ q.T.astype(np.float64)
    return (y * scale if scales else y) + (b if bias else 0.0)


def top_p_distribution(logits, temperature, top_p, crossing=True, renormalise=True):
    """Temperature, then the nucleus: the smallest most-likely set reaching top_p (or a mistaken variant)."""
    z = logits / temperature
    p = np.exp(z - z.max())
    p = p / p.sum()
    order = np.argsort(-p)
    position = int(np.searchsorted(np.cumsum(p[order]), top_p))
    keep = position + 1 if crossing else max(position, 1)
    out = np.zeros_like(p)
    out[order[:keep]] = p[order[:keep]]
    return out / out.sum() if renormalise else out


def clip_by_norm(g_weight, g_bias, max_norm, only_shrink=True):
    """Both gradients scaled by one factor so that their joint norm is at most max_norm (or a mistaken variant)."""
    scale = max_norm / np.sqrt(np.sum(g_weight**2) + np.sum(g_bias**2))
    scale = min(1.0, scale) if only_shrink else scale
    return g_weight * scale, g_bias * scale


def rms_norm(x, weight, eps, centred=False, eps_outside=False, scaled=True, axis=-1):
    z = x - x.mean(axis=-1, keepdims=True) if centred else x
    ms = np.mean(z * z, axis=axis, keepdims=axis is not None)
    y = z / (np.sqrt(ms) + eps) if eps_outside else z / np.sqrt(ms + eps)
    return y * weight if scaled else y


def rope(x, base, pairs="half", sign=1, step=2):
    t, d = x.shape[-2], x.shape[-1]
    angle = np.arange(t)[:, None] * base ** (-step * np.arange(d // 2) / d)
    cos, sin = np.cos(angle), sign * np.sin(angle)
    if pairs == "neighbours":
        out = np.empty_like(x)
        a, b = x[..., 0::2], x[..., 1::2]
        out[..., 0::2], out[..., 1::2] = a * cos - b * sin, a * sin + b * cos
        return out
    a, b = x[..., : d // 2], x[..., d // 2:]
    return np.concatenate([a * cos - b * sin, a * sin + b * cos], axis=-1)


def top_k_distribution(logits, temperature, k, keep=None, renormalise=True):
    """softmax(z / T) cut to the k most likely tokens and rescaled (or a mistaken variant)."""
    z = logits / temperature
    p = np.exp(z - z.max())
    p = p / p.sum()
    top = np.argsort(-p)[: k if keep is None else keep]
    out = np.zeros_like(p)
    out[top] = p[top]
    return out / out.sum() if renormalise else out


def lr_factor(step, total_steps, warmup_steps, min_ratio):
    """The warm-up and cosine factor LambdaLR multiplies the base rate by."""
    if step < warmup_steps:
        return (step + 1) / warmup_steps
    t = min(1.0, (step - warmup_steps) / max(1, total_steps - warmup_steps))
    return min_ratio + 0.5 * (1 - min_ratio) * (1 + np.cos(np.pi * t))


def parabola_vertex(n, loss, in_log=True, exp=True):
    x = np.log(n) if in_log else n
    p2, p1, p0 = np.polyfit(x, loss, 2)
    vertex = -p1 / (2 * p2)
    return (np.exp(vertex) if exp and in_log else vertex), p0 - p1**2 / (4 * p2)


SOLUTIONS = {
    "1-training-flops": 6 * 1.3e9 * (20 * 1.3e9),
    "1-finetune-memory": 3e9 * 16 / 1e9,
    "1-lora-count": lambda n_layers, d_model, rank: n_layers * 2 * (2 * d_model * rank),
    "2-mlp-parameters": (20 * 10 + 20) + (3 * 20 + 3),
    "2-cnn-shape": (3, 32, 4, 4),
    "2-forward": lambda x, W1, b1, W2, b2: np.tanh(x @ W1.T + b1) @ W2.T + b2,
    "3.1-param-count": 784 * 256 + 256 + 256 * 128 + 128 + 128 * 10 + 10,
    "3.1-cross-entropy": float(np.log(np.exp([2.0, 1.0, 0.1]).sum()) - 2.0),
    "3.1-softmax": softmax,
    "3.1-neuron": lambda x, w, b: 1 / (1 + np.exp(-(x @ w + b))),
    "3.2-gradient-w1": None,  # computed from the graph below, by dlbook's own autograd
    "3.2-linear-backward": lambda x, W, g: (g @ W, g.T @ x, g.sum(axis=0)),
    "3.2-softmax-backward": lambda p, g: p * (g - np.sum(g * p, axis=-1, keepdims=True)),
    "3.2-sgd-step": sgd_step,
    "3.3-conv-shape": (8, 24, (32 + 2 * 2 - 5) // 2 + 1, (32 + 2 * 2 - 5) // 2 + 1),
    "3.3-conv-parameters": 24 * 3 * 5 * 5 + 24,
    "3.3-conv2d": conv2d,
    "3.3-max-pool": max_pool,
    "3.4-rnn-steps": float(np.tanh(-1.0 * np.tanh(0.5 * 1.0 + 0.2) + 0.5 * 2.0 + 0.2)),
    "3.4-lstm-parameters": 4 * (128 * 32 + 128 * 128 + 128 + 128),
    "3.4-gru-cell": gru_cell,
    "3.5-attention-output": float(softmax(np.array([1.0, 2.0, 3.0]) / np.sqrt(2)) @ np.array([1.0, -1.0, 2.0])),
    "3.5-causal-attention": causal_attention,
    "3.5-encoder-parameters": (3 * 64 * 64 + 3 * 64) + (64 * 64 + 64) + (64 * 256 + 256) + (256 * 64 + 64) + 4 * 64,
    "4.1-ce-gradient": float((softmax(np.array([0.5, 2.5, -1.0]))[2] - 1) / 2),
    "4.1-gelu-derivative": gelu_derivative,
    "4.1-cross-entropy": cross_entropy,
    "4.2-adam-first-step": 1.0 - 0.1 * 0.02 / (0.02 + 1e-8),
    "4.2-numerical-gradient": numerical_gradient,
    "4.2-adam-step": adam_step,
    "4.3-strided-output": 3.0,
    "4.3-im2col-shape": (3 * 5 * 5, ((32 + 2 * 2 - 5) // 2 + 1) ** 2),
    "4.3-conv-layer": conv_layer,
    "4.3-conv-backward": conv_backward,
    "4.4-bptt-by-hand": _bptt_by_hand(),
    "4.4-vanishing-steps": int(np.ceil(np.log(1e-3) / np.log(0.9))),
    "4.4-bptt": bptt,
    "4.5-score-spread": float(np.sqrt(64 * 1.0 * 4.0)),
    "4.5-attention-backward": attention_backward,
    "4.5-multihead": multihead,
    "9-overshoot": 1 - 2 * 1e-3 * 100**2 / 3,
    "9-missing-zero-grad": 0.1 * 0.5 * 10 * 11 / 2,
    "9-clip-grad-norm": clip_by_norm,
    "7-cnn-parameters": (16 * 9 + 16) + (32 * 16 * 9 + 32) + (32 * 4 * 10 + 10),
    "7-adamw-memory": 16 * 2_559_744 / 1e6,
    "7-lambda-lr": lr_factor,
    "6-assistant-flops": 6 * (1e5 * 2_535_168) * (1e6 * 23_756_800),
    "6-held-out-dates": round(0.1 * (100 * 365 + 25)),
    "6-top-k": top_k_distribution,
    "5.1-kn-bigram": (2 - 0.4) / 4 + 0.3 * (5 / 8 / 5),
    "5.1-bpe-vocabulary": 4 + 5 + 2,
    "5.1-bits-per-char": None,  # from the shipped ladder, below
    "5.1-kn-table": kn_bigram,
    "5.2-param-count": 3934 * 192 + 128 * 192 + 4 * (4 * 192**2 + 4 * 192 + 2 * 192 * 768 + 768 + 192 + 4 * 192)
    + 2 * 192,
    "5.2-run-flops": 6 * 2_535_168 * (6000 * 16 * 128),
    "5.2-perplexity": None,  # from the shipped checkpoint, below
    "5.2-top-p": top_p_distribution,
    "5.3-lora-trainable": 4 * 3 * ((192 + 3 * 192) + (192 + 192) + (192 + 768) + (768 + 192)) + 2 * 192 + 2,
    "5.3-majority-baseline": None,  # from the reviews, below
    "5.3-lora-forward": lambda x, W, b, A, B, alpha: x @ W.T + b + (alpha / len(A)) * (x @ A.T) @ B.T,
    "5.4-cache-memory": 2 * 24 * 4 * 64 * 2048 * 8 * 2 / 1e6,
    "5.4-positions": sum(range(16, 116)),
    "5.4-quantize": quantize,
    "5.4-int8-linear": int8_linear,
    "5.5-swiglu-parameters": 3 * 4096 * 11008,
    "5.5-gqa-parameters": 2 * 8192 * 8192 + 2 * 8192 * 8 * 128,
    "5.5-rms-norm": rms_norm,
    "5.5-rope": rope,
    "8-tokens": 8e12 / (6 * 292_176),
    "8-chinchilla-size": (1e21 / 120) ** 0.5,
    "8-parabola-vertex": lambda n, loss: parabola_vertex(n, loss),
    "8-repeated-data": 1_673_977 * (1 + 15.4 * (1 - np.exp(-7 / 15.4))),
}


def _gradient_w1_by_autograd() -> float:
    from dlbook.widgets import compute_graph

    r = compute_graph(**ch3_2.NEURON)
    return float(dict(zip(r["names"], r["grads"]))["w1"])


SOLUTIONS["3.2-gradient-w1"] = _gradient_w1_by_autograd()
SOLUTIONS["5.1-bits-per-char"] = load_ladder()["vocabs"]["news+reviews"]["models"]["mkn5"]["test"] / np.log(2)
SOLUTIONS["5.2-perplexity"] = float(np.exp(base_gpt()[3]["hist_val_loss"][-1]))
SOLUTIONS["5.3-majority-baseline"] = float(np.mean(load_reviews().test_y == 0))   # negative: the training majority


def test_every_checker_has_a_solution_here() -> None:
    """Adding a checker without adding its solution to this test fails."""
    checked = {e.id for e in exercises() if e.checker is not None}
    assert checked == set(SOLUTIONS)


@pytest.mark.parametrize("exercise_id", sorted(SOLUTIONS))
def test_the_solution_passes(exercise_id: str, capsys: pytest.CaptureFixture[str]) -> None:
    ok, out = run(capsys, get(exercise_id).checker, SOLUTIONS[exercise_id])
    assert ok is True
    assert out.startswith("✓ ") and out.count("\n") == 1


def test_a_naive_softmax_is_still_right(capsys: pytest.CaptureFixture[str]) -> None:
    """Without the shift by the maximum the formula is the same; the checker's inputs do not overflow."""
    ok, out = run(capsys, ch3_1.check_softmax, lambda z: np.exp(z) / np.exp(z).sum(axis=-1, keepdims=True))
    assert ok and out.startswith("✓")


# --- wrong answers: (exercise, answer, words the hint must contain) -------------------------------------------

WRONG_NUMBERS = [
    ("8-tokens", 8e12 / 292_176, "6·N FLOPs"),
    ("8-tokens", 8e12 / (2 * 292_176), "forward pass alone"),
    ("8-tokens", 8e12 / (6 * 292_176) / 1_673_977, "number of epochs"),
    ("8-chinchilla-size", (1e21 / 20) ** 0.5, "The 6 of C"),
    ("8-chinchilla-size", (1e21 / 6) ** 0.5, "20 tokens per parameter"),
    ("8-chinchilla-size", 20 * (1e21 / 120) ** 0.5, "That is D"),
    ("8-chinchilla-size", 1e21 / 120, "N², not N"),
    ("8-repeated-data", 8 * 1_673_977, "worth less than new ones"),
    ("8-repeated-data", 1_673_977 * (1 + 15.4 * (1 - np.exp(-8 / 15.4))), "R = D/U − 1 = 7"),
    ("8-repeated-data", 1_673_977 * 15.4 * (1 - np.exp(-7 / 15.4)), "worth in full"),
    ("1-training-flops", 2 * 1.3e9 * 26e9, "forward pass alone"),
    ("1-training-flops", 6 * 1.3e9 * 1.3e9, "20 tokens per parameter"),
    ("1-training-flops", 2.028e11, "factor of 10^-9"),
    ("1-training-flops", 1e21, "6·N·D"),
    ("1-finetune-memory", 12.0, "not the optimizer state"),
    ("1-finetune-memory", 6.0, "weights alone"),
    ("1-finetune-memory", 48e9, "factor of 10^9"),
    ("2-mlp-parameters", 260, "weight matrices only"),
    ("2-mlp-parameters", 600, "do not multiply all the widths"),
    ("2-cnn-shape", (3, 32, 8, 8), "halved the size once"),
    ("2-cnn-shape", (3, 4, 4, 32), "(N, C, H, W)"),
    ("2-cnn-shape", (32, 4, 4), "batch axis"),
    ("2-cnn-shape", (3, 32, 3, 3), "both blocks"),
    ("3.1-param-count", 234_752, "a bias"),
    ("3.1-param-count", 235_146 + 784, "no bias of its own"),
    ("3.1-cross-entropy", 0.659, "negative logarithm"),
    ("3.1-cross-entropy", 1.417, "true class is 0"),
    ("3.1-cross-entropy", -0.417, "sign"),
    ("3.2-gradient-w1", 1.575, "σ'(z)"),
    ("3.2-gradient-w1", 0.2618, "∂E/∂z"),
    ("3.2-gradient-w1", 0.1964, "factor 2"),
    ("3.2-gradient-w1", -0.1309, "∂E/∂w₂"),
    ("3.3-conv-shape", (8, 24, 14, 14), "padding is missing"),
    ("3.3-conv-shape", (8, 24, 15, 15), "both sides"),
    ("3.3-conv-shape", (8, 24, 17, 17), "round the division down"),
    ("3.3-conv-shape", (8, 24, 32, 32), "stride is missing"),
    ("3.3-conv-shape", (8, 3, 16, 16), "C_out, not C_in"),
    ("3.3-conv-shape", (8, 16, 16, 24), "(N, C, H, W)"),
    ("3.3-conv-parameters", 1800, "bias is missing"),
    ("3.3-conv-parameters", 624, "all input channels"),
    ("3.3-conv-parameters", 1824 * 16 * 16, "every position"),
    ("3.4-rnn-steps", 0.6044, "That is h₁"),
    ("3.4-rnn-steps", 0.5, "activation is missing"),
    ("3.4-rnn-steps", 0.8337, "recurrent term is missing"),
    ("3.4-rnn-steps", 0.9473, "sign of w_hh"),
    ("3.4-rnn-steps", 0.4621, "the first one too"),
    ("3.4-lstm-parameters", 62_208, "That is a GRU"),
    ("3.4-lstm-parameters", 20_736, "plain RNN"),
    ("3.4-lstm-parameters", 82_432, "two bias vectors"),
    ("3.4-lstm-parameters", 81_920, "biases are missing"),
    ("3.4-lstm-parameters", 17_408, "W_hh"),
    ("3.5-attention-output", 1.1758, "scaling is missing"),
    ("3.5-attention-output", 0.8921, "not by d_k"),
    ("3.5-attention-output", 2 / 3, "plain average"),
    ("3.5-attention-output", 2.0, "best key alone"),
    ("3.5-attention-output", 0.5760, "weight of the third key"),
    ("3.5-encoder-parameters", 49_728, "LayerNorms have parameters"),
    ("3.5-encoder-parameters", 45_824, "output projection"),
    ("3.5-encoder-parameters", 99_904, "heads share the projections"),
    ("3.5-encoder-parameters", 49_408, "biases are missing"),
    ("3.5-encoder-parameters", 50_112, "two LayerNorms"),
    ("4.1-ce-gradient", -0.9741, "divide by N"),
    ("4.1-ce-gradient", 0.01295, "subtract the one-hot target"),
    ("4.1-ce-gradient", 0.4870, "sign"),
    ("4.1-ce-gradient", -19.2986, "∂E/∂p"),
    ("4.1-ce-gradient", 0.04928, "first example"),
    ("4.2-adam-first-step", 0.6838, "bias correction is missing"),
    ("4.2-adam-first-step", -2.162, "Correct v as well"),
    ("4.2-adam-first-step", 0.99, "Correct m as well"),
    ("4.2-adam-first-step", 0.998, "plain SGD"),
    ("4.2-adam-first-step", 1.1, "against the gradient"),
    ("4.3-strided-output", 2.0, "without padding and stride"),
    ("4.3-strided-output", -1.0, "stride is missing"),
    ("4.3-strided-output", -3.0, "flipped the kernel"),
    ("4.3-im2col-shape", (256, 75), "Transposed"),
    ("4.3-im2col-shape", (25, 256), "all input channels"),
    ("4.3-im2col-shape", (75, 1024), "*output* position"),
    ("4.3-im2col-shape", (24, 256), "the product"),
    ("4.4-bptt-by-hand", 1.4298, "step 2's term only"),
    ("4.4-bptt-by-hand", 0.7149, "f'(z₁)"),
    ("4.4-bptt-by-hand", 1.8836, "Check the sign"),
    ("4.4-bptt-by-hand", 1.3653, "last tanh"),
    ("4.4-bptt-by-hand", 0.4321, "∂L/∂w_hh"),
    ("4.4-vanishing-steps", 65, "up, not down"),
    ("4.4-vanishing-steps", 69, "only an approximation"),
    ("4.4-vanishing-steps", 29, "same logarithm"),
    ("4.5-score-spread", 256, "That is the variance"),
    ("4.5-score-spread", 8, "variance 4, not 1"),
    ("4.5-score-spread", 32, "√4 = 2"),
    ("4.5-score-spread", 2, "after the division by √d_k"),
    ("4.5-score-spread", 128, "grows like √d_k"),
    ("9-overshoot", 1 - 1e-3 * 100**2 / 3, "keep the factor 2"),
    ("9-overshoot", 1 - 2e-3 * 50**2, "not E[x]²"),
    ("9-overshoot", 1 - 2e-3 * 50, "not E[x]"),
    ("9-overshoot", 2e-3 * 100**2 / 3, "1 minus the product"),
    ("9-overshoot", 5.6667, "sign"),
    ("9-missing-zero-grad", 0.5, "with zero_grad()"),
    ("9-missing-zero-grad", 5.0, "not n²"),
    ("9-missing-zero-grad", 2.25, "Count from the first step"),
    ("7-cnn-parameters", 6090 - 16 - 32 - 10, "bias too"),
    ("7-cnn-parameters", 6090 - 32 * 16 * 9 + 32 * 9, "all 16 input channels"),
    ("7-cnn-parameters", 6090 + 96, "no parameters"),
    ("7-cnn-parameters", 6090 - 1280 + 20_480, "32 channels of 2×2"),
    ("7-adamw-memory", 4 * 2_559_744 / 1e6, "weights alone"),
    ("7-adamw-memory", 8 * 2_559_744 / 1e6, "two moments"),
    ("7-adamw-memory", 12 * 2_559_744 / 1e6, "m and v"),
    ("7-adamw-memory", 16 * 2_559_744 / 2**20, "not 2²⁰"),
    ("6-assistant-flops", 6 * 2_535_168 * 23_756_800 * 1e5, "D grows by 10⁶"),
    ("6-assistant-flops", 6 * 2_535_168 * 23_756_800 * 1e6, "N grows by 10⁵"),
    ("6-assistant-flops", 1e11, "how many times our run"),
    ("6-assistant-flops", 2_535_168 * 23_756_800 * 1e11, "Keep the 6"),
    ("6-held-out-dates", 3650, "Leap years"),
    ("6-held-out-dates", 3653, "even neighbour"),
    ("6-held-out-dates", 36_525, "every day"),
    ("6-held-out-dates", 36_525 - 3652, "training days"),
    ("5.1-kn-bigram", 0.5, "raw ratio"),
    ("5.1-kn-bigram", 0.4, "did not add the freed mass back"),
    ("5.1-kn-bigram", 0.46, "not the uniform 1/V"),
    ("5.1-kn-bigram", 0.4545, "distinct left neighbours"),
    ("5.1-kn-bigram", 0.4429, "start of the text"),
    ("5.1-bpe-vocabulary", 7, "special tokens"),
    ("5.1-bpe-vocabulary", 10, "space is a character"),
    ("5.1-bpe-vocabulary", 12, "occurs once"),
    ("5.1-bpe-vocabulary", 100, "stops early"),
    ("5.1-bpe-vocabulary", 2, "number of merges"),
    ("5.1-bits-per-char", 3.8535 * 0.6931, "ln 2"),
    ("5.1-bits-per-char", 3.8535 / 2.3026, "decimal digits"),
    ("5.1-bits-per-char", 47.16, "perplexity"),
    ("5.2-param-count", 2_559_744 + 3934 * 192, "tied"),
    ("5.2-param-count", 2_559_744 - 128 * 192, "position embedding"),
    ("5.2-param-count", 2_559_744 - 2 * 192, "final LayerNorm"),
    ("5.2-run-flops", 6 * 2_535_168 * 6000 * 16, "D counts characters"),
    ("5.2-run-flops", 2 * 2_535_168 * 6000 * 16 * 128, "forward pass alone"),
    ("5.2-run-flops", 6 * 2_559_744 * 6000 * 16 * 128, "looked up"),
    ("5.2-perplexity", 2**3.6939, "not 2^loss"),
    ("5.2-perplexity", np.exp(-3.6939), "geometric mean"),
    ("5.3-lora-trainable", 36_864, "head is new"),
    ("5.3-lora-trainable", 18_818, "two factors"),
    ("5.3-lora-trainable", 14_210, "feed-forward layers too"),
    ("5.3-lora-trainable", 9_602, "query and value projections only"),
    ("5.3-lora-trainable", 37_250 + 2_559_744, "the GPT is frozen"),
    ("5.3-majority-baseline", 0.4951, "*minority* class"),
    ("5.3-majority-baseline", 0.5210, "score it on the test"),
    ("5.3-majority-baseline", 50.4882, "not a percentage"),
    ("5.4-cache-memory", 201.3, "the keys *and* the values"),
    ("5.4-cache-memory", 1610.6, "query heads share them"),
    ("5.4-cache-memory", 805.3, "not 4"),
    ("5.4-cache-memory", 50.33, "8 sequences"),
    ("5.4-cache-memory", 16.78, "24 layers"),
    ("5.4-cache-memory", 384.0, "MiB"),
    ("5.4-cache-memory", 402_653_184, "factor of 10^6"),
    ("5.4-positions", 115, "*with* the cache"),
    ("5.4-positions", 11_500, "full final length"),
    ("5.4-positions", 11_600, "full final length"),
    ("5.4-positions", 6650, "never fed back in"),
    ("5.4-positions", 6670, "run whole at the first step"),
    ("5.4-positions", 5000, "Count the prompt too"),
    ("5.4-positions", 6000, "add the lengths"),
    ("5.5-swiglu-parameters", 2 * 4096 * 11008, "SwiGLU has three"),
    ("5.5-swiglu-parameters", 3 * 4096 * 11008 + 2 * 11008 + 4096, "no biases"),
    ("5.5-swiglu-parameters", 4096 * 11008, "That is one matrix"),
    ("5.5-swiglu-parameters", 3 * 4096 * 4 * 4096, "not 4·d"),
    ("5.5-gqa-parameters", 4 * 8192**2, "multi-head attention"),
    ("5.5-gqa-parameters", 2 * 8192**2 + 2 * 8192 * 128, "multi-query attention"),
    ("5.5-gqa-parameters", 8192**2 + 2 * 8192 * 1024, "W_O"),
    ("5.5-gqa-parameters", 2 * 8192**2 + 2 * 8192 * 8, "head size d / 64 = 128"),
]


@pytest.mark.parametrize(("exercise_id", "answer", "words"), WRONG_NUMBERS)
def test_a_wrong_answer_fails_with_its_hint(exercise_id: str, answer, words: str,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    ok, out = run(capsys, get(exercise_id).checker, answer)
    assert ok is False
    assert out.startswith("✗ ")
    assert words in out


def test_the_expected_answer_is_never_printed(capsys: pytest.CaptureFixture[str]) -> None:
    """A hint says where to look, not what the number is: neither after a wrong answer nor after a right one."""
    shown = {"8-tokens": ["4.56342e+06", "4,563,416"], "8-chinchilla-size": ["2.88675e+09", "2,886,751,345"],
             "8-repeated-data": ["1.10882e+07", "11,088,2"],
             "2-mlp-parameters": ["283"], "3.1-param-count": ["235,146", "235146"], "3.1-cross-entropy": ["0.417"],
             "3.2-gradient-w1": ["0.392", "0.393"], "2-cnn-shape": ["(3, 32, 4, 4)"],
             "3.3-conv-shape": ["(8, 24, 16, 16)", "16"], "3.3-conv-parameters": ["1,824", "1824"],
             "3.4-rnn-steps": ["0.533", "0.534"], "3.4-lstm-parameters": ["82,944", "82944"],
             "3.5-attention-output": ["1.00", "1.01"], "3.5-encoder-parameters": ["49,984", "49984"],
             "4.1-ce-gradient": ["0.487"], "4.2-adam-first-step": ["0.900", "0.9 "],
             "4.3-im2col-shape": ["(75, 256)"], "4.4-bptt-by-hand": ["0.976"], "4.4-vanishing-steps": ["66"],
             "4.5-score-spread": ["16"], "5.4-cache-memory": ["402.6", "402.7"], "5.4-positions": ["6,550", "6550"],
             "5.5-swiglu-parameters": ["135,266,304", "135266304"], "5.5-gqa-parameters": ["150,994,944", "150994944"]}
    for exercise_id, texts in shown.items():
        if exercise_id.endswith("shape"):
            wrong = [(3, 32, 8, 8), (1, 1), (8, 24, 14, 14), (8, 24, 32, 32)]
        else:
            wrong = [1, 260, 234_752, 0.659, 1.575, 1800, 624]
        for answer in [*wrong, SOLUTIONS[exercise_id]]:
            _, out = run(capsys, get(exercise_id).checker, answer)
            assert not any(t in out for t in texts), (exercise_id, answer, out)


# --- wrong functions: the first mismatch, with shapes and values ----------------------------------------------

WRONG_FUNCTIONS = [
    ("8-parabola-vertex", lambda n, loss: parabola_vertex(n, loss, in_log=False), ["fit it in ln N"]),
    ("8-parabola-vertex", lambda n, loss: parabola_vertex(n, loss, exp=False), ["return N_opt itself"]),
    ("3.1-softmax", lambda z: np.exp(z) / np.exp(z).sum(axis=0, keepdims=True),
     ["z: (3, 4)", "at index (0, 0)", "expected", "axis 0"]),
    ("3.1-softmax", lambda z: np.exp(z) / np.exp(z).sum(axis=-1),
     ["z: (3, 4)", "raised ValueError", "keepdims=True"]),
    ("3.1-neuron", lambda x, w, b: 1 / (1 + np.exp(-(x @ w))), ["x: (4, 3)", "at index (0,)", "bias b is missing"]),
    ("3.2-softmax-backward", lambda p, g: p * g, ["p: (4,)", "dz is wrong", "at index (0,)", "A term is missing"]),
    ("3.2-softmax-backward", lambda p, g: p * (g - np.sum(g * p, axis=0, keepdims=True)),
     ["p: (3, 5)", "dz is wrong", "not axis 0"]),
    ("3.2-softmax-backward", lambda p, g: p * (1 - p) * g, ["diagonal of the Jacobian"]),
    ("3.2-linear-backward", lambda x, W, g: (g @ W, x.T @ g, g.sum(axis=0)),
     ["x: (4, 3), W: (2, 3), g: (4, 2)", "dW should have shape (2, 3), yours has shape (3, 2)"]),
    ("3.2-linear-backward", lambda x, W, g: (g @ W, g.T @ x, g),
     ["db should have shape (2,), yours has shape (4, 2)"]),
    ("3.2-linear-backward", lambda x, W, g: (g @ W, g.T @ x / len(x), g.sum(axis=0)),
     ["dW is wrong", "at index (0, 0)", "not a mean"]),
    ("3.2-linear-backward", lambda x, W, g: (g @ W, g.T @ x), ["return 3 things, (dx, dW, db)"]),
    ("3.2-sgd-step", lambda w, g, v, lr, mu: (w - lr * g, v), ["at index (1, 0)", "momentum μ is ignored"]),
    ("3.2-sgd-step", lambda w, g, v, lr, mu: (w + lr * (mu * v + g), mu * v + g),
     ["at index (0, 0)", "Step against the gradient"]),
    ("3.2-sgd-step", lambda w, g, v, lr, mu: w - lr * g, ["(new_w, new_velocity)"]),
    ("2-forward", lambda x, W1, b1, W2, b2: (x @ W1.T + b1) @ W2.T + b2, ["x: (2, 4), W1: (5, 4)", "Apply tanh"]),
    ("2-forward", lambda x, W1, b1, W2, b2: np.tanh(x @ W1 + b1) @ W2.T + b2, ["raised ValueError", "x @ W.T + b"]),
    ("1-lora-count", lambda n_layers, d_model, rank: n_layers * rank * 2 * d_model,
     ["n_layers=32, d_model=4096, rank=8", "you returned 2,097,152, expected 4,194,304", "two factors"]),
    ("1-lora-count", lambda n_layers, d_model, rank: None, ["returned None", "return"]),
    ("1-lora-count", lambda n_layers, d_model, rank: 1 / 0, ["raised ZeroDivisionError"]),
    ("3.3-conv2d", lambda x, k: conv2d(x, k[::-1, ::-1]), ["x: (5, 5), k: (3, 3)", "at index (0, 0)", "flipped"]),
    ("3.3-conv2d", lambda x, k: np.zeros(x.shape), ["should have shape (3, 3), yours has shape (5, 5)"]),
    ("3.3-max-pool", lambda x, k: x.reshape(*x.shape[:2], x.shape[2] // k, k, x.shape[3] // k, k).mean(axis=(3, 5)),
     ["x: (2, 3, 4, 4), k=2", "average pooling"]),
    ("3.3-max-pool", lambda x, k: x.reshape(*x.shape[:2], x.shape[2] // k, k, x.shape[3] // k, k).max(axis=(3, 5)),
     ["x: (1, 1, 5, 7), k=2", "raised ValueError", "drop the last rows or columns"]),
    ("3.3-max-pool", lambda x, k: x[:, :, ::k, ::k], ["x: (2, 3, 4, 4), k=2", "the output is wrong"]),
    ("3.4-gru-cell", lambda *args: gru_cell(*args, swap_z=True),
     ["x: (2, 3), h: (2, 4), w_ih: (12, 3)", "at index (0, 0)", "share of the *old* state"]),
    ("3.4-gru-cell", lambda *args: gru_cell(*args, reset_before=True), ["applies it after"]),
    ("3.4-gru-cell", lambda x, h, w_ih, w_hh, b_ih, b_hh: x @ w_ih, ["raised ValueError", "blocks r, z, n"]),
    ("3.4-gru-cell", lambda x, h, w_ih, w_hh, b_ih, b_hh: np.tanh(x @ w_ih.T + b_ih),
     ["should have shape (2, 4), yours has shape (2, 12)"]),
    ("3.5-causal-attention", lambda q, k, v: causal_attention(q, k, v, mask="none"),
     ["q: (4, 3), k: (4, 3), v: (4, 2)", "at index (0, 0)", "There is no mask"]),
    ("3.5-causal-attention", lambda q, k, v: causal_attention(q, k, v, mask="future"), ["wrong way round"]),
    ("3.5-causal-attention", lambda q, k, v: causal_attention(q, k, v, after_softmax=True),
     ["at index (0, 0)", "*before* the softmax"]),
    ("3.5-causal-attention", lambda q, k, v: causal_attention(q, k, v, scale=False),
     ["at index (1, 0)", "scaling is missing"]),
    ("3.5-causal-attention", lambda q, k, v: causal_attention(q, k, v) if q.ndim == 2 else softmax(q @ k.T) @ v,
     ["q: (2, 5, 4)", "raised ValueError", "np.swapaxes(k, -1, -2)"]),
    ("4.1-gelu-derivative", lambda z: gelu_derivative(z, first_term_only=True),
     ["z: (9,)", "GELU'(z) is wrong", "at index (0,)", "product rule"]),
    ("4.1-gelu-derivative", lambda z: 0.5 * z * (1 + np.tanh(np.sqrt(2 / np.pi) * (z + 0.044715 * z**3))),
     ["GELU itself"]),
    ("4.1-cross-entropy", lambda z, y: cross_entropy(z, y, naive=True),
     ["z: (3, 4), y: (3,)", "loss is wrong: you returned", "subtract each row's maximum"]),
    ("4.1-cross-entropy", lambda z, y: (cross_entropy(z, y)[0], cross_entropy(z, y)[1] * len(z)),
     ["z: (4, 3), y: (4,)", "dz is wrong", "factor 1/N"]),
    ("4.1-cross-entropy", lambda z, y: (cross_entropy(z, y)[0] * len(z), cross_entropy(z, y)[1]),
     ["loss is wrong", "not the sum"]),
    ("4.1-cross-entropy", lambda z, y: cross_entropy(z, y)[1], ["return 2 things, (loss, dz)"]),
    ("4.2-numerical-gradient", lambda f, x, h: numerical_gradient(f, x, h, forward=True),
     ["f=Σ x², x: (4,), h=0.001", "at index (0,)", "forward difference"]),
    ("4.2-numerical-gradient", lambda f, x, h: 2 * numerical_gradient(f, x, h), ["divide by 2h"]),
    ("4.2-numerical-gradient", lambda f, x, h: np.array([(f(x + h) - f(x - h)) / (2 * h)]),
     ["the gradient should have shape (4,), yours has shape (1,)"]),
    ("4.2-adam-step", lambda *args: adam_step(*args, corrected=False),
     ["w: (3,), grads: (4, 3), lr=0.1", "at index (0, 0)", "bias correction is missing"]),
    ("4.2-adam-step", lambda w, g, m, v, t, lr, b1, b2, eps: adam_step(w, -g, m, v, t, lr, b1, b2, eps),
     ["Step against the gradient"]),
    ("4.2-adam-step", lambda w, g, m, v, t, lr, b1, b2, eps: w - lr * g, ["(new_w, new_m, new_v)"]),
    ("4.3-conv-layer", lambda x, w, b, s, p: conv_layer(x, w, 0 * b, s, p),
     ["x: (1, 1, 5, 5), w: (1, 1, 3, 3), b: (1,), stride=1, padding=0", "at index (0, 0, 0, 0)", "bias is missing"]),
    ("4.3-conv-layer", lambda x, w, b, s, p: conv_layer(x, w, b, s, p, flip=True), ["flipped the kernel"]),
    ("4.3-conv-layer", lambda x, w, b, s, p: conv_layer(x, w, b, s, p, one_side=True),
     ["x: (2, 3, 6, 5)", "padding=1", "both sides"]),
    ("4.3-conv-layer", lambda x, w, b, s, p: conv_layer(x, w, b, 1, p),
     ["stride=2", "should have shape (1, 3, 4, 4), yours has shape (1, 3, 7, 7)"]),
    ("4.3-conv-backward", lambda x, k, g: conv_backward(x, k, g, flip_dx=False),
     ["x: (5, 5), k: (3, 3), g: (3, 3)", "dx is wrong", "turned by 180°"]),
    ("4.3-conv-backward", lambda x, k, g: conv_backward(x, k, g, flip_dk=True), ["dk is wrong", "no flip"]),
    ("4.3-conv-backward", lambda x, k, g: (conv_backward(x, k, g)[0], conv2d(g, x)), ["raised ValueError"]),
    ("4.4-bptt", lambda *args: bptt(*args, recurrent=False),
     ["x: (1, 3, 2), h0: (1, 3), w_xh: (3, 2), w_hh: (3, 3), b: (3,), g: (1, 3, 3)", "dw_xh is wrong",
      "recurrent term is missing"]),
    ("4.4-bptt", lambda *args: (bptt(*args)[0], bptt(*args)[1].T, *bptt(*args)[2:]), ["dw_hh is wrong", "transposed"]),
    ("4.4-bptt", lambda *args: bptt(*args)[:3], ["return 4 things, (dw_xh, dw_hh, db, dh0)"]),
    ("4.5-attention-backward", lambda *args: attention_backward(*args, jacobian=False),
     ["q: (3, 2), k: (4, 2), v: (4, 2), g: (3, 2)", "dq is wrong", "softmax's second term"]),
    ("4.5-attention-backward", lambda *args: attention_backward(*args, scale_back=False), ["1/√d_k is missing"]),
    ("4.5-attention-backward", lambda q, k, v, g: attention_backward(q, k, v, g) if q.ndim == 2 else (q @ k.T,) * 3,
     ["q: (2, 4, 3)", "raised ValueError", "np.swapaxes(a, -1, -2)"]),
    ("4.5-multihead", lambda q, k, v, h: softmax(q @ np.swapaxes(k, -1, -2) / np.sqrt(q.shape[-1])) @ v,
     ["q: (1, 3, 4), k: (1, 3, 4), v: (1, 3, 4), num_heads=2", "at index (0, 0, 0)", "one attention over all"]),
    ("4.5-multihead", lambda *args: multihead(*args, split="interleaved"), ["*consecutive* features"]),
    ("4.5-multihead", lambda *args: multihead(*args, scale_by="model"), ["not 1/√E"]),
    ("9-clip-grad-norm", lambda gw, gb, m: tuple(g * min(1, m / np.linalg.norm(g)) for g in (gw, gb)),
     ["g_weight: (3, 2), g_bias: (3,), max_norm=1", "g_weight is wrong", "at index (0, 0)", "norm is joint"]),
    ("9-clip-grad-norm", lambda gw, gb, m: (np.clip(gw, -m, m), np.clip(gb, -m, m)), ["single entries"]),
    ("7-lambda-lr", lambda s, total, w, r: s / w if s < w else lr_factor(s, total, w, r),
     ["step=0, total_steps=100, warmup_steps=10, min_ratio=0.1", "you returned 0, expected 0.1", "step + 1"]),
    ("7-lambda-lr", lambda s, total, w, r: lr_factor(s, total, w, 0.0 if s >= w else r), ["ends at min_ratio"]),
    ("7-lambda-lr", lambda s, total, w, r: lr_factor(s, total, w, r) if w else 1 / w,
     ["step=0, total_steps=50, warmup_steps=0", "raised ZeroDivisionError", "warmup_steps = 0"]),
    ("6-top-k", lambda z, t, k: top_k_distribution(z, t, k, keep=max(k - 1, 1)),
     ["logits: (4,), temperature=1, k=2", "p is wrong", "at index (1,)", "not k − 1"]),
    ("6-top-k", lambda z, t, k: top_k_distribution(z, t, k, keep=k + 1), ["not k + 1"]),
    ("6-top-k", lambda z, t, k: top_k_distribution(z, t, k, renormalise=False), ["by their sum"]),
    ("6-top-k", lambda z, t, k: top_k_distribution(z * t * t, t, k), ["divides the logits"]),
    ("9-clip-grad-norm", lambda gw, gb, m: clip_by_norm(gw, gb, m, only_shrink=False), ["only ever shrinks"]),
    ("9-clip-grad-norm", lambda gw, gb, m: clip_by_norm(gw, gb, m)[0], ["return 2 things, (g_weight, g_bias)"]),
    ("5.1-kn-table", lambda ids, v: kn_bigram(ids, v, lower="raw"),
     ["ids: (11,), vocab_size=5", "P is wrong", "at index (0, 0)", "not occurrences"]),
    ("5.1-kn-table", lambda ids, v: kn_bigram(ids, v, start=False), ["one more distinct left neighbour"]),
    ("5.1-kn-table", lambda ids, v: kn_bigram(ids, v, interpolate=False), ["sum to 1"]),
    ("5.1-kn-table", lambda ids, v: kn_bigram(ids, v)[:-1], ["P should have shape (5, 5), yours has shape (4, 5)"]),
    ("5.2-top-p", lambda z, t, p: top_p_distribution(z, t, p, crossing=False),
     ["logits: (4,), temperature=1, top_p=0.8", "p is wrong", "at index (0,)", "*at least* p"]),
    ("5.2-top-p", lambda z, t, p: top_p_distribution(z, t, p, renormalise=False), ["by their sum"]),
    ("5.2-top-p", lambda z, t, p: top_p_distribution(z * t * t, t, p), ["divides the logits"]),
    ("5.2-top-p", lambda z, t, p: None, ["returned None"]),
    ("5.3-lora-forward", lambda x, W, b, A, B, alpha: x @ W.T + b + alpha * (x @ A.T) @ B.T,
     ["x: (3, 6), W: (4, 6), b: (4,), A: (2, 6), B: (4, 2), alpha=4", "at index (0, 0)", "not by α"]),
    ("5.3-lora-forward", lambda x, W, b, A, B, alpha: x @ W.T + b + (x @ A.T) @ B.T, ["scaled by α/r"]),
    ("5.3-lora-forward", lambda x, W, b, A, B, alpha: x @ W.T + b, ["update (α/r)·B A x is missing"]),
    ("5.3-lora-forward", lambda x, W, b, A, B, alpha: x @ W + b, ["raised ValueError", "x @ W.T + b"]),
    ("5.4-quantize", lambda w: quantize(w, scale_of="matrix"), ["w: (3, 5)", "q is wrong", "whole matrix"]),
    ("5.4-quantize", lambda w: quantize(w, scale_of="signed rows"), ["w: (3, 5)", "take np.abs(w) first"]),
    ("5.4-quantize", lambda w: quantize(w, divide_by=128), ["Divide by 127, not 128"]),
    ("5.4-quantize", lambda w: quantize(w, rounding=np.trunc), ["q is wrong", "at index", "np.round"]),
    ("5.4-quantize", lambda w: (np.round(w / (np.abs(w).max(axis=0) / 127)), np.abs(w).max(axis=0) / 127),
     ["w: (3, 5)", "q is wrong", "one per row"]),
    ("5.4-quantize", lambda w: quantize(w)[0], ["return 2 things, (q, scale)"]),
    ("5.4-int8-linear", lambda *args: int8_linear(*args, bias=False),
     ["x: (1, 5), q: (3, 5), scale: (3,), b: (3,)", "at index (0, 0)", "bias is missing"]),
    ("5.4-int8-linear", lambda *args: int8_linear(*args, scales=False), ["scales are missing"]),
    ("5.4-int8-linear", lambda x, q, s, b: (x * s) @ q.T + b if x.shape[1] == q.shape[0] else int8_linear(x, q, s, b),
     ["x: (4, 6), q: (6, 6)", "multiplies the output's column o"]),
    ("5.4-int8-linear", lambda x, q, s, b: x @ q + b, ["raised ValueError", "q.T"]),
    ("5.5-rms-norm", lambda x, w, eps: rms_norm(x, w, eps, centred=True),
     ["x: (6,), weight: (6,), eps=0.1", "at index (0,)", "That is LayerNorm"]),
    ("5.5-rms-norm", lambda x, w, eps: rms_norm(x, w, eps, eps_outside=True), ["inside the square root"]),
    ("5.5-rms-norm", lambda x, w, eps: rms_norm(x, w, eps, scaled=False), ["weight γ is missing"]),
    ("5.5-rms-norm", lambda x, w, eps: rms_norm(x, w, eps, axis=None), ["x: (3, 5)", "over the last axis only"]),
    ("5.5-rms-norm", lambda x, w, eps: x / np.sqrt(np.mean(x * x, axis=-1) + eps) * w if x.ndim == 1 else x @ x,
     ["x: (3, 5)", "raised ValueError", "keepdims=True"]),
    ("5.5-rope", lambda x, base: rope(x, base, pairs="neighbours"),
     ["x: (5, 4), base=1e+04", "paired neighbours"]),
    ("5.5-rope", lambda x, base: rope(x, base, sign=-1), ["rotated clockwise"]),
    ("5.5-rope", lambda x, base: rope(x, base, step=1), ["base^(−2i/d)"]),
    ("5.5-rope", lambda x, base: rope(x, base)[..., : x.shape[-1] // 2], ["should have shape (5, 4)"]),
]


@pytest.mark.parametrize(("exercise_id", "fn", "words"), WRONG_FUNCTIONS)
def test_a_wrong_function_gets_its_first_mismatch(exercise_id: str, fn, words: list[str],
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    ok, out = run(capsys, get(exercise_id).checker, fn)
    assert ok is False
    assert out.startswith("✗ For inputs ")
    for w in words:
        assert w in out, (w, out)


def test_a_tensor_is_not_an_array(capsys: pytest.CaptureFixture[str]) -> None:
    from dlbook import functional as F

    ok, out = run(capsys, ch3_1.check_softmax, lambda z: F.softmax(z))
    assert not ok and "return the numpy array (its .data)" in out


def test_a_mismatch_reports_the_values() -> None:
    from dlbook.exercises._compare import first_mismatch

    got, expected = np.zeros((2, 3)), np.zeros((2, 3))
    assert first_mismatch(got, expected) is None
    got[1, 2], got[1, 0] = 0.5, 2.0
    assert first_mismatch(got, expected) == "at index (1, 0) you returned 2, expected 0 (2 of 6 entries differ)"
    assert first_mismatch(got + 1e-12, expected + 1e-12) is not None     # tolerance: rtol 1e-6, atol 1e-9
    assert first_mismatch(expected + 1e-10, expected) is None


# --- bad arguments --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("answer", ["48", None, True, [48], float("nan")])
def test_a_number_checker_rejects_what_is_not_a_number(answer) -> None:
    with pytest.raises((TypeError, ValueError), match="answer"):
        ch1.check_finetune_memory(answer)


@pytest.mark.parametrize("answer", ["(3, 32, 4, 4)", 3, (3.0, 32, 4, 4), (3, 32, 4, True)])
def test_a_shape_checker_rejects_what_is_not_a_shape(answer) -> None:
    with pytest.raises(TypeError, match="answer must be a shape"):
        ch2.check_pool_shape(answer)
    with pytest.raises(TypeError, match="answer must be a shape"):
        ch3_3.check_conv_shape(answer)
    with pytest.raises(TypeError, match="answer must be a shape"):
        ch4_3.check_im2col_shape(answer)


@pytest.mark.parametrize("checker", [ch3_3.check_conv_parameters, ch3_4.check_rnn_steps,
                                     ch3_4.check_lstm_parameters, ch3_5.check_attention_output,
                                     ch3_5.check_encoder_parameters, ch4_1.check_ce_gradient,
                                     ch4_2.check_adam_first_step, ch4_3.check_strided_output,
                                     ch4_4.check_bptt_by_hand, ch4_4.check_vanishing_steps,
                                     ch5_2.check_param_count, ch5_2.check_run_flops, ch5_2.check_perplexity,
                                     ch5_3.check_lora_trainable, ch5_3.check_majority_baseline,
                                     ch9.check_overshoot, ch9.check_missing_zero_grad,
                                     ch6.check_assistant_flops, ch6.check_held_out_dates,
                                     ch7.check_cnn_parameters, ch7.check_adamw_memory,
                                     ch4_5.check_score_spread, ch5_1.check_kn_bigram,
                                     ch5_1.check_bpe_vocabulary, ch5_1.check_bits_per_char,
                                     ch5_4.check_cache_memory, ch5_4.check_positions,
                                     ch5_5.check_swiglu_parameters, ch5_5.check_gqa_parameters])
@pytest.mark.parametrize("answer", ["1824", None, True, [1824], float("inf")])
def test_a_count_checker_rejects_what_is_not_a_number(checker, answer) -> None:
    with pytest.raises((TypeError, ValueError), match="answer"):
        checker(answer)


@pytest.mark.parametrize("checker", [ch1.check_lora_parameters, ch2.check_forward, ch3_1.check_softmax,
                                     ch3_1.check_neuron, ch3_2.check_linear_backward, ch3_2.check_softmax_backward,
                                     ch3_2.check_sgd_step, ch3_3.check_conv2d, ch3_3.check_max_pool,
                                     ch3_4.check_gru_cell, ch3_5.check_causal_attention,
                                     ch4_1.check_gelu_derivative, ch4_1.check_cross_entropy,
                                     ch4_2.check_numerical_gradient, ch4_2.check_adam_step,
                                     ch4_3.check_conv_layer, ch4_3.check_conv_backward, ch4_4.check_bptt,
                                     ch5_2.check_top_p,
                                     ch5_3.check_lora_forward,
                                     ch9.check_clip_grad_norm,
                                     ch6.check_top_k,
                                     ch7.check_lambda_lr,
                                     ch4_5.check_attention_backward, ch4_5.check_multihead, ch5_1.check_kn_table,
                                     ch5_4.check_quantize, ch5_4.check_int8_linear,
                                     ch5_5.check_rms_norm, ch5_5.check_rope])
def test_an_implement_checker_rejects_what_is_not_callable(checker) -> None:
    with pytest.raises(TypeError, match="fn must be a function"):
        checker(np.zeros(3))


def test_numpy_scalars_are_numbers(capsys: pytest.CaptureFixture[str]) -> None:
    ok, _ = run(capsys, ch3_1.check_cross_entropy, np.float32(SOLUTIONS["3.1-cross-entropy"]))
    assert ok
    ok, _ = run(capsys, ch2.check_pool_shape, tuple(np.array([3, 32, 4, 4])))
    assert ok


# --- the registry ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("chapter", sorted(CHAPTERS_DONE))
def test_each_chapter_done_has_three_to_six_exercises_of_two_kinds_or_more(chapter: str) -> None:
    found = exercises(chapter)
    assert 3 <= len(found) <= 6, [e.id for e in found]
    assert len({e.kind for e in found}) >= 2
    assert all(e.kind in KINDS and e.id.startswith(chapter + "-") for e in found)
    assert all((e.checker is None) == (e.kind == "explore") for e in found)


@pytest.mark.parametrize(("chapter", "notebook"), sorted(CHAPTERS_DONE.items()))
def test_the_chapter_runs_every_checker_it_registers(chapter: str, notebook: str) -> None:
    """Each checker of a chapter is called in that chapter's Exercises section, and its stored output is ✓."""
    cells = json.loads((ROOT / "chapters" / f"{notebook}.ipynb").read_text(encoding="utf-8"))["cells"]
    start = next(i for i, c in enumerate(cells) if "".join(c["source"]).startswith("## Exercises"))
    code = [c for c in cells[start:] if c["cell_type"] == "code"]
    for e in exercises(chapter):
        if e.checker is None:
            continue
        calls = [c for c in code if f".{e.checker.__name__}(" in "".join(c["source"])]
        assert len(calls) == 1, e.id
        printed = "".join("".join(o.get("text", "")) for o in calls[0]["outputs"] if o["output_type"] == "stream")
        assert printed.startswith("✓ "), (e.id, printed)


def test_the_registry_refuses_mistakes() -> None:
    with pytest.raises(ValueError, match="kind"):
        register("3.1-y", "3.1", "guess", "no such kind")(lambda a: True)
    with pytest.raises(ValueError, match="chapter"):
        explore("99-x", "99", "no such chapter")
    with pytest.raises(ValueError, match="starts with its chapter"):
        explore("3.2-x", "3.1", "wrong prefix")
    with pytest.raises(ValueError, match="registered twice"):
        explore("3.1-param-count", "3.1", "an id taken by a checker")
    with pytest.raises(ValueError, match="no exercise"):
        get("3.1-nothing")


def test_every_chapter_module_is_listed() -> None:
    modules = {p.stem for p in (ROOT / "src" / "dlbook" / "exercises").glob("ch*.py")}
    assert modules == set(CHAPTER_MODULES.values())
