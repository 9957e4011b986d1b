"""dlbook vs PyTorch on the digit CNN (§7): same weights, same outputs and gradients."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "torch_parity.py"
spec = importlib.util.spec_from_file_location("torch_parity", SCRIPT)
assert spec is not None and spec.loader is not None
parity = importlib.util.module_from_spec(spec)
spec.loader.exec_module(parity)


def _reference() -> dict[str, np.ndarray]:
    with np.load(parity.REFERENCE, allow_pickle=False) as f:
        return {k: f[k] for k in f.files}


def test_dlbook_matches_the_stored_pytorch_reference() -> None:
    """Without PyTorch: dlbook's logits, loss and every gradient equal what PyTorch computed (to 1e-10)."""
    ref = _reference()
    state, x, y = parity.inputs()
    np.testing.assert_array_equal(ref["x"], x)
    np.testing.assert_array_equal(ref["y"], y)
    ours = parity.dlbook_forward_backward(state, x, y)
    theirs = {k: v for k, v in ref.items() if k not in ("x", "y")}
    assert len(theirs) == 2 + len(state)   # logits, loss and one gradient per parameter
    assert parity.max_difference(ours, theirs) < 1e-10
    # the check can fail: a perturbed gradient is caught
    theirs["grad:features.0.weight"] = theirs["grad:features.0.weight"] + 1e-6
    assert parity.max_difference(ours, theirs) > 1e-7


@pytest.mark.slow
def test_live_pytorch_reproduces_the_reference() -> None:
    """With PyTorch installed: a live run equals the shipped file and dlbook."""
    pytest.importorskip("torch")
    state, x, y = parity.inputs()
    live = parity.torch_forward_backward(state, x, y)
    ref = {k: v for k, v in _reference().items() if k not in ("x", "y")}
    assert parity.max_difference(live, ref) < 1e-12
    assert parity.max_difference(live, parity.dlbook_forward_backward(state, x, y)) < 1e-10
