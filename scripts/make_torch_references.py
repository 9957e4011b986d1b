"""PyTorch's outputs and gradients for every op and layer the book teaches, stored so tests need no PyTorch.

``python scripts/make_torch_references.py`` (needs PyTorch; about 30 s on 2 busy cores) runs each case below in PyTorch
and writes what it computes — outputs, and gradients with respect to every input and every weight — to
``tests/references/torch_references.npz``.  The inputs are not stored: each case draws them (float64 data,
weights, upstream gradients, masks, token ids) from ``np.random.default_rng(seed)``, with the seed derived
from the case's name, so a test rebuilds them exactly.  Only a fingerprint of the inputs (their sums) is
stored beside the results, so a changed input is reported as such rather than as a parity failure.

Weights are drawn by the case, in sorted parameter-name order, and loaded into both dlbook and PyTorch:
the references do not depend on dlbook's initialisers, only on its parameter names and shapes.

``tests/test_torch_references.py`` runs dlbook on every case and compares with the stored arrays in
every test run (PyTorch not needed), and, where PyTorch is installed, checks that this script still
reproduces the stored file.  dlbook itself never imports torch.  The cases live beside this file, in
``torch_reference_cases.py`` (ops), ``torch_reference_layers.py`` (recurrent, attention) and
``torch_reference_models.py`` (Transformer layers, GPT, LoRA, optimisers).
"""

from __future__ import annotations

import argparse
import io
import sys
import time
import zipfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import torch_reference_layers  # noqa: E402, F401  (importing these two completes the table)
import torch_reference_models  # noqa: E402, F401
from torch_reference_cases import (  # noqa: E402
    CASES,  # noqa: E402
    Arrays,
    Case,
    fingerprint,
    relative_errors,
)

REFERENCES = Path(__file__).resolve().parent.parent / "tests" / "references" / "torch_references.npz"


def stored(path: Path = REFERENCES) -> dict[str, Arrays]:
    """The stored file as {case name: {array name: array}} (the ``#``-prefixed fingerprints included)."""
    out: dict[str, Arrays] = {}
    with np.load(path, allow_pickle=False) as f:
        for key in f.files:
            case, name = key.split("/", 1)
            out.setdefault(case, {})[name] = f[key]
    return out


def npz_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    """``arrays`` as a compressed .npz whose bytes depend only on the arrays (sorted names, fixed timestamps),
    so re-making unchanged references leaves the file unchanged in git."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
        for name in sorted(arrays):
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            with z.open(info, "w") as f:
                np.lib.format.write_array(f, np.asarray(arrays[name]), allow_pickle=False)
    return buffer.getvalue()


def torch_results(case: Case) -> Arrays:
    """What PyTorch computes for ``case``, plus the inputs' fingerprint under ``#inputs`` / ``#input_names``."""
    import torch

    torch.set_num_threads(1)   # the same summation order on every run, and no competition with training runs
    inputs = case.inputs()
    names, sums = fingerprint(inputs)
    return {**case.theirs(inputs), "#input_names": names, "#inputs": sums}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=REFERENCES, help="where to write (default: %(default)s)")
    args = parser.parse_args(argv)
    from dlbook._io import atomic_write

    start = time.perf_counter()
    arrays: dict[str, np.ndarray] = {}
    worst: list[tuple[float, str]] = []
    for case in CASES:
        theirs = torch_results(case)
        arrays.update({f"{case.name}/{k}": v for k, v in theirs.items()})
        try:   # dlbook's agreement is only reported here; the tests judge it
            errors = relative_errors(case.ours(case.inputs()), {k: v for k, v in theirs.items() if k[0] != "#"})
            worst.append((max(errors.values()), case.name))
        except Exception as e:  # noqa: BLE001 - a dlbook failure must not stop the references being written
            worst.append((float("inf"), f"{case.name} ({type(e).__name__}: {e})"))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    data = npz_bytes(arrays)
    atomic_write(args.out, lambda f: f.write(data))
    print(f"wrote {args.out}: {len(CASES)} cases, {len(arrays)} arrays, {args.out.stat().st_size / 1024:.0f} KiB, "
          f"{time.perf_counter() - start:.1f} s")
    for err, name in sorted(worst, reverse=True)[:8]:
        print(f"  dlbook vs PyTorch, relative max error {err:.1e}  {name}")


if __name__ == "__main__":
    main()
