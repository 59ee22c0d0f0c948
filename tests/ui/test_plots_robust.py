"""No size, scale or data crashes a chart: resizes, a single point, zeros, NaN, nothing at all."""

from __future__ import annotations

import math
from dataclasses import replace

from synthetic_run import events, write_run_dir
from textual.app import App
from uihelp import wait_for

from tuilab.engine.events import LaneProgress, NoiseSlope, RunFinished, SlopePoint
from tuilab.presets import Experiment
from tuilab.ui.app import TuilabApp
from tuilab.ui.screens.plots import Chart, PlotsScreen
from tuilab.ui.state import RunState

CHARTS = ("loss", "noise", "bsimple", "speed")


async def test_resizing_the_noise_and_log_loss_charts_keeps_the_app(tmp_path, monkeypatch):
    """The issue's steps: watch a finished run, p, Right (Noise vs B), 120x40 -> 80x24; Loss, l, 2 columns."""
    monkeypatch.chdir(tmp_path)
    write_run_dir(tmp_path / "run", events())
    app = TuilabApp(Experiment(), watch_dir="run")
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: app.state is not None and app.state.finished, timeout=10)
        await pilot.press("p", "right")
        screen = app.screen
        assert isinstance(screen, PlotsScreen) and screen.query_one("TabbedContent").active == "noise"
        for size in ((80, 24), (120, 40), (80, 24)):  # every resize renders the chart again
            await pilot.resize_terminal(*size)
            await pilot.pause(0.3)
        chart = screen.query_one("#noise-plot", Chart)
        assert "batch size B" in chart.canvas(80, 20).plain  # drawn, not the fallback line
        await pilot.press("left", "l")
        await pilot.pause(0.2)
        for size in ((2, 24), (120, 40), (81, 24)):
            await pilot.resize_terminal(*size)
            await pilot.pause(0.3)
        assert app.is_running and app._exception is None


def odd_runs() -> dict[str, list]:
    """A normal run's events with the reports changed: a single point, zeros, NaN, no reports."""
    base = events()
    reports = [e for e in base if isinstance(e, LaneProgress)]
    started, slope = base[0], base[1]
    nan = math.nan
    single = [r for r in reports if r.step == 0]
    return {
        "single point": [started, replace(slope, points=slope.points[:1]), *single],
        "zeros": [started, replace(slope, slope=0.0, points=tuple(SlopePoint(p.batch_size, 0.0, 0.0)
                                                                  for p in slope.points)),
                  *(replace(r, train_loss=0.0, test_loss=0.0, noise=0.0, b_simple=0.0, samples_per_s=0.0)
                    for r in reports)],
        "nan": [started, NoiseSlope("init", nan, nan, tuple(SlopePoint(p.batch_size, nan, nan) for p in slope.points)),
                *(replace(r, train_loss=nan, test_loss=nan, noise=nan, b_simple=nan, samples_per_s=nan)
                  for r in reports)],
        "nothing": [started, RunFinished(True, 0.0, None)],
    }


async def test_every_chart_draws_any_data_at_any_size_and_scale():
    class Host(App):
        pass

    app = Host()
    async with app.run_test(size=(120, 40)) as pilot:
        for name, evs in odd_runs().items():
            state = RunState()
            state.apply(evs)
            screen = PlotsScreen(state)
            await app.push_screen(screen)
            await pilot.pause()
            for log in (False, True):
                screen.log_scale = log
                for tab in CHARTS:
                    draw = getattr(screen, {"bsimple": "draw_b_simple"}.get(tab, f"draw_{tab}"))
                    chart = screen.query_one(f"#{tab}-plot", Chart)
                    chart.show(draw)
                    for width, height in ((120, 38), (80, 22), (16, 6), (2, 24), (120, 3), (1, 1)):
                        for _ in range(2):  # a second build of the same chart is what used to crash
                            text = chart.canvas(width, height).plain
                        assert not text.startswith("(cannot draw"), (name, tab, log, width, height, text)
            app.pop_screen()
            await pilot.pause()
        assert app._exception is None
