"""Checkpoint and tokenizer files survive failures: atomic saves, no pickles, clear errors, exact round trips.

Issue 14, items D2 (a save that fails half-way keeps the previous file), D3 (object arrays are refused at
save time), D4 (tokenizer saves are atomic too) and U (a broken file names its path; the path is used as
given).  The property tests draw module shapes, dtypes and optimisers and check that save -> load is exact
and that a file cut at any byte fails cleanly without touching the model it was meant for.
"""

from __future__ import annotations

import errno
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dlbook import nn
from dlbook.checkpoint import load_checkpoint, save_checkpoint
from dlbook.data.bpe import BPETokenizer
from dlbook.data.tokenizers import CharTokenizer
from dlbook.optim import SGD, Adam, AdamW


def _mlp(sizes: list[int], dtype: type, seed: int) -> nn.Sequential:
    rng = np.random.default_rng(seed)
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes, sizes[1:])):
        layers.append(nn.Linear(a, b, rng=rng))
        if i < len(sizes) - 2:
            layers.append(nn.Tanh())
    return nn.Sequential(*layers).to_dtype(dtype)


def _leftovers(folder: Path, keep: set[str]) -> list[str]:
    """Files in ``folder`` other than ``keep`` (a failed atomic save must leave no temporary file)."""
    return sorted(p.name for p in folder.iterdir() if p.name not in keep)


# ---- D2: a save that fails half-way keeps the previous file --------------------------------------------


def test_failed_checkpoint_save_keeps_previous_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "run.npz"
    save_checkpoint(path, _mlp([4, 8, 3], np.float64, 0), {"step": 1})
    before = path.read_bytes()

    def half_written(f, **arrays) -> None:   # noqa: ANN001 - stands in for np.savez
        f.write(b"PK\x03\x04" + b"\0" * 1000)                 # some bytes reach the file, then the disk is full
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(np, "savez", half_written)
    with pytest.raises(OSError, match="No space"):
        save_checkpoint(path, _mlp([4, 8, 3], np.float64, 1), {"step": 2})
    assert path.read_bytes() == before
    assert _leftovers(tmp_path, {"run.npz"}) == []
    monkeypatch.undo()
    state, config, _ = load_checkpoint(path)
    assert config == {"step": 1}


