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
from tuilab.errors import UserError
from tuilab.ui.messages import EngineEvents, RunRefused

POST_INTERVAL = 0.25  # progress reaches the UI at most 4 times a second, whatever the training speed


class Batcher:
    """Holds LaneProgress events and posts them together at most every `interval` seconds.

    Any other event (a lane ending, the noise slope, a warning) flushes at once,
    in order. A timer flushes held progress if the engine goes quiet, so a slow
    report is late by at most `interval`.
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
        self.flush()

    def flush(self) -> None:
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            events, self._pending = tuple(self._pending), []
            self._last = time.monotonic()
        if events:
            self._post(EngineEvents(events))


def run_experiment(exp, control: Control, post, out_dir: str = "runs") -> None:
    """prepare + the lanes' events (in-process or on Ray), every event written to a new run directory and posted in batches."""
    from tuilab.engine.backends import lane_events  # imports torch: only ever in the worker
    from tuilab.engine.run import prepare
    from tuilab.engine.store import RunStore

    try:
        plan = prepare(exp)  # all input checks, before a directory is made
        store = RunStore.create(out_dir, exp)
    except UserError as e:
        post(RunRefused(str(e)))
        return
    plan.set_run_dir(store.path)
    batcher = Batcher(post)
    try:
        for ev in lane_events(plan, control):
            store.write(ev)
            batcher.add(ev)
    finally:
        batcher.flush()
        store.close()


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
