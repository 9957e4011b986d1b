"""Fine-tuning (微调) a pretrained GPT to classify text: review sentiment.

The classifier reads the GPT's final hidden states and pools them into one
vector per text — the mean over the text's positions, or the last position
(which, through the causal mask, has seen the whole text) — then a ``Linear``
maps it to class logits.  Texts are right-padded to a common length; because
attention is causal, no real position ever attends to the padding.  With
``windows`` W > 1 a text of up to W × context tokens is read as consecutive,
non-overlapping windows of ``context`` tokens, each by the GPT on its own
(:func:`window_features`); mean pooling then averages over the real positions
of all the windows.

:func:`finetune_classifier` trains one of the set-ups the chapter compares:
``"scratch"`` (random GPT, all trainable), ``"frozen"`` (pretrained, head only),
``"last_k"`` (head + last k blocks), ``"lora"`` (pretrained frozen + LoRA
adapters + head), ``"full"`` (pretrained, all trainable), for a fixed number
of epochs.  :func:`train_until_converged` is the label-efficiency sweep's
version: batches of similar-length texts, validation-based early stopping, and
the weights of the best evaluation kept.  Both run the package's one loop,
:func:`dlbook.train.train_loop`.
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from dlbook import functional as F
from dlbook import nn
from dlbook._checks import check_positive_int, check_rng
from dlbook.autograd import Tensor
from dlbook.finetune.freeze import freeze_except, trainable_parameters, unfreeze
from dlbook.finetune.lora import apply_lora, count_parameters
from dlbook.models.gpt import GPT
from dlbook.modes import eval_mode
from dlbook.nn.module import Parameter
from dlbook.optim import AdamW
from dlbook.train import lr_schedule, train_loop

METHODS = ("scratch", "frozen", "last_k", "lora", "full")


def encode_texts(texts: list[str], tokenizer: Any, context: int, windows: int = 1
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Texts -> (ids (N, T) right-padded with 0, lengths (N,)); each text cut to its first ``windows × context`` tokens.

    T is the longest (cut) text, at most ``windows × context`` (the classifier reads a longer text in
    ``windows`` windows, see :func:`window_features`); empty texts become one ``<unk>``.
    """
    context = check_positive_int("context", context) * check_positive_int("windows", windows)
    if isinstance(texts, str):
        raise TypeError("texts must be a list of strings, got one str (wrap it in a list)")
    if len(texts) == 0:
        raise ValueError("texts is empty: give at least one text to encode")
    rows = [tokenizer.encode(t)[:context] for t in texts]
    rows = [r if len(r) else np.zeros(1, dtype=np.int64) for r in rows]
    lengths = np.array([len(r) for r in rows], dtype=np.int64)
    ids = np.zeros((len(rows), int(lengths.max())), dtype=np.int64)
    for i, r in enumerate(rows):
        ids[i, : len(r)] = r
    return ids, lengths


