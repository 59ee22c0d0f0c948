"""`tuilab run`: the engine's events to the run directory, rich progress on stderr, a summary.

Ctrl-C, SIGTERM and SIGHUP (a dropped SSH connection) ask the engine to stop;
it ends within a second, the run directory gets its summary marked interrupted,
and the process exits 128 + the signal number. A run directory that cannot be
written (disk full, removed) stops the run the same way: one line on stderr,
the summary (with the error) still printed, exit EXIT_RUN_DIR.
"""

from __future__ import annotations

import argparse
import signal
import sys

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeRemainingColumn
from rich.table import Table

from tuilab.engine.events import (
    BranchMeasured,
    LaneFailed,
    LaneFinished,
    LaneProgress,
    NoiseSlope,
    RunFinished,
    RunStarted,
)
from tuilab.engine.store import RunDirError, RunStore, dumps, summary_json
from tuilab.engine.summary import LaneStatus, RunSummary
from tuilab.errors import EXIT_RUN_DIR, EXIT_RUN_FAILED
from tuilab.format import SUMMARY_COLUMNS, fmt_count, fmt_float, lane_name, summary_rows
from tuilab.presets import Experiment
from tuilab.streams import quiet_if_gone


class _Interrupted(Exception):
    """A signal came before the run loop started: nothing to keep, so leave at once."""


class _Signals:
    """Turns SIGINT/SIGTERM/SIGHUP into a stop request, remembering which came first.

    Until `arm()`, while torch is imported and data loaded, a signal raises
    _Interrupted (no run directory exists yet); after it, a signal only sets
    `control.stop`, and the run loop ends the run cleanly within a second.
    """

    def __init__(self, control):
        self.control = control
        self.signum: int | None = None
        self.armed = False
        self._old = {}

    def __enter__(self):
        for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            self._old[s] = signal.signal(s, self._handle)
        return self

    def arm(self) -> None:
        self.armed = True
        if self.signum is not None:  # came between prepare's end and arm(): stop at once
            raise _Interrupted

    def _handle(self, signum, _frame):
        if self.signum is None:
            self.signum = signum
        if self.control is not None:
            self.control.stop.set()
        if not self.armed:
            raise _Interrupted

    def __exit__(self, *exc):
        for s, h in self._old.items():
            signal.signal(s, h)


def _safe(fn):
    """Call fn, ignoring a terminal that went away (SIGHUP leaves stderr broken)."""
    try:
        fn()
    except OSError:
        pass


def run_headless(exp: Experiment, args: argparse.Namespace) -> int:
    """Run an experiment to completion or interruption; returns the exit code."""
    console = Console(stderr=True)
    if not console.is_terminal:  # a log file or pipe: no width to fit, so don't squeeze the table to 80
        console = Console(stderr=True, width=140)
    if exp.user_code():  # said before any of it runs
        _safe(lambda: console.print(f"this preset imports: {', '.join(exp.user_code())}", highlight=False,
                                    soft_wrap=True))
    with _Signals(None) as sigs:
        try:
            # Importing torch takes a second or so: a Ctrl-C in it must not print a traceback.
            from tuilab.engine.backends import lane_events
            from tuilab.engine.faults import fail_safe
            from tuilab.engine.run import Control, prepare

            sigs.control = control = Control()
            plan = prepare(exp)  # every input check happens here, before a directory is made
            sigs.arm()
        except _Interrupted:
            _safe(lambda: console.print("interrupted before the run started; no run directory was made"))
            quiet_if_gone()
            return 128 + sigs.signum
        store = RunStore.open(args.into) if getattr(args, "into", None) else RunStore.create(args.out, exp)
        plan.set_run_dir(store.path)
        end = _drive(fail_safe(lane_events(plan, control), exp), store, control, console)
    error = str(store.error) if store.error else None
    summary = summary_json(end, error)
    _safe(lambda: console.print(summary_table(end.summary, summary["status"])))
    if end.summary is not None and end.summary.recommendation is not None:
        _safe(lambda: console.print(end.summary.recommendation.text, highlight=False))
    if summary["error"]:
        _safe(lambda: print(f"tuilab: {summary['error']}", file=sys.stderr, flush=True))  # one line, unwrapped
    if args.json:
        _safe(lambda: print(dumps(summary), flush=True))
    quiet_if_gone()
    if sigs.signum is not None:
        return 128 + sigs.signum
    if store.error:
        return EXIT_RUN_DIR
    return EXIT_RUN_FAILED if summary["error"] else 0


