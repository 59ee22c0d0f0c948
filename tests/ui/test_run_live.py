"""Pilot tests that drive real (tiny) training through the app's worker."""

from __future__ import annotations

import json
import time
from pathlib import Path

from uihelp import tiny_experiment, wait_for

from tuilab.ui.app import TuilabApp
from tuilab.ui.screens.plots import PlotsScreen
from tuilab.ui.screens.run import RunScreen


async def test_tiny_run_finishes_and_rows_show_each_lane(in_tmp):
    exp = tiny_experiment()
    app = TuilabApp(exp)
    async with app.run_test(size=(120, 40)) as pilot:
        app.start_run(exp)
        await wait_for(pilot, lambda: app.state is not None and app.state.finished, what="the run to finish")
        await pilot.pause(0.2)
        screen = app.screen
        assert isinstance(screen, RunScreen)
        for i, rec in app.state.record.lanes.items():
            assert rec.status == "finished"
            first, last = rec.history[0].train_loss, rec.history[-1].train_loss
            assert last < first
            assert rec.samples_per_s() > 0
            row = screen.rows[i]
            assert str(row.status.content) == "finished"
            assert str(row.loss_value.content) != "—"
            assert str(row.b.content) == str(rec.info.batch_size)
            assert any(v is not None for v in row.loss.data)
        assert "run dir runs/" in str(screen.query_one("#result").content)
        summary = json.loads(next(Path("runs").iterdir()).joinpath("summary.json").read_text())
        assert summary["interrupted"] is False

        # x cycles the axis and resamples every sparkline; l switches them to log10.
        before = list(screen.rows[0].loss.data)
        await pilot.press("x")
        assert screen.x_axis == "steps" and screen.rows[0].loss.data != before
        steps_data = list(screen.rows[1].loss.data)
        assert steps_data[-1] is None  # B=64 took 8x fewer steps: its line ends early on the shared grid
        await pilot.press("l")
        assert screen.log_scale and screen.rows[0].loss.data != screen.state.sparklines("steps", "train_loss", False)[0]
        await pilot.press("p")
        assert isinstance(app.screen, PlotsScreen)
        await pilot.press("escape")
        assert app.screen is screen


def _progress(app) -> float:
    return sum(r.examples for r in app.state.record.lanes.values())


async def test_pause_resume_then_cancel_keeps_what_was_measured(in_tmp):
    exp = tiny_experiment(unit="seconds", amount=60)
    app = TuilabApp(exp)
    async with app.run_test(size=(120, 40)) as pilot:
        app.start_run(exp)
        await wait_for(pilot, lambda: app.state is not None and _progress(app) > 0, what="training to start")
        await pilot.press("space")
        assert app.control.paused
        await pilot.pause(0.6)  # a slice in flight may still report
        held = _progress(app)
        await pilot.pause(1.0)
        assert _progress(app) == held, "progress moved while paused"
        await pilot.press("space")
        assert not app.control.paused
        await wait_for(pilot, lambda: _progress(app) > held, timeout=10, what="progress after resume")

        await pilot.press("c")
        t0 = time.monotonic()
        await wait_for(pilot, lambda: app.state.finished is not None, timeout=5, what="the cancel")
        assert time.monotonic() - t0 < 1.5
        assert app.state.finished.interrupted
        screen = app.screen
        for i, rec in app.state.record.lanes.items():
            assert rec.status == "cancelled" and rec.history
            assert str(screen.rows[i].status.content) == "cancelled"
        run_dir = Path(app.state.run_dir)
        assert json.loads((run_dir / "summary.json").read_text())["interrupted"] is True
        assert len((run_dir / "metrics.jsonl").read_text().splitlines()) > 4


async def test_bad_input_stays_on_setup_with_a_notification(in_tmp):
    exp = tiny_experiment().model_copy(update={"batch_sizes": [8, 100000]})
    app = TuilabApp(exp)
    async with app.run_test(size=(80, 24)) as pilot:
        setup = app.screen
        app.start_run(exp)
        await wait_for(pilot, lambda: app._notifications, timeout=30, what="the error")
        assert app.screen is setup
        assert "batch size 100000" in list(app._notifications)[0].message
        assert not Path("runs").exists()
