"""SIGTERM / Ctrl-C during training: finish the current step, save, and exit cleanly.

Shared by the training recipes (:mod:`dlbook.recipes.pretrain`, :mod:`dlbook.recipes.char_lm`): a kill from a job
scheduler or a Ctrl-C in a terminal then costs at most one step, never the run.
"""

from __future__ import annotations

import signal
import threading
from typing import Any


class StopRequest:
    """Turns SIGTERM / SIGINT into a flag the training loop checks after each step, so it saves and exits.

    Use as ``with StopRequest() as stop: while ... and stop.signal is None: ...``; ``signal`` is the
    number of the signal received (None until one arrives).  The previous handlers come back on exit.
    Outside the main thread (where Python cannot set handlers) it does nothing and ``signal`` stays None.
    """

    def __init__(self) -> None:
        self.signal: int | None = None
        self._old: dict[int, Any] = {}

    def __enter__(self) -> StopRequest:
        if threading.current_thread() is threading.main_thread():   # handlers can only be set there
            for sig in (signal.SIGTERM, signal.SIGINT):
                self._old[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum: int, frame: Any) -> None:
        self.signal = signum

    def __exit__(self, *exc: Any) -> None:
        for sig, handler in self._old.items():
            signal.signal(sig, handler)
        self._old.clear()
