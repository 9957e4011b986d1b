"""Token ids are never coerced or dropped (issue 14, S8), and the probe's unclear errors about layers and
data become clear ones or correct results (U)."""

from __future__ import annotations

import numpy as np
import pytest

from dlbook import nn
from dlbook.autograd import Tensor
from dlbook.data.bpe import BPETokenizer
from dlbook.data.dates import Vocab
from dlbook.data.tokenizers import CharTokenizer

# ---- S8: ids are integers in range, or an error ----------------------------------------------------------

TOKENIZERS = {"char": lambda: CharTokenizer.fit("hello world"),
              "bpe": lambda: BPETokenizer.fit("hello world hello", vocab_size=20)}


@pytest.mark.parametrize("make", TOKENIZERS.values(), ids=TOKENIZERS.keys())
@pytest.mark.parametrize("ids", [[2.7], ["3"], [True], np.array([1.0, 2.0]), [[1, 2], [3.5, 0]]])
def test_decode_refuses_ids_that_are_not_integers(make, ids) -> None:  # noqa: ANN001
    with pytest.raises(TypeError, match="ids must be integers"):
        make().decode(ids)


@pytest.mark.parametrize("make", TOKENIZERS.values(), ids=TOKENIZERS.keys())
def test_decode_still_takes_integer_sequences(make) -> None:  # noqa: ANN001
    tok = make()
    ids = tok.encode("hello")
    assert tok.decode(ids) == tok.decode(list(ids)) == tok.decode([int(i) for i in ids]) == "hello"
    assert tok.decode(ids.astype(np.int32)) == tok.decode(i for i in ids) == "hello"
    assert tok.decode([]) == tok.decode(np.array([], dtype=np.float64)) == ""
    with pytest.raises(ValueError, match="outside the vocabulary"):
        tok.decode([tok.vocab_size])


def test_gpt_next_token_probs_refuses_float_ids() -> None:
    from dlbook.models.gpt import GPT, GPTConfig

    model = GPT(GPTConfig(vocab_size=11, context=8, d_model=8, num_layers=1, nhead=2, dim_feedforward=16),
                rng=np.random.default_rng(0))
    with pytest.raises(TypeError, match="ids"):
        model.next_token_probs([1.7, 2.9])
    with pytest.raises(TypeError, match="ids"):
        model.next_token_probs(["1", "2"])
    with pytest.raises(ValueError, match="ids is empty"):
        model.next_token_probs([])
    p = model.next_token_probs([1, 2])
    assert p.shape == (11,) and np.isclose(p.sum(), 1.0)
    np.testing.assert_array_equal(p, model.next_token_probs(np.array([1, 2], dtype=np.int32)))


def test_date_vocab_refuses_out_of_range_and_float_ids() -> None:
    v = Vocab()
    with pytest.raises(ValueError, match=r"Vocab.decode: id 999"):
        v.decode([999, -5, 7])
    with pytest.raises(ValueError, match=r"Vocab.decode: id -5"):
        v.decode([7, -5])
    with pytest.raises(ValueError, match=r"Vocab.tokens: id -1"):
        v.tokens([-1])
    with pytest.raises(TypeError, match=r"Vocab.decode: ids must be integers"):
        v.decode([7.0])
    ids = v.encode("2024-01-02", bos=True, eos=True)
    assert v.decode(ids) == "2024-01-02"
    assert v.decode(np.concatenate([ids, [v.pad_id] * 3])) == "2024-01-02"
    assert v.tokens(ids)[0] == "<bos>"


# ---- U: layers take array-likes as the functional ops do ----------------------------------------------------


def test_layers_accept_lists_like_arrays() -> None:
    rng = np.random.default_rng(0)
    linear = nn.Linear(3, 2, rng=rng, dtype=np.float32)
    x = [[0.5, -1.0, 2.0], [1.0, 0.0, 0.25]]
    out = linear(x)
    assert out.dtype == np.float32                     # a list takes the layer's dtype
    np.testing.assert_array_equal(out.data, linear(np.asarray(x, dtype=np.float32)).data)

    conv = nn.Conv2d(1, 2, 2, rng=rng)
    img = rng.standard_normal((1, 1, 3, 3))
    np.testing.assert_array_equal(conv(img.tolist()).data, conv(img).data)

    norm = nn.LayerNorm(3)
    np.testing.assert_array_equal(norm(x).data, norm(np.asarray(x)).data)

    mha = nn.MultiheadAttention(4, 2, rng=rng)
    seq = rng.standard_normal((2, 3, 4))
    out_list, _ = mha(seq.tolist())
    out_arr, _ = mha(seq)
    np.testing.assert_array_equal(out_list.data, out_arr.data)
    cross_list, _ = mha(seq.tolist(), seq[:, :2].tolist(), seq[:, :2].tolist())
    cross_arr, _ = mha(seq, seq[:, :2], seq[:, :2])
    np.testing.assert_array_equal(cross_list.data, cross_arr.data)