def window_features(gpt: GPT, ids: np.ndarray, windows: int = 1) -> Tensor:
    """The GPT's final hidden states of texts up to ``windows`` × context tokens, read one window at a time.

    ids: (N, T) with T <= W·L (W = ``windows``, L = the GPT's context) -> h: (N, T', d_model).  A batch that
    fits the context (T <= L) is read in one piece, T' = T (with W = 1 always).  A longer one is right-padded
    to k·L tokens, k = ⌈T/L⌉ <= W, and its windows go through the GPT as rows of their own,
    (N, k·L) -> (N·k, L) -> (N·k, L, d) -> (N, k·L, d), so T' = k·L and

        h[i, jL + t] = GPT(x[i, jL : (j+1)L])[t],    0 <= j < k,  0 <= t < L:

    position jL + t is position t of window j, which attends only to the earlier positions of its own window.
    The real tokens of a text of n tokens stay its first n positions, so pooling masks them as before.
    """
    windows = check_positive_int("windows", windows)
    ids = np.asarray(ids)
    L = gpt.config.context
    if ids.ndim != 2 or ids.shape[1] > windows * L:
        raise ValueError(f"ids must be (N, T) with T <= windows × context = {windows} × {L}, got shape {ids.shape}")
    n, t = ids.shape
    if t <= L:
        return gpt.features(ids)                                       # (N, T, d)
    k = -(-t // L)
    padded = np.zeros((n, k * L), dtype=ids.dtype)
    padded[:, :t] = ids
    h = gpt.features(padded.reshape(n * k, L))                         # (N·k, L, d): each window on its own
    return F.reshape(h, (n, k * L, h.shape[-1]))                      # (N, k·L, d)


class GPTClassifier(nn.Module):
    """GPT features -> pooling -> Linear.  ids: (N, T), lengths: (N,) -> logits (N, num_classes).

    ``windows`` W: texts of up to W × context tokens, read in windows of ``context`` tokens
    (:func:`window_features`).  Mean pooling averages over all the real positions of all the windows; "last"
    pools the last real position, which with W > 1 has seen only its own (the last) window.
    """

    def __init__(self, gpt: GPT, num_classes: int = 2, pooling: str = "mean", *, rng: np.random.Generator,
                 windows: int = 1) -> None:
        super().__init__()
        if pooling not in ("mean", "last"):
            raise ValueError(f"pooling must be 'mean' or 'last', got {pooling!r}")
        self.gpt = gpt
        self.pooling = pooling
        self.windows = check_positive_int("windows", windows)
        dtype = gpt.tok_emb.weight.dtype
        self.head = nn.Linear(gpt.config.d_model, check_positive_int("num_classes", num_classes), rng=rng,
                              dtype=dtype)

    def forward(self, ids: np.ndarray, lengths: np.ndarray) -> Tensor:
        return self.head(self.pooled(ids, lengths))

    def forward_with_lm_loss(self, ids: np.ndarray, lengths: np.ndarray) -> tuple[Tensor, Tensor]:
        """Class logits (N, num_classes) and the GPT's next-token loss on the same texts, from one pass.

        The loss is GPT-1's auxiliary objective (Radford et al., 2018): fine-tuning minimises
        L_cls + λ·L_lm, where L_lm = −(1/M) Σ_i Σ_{t+1 < n_i} log p(x_{i,t+1} | x_{i,≤t}) averages over the M
        next tokens that lie inside their texts (padding is never a target).  With windows, position t of a
        window predicts the token after it, which may open the next window.
        """
        ids, lengths = self._checked(ids, lengths)
        h = window_features(self.gpt, ids, self.windows)               # (N, T', d)
        targets = np.full(h.shape[:2], -1, dtype=np.int64)              # -1: no target here
        targets[:, :ids.shape[1] - 1] = ids[:, 1:]
        targets[np.arange(h.shape[1])[None, :] >= lengths[:, None] - 1] = -1
        if not (targets >= 0).any():
            raise ValueError("forward_with_lm_loss: every text is one token long, so there is no next token")
        lm = F.cross_entropy(self.gpt.lm_logits(h), targets, ignore_index=-1)
        return self.head(self._pool(h, lengths)), lm

    def pooled(self, ids: np.ndarray, lengths: np.ndarray) -> Tensor:
        """The one vector per text that the head reads: (N, T), (N,) -> (N, d_model).

        Mean pooling of text i with n_i = ``lengths[i]`` real tokens: p_i = (1/n_i) Σ_{t < n_i} h[i, t], h from
        :func:`window_features` (so the sum runs over the real positions of every window of the text).
        """
        ids, lengths = self._checked(ids, lengths)
        return self._pool(window_features(self.gpt, ids, self.windows), lengths)   # h: (N, T', d), T' >= T

    @staticmethod
    def _checked(ids: np.ndarray, lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        ids, lengths = np.asarray(ids), np.asarray(lengths)
        if lengths.shape != ids.shape[:1] or lengths.min() < 1 or lengths.max() > ids.shape[1]:
            raise ValueError(f"lengths must be (N,)={ids.shape[:1]} with values in [1, {ids.shape[1]}], "
                             f"got shape {lengths.shape}")
        return ids, lengths

    def _pool(self, h: Tensor, lengths: np.ndarray) -> Tensor:
        if self.pooling == "last":
            pooled = h[np.arange(len(lengths)), lengths - 1]            # (N, d)
        else:
            mask = (np.arange(h.shape[1])[None, :] < lengths[:, None]).astype(h.dtype)[..., None]
            pooled = F.sum(h * mask, axis=1) / lengths[:, None].astype(h.dtype)
        return pooled


@dataclass
class FinetuneResult:
    """What one fine-tuning run gives the chapter's table and plot."""

    method: str
    rank: int | None
    trainable: int
    total: int
    seconds: float
    test_acc: float
    step: list[int] = field(default_factory=list)
    loss: list[float] = field(default_factory=list)
    val_step: list[int] = field(default_factory=list)
    val_acc: list[float] = field(default_factory=list)

    @property
    def fraction(self) -> float:
        return self.trainable / self.total

    def to_dict(self) -> dict[str, Any]:
        d = dict(self.__dict__)
        d["fraction"] = self.fraction
        return d


def predict(model: GPTClassifier, ids: np.ndarray, lengths: np.ndarray, batch_size: int = 128) -> np.ndarray:
    """Class predictions (N,) for ids (N, L) of ``lengths`` (N,), in eval mode, without a graph."""
    out = []
    with eval_mode(model):
        for i in range(0, len(ids), batch_size):
            sl = slice(i, i + batch_size)
            width = int(lengths[sl].max())
            out.append(np.argmax(model(ids[sl, :width], lengths[sl]).data, axis=-1))
    return np.concatenate(out)


def accuracy_of(model: GPTClassifier, ids: np.ndarray, lengths: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean(predict(model, ids, lengths) == y))


def set_dropout(model: nn.Module, p: float, rng: np.random.Generator) -> nn.Module:
    """Make every dropout of ``model`` drop with probability ``p``; returns the model.

    That is each ``Dropout`` layer and each attention's dropout of its weights.  Each gets a generator of its
    own spawned from ``rng``, so a copied model does not repeat its original's masks.
    """
    if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0.0 <= p < 1.0:
        raise ValueError(f"set_dropout: p must be a number in [0, 1), got {p!r}")
    check_rng(rng)
    droppers = [m for _, m in model.named_modules() if isinstance(m, (nn.Dropout, nn.MultiheadAttention))]
    for m, child in zip(droppers, rng.spawn(len(droppers))):
        if isinstance(m, nn.Dropout):
            m.p = float(p)
        else:
            m.dropout = float(p)
        m.rng = child
    return model


def build_classifier(pretrained: GPT, method: str, *, rng: np.random.Generator, rank: int = 4, alpha: float = 8.0,
                     k: int = 1, pooling: str = "mean", windows: int = 1,
                     dropout: float | None = None) -> GPTClassifier:
    """A classifier set up for ``method`` (see the module docstring) on a *copy* of ``pretrained``.

    ``windows``: how many windows of the GPT's context it reads (see :class:`GPTClassifier`).  ``dropout``:
    the GPT's dropout while fine-tuning (:func:`set_dropout`); None keeps the checkpoint's.
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    if method == "scratch":
        gpt = GPT(pretrained.config, rng=rng, dtype=pretrained.tok_emb.weight.dtype)
    else:
        gpt = copy.deepcopy(pretrained)
    unfreeze(gpt)
    model = GPTClassifier(gpt, 2, pooling, rng=rng, windows=windows)
    if method == "frozen":
        freeze_except(model, ["head."])
    elif method == "last_k":
        n = len(gpt.blocks)
        if not 1 <= k <= n:
            raise ValueError(f"k must lie in [1, {n}] (the number of blocks), got {k}")
        freeze_except(model, ["head.", "gpt.ln_f."] + [f"gpt.blocks.{i}." for i in range(n - k, n)])
    elif method == "lora":
        apply_lora(model, rank, alpha, rng=rng, keep_trainable=["head."])
    if dropout is not None:
        set_dropout(gpt, dropout, rng)
    return model


def finetune_classifier(model: GPTClassifier, train: tuple[np.ndarray, np.ndarray, np.ndarray],
                        val: tuple[np.ndarray, np.ndarray, np.ndarray], *, epochs: int, batch_size: int, lr: float,
                        rng: np.random.Generator, eval_every: int = 20, weight_decay: float = 0.01,
                        clip: float = 1.0, progress: bool = True, method: str = "", rank: int | None = None,
                        test: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None) -> FinetuneResult:
    """Train the trainable parameters of ``model`` with AdamW (warmup + cosine) on (ids, lengths, y).

    Only parameters with ``requires_grad`` go to the optimiser.  Validation
    accuracy is recorded every ``eval_every`` steps (the learning curve); the
    returned result holds the test accuracy when ``test`` is given (else the
    final validation accuracy).
    """
    ids, lengths, y = train
    check_rng(rng)
    opt = AdamW(trainable_parameters(model), lr=lr, weight_decay=weight_decay)
    n_batches = -(-len(ids) // batch_size)
    total = epochs * n_batches
    sched = lr_schedule(opt, total, max(1, total // 10), min_lr=lr * 0.1)
    counts = count_parameters(model)
    result = FinetuneResult(method, rank, counts["trainable"], counts["total"], 0.0, float("nan"))
    batches = (order[b * batch_size:(b + 1) * batch_size]
               for order in (rng.permutation(len(ids)) for _ in range(epochs)) for b in range(n_batches))

    def batch_loss(n: int) -> Tensor:
        idx = next(batches)
        loss = F.cross_entropy(model(ids[idx, :int(lengths[idx].max())], lengths[idx]), y[idx])
        result.step.append(n)
        result.loss.append(float(loss.data))
        return loss

    def validate(n: int) -> None:
        result.val_step.append(n)
        result.val_acc.append(accuracy_of(model, *val))

    model.train()
    run = train_loop(batch_loss, opt, steps=total, scheduler=sched, clip=clip, eval_every=eval_every,
                     evaluate=validate, progress=progress, desc=f"fine-tuning ({method or 'model'})",
                     name="fine-tuning")
    result.seconds = run.seconds - run.eval_seconds    # training time only
    result.test_acc = accuracy_of(model, *test) if test is not None else result.val_acc[-1]
    return result


def length_batches(lengths: np.ndarray, batch_size: int, rng: np.random.Generator) -> list[np.ndarray]:
    """One epoch of index batches, each of similar-length texts (a bucket iterator).

    The indices are shuffled, every chunk of 8 batches is sorted by length and
    cut into batches of nearly equal size, and the batches are shuffled.  A batch
    is padded only to its own longest text, so short reviews stop paying for long
    ones (most reviews are far shorter than the context).
    """
    order = rng.permutation(len(lengths))
    batches: list[np.ndarray] = []
    for i in range(0, len(order), 8 * batch_size):
        chunk = order[i:i + 8 * batch_size]
        chunk = chunk[np.argsort(lengths[chunk], kind="stable")]
        batches += np.array_split(chunk, -(-len(chunk) // batch_size))
    return [batches[k] for k in rng.permutation(len(batches))]


@dataclass
class Converged:
    """How a run trained: its validation curve and where its best evaluation was."""

    best_step: int = 0
    steps: int = 0
    best_val_acc: float = -1.0
    stopped: str = ""
    val_step: list[int] = field(default_factory=list)
    val_acc: list[float] = field(default_factory=list)
    train_seconds: float = 0.0
    eval_seconds: float = 0.0


def train_until_converged(params: list[Parameter], batch_loss: Callable[[np.ndarray], Tensor],
                          val_accuracy: Callable[[], float], lengths: np.ndarray, *, batch_size: int, lr: float,
                          weight_decay: float, warmup: int, clip: float, eval_every: int, patience: int,
                          max_steps: int, rng: np.random.Generator, progress: bool = False,
                          desc: str = "") -> Converged:
    """AdamW (warmup + cosine to ``max_steps``) on ``params`` until validation accuracy stops improving.

    ``batch_loss(idx)`` is the mean loss on training examples ``idx``;
    ``lengths``: (n,) their lengths, for :func:`length_batches`.  Every
    ``eval_every`` steps ``val_accuracy()`` is measured; training stops when it
    has not beaten its best for ``patience`` evaluations or after ``max_steps``,
    and the parameters are set back to their values at the best evaluation.
    """
    check_rng(rng)
    opt = AdamW(params, lr=lr, weight_decay=weight_decay)
    sched = lr_schedule(opt, max_steps, warmup, min_lr=lr * 0.1)
    out, best, since_best = Converged(), [p.data.copy() for p in params], 0
    # epochs without end, each drawn when the last one is used up; the loop stops at max_steps
    batches = (idx for _ in itertools.count() for idx in length_batches(lengths, min(batch_size, len(lengths)), rng))

    def validate(n: int) -> bool:
        nonlocal best, since_best
        out.steps = n
        out.val_step.append(n)
        out.val_acc.append(val_accuracy())
        if out.val_acc[-1] > out.best_val_acc:        # strictly better: ties keep the earlier, shorter run
            out.best_val_acc, out.best_step, since_best = out.val_acc[-1], n, 0
            best = [p.data.copy() for p in params]
        else:
            since_best += 1
        if since_best >= patience or n >= max_steps:
            out.stopped = "patience" if since_best >= patience else "max_steps"
        return bool(out.stopped)

    run = train_loop(lambda n: batch_loss(next(batches)), opt, steps=max_steps, scheduler=sched, clip=clip,
                     eval_every=eval_every, evaluate=validate, progress=progress, desc=desc, name="fine-tuning")
    for p, b in zip(params, best):
        p.data = b
    out.steps = run.step
    out.train_seconds, out.eval_seconds = run.seconds - run.eval_seconds, run.eval_seconds
    return out


def classifier_accuracy(model: GPTClassifier, ids: np.ndarray, lengths: np.ndarray, y: np.ndarray,
                        batch_size: int = 64) -> float:
    """Accuracy in eval mode, without a graph, on batches of similar length (each padded only to its longest)."""
    order = np.argsort(lengths, kind="stable")
    correct = 0
    with eval_mode(model):
        for i in range(0, len(order), batch_size):
            idx = order[i:i + batch_size]
            logits = model(ids[idx, :int(lengths[idx].max())], lengths[idx]).data
            correct += int(np.sum(np.argmax(logits, axis=-1) == y[idx]))
    return correct / len(y)


def pooled_features(pretrained: Any, ids: np.ndarray, lengths: np.ndarray, batch_size: int = 64, *,
                    windows: int = 1) -> np.ndarray:
    """The frozen pretrained GPT's pooled features (N, d_model), as :class:`GPTClassifier` pools them."""
    reader = GPTClassifier(pretrained, 2, rng=np.random.default_rng(0), windows=windows)
    out = np.empty((len(ids), pretrained.config.d_model), dtype=pretrained.tok_emb.weight.dtype)
    order = np.argsort(lengths, kind="stable")
    with eval_mode(reader):
        for i in range(0, len(order), batch_size):
            idx = order[i:i + batch_size]
            out[idx] = reader.pooled(ids[idx, :int(lengths[idx].max())], lengths[idx]).data
    return out
