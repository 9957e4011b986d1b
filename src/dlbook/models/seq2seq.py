"""An encoder–decoder Transformer (§3.5) with greedy and beam-search decoding.

    memory = Encoder(E[src] + P)                       the source, read in both directions
    logits = W · Decoder(E[tgt_in] + P, memory)          each target position sees earlier targets
                                                         (masked self-attention) and the whole
                                                         source (encoder–decoder attention)

Training is teacher forcing: the decoder reads ``<bos> y₁ … y_{T−1}`` and is
scored on predicting ``y₁ … y_T <eos>``.  At inference it feeds its own output
back, one token at a time (:meth:`Seq2SeqTransformer.greedy_decode`) or keeping
the ``beam_size`` best partial outputs (:meth:`Seq2SeqTransformer.beam_search`, 束搜索).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

import numpy as np

from dlbook import functional as F
from dlbook import nn
from dlbook._checks import array_of, check_integer, check_positive_int
from dlbook.autograd import Tensor, no_grad
from dlbook.checkpoint import load_checkpoint, save_checkpoint


@dataclass(frozen=True)
class Seq2SeqConfig:
    """The shape of a :class:`Seq2SeqTransformer` (ids: ``pad_id``, ``bos_id``, ``eos_id``).

    The names are ``torch.nn.Transformer``'s, as in :class:`~dlbook.models.gpt.GPTConfig`:
    ``d_model``, ``nhead``, ``num_encoder_layers``, ``num_decoder_layers``,
    ``dim_feedforward``, ``dropout``; ``max_len`` is the longest source or target.
    """

    vocab_size: int
    d_model: int = 64
    nhead: int = 4
    num_encoder_layers: int = 2
    num_decoder_layers: int = 2
    dim_feedforward: int = 128
    dropout: float = 0.0
    max_len: int = 32
    pad_id: int = 0
    bos_id: int = 1
    eos_id: int = 2

    def __post_init__(self) -> None:
        for name in ("vocab_size", "d_model", "nhead", "num_encoder_layers", "num_decoder_layers",
                     "dim_feedforward", "max_len"):
            check_positive_int(name, getattr(self, name))
        if self.d_model % self.nhead:
            raise ValueError(f"d_model ({self.d_model}) must be divisible by nhead ({self.nhead})")
        if not 0 <= self.dropout < 1:
            raise ValueError(f"dropout must lie in [0, 1), got {self.dropout}")

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Seq2SeqConfig:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})


class Seq2SeqTransformer(nn.Module):
    """src: (N, S) ids, tgt_in: (N, T) ids -> logits (N, T, vocab_size).

    Shared token embedding (scaled by √d_model) plus the sinusoidal table
    (eq-positional-encoding); pre-LN encoder and decoder stacks, each ending in
    a LayerNorm; a Linear generator.  Padding in the source (``pad_id``) is
    masked in the encoder's self-attention and in the encoder–decoder attention.
    """

    def __init__(self, config: Seq2SeqConfig, *, rng: np.random.Generator, dtype: Any = np.float64) -> None:
        super().__init__()
        if not isinstance(config, Seq2SeqConfig):
            raise TypeError(f"config must be a Seq2SeqConfig, got {type(config).__name__}")
        c = self.config = config
        self.embed = nn.Embedding(c.vocab_size, c.d_model, rng=rng, std=c.d_model ** -0.5, dtype=dtype)
        self.pos = nn.PositionalEncoding(c.max_len, c.d_model, dtype=dtype)
        layer = dict(d_model=c.d_model, nhead=c.nhead, dim_feedforward=c.dim_feedforward, dropout=c.dropout,
                     norm_first=True, rng=rng, dtype=dtype)
        self.encoder = nn.TransformerEncoder([nn.TransformerEncoderLayer(**layer)
                                              for _ in range(c.num_encoder_layers)],
                                             norm=nn.LayerNorm(c.d_model, dtype=dtype))
        self.decoder = nn.TransformerDecoder([nn.TransformerDecoderLayer(**layer)
                                              for _ in range(c.num_decoder_layers)],
                                             norm=nn.LayerNorm(c.d_model, dtype=dtype))
        self.generator = nn.Linear(c.d_model, c.vocab_size, rng=rng, dtype=dtype)

    # ---- checks --------------------------------------------------------------------
    def _ids(self, name: str, ids: Any) -> np.ndarray:
        a = array_of(ids)
        check_integer(name, a)
        if a.ndim != 2 or a.shape[1] == 0 or a.shape[0] == 0:
            raise ValueError(f"{name} must be 2-D (batch, length) with batch and length >= 1, got shape {a.shape}")
        if a.shape[1] > self.config.max_len:
            raise ValueError(f"{name} is {a.shape[1]} tokens long, longer than max_len={self.config.max_len}")
        if a.min() < 0 or a.max() >= self.config.vocab_size:
            raise ValueError(f"{name} ids must lie in [0, {self.config.vocab_size}), got [{a.min()}, {a.max()}]")
        return a

    def _embed(self, ids: np.ndarray) -> Tensor:
        return self.pos(self.embed(ids) * float(np.sqrt(self.config.d_model)))

    # ---- the model -------------------------------------------------------------------
    def encode(self, src: Any) -> tuple[Tensor, np.ndarray]:
        """(memory (N, S, d_model), source padding mask (N, S), True = padding)."""
        s = self._ids("src", src)
        pad = s == self.config.pad_id
        return self.encoder(self._embed(s), src_key_padding_mask=pad), pad

    def decode(self, tgt_in: Any, memory: Tensor, src_pad: np.ndarray) -> Tensor:
        """Logits (N, T, vocab_size) of the next token at every target position."""
        t = self._ids("tgt_in", tgt_in)
        h = self.decoder(self._embed(t), memory, memory_key_padding_mask=src_pad, tgt_is_causal=True)
        return self.generator(h)

    def forward(self, src: Any, tgt_in: Any) -> Tensor:
        memory, pad = self.encode(src)
        return self.decode(tgt_in, memory, pad)

    def loss(self, src: Any, tgt: Any) -> Tensor:
        """Teacher-forced cross-entropy: read tgt[:, :-1], predict tgt[:, 1:]; padding is ignored."""
        t = self._ids("tgt", tgt)
        if t.shape[1] < 2:
            raise ValueError(f"tgt must hold <bos> and at least one more token, got shape {t.shape}")
        return F.cross_entropy(self(src, t[:, :-1]), t[:, 1:], ignore_index=self.config.pad_id)

    # ---- decoding --------------------------------------------------------------------
    def greedy_decode(self, src: Any, max_len: int | None = None) -> np.ndarray:
        """The arg-max token at each step until every row has produced ``<eos>``.

        src: (N, S) -> ids (N, T) without ``<bos>``; rows that finished early are
        padded with ``pad_id`` after their ``<eos>``.
        """
        c = self.config
        steps = check_positive_int("max_len", max_len if max_len is not None else c.max_len - 1)
        if steps >= c.max_len:
            raise ValueError(f"max_len must be < the model's max_len={c.max_len}, got {steps}")
        with no_grad():
            self.eval()
            memory, pad = self.encode(src)
            n = memory.shape[0]
            out = np.full((n, 1), c.bos_id, dtype=np.int64)
            done = np.zeros(n, bool)
            for _ in range(steps):
                nxt = self.decode(out, memory, pad).data[:, -1].argmax(-1)
                nxt[done] = c.pad_id
                out = np.concatenate([out, nxt[:, None]], axis=1)
                done |= nxt == c.eos_id
                if done.all():
                    break
        return out[:, 1:]

    def beam_search(self, src: Any, beam_size: int = 4, max_len: int | None = None) -> list[tuple[np.ndarray, float]]:
        """For each source row, the most probable output found keeping ``beam_size`` hypotheses.

        Returns a list of (ids without ``<bos>``, ending with ``<eos>`` if reached,
        total log-probability).  With ``beam_size=1`` it is greedy decoding.
        """
        c = self.config
        k = check_positive_int("beam_size", beam_size)
        steps = check_positive_int("max_len", max_len if max_len is not None else c.max_len - 1)
        if steps >= c.max_len:
            raise ValueError(f"max_len must be < the model's max_len={c.max_len}, got {steps}")
        s = self._ids("src", src)
        results = []
        with no_grad():
            self.eval()
            for row in s:
                memory, pad = self.encode(row[None])
                beams = [(np.array([c.bos_id]), 0.0)]
                finished: list[tuple[np.ndarray, float]] = []
                for _ in range(steps):
                    seqs = np.stack([b[0] for b in beams])
                    mem = Tensor(np.repeat(memory.data, len(beams), axis=0))
                    logp = F.log_softmax_array(self.decode(seqs, mem, np.repeat(pad, len(beams), axis=0)).data[:, -1])
                    scores = np.array([b[1] for b in beams])[:, None] + logp
                    flat = np.argsort(-scores, axis=None, kind="stable")[: k]
                    beams = []
                    for idx in flat:
                        b, tok = divmod(int(idx), logp.shape[1])
                        seq = np.append(seqs[b], tok)
                        (finished if tok == c.eos_id else beams).append((seq, float(scores[b, tok])))
                    if not beams or (finished and max(f[1] for f in finished) >= max(b[1] for b in beams)):
                        break  # log-probabilities only fall: no open hypothesis can still win
                best = max(finished or beams, key=lambda h: h[1])
                results.append((best[0][1:], best[1]))
        return results

    # ---- looking inside ----------------------------------------------------------------
    def attention_weights(self, src: Any, tgt_in: Any) -> dict[str, list[np.ndarray]]:
        """Every layer's attention weights with the decoder reading ``tgt_in``.

        ``"encoder"``: (N, H, S, S) per encoder layer; ``"decoder"``: (N, H, T, T)
        (masked self-attention) and ``"cross"``: (N, H, T, S) (encoder–decoder) per
        decoder layer.
        """
        layers = [*self.encoder.layers, *self.decoder.layers]
        for layer in layers:
            layer.keep_weights = True
        try:
            with no_grad():
                self.eval()
                self(src, tgt_in)
            return {"encoder": [np.array(la.last_attn_weights) for la in self.encoder.layers],
                    "decoder": [np.array(la.last_attn_weights) for la in self.decoder.layers],
                    "cross": [np.array(la.last_cross_weights) for la in self.decoder.layers]}
        finally:
            for layer in layers:
                layer.keep_weights = False

    # ---- saving --------------------------------------------------------------------------
    def save(self, path: Any, extra: dict[str, np.ndarray] | None = None) -> None:
        save_checkpoint(path, self, asdict(self.config), extra)

    @classmethod
    def load(cls, path: Any, dtype: Any = np.float64) -> tuple[Seq2SeqTransformer, dict[str, np.ndarray]]:
        """(model, extra arrays) from a checkpoint written by :meth:`save`."""
        state, config, extra = load_checkpoint(path)
        model = cls(Seq2SeqConfig.from_dict(config), rng=np.random.default_rng(0), dtype=dtype)
        model.load_state_dict(state)
        return model, extra