def _drive(events, store, control, console: Console) -> RunFinished:
    """Write every event to the run directory and show progress; returns the RunFinished.

    When the directory cannot be written the run is stopped and its last events
    (cancelled lanes, RunFinished with the summary) are still shown, not written.
    """
    end = None  # fail_safe ends every stream with a RunFinished
    names: dict[int, str] = {}  # lane index -> 'B=32 linear', from RunStarted
    progress = Progress(TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(),
                        TextColumn("{task.fields[stats]}"), TimeRemainingColumn(), console=console,
                        transient=False, disable=not console.is_terminal and not sys.stderr.isatty())
    tasks: dict[int, int] = {}
    _safe(progress.start)
    try:
        for ev in events:
            try:
                store.write(ev)
            except RunDirError:  # said once, at the end, beside the summary
                control.stop.set()
            if isinstance(ev, RunStarted):
                _safe(lambda ev=ev: console.print(
                    f"[bold]{ev.name}[/] · {ev.dataset} · {ev.model} · {ev.device_name} · run dir {ev.run_dir}"))
                for n in ev.notices:
                    _safe(lambda n=n: console.print(f"[yellow]{n}[/]"))
                names = {li.lane: lane_name(li) for li in ev.lanes}
                for li in ev.lanes:
                    tasks[li.lane] = progress.add_task(f"{names[li.lane]:>12}", total=1.0, stats="")
            elif isinstance(ev, LaneProgress):
                stats = (f"loss {fmt_float(ev.train_loss)}  noise {fmt_float(ev.noise)}  "
                         f"{fmt_count(ev.samples_per_s)}/s")
                progress.update(tasks[ev.lane], completed=ev.progress, stats=stats)
            elif isinstance(ev, LaneFailed):
                progress.update(tasks[ev.lane], stats=f"[red]{ev.status}: {escape(ev.reason)}[/]")
            elif isinstance(ev, LaneFinished) and ev.status == LaneStatus.CANCELLED:
                progress.update(tasks[ev.lane], stats="[yellow]cancelled[/]")
            elif isinstance(ev, NoiseSlope) and ev.slope is not None:
                _safe(lambda ev=ev: console.print(
                    f"noise ∝ B^{ev.slope:.3f} ± {ev.stderr or 0:.3f} (measured at {ev.at}; theory -0.5)"))
            elif isinstance(ev, BranchMeasured):
                line = branch_line(ev, names[ev.lane])
                _safe(lambda line=line: console.print(line))
            elif isinstance(ev, RunFinished):
                end = ev
    finally:
        store.close()  # whatever went wrong, what was flushed stays readable
        _safe(progress.stop)  # its last frame fails when SIGHUP took the terminal away
    return end


def branch_line(ev: BranchMeasured, name: str) -> str:
    """One line per branch point: the bound it measured, beside b_simple there."""
    if ev.critical_batch_size is None:
        found = ev.note or "no bound"
    elif ev.first_behind is None:
        found = f"critical batch size >= {ev.critical_batch_size} (every branch kept pace)"
    else:
        found = f"critical batch size in [{ev.critical_batch_size}, {ev.first_behind})"
    b_simple = f"; b_simple there {fmt_float(ev.b_simple)}" if ev.b_simple is not None else ""
    return f"branch of lane {ev.lane} ({name}, at batch size {ev.batch_size}) at {ev.at:g}: {found}{b_simple}"


def summary_table(summary: RunSummary | None, status: str) -> Table:
    """The lanes side by side, as rich renders them at the end of a run."""
    name, run_dir = (summary.name, summary.run_dir) if summary else (None, None)
    t = Table(title=f"{name} · {status} · run dir {run_dir}", title_justify="left")
    for col in SUMMARY_COLUMNS:
        t.add_column(col, justify="right")
    for row in summary_rows(summary) if summary else []:
        t.add_row(*row)
    return t
