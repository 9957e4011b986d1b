"""What large models cost (§1): training compute, training memory, and a table of landmark models.

Compute.  Training a dense Transformer with N parameters on D tokens takes about

    C ≈ 6·N·D  floating-point operations                               (eq-training-flops, §5.1)

(:func:`training_flops`; :func:`matmul_parameters` counts N for the book's GPT from its shape)
— 2·N per token for the forward pass (a multiply and an add per weight) and 4·N for the backward pass (the
gradients with respect to the activations and to the weights).  LoRA fine-tuning skips the weight gradients of
the frozen matrices, so it costs about 4·N·D.

Memory.  With Adam in mixed precision every *trainable* parameter holds a 16-bit weight, a 16-bit gradient and
12 bytes of optimiser state (a 32-bit master copy of the weight and Adam's two moments), 16 bytes in all
(Rajbhandari et al. 2020, ZeRO); a frozen parameter holds only its weight:

    M = b_w·N + (b_g + b_o)·N_train                                    (eq-training-memory)

Activations, which grow with the batch and the context, come on top and are not counted here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dlbook.finetune.lora import lora_parameter_count

#: Bytes per parameter in mixed-precision Adam training: weight, gradient, optimiser state (ZeRO, §3).
WEIGHT_BYTES, GRAD_BYTES, ADAM_BYTES = 2, 2, 12
METHODS = ("pretraining", "full fine-tuning", "LoRA")


def _positive(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{name} must be a number, got {type(value).__name__}")
    if not value > 0:
        raise ValueError(f"{name} must be positive, got {value}")
    return float(value)


def matmul_parameters(config: Any) -> int:
    """N of (eq-training-flops) for a GPT of ``config`` (a :class:`~dlbook.models.gpt.GPTConfig`): the parameters
    used in a matrix product at every token — the blocks and the output layer (V·d, tied or not), not the
    position table, which is only looked up."""
    d, f = config.d_model, config.dim_feedforward
    block = (d * 3 * d + 3 * d) + (d * d + d) + (d * f + f) + (f * d + d) + 4 * d   # attention, MLP, 2 LayerNorms
    return config.num_layers * block + 2 * d + config.vocab_size * d


def training_flops(n_params: Any, tokens: float, passes: float = 6.0, attention: bool = True) -> float:
    """C ≈ passes·N·D FLOPs to train N parameters on D tokens (passes = 6: forward 2, backward 4).

    Implements (eq-training-flops).  ``n_params`` is N, or a GPT's config: then N is its
    :func:`matmul_parameters`, and with ``attention`` the products QKᵀ and AV add num_layers·context·d to N
    (6·num_layers·context·d FLOPs per token, as Kaplan et al. count them)."""
    if hasattr(n_params, "d_model"):
        config = n_params
        n_params = matmul_parameters(config) + (config.num_layers * config.context * config.d_model if attention
                                                else 0)
    return _positive("passes", passes) * _positive("n_params", n_params) * _positive("tokens", tokens)


def training_memory(n_params: float, n_trainable: float, weight_bytes: float = WEIGHT_BYTES,
                    grad_bytes: float = GRAD_BYTES, optimizer_bytes: float = ADAM_BYTES) -> dict[str, float]:
    """Bytes for the weights, gradients and optimiser state: M = b_w·N + (b_g + b_o)·N_train.

    Implements (eq-training-memory).  Returns {"weights", "gradients", "optimizer", "total"} in bytes
    (activations not included)."""
    n = _positive("n_params", n_params)
    if not isinstance(n_trainable, int | float) or not 0 <= n_trainable <= n:
        raise ValueError(f"n_trainable must lie in [0, n_params={n:g}], got {n_trainable}")
    weights = _positive("weight_bytes", weight_bytes) * n
    grads = _positive("grad_bytes", grad_bytes) * n_trainable
    opt = _positive("optimizer_bytes", optimizer_bytes) * n_trainable
    return {"weights": weights, "gradients": grads, "optimizer": opt, "total": weights + grads + opt}


@dataclass(frozen=True)
class Shape:
    """A Transformer's size for the calculator: parameters, layers, width, pretraining tokens, source."""

    name: str
    n_params: float
    n_layers: int
    d_model: int
    tokens: float
    source: str


#: Models the calculator offers (published shapes; LoRA adapts the query and value projections, d×d each).
SHAPES: dict[str, Shape] = {s.name: s for s in [
    Shape("GPT-2 XL", 1.5e9, 48, 1600, 4.0e10, "Radford et al. 2019 (tokens: ≈40 GB WebText, our estimate)"),
    Shape("LLaMA 7B", 6.7e9, 32, 4096, 1.0e12, "Touvron et al. 2023, arXiv:2302.13971"),
    Shape("LLaMA 2 13B", 13e9, 40, 5120, 2.0e12, "Touvron et al. 2023, arXiv:2307.09288"),
    Shape("LLaMA 65B", 65.2e9, 80, 8192, 1.4e12, "Touvron et al. 2023, arXiv:2302.13971"),
    Shape("GPT-3 175B", 175e9, 96, 12288, 3.0e11, "Brown et al. 2020, arXiv:2005.14165"),
]}


