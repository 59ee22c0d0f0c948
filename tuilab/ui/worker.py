"""What the app's single thread worker does: drive the engine or follow a run directory.

These functions run in the worker thread. They never touch widgets: every event
goes through a Batcher to `post` (the app's thread-safe post_message).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from tuilab.engine.control import Control
from tuilab.engine.events import LaneProgress, RunFinished
from tuilab.engine.faults import fail_safe
from tuilab.engine.store import ERRORS
from tuilab.errors import UserError
from tuilab.ui.messages import EngineEvents, RunError, RunRefused

POST_INTERVAL = 0.25  # progress reaches the UI at most 4 times a second, whatever the training speed


class EngineIdle:
    """Set while no engine worker thread runs (launch waits on it before leaving the process).

    Replacing a run starts a new worker before the old thread has seen its stop,
    so workers overlap: a count, not one shared flag that the old thread would
    set while the new one trains. Offers the threading.Event calls it replaces.
    """

    def __init__(self) -> None:
        self._busy = 0
        self._cond = threading.Condition()

    def enter(self) -> None:
        with self._cond:
            self._busy += 1

    def leave(self) -> None:
        with self._cond:
            self._busy -= 1
            if self._busy == 0:
                self._cond.notify_all()

    def is_set(self) -> bool:
        return self._busy == 0

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until no worker runs; False if `timeout` passed first."""
        with self._cond:
            return self._cond.wait_for(lambda: self._busy == 0, timeout)


class Batcher:
    """Holds LaneProgress events and posts them together at most every `interval` seconds.

    Any other event (a lane ending, the noise slope, a warning) flushes at once,
    in order. A timer flushes held progress if the engine goes quiet, so a slow
    report is late by at most `interval`. Posting happens under the lock: the
    timer's thread and the worker's would otherwise post their batches out of order.
    """

    def __init__(self, post: Callable[[EngineEvents], object], interval: float = POST_INTERVAL):
        self._post = post
        self._interval = interval
        self._pending: list = []
        self._last = 0.0
        self._lock = threading.Lock()
        self._timer: threading.Timer | None = None

    def add(self, ev) -> None:
        with self._lock:
            self._pending.append(ev)
            due = time.monotonic() - self._last >= self._interval
            if isinstance(ev, LaneProgress) and not due:
                if self._timer is None:
                    self._timer = threading.Timer(self._interval, self.flush)
                    self._timer.daemon = True
                    self._timer.start()
                return
            self._flush_locked()

    def flush(self) -> None:
        with self._lock:
            self._flush_locked()

    def _flush_locked(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        events, self._pending = tuple(self._pending), []
        self._last = time.monotonic()
        if events:
            self._post(EngineEvents(events))


def run_experiment(exp, control: Control, post, out_dir: str = "runs") -> None:
    """prepare + the lanes' events (in-process or on Ray), every event written to a new run directory and posted in batches.

    A run directory that cannot be written stops the run; that, and a fault that
    failed the run, reach the app as one RunError after the run's last events.
    """
    from tuilab.engine.backends import lane_events  # imports torch: only ever in the worker
    from tuilab.engine.run import prepare
    from tuilab.engine.store import RunDirError, RunStore

    try:
        plan = prepare(exp)  # all input checks, before a directory is made
        store = RunStore.create(out_dir, exp)
    except UserError as e:
        post(RunRefused(str(e)))
        return
    plan.set_run_dir(store.path)
    batcher = Batcher(post)
    end: RunFinished | None = None
    try:
        for ev in fail_safe(lane_events(plan, control), exp):
            try:
                store.write(ev)
            except RunDirError:
                control.stop.set()  # the engine winds down; its last events are still shown
            batcher.add(ev)
            end = ev if isinstance(ev, RunFinished) else end
    finally:
        batcher.flush()
        store.close()
    if store.error is not None:
        post(RunError(str(store.error)))
    elif end is not None and end.error:
        post(RunError(f"the run failed: {end.error} (traceback in {store.path / ERRORS})"))


def follow_run(run_dir: str, stop: threading.Event, post) -> None:
    """Replay a run directory, then follow it live until RunFinished; warnings are posted as str."""
    from tuilab.engine.store import follow

    batcher = Batcher(post)
    try:
        for item in follow(run_dir, stop.is_set):
            batcher.add(item)
            if isinstance(item, RunFinished):
                break
    except UserError as e:
        batcher.add(str(e))
    finally:
        batcher.flush()
