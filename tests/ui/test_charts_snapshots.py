"""Snapshots of the Run screen's live charts at 80x24 (folded, each chart), 120x40 and 200x60, a run half way."""

from __future__ import annotations

import pytest
from synthetic_run import events, write_run_dir
from uihelp import wait_for

from tuilab.engine.events import RunFinished
from tuilab.presets import Experiment
from tuilab.ui.app import TuilabApp
from tuilab.ui.state import RunState
from tuilab.ui.widgets.live_charts import LiveCharts


def half_way(tmp_path, monkeypatch) -> TuilabApp:
    """The made-up run followed half way through, its time left fixed (it depends on the wall clock)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(RunState, "time_left", lambda self, now=None: 42.0)
    evs = [e for e in events() if not isinstance(e, RunFinished)]
    write_run_dir(tmp_path / "run", evs[: 2 + 4 * 21])
    return TuilabApp(Experiment(), watch_dir="run")


async def _drawn(pilot) -> None:
    app = pilot.app
    await wait_for(pilot, lambda: app.run_screen is not None and app.state.revision > 1, timeout=10)
    charts = app.screen.query_one(LiveCharts)
    await wait_for(pilot, lambda: charts._drawn is not None and charts._drawn[0] == app.state.revision, timeout=10)
    await pilot.pause(0.3)


@pytest.mark.parametrize("size", [(80, 24), (120, 40), (200, 60)])
def test_live_charts(snap_compare, tmp_path, monkeypatch, size):
    assert snap_compare(half_way(tmp_path, monkeypatch), terminal_size=size, run_before=_drawn)


def test_live_noise_chart_folded_at_80x24(snap_compare, tmp_path, monkeypatch):
    async def switch(pilot):
        await _drawn(pilot)
        await pilot.press("v")
        await pilot.pause(0.8)

    assert snap_compare(half_way(tmp_path, monkeypatch), terminal_size=(80, 24), run_before=switch)