@pytest.mark.parametrize("bad", [["a", "b", "c"], [[1.0, 2.0, 3.0], [1.0]]], ids=["strings", "ragged"])
def test_layers_name_the_argument_for_non_numbers(bad) -> None:  # noqa: ANN001
    rng = np.random.default_rng(0)
    with pytest.raises(TypeError, match="^x must be an array of numbers"):
        nn.Linear(3, 2, rng=rng)(bad)
    with pytest.raises(TypeError, match="^x must be an array of numbers"):
        nn.LayerNorm(3)(bad)
    with pytest.raises(TypeError, match="^query must be an array of numbers"):
        nn.MultiheadAttention(4, 2, rng=rng)(bad)


# ---- U: empty batches ----------------------------------------------------------------------------------------


def test_conv2d_empty_batch_names_x() -> None:
    conv = nn.Conv2d(1, 2, 3, rng=np.random.default_rng(0))
    with pytest.raises(ValueError, match="Conv2d: x has batch size 0"):
        conv(Tensor(np.zeros((0, 1, 5, 5)), requires_grad=True))


@pytest.mark.parametrize("cell", [nn.RNN, nn.LSTM, nn.GRU])
def test_recurrent_empty_batch_names_x(cell) -> None:  # noqa: ANN001
    layer = cell(3, 4, rng=np.random.default_rng(0))
    with pytest.raises(ValueError, match="x has batch size 0"):
        layer(np.zeros((0, 5, 3)))


def test_seq2seq_empty_batch_names_the_argument() -> None:
    from dlbook.models.seq2seq import Seq2SeqConfig, Seq2SeqTransformer

    model = Seq2SeqTransformer(Seq2SeqConfig(vocab_size=12, d_model=8, nhead=2, num_encoder_layers=1,
                                             num_decoder_layers=1, dim_feedforward=16),
                               rng=np.random.default_rng(0))
    empty = np.zeros((0, 4), dtype=np.int64)
    with pytest.raises(ValueError, match="(src|tgt) must be 2-D .* batch and length >= 1"):
        model.loss(empty, np.ones((0, 5), dtype=np.int64))
    with pytest.raises(ValueError, match="src"):
        model.greedy_decode(empty)


# ---- U: data and fine-tuning helpers -------------------------------------------------------------------------


def test_encode_texts_refuses_no_texts() -> None:
    from dlbook.finetune.classifier import encode_texts

    tok = CharTokenizer.fit("abc")
    with pytest.raises(ValueError, match="texts is empty"):
        encode_texts([], tok, context=8)
    with pytest.raises(TypeError, match="texts must be a list"):
        encode_texts("abc", tok, context=8)   # type: ignore[arg-type]
    ids, lengths = encode_texts(["ab", ""], tok, context=8)
    assert ids.shape == (2, 2) and list(lengths) == [2, 1]


@pytest.mark.parametrize("alpha", [np.float32(8), np.float64(8.0), np.int64(8), 8, 8.0])
def test_lora_alpha_accepts_numpy_scalars(alpha) -> None:  # noqa: ANN001
    from dlbook.finetune.lora import LoRALinear

    rng = np.random.default_rng(0)
    layer = LoRALinear(nn.Linear(4, 3, rng=rng), rank=2, alpha=alpha, rng=rng)
    assert layer.alpha == 8.0 and type(layer.alpha) is float
    assert layer.scaling == 4.0


@pytest.mark.parametrize("alpha, error", [(np.bool_(True), TypeError), (True, TypeError), ("8", TypeError),
                                          (np.float32(np.nan), ValueError), (float("inf"), ValueError),
                                          (np.int64(0), ValueError), (-1.0, ValueError)])
def test_lora_alpha_still_refuses_non_numbers_and_non_positive(alpha, error) -> None:  # noqa: ANN001
    from dlbook.finetune.lora import LoRALinear

    rng = np.random.default_rng(0)
    with pytest.raises(error, match="alpha"):
        LoRALinear(nn.Linear(4, 3, rng=rng), rank=2, alpha=alpha, rng=rng)


def test_sampling_refuses_nan_logits() -> None:
    """NaN logits (diverged weights) are named, not passed on to numpy's 'Probabilities contain NaN'."""
    from dlbook.sampling import next_token_distribution, sample_next

    with pytest.raises(ValueError, match="NaN at \\[1\\]"):
        next_token_distribution(np.array([0.0, np.nan, 1.0]))
    with pytest.raises(ValueError, match="logits hold NaN"):
        sample_next(np.array([np.nan, 0.0]), np.random.default_rng(0))


def test_pretrain_names_step_and_lr_when_gradients_are_not_finite() -> None:
    """A non-finite gradient norm (found by clipping, before the loss check) stops pretraining naming step and lr."""
    from dlbook.recipes.pretrain import pretrain

    with pytest.raises(FloatingPointError, match=r"step \d+ \(learning rate"):
        pretrain("tiny", seed=0, steps=30, lr=1e6, warmup=1, min_lr=0.0, eval_every=1000, progress=False)
