"""Checkpoints as ``.npz`` files (``allow_pickle=False``): arrays plus a JSON config."""

from __future__ import annotations

import json
import os
from typing import Any

import numpy as np

from dlbook.nn.module import Module

_CONFIG_KEY = "__config__"


def save_checkpoint(path: str | os.PathLike, model: Module, config: dict[str, Any] | None = None,
                    extra: dict[str, np.ndarray] | None = None) -> None:
    """Write the model's parameters, a JSON-serialisable ``config`` and ``extra`` arrays to ``path``."""
    arrays = {f"param/{k}": v for k, v in model.state_dict().items()}
    for k, v in (extra or {}).items():
        arrays[f"extra/{k}"] = np.asarray(v)
    arrays[_CONFIG_KEY] = np.frombuffer(json.dumps(config or {}, sort_keys=True).encode(), dtype=np.uint8)
    np.savez(path, **arrays)


def load_checkpoint(path: str | os.PathLike) -> tuple[dict[str, np.ndarray], dict[str, Any], dict[str, np.ndarray]]:
    """(parameter state, config, extra arrays) from a file written by :func:`save_checkpoint`."""
    with np.load(path, allow_pickle=False) as f:
        if _CONFIG_KEY not in f.files:
            raise ValueError(f"{path} is not a dlbook checkpoint (no {_CONFIG_KEY} entry)")
        config = json.loads(f[_CONFIG_KEY].tobytes().decode())
        state = {k[len("param/"):]: f[k] for k in f.files if k.startswith("param/")}
        extra = {k[len("extra/"):]: f[k] for k in f.files if k.startswith("extra/")}
    return state, config, extra
