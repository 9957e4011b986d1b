"""The shipped results some checkers compute their expected answers from, loaded once per session."""

from __future__ import annotations

from functools import cache
from typing import Any


@cache
def base_gpt() -> tuple[Any, Any, dict[str, Any], dict[str, Any]]:
    """The shipped base GPT of §5.2 (its second stage): ``(model, tokenizer, record, extra)`` as ``load_gpt``
    returns them — the checkpoint's record (settings, step) and its training history."""
    from dlbook.models.gpt import load_gpt
    from dlbook.recipes.pretrain import BASE_ASSET

    return load_gpt(BASE_ASSET)
