"""Helpers shared by the package's command-line scripts."""

from __future__ import annotations

import json
from typing import Any


def parse_settings(pairs: list[str]) -> dict[str, Any]:
    """``["lr=1e-3", "dropout=0.0"]`` -> ``{"lr": 0.001, "dropout": 0.0}``: each value is read as JSON.

    A value that is not JSON (``init=runs/a.npz``) is kept as a string.
    """
    settings: dict[str, Any] = {}
    for pair in pairs:
        if "=" not in pair:
            raise ValueError(f"--set takes KEY=VALUE, got {pair!r}")
        key, value = pair.split("=", 1)
        try:
            settings[key] = json.loads(value)
        except json.JSONDecodeError:
            settings[key] = value
    return settings
