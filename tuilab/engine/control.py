"""Stop and pause flags shared by the run loop and whoever drives it.

Kept apart from run.py so a UI can create one without importing torch.
"""

from __future__ import annotations

import threading


class Control:
    """Thread-safe stop and pause flags shared by the run loop and whoever drives it."""

    def __init__(self) -> None:
        self.stop = threading.Event()
        self._paused = threading.Event()
        self.cancelled = False  # the stop was the user's cancel: the run is listed as cancelled

    @property
    def paused(self) -> bool:
        return self._paused.is_set()

    def pause(self) -> None:
        self._paused.set()

    def resume(self) -> None:
        self._paused.clear()

    def cancel(self) -> None:
        """Stop because the user asked to (a quit, a signal or a fault only set `stop`)."""
        self.cancelled = True
        self.stop.set()

    def interrupted(self) -> bool:
        """True when training should leave its inner loop now (stop or pause)."""
        return self.stop.is_set() or self._paused.is_set()
