"""Entry points the CLI calls: `tuilab [PRESET] [--run]` and `tuilab watch RUN_DIR`.

Both import only textual and the torch-free parts of tuilab here; torch comes in
later, inside the worker, so the first frame is not kept waiting for it.
"""

from __future__ import annotations

import argparse

from tuilab.engine.store import check_run_dir


def _run(app) -> int:
    """Run the app; SIGINT/SIGTERM/SIGHUP end it with 128 + the signal (Ctrl-C: 130)."""
    try:
        app.run()
    except KeyboardInterrupt:
        app.stop_all()
        return 130
    app.stop_all()  # belt and braces: the worker must see stop even if unmount never ran
    return app.return_code or 0


def open_lab(args: argparse.Namespace) -> int:
    """Open Setup with the preset named on the command line (quickstart by default)."""
    from tuilab.cli import load_experiment
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