def test_checkpoint_save_past_the_file_size_limit_keeps_previous_file(tmp_path: Path) -> None:
    """A real partial write: RLIMIT_FSIZE makes the kernel refuse bytes past a limit, as a full disk does."""
    pytest.importorskip("resource")
    path = tmp_path / "big.npz"
    save_checkpoint(path, _mlp([4, 4], np.float64, 0), {"step": 1})   # small: under the limit below
    before = path.read_bytes()
    script = textwrap.dedent(f"""
        import resource, signal
        import numpy as np
        from dlbook import nn
        from dlbook.checkpoint import save_checkpoint
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)     # the write fails with EFBIG instead of killing us
        model = nn.Linear(300, 300, rng=np.random.default_rng(0))          # 720 kB of float64
        resource.setrlimit(resource.RLIMIT_FSIZE, (200_000, 200_000))
        try:
            save_checkpoint({str(path)!r}, model, {{"step": 2}})
        except OSError as err:
            print("refused", err.errno)
        else:
            print("saved")
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "OPENBLAS_NUM_THREADS": "1"})
    assert done.returncode == 0, done.stderr
    assert done.stdout.split()[0] == "refused", done.stdout
    assert path.read_bytes() == before
    assert _leftovers(tmp_path, {"big.npz"}) == []


# ---- D3: object arrays are refused before anything is written -------------------------------------------


def test_object_array_in_extra_is_refused_and_nothing_written(tmp_path: Path) -> None:
    path = tmp_path / "obj.npz"
    with pytest.raises(TypeError, match=r"extra\['meta'\].*object"):
        save_checkpoint(path, _mlp([2, 2], np.float64, 0), extra={"meta": np.array([{"a": 1}], dtype=object)})
    assert _leftovers(tmp_path, set()) == []


def test_object_array_does_not_replace_a_good_checkpoint(tmp_path: Path) -> None:
    path = tmp_path / "good.npz"
    save_checkpoint(path, _mlp([2, 2], np.float64, 0))
    before = path.read_bytes()
    with pytest.raises(TypeError):
        save_checkpoint(path, _mlp([2, 2], np.float64, 1), extra={"ragged": np.array([[1], [2, 3]], dtype=object)})
    assert path.read_bytes() == before
    assert _leftovers(tmp_path, {"good.npz"}) == []


# ---- D4: tokenizer saves are atomic ---------------------------------------------------------------------


@pytest.mark.parametrize("make", [lambda t: CharTokenizer.fit(t), lambda t: BPETokenizer.fit(t, vocab_size=12)])
def test_unencodable_tokenizer_save_keeps_previous_file(tmp_path: Path, make) -> None:  # noqa: ANN001
    path = tmp_path / "tok.json"
    make("abcabc").save(path)
    before = path.read_bytes()
    bad = make("ab\ud800c")                     # a lone surrogate cannot be written as UTF-8
    with pytest.raises(UnicodeEncodeError):
        bad.save(path)
    assert path.read_bytes() == before
    assert _leftovers(tmp_path, {"tok.json"}) == []
    assert type(bad).load(path).itos == make("abcabc").itos


# ---- U: broken files name their path; the path is used exactly as given -----------------------------------


def test_checkpoint_path_is_used_as_given(tmp_path: Path) -> None:
    path = tmp_path / "model"                     # no .npz suffix: np.savez(path) would have written model.npz
    model = _mlp([3, 2], np.float64, 0)
    save_checkpoint(path, model, {"a": 1})
    assert _leftovers(tmp_path, set()) == ["model"]
    state, config, _ = load_checkpoint(path)
    assert config == {"a": 1}
    np.testing.assert_array_equal(state["0.weight"], model.state_dict()["0.weight"])


@pytest.mark.parametrize("keep", [0, 1, 100, -22, -1])
def test_truncated_checkpoint_names_its_path(tmp_path: Path, keep: int) -> None:
    path = tmp_path / "cut.npz"
    save_checkpoint(path, _mlp([6, 5, 4], np.float32, 0))
    data = path.read_bytes()
    path.write_bytes(data[:keep] if keep >= 0 else data[:len(data) + keep])
    with pytest.raises(ValueError, match=str(path).replace("\\", r"\\")):
        load_checkpoint(path)


def test_other_broken_files_name_their_path(tmp_path: Path) -> None:
    npy = tmp_path / "array.npz"
    with open(npy, "wb") as f:
        np.save(f, np.arange(3))                          # a .npy under an .npz name: a bare array, no archive
    with pytest.raises(ValueError, match="array.npz"):
        load_checkpoint(npy)
    bad_config = tmp_path / "config.npz"
    np.savez(bad_config, __config__=np.frombuffer(b"{not json", dtype=np.uint8))
    with pytest.raises(ValueError, match="config.npz"):
        load_checkpoint(bad_config)
    no_config = tmp_path / "plain.npz"
    np.savez(no_config, a=np.arange(3))
    with pytest.raises(ValueError, match="plain.npz.*not a dlbook checkpoint"):
        load_checkpoint(no_config)


def test_missing_checkpoint_is_still_file_not_found(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        load_checkpoint(tmp_path / "nothing.npz")


# ---- property tests -------------------------------------------------------------------------------------

_OPTIMISERS = {
    "sgd": lambda ps: SGD(ps, lr=0.05, momentum=0.9),
    "adam": lambda ps: Adam(ps, lr=0.01),
    "adamw": lambda ps: AdamW(ps, lr=0.01, weight_decay=0.1),
}


def _train(model: nn.Sequential, opt, sizes: list[int], steps: int, rng: np.random.Generator) -> None:  # noqa: ANN001
    for _ in range(steps):
        x = rng.standard_normal((5, sizes[0])).astype(model.parameters()[0].dtype)
        loss = (model(x) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()


_sizes = st.lists(st.integers(1, 9), min_size=2, max_size=5)
_dtypes = st.sampled_from([np.float32, np.float64])


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(sizes=_sizes, dtype=_dtypes, opt_name=st.sampled_from(sorted(_OPTIMISERS)), steps=st.integers(0, 4),
       seed=st.integers(0, 2**16))
def test_round_trip_is_exact(tmp_path: Path, sizes: list[int], dtype: type, opt_name: str, steps: int,
                             seed: int) -> None:
    rng = np.random.default_rng(seed)
    model = _mlp(sizes, dtype, seed)
    opt = _OPTIMISERS[opt_name](model.parameters())
    _train(model, opt, sizes, steps, rng)
    path = tmp_path / f"rt-{seed}.npz"
    config = {"sizes": sizes, "dtype": np.dtype(dtype).name, "note": "数据 ✓"}
    save_checkpoint(path, model, config, extra={f"opt_{k}": v for k, v in opt.state_dict().items()})

    state, got_config, extra = load_checkpoint(path)
    assert got_config == config
    fresh = _mlp(sizes, dtype, seed + 1)                  # other weights, same shapes
    fresh.load_state_dict(state)
    for (name, p), q in zip(model.named_parameters(), fresh.parameters()):
        assert q.dtype == p.dtype, name
        np.testing.assert_array_equal(q.data, p.data, err_msg=name)
    fresh_opt = _OPTIMISERS[opt_name](fresh.parameters())
    fresh_opt.load_state_dict({k[len("opt_"):]: v for k, v in extra.items()})
    want = opt.state_dict()
    got = fresh_opt.state_dict()
    assert sorted(got) == sorted(want)
    for k in want:
        np.testing.assert_array_equal(got[k], want[k], err_msg=k)
        assert np.asarray(got[k]).dtype == np.asarray(want[k]).dtype, k
    # one more step from the saved state lands exactly where the original run does
    x_seed = seed + 7
    _train(model, opt, sizes, 1, np.random.default_rng(x_seed))
    _train(fresh, fresh_opt, sizes, 1, np.random.default_rng(x_seed))
    for p, q in zip(model.parameters(), fresh.parameters()):
        np.testing.assert_array_equal(q.data, p.data)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(sizes=_sizes, dtype=_dtypes, seed=st.integers(0, 2**16), cut=st.floats(0.0, 1.0, exclude_max=True))
def test_truncated_file_fails_and_leaves_the_model_untouched(tmp_path: Path, sizes: list[int], dtype: type,
                                                             seed: int, cut: float) -> None:
    saved = _mlp(sizes, dtype, seed)
    path = tmp_path / f"full-{seed}.npz"
    save_checkpoint(path, saved, {"sizes": sizes})
    data = path.read_bytes()
    cut_path = tmp_path / f"cut-{seed}.npz"
    cut_path.write_bytes(data[:int(cut * len(data))])

    target = _mlp(sizes, dtype, seed + 1)
    before = {k: v.copy() for k, v in target.state_dict().items()}
    with pytest.raises(ValueError, match="cut-"):
        state, _, _ = load_checkpoint(cut_path)
        target.load_state_dict(state)
    after = target.state_dict()
    for k, v in before.items():
        np.testing.assert_array_equal(after[k], v, err_msg=k)
        assert after[k].dtype == v.dtype
