"""Fine-tuning step of the review classifier on the Part IV GPT shape (context 128, d_model 192, 4 layers,
4 heads, float32, batch 32 reviews): LoRA (rank 8 on every attention and feed-forward matrix) against full
fine-tuning, both dlbook — forward, cross-entropy, backward, AdamW on the trainable parameters.

LoRA computes x Wᵀ + b + (α/r)(x Aᵀ)Bᵀ with W frozen, so its backward forms no weight gradient of the big
matrices and its optimiser holds state for A, B and the head only.  The ratio is LoRA / full; peak memory of
one step (tracemalloc) and the optimiser state are printed beside it.
"""

from __future__ import annotations

import numpy as np

from bench.common import Case, peak_memory_mb

N, RANK, ALPHA = 32, 8, 16.0


def _step(method: str) -> tuple:
    from dlbook import functional as F
    from dlbook.data.chinese import load_reviews
    from dlbook.finetune import build_classifier, encode_texts, trainable_parameters
    from dlbook.models.gpt import GPT, GPTConfig
    from dlbook.optim import AdamW, clip_grad_norm
    from dlbook.recipes.pretrain import load_news_data

    tok = load_news_data(vocab="news+reviews").tokenizer
    gpt = GPT(GPTConfig.preset("base", tok.vocab_size), rng=np.random.default_rng(0), dtype=np.float32)
    reviews = load_reviews()
    pick = np.random.default_rng(1).choice(len(reviews.train_text), N, replace=False)
    ids, lengths = encode_texts([reviews.train_text[i] for i in pick], tok, gpt.config.context)
    y = reviews.train_y[pick]
    model = build_classifier(gpt, method, rng=np.random.default_rng(2), rank=RANK, alpha=ALPHA)
    params = trainable_parameters(model)
    opt = AdamW(params, lr=1e-4)

    def step() -> None:
        loss = F.cross_entropy(model(ids, lengths), y)
        opt.zero_grad()
        loss.backward()
        clip_grad_norm(params, 1.0)
        opt.step()

    state_mb = sum(m.nbytes + v.nbytes for m, v in zip(opt.m, opt.v)) / 1e6
    return step, model, int(sum(p.size for p in params)), state_mb, int(lengths.sum())


def cases() -> list[Case]:
    lora, model, lora_trainable, lora_state, tokens = _step("lora")
    full, _, full_trainable, full_state, _ = _step("full")
    case = Case(name=f"classifier step LoRA r={RANK} vs full, ctx 128 d=192 4x4h N={N} f32", ours=lora,
                reference=full, reference_name="full", unit_of_work=tokens, unit_name="tokens",
                notes=f"{model.num_parameters():,} parameters; trainable: LoRA {lora_trainable:,}, "
                      f"full {full_trainable:,}")
    lora(), full()                                   # warm up: first-call allocations are not the step's
    case.extra["peak memory of one LoRA step (MB)"] = peak_memory_mb(lora)
    case.extra["peak memory of one full fine-tuning step (MB)"] = peak_memory_mb(full)
    case.extra["optimiser state, LoRA (MB)"] = lora_state
    case.extra["optimiser state, full fine-tuning (MB)"] = full_state
    return [case]
