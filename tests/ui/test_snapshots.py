"""Snapshots of the Run and Plots screens at fixed sizes, fed a fixed made-up run (no live timing)."""

from __future__ import annotations

from synthetic_run import events, write_run_dir
from uihelp import wait_for

from tuilab.presets import Experiment
from tuilab.ui.app import TuilabApp


def watched_app(tmp_path, monkeypatch, with_failure: bool = False) -> TuilabApp:
    monkeypatch.chdir(tmp_path)  # the run dir is shown as given: keep it the same on every machine
    write_run_dir(tmp_path / "run", events(with_failure))
    return TuilabApp(Experiment(), watch_dir="run")


async def _finished(pilot) -> None:
    await wait_for(pilot, lambda: pilot.app.state is not None and pilot.app.state.finished, timeout=10)
    await pilot.pause(0.2)


def test_run_screen_finished(snap_compare, tmp_path, monkeypatch):
    assert snap_compare(watched_app(tmp_path, monkeypatch), terminal_size=(120, 40), run_before=_finished)


def test_run_screen_at_80x24_with_a_diverged_lane(snap_compare, tmp_path, monkeypatch):
    assert snap_compare(watched_app(tmp_path, monkeypatch, with_failure=True), terminal_size=(80, 24),
                        run_before=_finished)


def test_plots_screen(snap_compare, tmp_path, monkeypatch):
    async def open_plots(pilot):
        await _finished(pilot)
        await pilot.press("p")
        # Wait on the drawing itself, not a time: a loaded CI machine can take longer.
        await wait_for(pilot, lambda: "loss" in getattr(pilot.app.screen, "drawn", {}), timeout=10)
        await pilot.pause(0.3)

    assert snap_compare(watched_app(tmp_path, monkeypatch), terminal_size=(120, 40), run_before=open_plots)


def test_plots_summary_table(snap_compare, tmp_path, monkeypatch):
    async def open_table(pilot):
        await _finished(pilot)
        await pilot.press("p")
        await pilot.pause(0.1)
        pilot.app.screen.query_one("TabbedContent").active = "summary"
        await wait_for(pilot, lambda: "summary" in pilot.app.screen.drawn, timeout=10)
        await pilot.pause(0.3)

    assert snap_compare(watched_app(tmp_path, monkeypatch), terminal_size=(120, 40), run_before=open_table)
