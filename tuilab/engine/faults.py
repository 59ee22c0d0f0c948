"""Faults inside the engine become failed lanes or a failed run, never an exception out of it.

A lane's fault (the user's model raising mid-training, a bug in a measurement) is
caught by the run loop and fails that lane; `fail_safe` catches whatever escapes
the event stream itself and ends the run with a RunFinished that names the error.
The reason shown is the exception's last line; the traceback travels in the
event, and the run store writes it to the run directory's errors.log
(docs/run-directory.md).
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Iterator

from tuilab.engine.events import Event, LaneFinished, RunFinished
from tuilab.engine.record import RunRecord
from tuilab.engine.summary import LaneStatus
from tuilab.errors import UserError


def describe(exc: BaseException) -> tuple[str, str]:
    """(one line for people, the full traceback for the log): 'ValueError: bad shape'.

    A UserError already is one line written for people, so it is shown as it is.
    """
    line = str(exc) if isinstance(exc, UserError) else traceback.format_exception_only(exc)[-1].strip()
    return line, "".join(traceback.format_exception(exc))


def fail_safe(events: Iterator[Event], exp) -> Iterator[Event]:
    """Pass `events` through; an exception from them ends the run as failed.

    The lanes still running are reported cancelled, and the summary is what the
    events so far measured, so a fault outside any lane keeps every number.
    """
    record = RunRecord()
    t0 = time.perf_counter()
    try:
        for ev in events:
            record.apply(ev)
            yield ev
    except Exception as e:
        line, tb = describe(e)
        for index, rec in record.lanes.items():
            if rec.status == LaneStatus.RUNNING:
                ev = LaneFinished(index, LaneStatus.CANCELLED, rec.steps, rec.examples, rec.seconds)
                record.apply(ev)
                yield ev
        try:
            summary = record.summary(exp, True)
        except Exception:  # the fault may lie in the summary itself: the run still ends, without one
            summary = None
        yield RunFinished(True, time.perf_counter() - t0, summary, error=line, traceback=tb)
