"""Data parallelism across threads (eq-data-parallel): the same gradient as one worker, to rounding."""

from __future__ import annotations

import numpy as np
import pytest

from dlbook.data_parallel import DataParallel
from dlbook.models.gpt import GPT, GPTConfig
from dlbook.optim import AdamW


def _model(dropout: float = 0.0) -> GPT:
    return GPT(GPTConfig(50, 16, 32, 2, 4, 64, dropout=dropout), rng=np.random.default_rng(0))


def _batch(n: int = 8) -> tuple[np.ndarray, np.ndarray]:
    ids = np.random.default_rng(1).integers(0, 50, size=(n, 17))
    return ids[:, :-1], ids[:, 1:]


def _loss(model: GPT, x: np.ndarray, y: np.ndarray):
    return model.loss(x, y)


@pytest.mark.parametrize("workers", [2, 4])
def test_split_batch_gives_the_full_batch_gradient(workers: int) -> None:
    """Verifies (eq-data-parallel): the mean of the slices' gradients is the full batch's gradient."""
    x, y = _batch()
    one = _model()
    full = one.loss(x, y)
    full.backward()
    many = _model()
    with DataParallel(many, workers) as dp:
        loss = dp.backward(_loss, x, y)
    assert loss == pytest.approx(float(full.data), rel=1e-6)
    for (name, p), q in zip(one.named_parameters(), many.parameters(), strict=True):
        np.testing.assert_allclose(q.grad, p.grad, rtol=1e-4, atol=1e-6, err_msg=name)


def test_one_worker_is_the_plain_backward_bit_for_bit() -> None:
    x, y = _batch()
    one, other = _model(), _model()
    one.loss(x, y).backward()
    DataParallel(other, 1).backward(_loss, x, y)
    for p, q in zip(one.parameters(), other.parameters(), strict=True):
        np.testing.assert_array_equal(q.grad, p.grad)


def test_replicas_see_every_update_of_the_shared_weights() -> None:
    x, y = _batch()
    model = _model()
    opt = AdamW(model.parameters(), lr=1e-2)
    with DataParallel(model, 2) as dp:
        dp.backward(_loss, x, y)
        opt.step()
        for p, q in zip(model.parameters(), dp.replicas[1].parameters(), strict=True):
            assert q.data is p.data


def test_replicas_draw_their_own_dropout_masks() -> None:
    x, y = _batch()
    model = _model(dropout=0.5)
    model.train()
    dp = DataParallel(model, 2)
    same = np.concatenate([x[:4], x[:4]]), np.concatenate([y[:4], y[:4]])
    losses = []
    dp.backward(lambda m, a, b: losses.append(float(m.loss(a, b).data)) or m.loss(a, b), *same)
    assert losses[0] != losses[1]          # the same slice, different masks
    dp.close()


def test_bad_arguments_are_named() -> None:
    with pytest.raises(ValueError, match="workers"):
        DataParallel(_model(), 0)
    with pytest.raises(TypeError, match="model"):
        DataParallel("gpt", 2)  # type: ignore[arg-type]
    with DataParallel(_model(), 3) as dp, pytest.raises(ValueError, match="equal slices"):
        dp.backward(_loss, *_batch(8))


def test_pretraining_with_two_workers_follows_the_one_worker_run() -> None:
    """The same batches split across two threads: the same losses up to the rounding of the gradient sums."""
    from dlbook.recipes.pretrain import pretrain

    settings = dict(steps=6, eval_every=3, eval_windows=4, progress=False)
    _, one = pretrain("tiny", seed=0, **settings)
    _, two = pretrain("tiny", seed=0, workers=2, **settings)
    assert len(two.loss) == 6 and two.loss[0] == pytest.approx(one.loss[0], rel=1e-6)
    np.testing.assert_allclose(two.loss, one.loss, rtol=1e-4)
    np.testing.assert_allclose(two.val_loss, one.val_loss, rtol=1e-4)
    with pytest.raises(ValueError, match="workers"):
        pretrain("tiny", seed=0, workers=0, **settings)


def test_train_loop_takes_one_way_to_the_gradients() -> None:
    from dlbook.train import train_loop

    model = _model()
    opt = AdamW(model.parameters(), lr=1e-3)
    x, y = _batch()
    for both in ((None, None), (lambda n: model.loss(x, y), lambda n: 0.0)):
        with pytest.raises(ValueError, match="exactly one"):
            train_loop(both[0], opt, steps=1, step_gradients=both[1], progress=False)
