"""Runs on disk for the screens: a run directory read back into a RunState, and its preset."""

from __future__ import annotations

import os
from pathlib import Path

from tuilab.errors import UserError
from tuilab.presets import Experiment, load_preset
from tuilab.ui.state import RunState


def saved_experiment(run_dir: str | os.PathLike) -> Experiment | None:
    """The preset a run directory was run with (its experiment.toml), None if unreadable."""
    try:
        return load_preset(Path(run_dir) / "experiment.toml")
    except (UserError, OSError):
        return None


def load_run_state(run_dir: str | os.PathLike) -> RunState:
    """Every event of a run directory folded into a RunState, as the Run screen had it at the end.

    A damaged metrics file keeps what came before the damage, with the warning; not a run directory: UserError.
    """
    from tuilab.engine.store import read_events

    events, warning = read_events(run_dir)
    state = RunState(str(run_dir), saved_experiment(run_dir))
    state.apply([*events, *([warning] if warning else [])])
    return state
