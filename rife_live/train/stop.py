"""Ctrl+C (SIGINT) and SIGTERM as a request to stop after the current step, not in the middle of it.

A training step must not be cut in half (the optimizer would leave the weights half-updated), so
while a ``StopRequest`` is active the signals only set an event that the loop reads between steps;
it then saves a final checkpoint and ends with exit status 130. A second Ctrl+C raises
``KeyboardInterrupt`` at once (for a user who does not want to wait for the step). torchrun, on
Ctrl+C, sends its workers SIGTERM: that is the same request.

The handlers are installed by ``__enter__`` and the previous ones restored by ``__exit__``; Python
runs signal handlers in the main thread only, so a request made from another thread does nothing.
"""

from __future__ import annotations

import signal
import threading
from types import FrameType

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class StopRequest:
    """An event set by SIGINT/SIGTERM while active (a context manager)."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self._previous: dict[int, object] = {}

    def is_set(self) -> bool:
        return self._event.is_set()

    def set(self) -> None:
        self._event.set()

    def _handle(self, signum: int, _frame: FrameType | None) -> None:
        if signum == signal.SIGINT and self._event.is_set():
            raise KeyboardInterrupt
        self._event.set()

    def __enter__(self) -> StopRequest:
        if threading.current_thread() is threading.main_thread():
            for sig in SIGNALS:
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous.clear()
