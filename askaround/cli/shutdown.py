"""A graceful stop for long-running commands: SIGTERM and SIGINT ask the loop to finish.

Handlers are installed explicitly, so SIGINT works even when a shell started the process in the
background (where SIGINT arrives ignored), and ``kill`` (SIGTERM) is a normal stop, not a crash.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

SIGNALS = (signal.SIGTERM, signal.SIGINT)


class GracefulStop:
    """Set once a stop signal arrives; ``wait`` sleeps, but wakes at once on a stop."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self.signal_name: str | None = None

    @contextmanager
    def installed(self) -> Iterator[GracefulStop]:
        """Route SIGTERM and SIGINT here for the block (main thread only, as Python requires),
        then put back the handlers that were there."""
        previous: dict[signal.Signals, Any] = {
            number: signal.signal(number, self._handle) for number in SIGNALS
        }
        try:
            yield self
        finally:
            for restored, handler in previous.items():
                signal.signal(restored, handler)

    def _handle(self, number: int, _frame: FrameType | None) -> None:
        self.signal_name = signal.Signals(number).name
        self._event.set()

    def requested(self) -> bool:
        return self._event.is_set()

    def wait(self, seconds: float) -> bool:
        """Sleep up to ``seconds``; True if a stop was asked for meanwhile."""
        return self._event.wait(seconds)
