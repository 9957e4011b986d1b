"""The book's digit CNN run in PyTorch with dlbook's weights (§7): same outputs, same gradients.

``python scripts/torch_parity.py --out src/dlbook/assets/torch_parity.npz`` (needs PyTorch) writes the input
batch and what PyTorch computes from it — logits, loss and every weight's gradient — so the chapter can
compare dlbook with PyTorch's numbers even where PyTorch is not installed.  ``tests/test_torch_parity.py``
checks, where PyTorch is installed, that a live run still reproduces that file and that dlbook agrees.
dlbook itself never imports torch.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

REFERENCE = Path(__file__).resolve().parent.parent / "src" / "dlbook" / "assets" / "torch_parity.npz"
#: dlbook parameter name → the same parameter in the PyTorch Sequential below.
NAMES = {"features.0": "0", "features.3": "3", "classifier.1": "7"}


def inputs() -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    """(dlbook DigitsCNN weights from seed 0, a batch x (4, 1, 8, 8), its labels), all float64."""
    from dlbook.models.cnn import DigitsCNN

    model = DigitsCNN(rng=np.random.default_rng(0), dtype=np.float64)
    rng = np.random.default_rng(1)
    return model.state_dict(), rng.random((4, 1, 8, 8)), rng.integers(0, 10, 4)


def torch_forward_backward(state: dict[str, np.ndarray], x: np.ndarray, y: np.ndarray) -> dict[str, np.ndarray]:
    """The same CNN in PyTorch, loaded with ``state``: logits, cross-entropy loss and the weights' gradients."""
    import torch
    from torch import nn

    net = nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(32 * 2 * 2, 10),
    ).double()
    net.load_state_dict({f"{NAMES[k.rsplit('.', 1)[0]]}.{k.rsplit('.', 1)[1]}": torch.from_numpy(v)
                         for k, v in state.items()})
    logits = net(torch.from_numpy(x))
    loss = nn.functional.cross_entropy(logits, torch.from_numpy(y))
    loss.backward()
    out = {"logits": logits.detach().numpy(), "loss": np.array(loss.item())}
    by_torch_name = dict(net.named_parameters())
    for k in state:
        layer, leaf = k.rsplit(".", 1)
        out[f"grad:{k}"] = by_torch_name[f"{NAMES[layer]}.{leaf}"].grad.numpy()
    return out


def dlbook_forward_backward(state: dict[str, np.ndarray], x: np.ndarray, y: np.ndarray) -> dict[str, np.ndarray]:
    """The same computation in dlbook."""
    from dlbook import functional as F
    from dlbook.autograd import Tensor
    from dlbook.models.cnn import DigitsCNN

    model = DigitsCNN(rng=np.random.default_rng(0), dtype=np.float64)
    model.load_state_dict(state)
    logits = model(Tensor(x))
    loss = F.cross_entropy(logits, y)
    loss.backward()
    params = dict(model.named_parameters())
    return {"logits": logits.data, "loss": np.array(float(loss.data)),
            **{f"grad:{k}": params[k].grad for k in state}}


def max_difference(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> float:
    """The largest |a − b| over every array the two results share (they must share all)."""
    if set(a) != set(b):
        raise ValueError(f"the results hold different arrays: {sorted(set(a) ^ set(b))}")
    return max(float(np.max(np.abs(a[k] - b[k]))) for k in a)


def main(argv: list[str] | None = None) -> None:
    import argparse

    parser = argparse.ArgumentParser(description="PyTorch's outputs for the digit CNN of chapter 7")
    parser.add_argument("--out", type=Path, required=True,
                        help=f"where to write them (the shipped file is {REFERENCE.relative_to(REFERENCE.parents[3])})")
    out = parser.parse_args(argv).out
    state, x, y = inputs()
    theirs = torch_forward_backward(state, x, y)
    from dlbook._io import atomic_write

    # written beside the old file and renamed over it, so an interrupted run never leaves a broken asset
    atomic_write(out, lambda f: np.savez(f, x=x, y=y, **theirs))
    diff = max_difference(theirs, dlbook_forward_backward(state, x, y))
    print(f"wrote {out}; dlbook differs by at most {diff:.1e}")


if __name__ == "__main__":
    main()
