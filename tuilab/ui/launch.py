"""Entry points the CLI calls: `tuilab [PRESET] [--run]` and `tuilab watch RUN_DIR`.

Both import only textual and the torch-free parts of tuilab here; torch comes in
later, inside the worker, so the first frame is not kept waiting for it.
"""

from __future__ import annotations

import argparse
import asyncio
import os
from typing import NoReturn

from tuilab.engine.store import check_run_dir
from tuilab.streams import quiet_if_gone

ENGINE_GRACE = 0.5  # seconds the engine gets, after quit, to write its last events (RunFinished)


def _run(app) -> NoReturn:
    """Run the app, then end the process at once with its status (Ctrl-C: 130; signals 128 + n).

    Quitting must be prompt (< 1 s). Two things stood in the way, both after the
    last frame: asyncio.run() joins the engine's worker thread without a limit,
    and the interpreter's teardown with torch loaded took 1 to 5 s on a loaded
    machine. So the app runs on a loop of its own (no join), the engine gets
    ENGINE_GRACE to notice `stop` and close its run directory (metrics are
    flushed at every report anyway), and the process leaves with os._exit.
    """
    loop = asyncio.new_event_loop()
    try:
        app.run(loop=loop)
        code = app.return_code or 0
    except KeyboardInterrupt:
        code = 130
    app.stop_all()  # belt and braces: the worker must see stop even if unmount never ran
    app.engine_idle.wait(ENGINE_GRACE)
    quiet_if_gone()  # a flush that fails after SIGHUP must not skip the exit
    os._exit(code)


def open_lab(args: argparse.Namespace) -> int:
    """Open Setup with the preset named on the command line (quickstart by default)."""
    from tuilab.experiment_args import load_experiment
    from tuilab.ui.app import TuilabApp

    exp = load_experiment(args)  # a bad preset is a UserError: one line, exit 2, no TUI
    return _run(TuilabApp(exp, run_at_start=bool(getattr(args, "run", False)), handle_signals=True))


def watch(run_dir: str) -> int:
    """Open the Run screen on a run directory: replay it, then follow it live.

    Only reads the directory: closing the app never affects the process writing it.
    """
    from tuilab.presets import Experiment
    from tuilab.ui.app import TuilabApp

    check_run_dir(run_dir)
    return _run(TuilabApp(Experiment(), watch_dir=str(run_dir), handle_signals=True))


def compare(run_a: str, run_b: str) -> int:
    """Open the Plots screen of run_a with run_b overlaid and their Compare tab (escape: Setup)."""
    from tuilab.presets import Experiment
    from tuilab.ui.app import TuilabApp

    check_run_dir(run_a)
    check_run_dir(run_b)
    return _run(TuilabApp(Experiment(), compare_dirs=(run_a, run_b), handle_signals=True))
