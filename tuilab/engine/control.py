"""Stop and pause flags, and branch requests, shared by the run loop and whoever drives it.

Kept apart from run.py so a UI can create one without importing torch.
"""

from __future__ import annotations

import threading

BRANCH_FACTORS = (2, 4, 8)  # a branch asked for while the run goes: forks at 2B, 4B and 8B


class Control:
    """Thread-safe stop and pause flags, and branch requests, shared by the run loop and whoever drives it."""

    def __init__(self) -> None:
        self.stop = threading.Event()
        self._paused = threading.Event()
        self.cancelled = False  # the stop was the user's cancel: the run is listed as cancelled
        self._lock = threading.Lock()
        self._branches: list[tuple[int, tuple[int, ...]]] = []  # (lane, factors), oldest first

    def request_branch(self, lane: int, factors: tuple[int, ...] = BRANCH_FACTORS) -> None:
        """Ask the run loop to branch `lane` at its next report, as a preset's [[branches]] entry would."""
        with self._lock:
            self._branches.append((lane, factors))

    def take_branch_requests(self, lane: int) -> list[tuple[int, ...]]:
        """The factors of every branch asked of `lane` since the last call, oldest first (removed)."""
        with self._lock:
            mine = [f for i, f in self._branches if i == lane]
            self._branches = [(i, f) for i, f in self._branches if i != lane]
        return mine

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
