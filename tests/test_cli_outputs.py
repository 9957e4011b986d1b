"""Training scripts never write a shipped asset by default (issue 14, D1), and the character LM recipe saves
every N steps and on SIGTERM (D2)."""

from __future__ import annotations

import argparse
import importlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import dlbook

ASSETS = (Path(dlbook.__file__).parent / "assets").resolve()
CLIS = ["dlbook.recipes.pretrain", "dlbook.recipes.char_lm", "dlbook.recipes.translator",
        "dlbook.recipes.finetune_sweep", "dlbook.recipes.isoflop"]


class _Parsed(Exception):
    """Raised in place of parse_args, carrying the parser a CLI built."""


def _parser_of(module: str, monkeypatch: pytest.MonkeyPatch) -> argparse.ArgumentParser:
    def grab(self: argparse.ArgumentParser, *args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        raise _Parsed(self)

    monkeypatch.setattr(argparse.ArgumentParser, "parse_args", grab)
    with pytest.raises(_Parsed) as caught:
        importlib.import_module(module).main([])
    return caught.value.args[0]


@pytest.mark.parametrize("module", CLIS)
def test_no_cli_writes_a_shipped_asset_by_default(module: str, monkeypatch: pytest.MonkeyPatch) -> None:
    parser = _parser_of(module, monkeypatch)
    out = [a for a in parser._actions if a.dest == "out"]
    assert len(out) == 1, f"{module} has no --out"
    action = out[0]
    if not action.required:
        assert action.default is not None, f"{module}: --out is optional with no default"
        default = Path(action.default).resolve()
        assert ASSETS not in default.parents, f"{module} writes {default} (a shipped asset) by default"


@pytest.mark.parametrize("module", CLIS)
def test_cli_without_out_stops_before_any_work(module: str, capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as stop:
        importlib.import_module(module).main([])
    assert stop.value.code == 2
    assert "--out" in capsys.readouterr().err


@pytest.mark.parametrize("module", CLIS)
def test_docstring_gives_the_command_that_remakes_the_asset(module: str) -> None:
    doc = importlib.import_module(module).__doc__
    assert "--out src/dlbook/assets/" in doc, f"{module}'s docstring does not say how its shipped asset was made"


# ---- the character LM recipe: --save-every and SIGTERM ----------------------------------------------------


def test_char_lm_saves_every_n_steps_and_at_the_end(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from dlbook.models.char_lm import CharLM
    from dlbook.recipes import char_lm

    saved: list[tuple[int, bool]] = []
    real_save = CharLM.save

    def record(self: CharLM, path, extra=None) -> None:  # noqa: ANN001
        saved.append((int(extra["steps_done"]), "final_val_loss" in extra))
        real_save(self, path, extra)

    monkeypatch.setattr(CharLM, "save", record)
    out = tmp_path / "lm"
    char_lm.main(["--preset", "quick", "--steps", "7", "--save-every", "3", "--out", str(out)])
    assert saved == [(3, False), (6, False), (7, True)]
    model, extra = CharLM.load(out)
    assert int(extra["steps_done"]) == 7 and np.isfinite(float(extra["final_val_loss"]))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lm"]


@pytest.mark.parametrize("bad", [0, -2])
def test_char_lm_save_every_must_be_positive(bad: int, tmp_path: Path) -> None:
    from dlbook.recipes.char_lm import train_preset

    with pytest.raises(ValueError, match="save_every"):
        train_preset("quick", out=tmp_path / "x", save_every=bad, steps=2, progress=False)


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_char_lm_sigterm_saves_and_exits_cleanly(tmp_path: Path) -> None:
    out = tmp_path / "lm.npz"
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "dlbook.recipes.char_lm", "--preset", "quick", "--steps",
                             "100000", "--save-every", "2", "--out", str(out)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        deadline = time.monotonic() + 240
        while not out.exists():                      # the first periodic save: training is under way
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "no checkpoint appeared"
            time.sleep(0.2)
        proc.send_signal(signal.SIGTERM)
        stdout, stderr = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, stderr
    assert "stopped and saved after step" in stdout
    from dlbook.models.char_lm import CharLM

    _, extra = CharLM.load(out)
    steps_done = int(extra["steps_done"])
    assert 2 <= steps_done < 100000 and f"step {steps_done}" in stdout
    assert "final_val_loss" not in extra
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lm.npz"]


def test_torch_parity_script_needs_out() -> None:
    """scripts/torch_parity.py run bare used to rewrite the shipped torch_parity.npz; now it stops and asks."""
    import subprocess
    import sys
    from pathlib import Path

    script = Path(__file__).resolve().parent.parent / "scripts" / "torch_parity.py"
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "--out" in done.stderr
