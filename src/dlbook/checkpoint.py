"""Checkpoints as ``.npz`` files (``allow_pickle=False``): arrays plus a JSON config.

Saves are atomic: the file is written under a temporary name in the target's
folder and renamed over the target only once it is complete, so a kill or a
full disk during a save leaves the previous good file untouched.
"""

from __future__ import annotations

import json
import os
import zipfile
from typing import Any

import numpy as np

from dlbook._io import atomic_write
from dlbook.nn.module import Module

_CONFIG_KEY = "__config__"


def save_checkpoint(path: str | os.PathLike, model: Module, config: dict[str, Any] | None = None,
                    extra: dict[str, np.ndarray] | None = None) -> None:
    """Write the model's parameters, a JSON-serialisable ``config`` and ``extra`` arrays to ``path``.

    The file is written exactly at ``path`` (no ``.npz`` is appended) and atomically.
    Arrays that could only be stored with pickle (object dtype) are refused here,
    since :func:`load_checkpoint` could never read them back.
    """
    arrays = {f"param/{k}": v for k, v in model.state_dict().items()}
    for k, v in (extra or {}).items():
        arrays[f"extra/{k}"] = np.asarray(v)
    for k, v in arrays.items():
        if v.dtype.hasobject:
            raise TypeError(f"extra[{k.split('/', 1)[1]!r}] has dtype object, which .npz can store only with "
                            "pickle; give a numeric, bool or string array")
    arrays[_CONFIG_KEY] = np.frombuffer(json.dumps(config or {}, sort_keys=True).encode(), dtype=np.uint8)
    atomic_write(path, lambda f: np.savez(f, **arrays))


def load_checkpoint(path: str | os.PathLike) -> tuple[dict[str, np.ndarray], dict[str, Any], dict[str, np.ndarray]]:
    """(parameter state, config, extra arrays) from a file written by :func:`save_checkpoint`."""
    try:
        # a file cut to a few bytes is neither a zip nor a .npy, and np.load then takes it for a pickle
        # (ValueError); a .npy file gives a bare array, not an archive
        loaded = np.load(path, allow_pickle=False)
        if not isinstance(loaded, np.lib.npyio.NpzFile):
            raise ValueError(f"a single {type(loaded).__name__}, not an .npz archive")
        with loaded as f:
            files = list(f.files)
            config = json.loads(f[_CONFIG_KEY].tobytes().decode()) if _CONFIG_KEY in files else None
            state = {k[len("param/"):]: f[k] for k in files if k.startswith("param/")}
            extra = {k[len("extra/"):]: f[k] for k in files if k.startswith("extra/")}
    except (zipfile.BadZipFile, EOFError, OSError, ValueError) as err:   # ValueError: JSON and UTF-8 errors too
        if isinstance(err, FileNotFoundError):
            raise
        raise ValueError(f"{path} is not a readable dlbook checkpoint (truncated or corrupt file?): {err}") from err
    if config is None:
        raise ValueError(f"{path} is not a dlbook checkpoint (no {_CONFIG_KEY} entry)")
    if not isinstance(config, dict):
        raise ValueError(f"{path}: its config must be a JSON object, got {type(config).__name__}")
    return state, config, extra
