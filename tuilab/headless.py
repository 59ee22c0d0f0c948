"""`tuilab run`: the engine's events to the run directory, rich progress on stderr, a summary.

Ctrl-C, SIGTERM and SIGHUP (a dropped SSH connection) ask the engine to stop;
it ends within a second, the run directory gets its summary marked interrupted,
and the process exits 128 + the signal number.
"""

from __future__ import annotations

import argparse
import signal
import sys

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeRemainingColumn
from rich.table import Table

from tuilab.engine.events import (
    LaneFailed,
    LaneFinished,
    LaneProgress,
    NoiseSlope,
    RunFinished,
    RunStarted,
)
from tuilab.format import fmt_count, fmt_float, lane_name
from tuilab.presets import Experiment


class _Signals:
    """Turns SIGINT/SIGTERM/SIGHUP into a stop request, remembering which came first."""

    def __init__(self, control):
        self.control = control
        self.signum: int | None = None
        self._old = {}

    def __enter__(self):
        for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            self._old[s] = signal.signal(s, self._handle)
        return self

    def _handle(self, signum, _frame):
        if self.signum is None:
            self.signum = signum
        self.control.stop.set()

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
    if getattr(args, "detach", False):
        from tuilab.detach import detach

        return detach(exp, args)
    from tuilab.engine.run import Control, prepare, run_plan
    from tuilab.engine.store import RunStore

    console = Console(stderr=True)
    plan = prepare(exp)  # every input check happens here, before a directory is made
    store = RunStore.open(args.into) if getattr(args, "into", None) else RunStore.create(args.out, exp)
    plan.started = type(plan.started)(**{**plan.started.__dict__, "run_dir": str(store.path)})
    control = Control()
    summary: dict = {}
    progress = Progress(TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(),
                        TextColumn("{task.fields[stats]}"), TimeRemainingColumn(), console=console,
                        transient=False, disable=not console.is_terminal and not sys.stderr.isatty())
    tasks: dict[int, int] = {}
    with _Signals(control) as sigs, progress:
        for ev in run_plan(plan, control):
            store.write(ev)
            if isinstance(ev, RunStarted):
                _safe(lambda ev=ev: console.print(
                    f"[bold]{ev.name}[/] · {ev.dataset} · {ev.model} · {ev.device_name} · run dir {ev.run_dir}"))
                for n in ev.notices:
                    _safe(lambda n=n: console.print(f"[yellow]{n}[/]"))
                for li in ev.lanes:
                    tasks[li.lane] = progress.add_task(f"{lane_name(li):>12}", total=1.0, stats="")
            elif isinstance(ev, LaneProgress):
                stats = (f"loss {fmt_float(ev.train_loss)}  noise {fmt_float(ev.noise)}  "
                         f"{fmt_count(ev.samples_per_s)}/s")
                progress.update(tasks[ev.lane], completed=ev.progress, stats=stats)
            elif isinstance(ev, LaneFailed):
                progress.update(tasks[ev.lane], stats=f"[red]{ev.status}: {ev.reason}[/]")
            elif isinstance(ev, LaneFinished) and ev.status == "cancelled":
                progress.update(tasks[ev.lane], stats="[yellow]cancelled[/]")
            elif isinstance(ev, NoiseSlope) and ev.slope is not None:
                _safe(lambda ev=ev: console.print(
                    f"noise ∝ B^{ev.slope:.3f} ± {ev.stderr or 0:.3f} (measured at {ev.at}; theory -0.5)"))
            elif isinstance(ev, RunFinished):
                summary = ev.summary | {"interrupted": ev.interrupted, "wall_seconds": ev.wall_seconds}
    store.close()
    _safe(lambda: console.print(summary_table(summary)))
    if summary.get("recommendation", {}).get("text"):
        _safe(lambda: console.print(summary["recommendation"]["text"]))
    if args.json:
        from tuilab.engine.store import dumps

        _safe(lambda: print(dumps(summary), flush=True))
    if sigs.signum is not None:
        return 128 + sigs.signum
    return 0


def summary_table(summary: dict) -> Table:
    """The lanes side by side, as rich renders them at the end of a run."""
    t = Table(title=f"{summary.get('name')} · {'interrupted' if summary.get('interrupted') else 'done'}"
                    f" · run dir {summary.get('run_dir')}", title_justify="left")
    for col in ("B", "lr", "status", "train loss", "test loss", "acc", "noise", "b_simple", "samples/s",
                "steps", "to target (s)"):
        t.add_column(col, justify="right")
    for ln in summary.get("lanes", []):
        tt = ln.get("to_target")
        t.add_row(lane_name(ln), fmt_float(ln["lr"]), ln["status"], fmt_float(ln["final_train_loss"]),
                  fmt_float(ln["final_test_loss"]),
                  "" if ln["final_test_accuracy"] is None else f"{ln['final_test_accuracy']:.1%}",
                  fmt_float(ln["noise"]), fmt_float(ln["b_simple"]), fmt_count(ln["samples_per_s"]),
                  fmt_count(ln["steps"]), fmt_float(tt["seconds"]) if tt else "—")
    return t