def lora_parameters(n_layers: int, d_model: int, rank: int, matrices: int = 2) -> int:
    """Trainable parameters of LoRA with rank ``rank`` on ``matrices`` d×d projections in each of ``n_layers``
    layers (2 = query and value, as in Hu et al. 2021): n_layers·matrices·r·(d + d)."""
    for name, v in (("n_layers", n_layers), ("d_model", d_model), ("rank", rank), ("matrices", matrices)):
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ValueError(f"{name} must be a positive int, got {v!r}")
    return n_layers * matrices * lora_parameter_count(d_model, d_model, rank)


def compare_methods(shape: Shape | str, rank: int = 8, finetune_tokens: float = 1e8) -> dict[str, dict[str, float]]:
    """Pretraining vs full fine-tuning vs LoRA of one model: trainable parameters, memory (bytes) and compute.

    Pretraining runs on the model's published token count, fine-tuning on ``finetune_tokens``; LoRA's compute is
    4·N·D (no weight gradients for the frozen matrices)."""
    if isinstance(shape, str):
        if shape not in SHAPES:
            raise ValueError(f"shape must be one of {sorted(SHAPES)}, got {shape!r}")
        shape = SHAPES[shape]
    n = shape.n_params
    lora = lora_parameters(shape.n_layers, shape.d_model, rank)
    rows = {
        "pretraining": (n, training_flops(n, shape.tokens)),
        "full fine-tuning": (n, training_flops(n, finetune_tokens)),
        "LoRA": (lora, training_flops(n + lora, finetune_tokens, passes=4.0)),
    }
    return {m: {"trainable": float(t), **training_memory(n + (lora if m == "LoRA" else 0), t), "flops": c}
            for m, (t, c) in rows.items()}


def human(x: float, unit: str = "") -> str:
    """1.5e9 → '1.5 G', 3.2e23 → '3.2e+23' (for FLOPs), with binary-free SI prefixes up to T."""
    for value, prefix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(x) >= value:
            if abs(x) >= 1e15:
                return f"{x:.2g} {unit}".strip()
            return f"{x / value:.3g} {prefix}{unit}"
    return f"{x:.3g} {unit}".strip()


@dataclass(frozen=True)
class Landmark:
    """A landmark model with its published figures.  ``estimated`` marks compute obtained from 6·N·D."""

    name: str
    year: int
    params: float
    tokens: float | None       # training tokens (None: not a language model or not published)
    data: str                  # what it was trained on, in words
    compute: float | None      # training FLOPs
    estimated: bool            # compute ≈ 6·N·D, not published
    source: str


def _lm(name: str, year: int, params: float, tokens: float, data: str, source: str,
        compute: float | None = None) -> Landmark:
    """A language model; when its paper gives no FLOPs, compute = 6·N·D and is marked estimated."""
    if compute is None:
        return Landmark(name, year, params, tokens, data, training_flops(params, tokens), True, source)
    return Landmark(name, year, params, tokens, data, compute, False, source)


#: Landmark models, each figure from the cited paper (compute marked estimated when it is 6·N·D).
LANDMARKS: list[Landmark] = [
    Landmark("AlexNet", 2012, 60e6, None, "1.2 M ImageNet images", None, False,
             "Krizhevsky et al., ImageNet Classification with Deep CNNs, NeurIPS 2012"),
    Landmark("Transformer (big)", 2017, 213e6, None, "WMT14 En–De, 4.5 M sentence pairs", 2.3e19, False,
             "Vaswani et al., Attention Is All You Need, arXiv:1706.03762 (Tables 2, 3)"),
    _lm("BERT-Large", 2018, 340e6, 1.31e11, "BooksCorpus + Wikipedia, 3.3 G words; 1 M steps × 128 k tokens",
        "Devlin et al., BERT, arXiv:1810.04805"),
    Landmark("GPT-2", 2019, 1.5e9, None, "WebText, 40 GB (tokens not published)", None, False,
             "Radford et al., Language Models are Unsupervised Multitask Learners, OpenAI 2019"),
    _lm("GPT-3", 2020, 175e9, 3.0e11, "300 G tokens (filtered Common Crawl, books, Wikipedia)",
        "Brown et al., Language Models are Few-Shot Learners, arXiv:2005.14165 (Table D.1)", compute=3.14e23),
    _lm("PaLM", 2022, 540e9, 7.8e11, "780 G tokens", "Chowdhery et al., PaLM, arXiv:2204.02311"),
    _lm("Chinchilla", 2022, 70e9, 1.4e12, "1.4 T tokens (MassiveText)",
        "Hoffmann et al., Training Compute-Optimal LLMs, arXiv:2203.15556"),
    _lm("LLaMA 65B", 2023, 65.2e9, 1.4e12, "1.4 T tokens of public data", "Touvron et al., LLaMA, arXiv:2302.13971"),
    _lm("LLaMA 2 70B", 2023, 70e9, 2.0e12, "2.0 T tokens", "Touvron et al., Llama 2, arXiv:2307.09288"),
]
