"""GPT training step (character vocabulary of the news corpus, context 64, d_model 128, 4 layers, 4 heads,
batch 32, float32): forward, cross-entropy, backward, AdamW — dlbook vs the same model in PyTorch."""

from __future__ import annotations

import numpy as np

from bench.common import Case, peak_memory_mb, torch_available
from dlbook.costs import training_flops

N, CONTEXT, D, LAYERS, HEADS = 32, 64, 128, 4, 4


def _batch(vocab: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(1)
    ids = rng.integers(0, vocab, size=(N, CONTEXT + 1))
    return ids[:, :-1], ids[:, 1:]


def _ours() -> tuple:
    from dlbook.models.gpt import GPT, GPTConfig
    from dlbook.optim import AdamW, WarmupCosine
    from dlbook.recipes.pretrain import load_news_data, train_step

    vocab = load_news_data().tokenizer.vocab_size
    model = GPT(GPTConfig(vocab, CONTEXT, D, LAYERS, HEADS, 4 * D), rng=np.random.default_rng(0))
    opt = AdamW(model.parameters(), lr=1e-4)
    sched = WarmupCosine(opt, total_steps=10**9, warmup_steps=1)
    x, y = _batch(vocab)

    def step() -> None:
        train_step(model, opt, sched, x, y, 1.0)

    return step, vocab, model


def _ours_data_parallel(workers: int = 2) -> tuple:
    """The same step with the batch split across ``workers`` threads of one BLAS thread each (eq-data-parallel)."""
    from threadpoolctl import threadpool_limits

    from dlbook.data_parallel import DataParallel
    from dlbook.models.gpt import GPT, GPTConfig
    from dlbook.optim import AdamW, WarmupCosine, clip_grad_norm
    from dlbook.recipes.pretrain import load_news_data

    vocab = load_news_data().tokenizer.vocab_size
    model = GPT(GPTConfig(vocab, CONTEXT, D, LAYERS, HEADS, 4 * D), rng=np.random.default_rng(0))
    opt = AdamW(model.parameters(), lr=1e-4)
    sched = WarmupCosine(opt, total_steps=10**9, warmup_steps=1)
    dp = DataParallel(model, workers)
    x, y = _batch(vocab)

    def step() -> None:
        with threadpool_limits(1):
            dp.backward(lambda m, a, b: m.loss(a, b), x, y)
        clip_grad_norm(opt.params, 1.0)
        opt.step()
        sched.step()

    return step, model


def _reference(vocab: int) -> object:
    import torch

    class TorchGPT(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.tok = torch.nn.Embedding(vocab, D)
            self.pos = torch.nn.Embedding(CONTEXT, D)
            layer = torch.nn.TransformerEncoderLayer(D, HEADS, 4 * D, dropout=0.0, activation="gelu",
                                                     batch_first=True, norm_first=True)
            self.blocks = torch.nn.TransformerEncoder(layer, LAYERS, enable_nested_tensor=False)
            self.ln = torch.nn.LayerNorm(D)
            self.mask = torch.nn.Transformer.generate_square_subsequent_mask(CONTEXT)

        def forward(self, ids: torch.Tensor) -> torch.Tensor:
            h = self.tok(ids) + self.pos.weight[: ids.shape[1]]
            h = self.ln(self.blocks(h, mask=self.mask, is_causal=True))
            return h @ self.tok.weight.T

    torch.manual_seed(0)
    model = TorchGPT()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    x, y = (torch.from_numpy(a) for a in _batch(vocab))

    def step() -> None:
        loss = torch.nn.functional.cross_entropy(model(x).reshape(-1, vocab), y.reshape(-1))
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()

    return step


def cases() -> list[Case]:
    ours, vocab, model = _ours()
    ref, ref_name = (_reference(vocab), "torch") if torch_available() else (None, "none")
    case = Case(name=f"GPT train step V={vocab} L={CONTEXT} d={D} {LAYERS}x{HEADS}h N={N} f32", ours=ours,
                reference=ref, reference_name=ref_name, target=1.5, unit_of_work=N * CONTEXT, unit_name="tokens",
                notes=f"{model.num_parameters():,} parameters")
    case.extra["peak memory of one dlbook step (MB)"] = peak_memory_mb(ours)
    flops = training_flops(model.config, N * CONTEXT)
    case.flops_per_call = flops
    parallel, _ = _ours_data_parallel(2)
    both = Case(name=f"GPT train step, 2 data-parallel workers, N={N}", ours=parallel, reference=ref,
                reference_name=ref_name, target=1.0, unit_of_work=N * CONTEXT, unit_name="tokens", threads=(2,),
                notes="dlbook: two threads of one BLAS thread each; the reference at two threads",
                flops_per_call=flops)
    return [case, both]
