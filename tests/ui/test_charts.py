"""The charts: axes on round numbers near the data, legends off the curves, live charts sized to the terminal,
repainting only what changed, and the Run screen's title that keeps the device."""

from __future__ import annotations

import json
import time

from synthetic_run import events, write_run_dir
from textual.app import App
from uihelp import screen_lines, wait_for

from tuilab.engine.events import LaneProgress, RunFinished, event_to_dict
from tuilab.presets import Experiment
from tuilab.ui.app import TuilabApp
from tuilab.ui.state import RunState
from tuilab.ui.widgets.chart import (
    Chart,
    Line,
    Style,
    legend_lines,
    round_limits,
    tick_label,
    ticks,
)
from tuilab.ui.widgets.live_charts import LiveCharts
from tuilab.ui.widgets.run_charts import loss_chart, noise_chart, projected_end, theory_line
from tuilab.ui.widgets.title import fit_title


def test_axes_end_near_the_data_on_round_numbers():
    # The issue: a log loss axis topped at 18.5 for data peaking at 1.5, noise vs B ran to 8.7 for data under 2.9.
    assert round_limits(0.05, 1.5, True, 6) == (0.05, 2.0)
    assert round_limits(0.1, 2.9, True, 6) == (0.1, 5.0)
    assert round_limits(0.05, 0.77, False, 5) == (0.0, 0.8)
    assert ticks(0.05, 2.0, True, 6) == [0.05, 0.1, 0.2, 0.5, 1.0, 2.0]
    assert ticks(0.0, 0.8, False, 4) == [0.0, 0.2, 0.4, 0.6000000000000001, 0.8]
    assert [tick_label(v) for v in (393078.3, 0.6000000000000001, 20.0, 0.05, 2500.0)] == \
        ["393k", "0.6", "20", "0.05", "2.5k"]


def test_the_theory_line_has_slope_minus_a_half_through_the_points():
    xs, ys = theory_line([8, 32, 128, 512], [0.8, 0.4, 0.2, 0.1])
    assert xs == [8.0, 512.0]
    assert abs(ys[0] / ys[1] - 8.0) < 1e-12  # (512/8)^(1/2)
    assert abs(ys[0] - 0.8) < 1e-12  # the points lie on it exactly


def test_legend_rows_fit_the_width_and_skip_unlabelled_lines():
    lines = [Line([1], [1], 14, f"B={b}") for b in (8, 32, 128, 512, 1024)] + [Line([1], [1], 9, "")]
    rows = legend_lines(lines, 30)
    assert all(len(r.plain) <= 30 for r in rows) and len(rows) == 2
    assert "B=1024" in rows[-1].plain


def test_the_title_keeps_the_device_and_cuts_data_set_and_model_first():
    parts = ("quickstart", "moons 4000", "mlp 64x64 relu", "sgd lr 0.1", "cuda:0")
    assert fit_title(parts, 200) == " · ".join(parts)
    for width in (50, 46):
        text = fit_title(parts, width)
        assert len(text) <= width and text.endswith(" · cuda:0"), text
        assert text.startswith("quickstart · ") and "sgd lr 0.1" in text, text
    for width in (40, 30):
        text = fit_title(parts, width)
        assert len(text) <= width and text.endswith(" · cuda:0"), text


def finished_state() -> RunState:
    state = RunState()
    state.apply(events())
    return state


class Host(App):
    def __init__(self, widget) -> None:
        super().__init__()
        self.widget = widget

    def compose(self):
        yield self.widget


async def test_charts_have_their_legend_below_and_short_axis_numbers():
    chart = Chart()
    async with Host(chart).run_test(size=(100, 30)) as pilot:
        chart.show(loss_chart(finished_state(), "steps", False, test=False))
        await pilot.pause()
        rows = chart.canvas(100, 30).plain.split("\n")
        assert rows[-1].split() == ["━━", "B=8", "━━", "B=32", "━━", "B=128", "━━", "B=512"]
        assert "8k" in rows[-3] and "8000" not in rows[-3], rows[-3]  # steps in the short form
        chart.show(noise_chart(finished_state()))
        text = chart.canvas(100, 30).plain
        assert "fit B^-0.49 (init)" in text and "B^-1/2 (theory)" in text and "measured (init)" in text
        for b in ("8", "32", "128", "512"):  # ticks on the batch sizes
            assert f" {b} " in text.split("\n")[-3] + " ", text


async def test_without_colour_each_lane_has_its_own_marker():
    chart = Chart()
    async with Host(chart).run_test(size=(100, 30)) as pilot:
        chart.style_now = lambda: Style(plain=True)
        chart.show(loss_chart(finished_state(), "epochs", False, test=False))
        await pilot.pause()
        text = chart.canvas(100, 30).plain
        assert text.split("\n")[-1].split() == ["o", "B=8", "x", "B=32", "*", "B=128", "+", "B=512"]
        plot = "\n".join(text.split("\n")[:-1])
        assert all(m in plot for m in "ox*+")


async def test_a_new_report_repaints_only_the_rows_it_changed():
    state = RunState()
    evs = [e for e in events() if not isinstance(e, RunFinished)]
    state.apply(evs[:60])
    chart = Chart()
    async with Host(chart).run_test(size=(100, 30)) as pilot:
        chart.show(loss_chart(state, "epochs", False, test=False, live=True))
        await pilot.pause()
        repainted = []
        chart.refresh = lambda *regions, **kw: repainted.append(regions)
        state.apply(evs[60:64])  # one more report of each lane
        chart.show(loss_chart(state, "epochs", False, test=False, live=True))
        assert repainted and 0 < len(repainted[0]) < 12, repainted  # a few rows, not all 30
        assert projected_end(state, "epochs") == 20.0  # the budget: the axis does not move


def live_app(tmp_path, monkeypatch, finished: bool = True) -> TuilabApp:
    monkeypatch.chdir(tmp_path)
    evs = events()
    write_run_dir(tmp_path / "run", evs if finished else [e for e in evs[:90] if not isinstance(e, RunFinished)])
    return TuilabApp(Experiment(), watch_dir="run")


async def _shown(pilot, finished: bool = True) -> None:
    app = pilot.app
    await wait_for(pilot, lambda: app.state is not None and app.run_screen is not None
                   and (app.state.finished or not finished) and app.state.revision > 1, timeout=10)
    await pilot.pause(0.8)  # past the charts' half-second redraw limit


async def test_live_charts_fold_at_80_columns_and_sit_side_by_side_from_100(tmp_path, monkeypatch):
    app = live_app(tmp_path, monkeypatch, finished=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await _shown(pilot, finished=False)
        charts = app.screen.query_one(LiveCharts)
        assert charts.folded and charts.loss.display and not charts.noise.display
        text = "\n".join(screen_lines(app))
        assert "train loss per epoch" in text and "v Chart" in text
        assert "· cpu " in screen_lines(app)[0], screen_lines(app)[0]  # the title keeps the device
        await pilot.press("v")
        await pilot.pause(0.8)
        assert charts.noise.display and not charts.loss.display
        assert "against B" in "\n".join(screen_lines(app))
        for size in ((120, 40), (200, 60)):
            await pilot.resize_terminal(*size)
            await pilot.pause(0.8)
            assert not charts.folded and charts.loss.display and charts.noise.display
            assert charts.loss.size.width >= size[0] // 2 - 2 and charts.loss.size.height >= size[1] // 3, \
                (size, charts.loss.size)
            assert "v Chart" not in "\n".join(screen_lines(app))  # the key shows only when it does something
            assert "· cpu " in screen_lines(app)[0], screen_lines(app)[0]


async def test_live_charts_redraw_at_most_twice_a_second(tmp_path, monkeypatch):
    app = live_app(tmp_path, monkeypatch, finished=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await _shown(pilot, finished=False)
        charts = app.screen.query_one(LiveCharts)
        times = []
        original = charts.loss.show
        charts.loss.show = lambda draw: (times.append(time.monotonic()), original(draw))
        for _ in range(12):  # six revisions a second, for two seconds
            app.state.revision += 1
            app.run_screen.revision = app.state.revision
            await pilot.pause(1 / 6)
        assert 2 <= len(times) < 12, times
        assert all(b - a >= 0.45 for a, b in zip(times, times[1:], strict=False)), times


def _append_reports(run_dir, evs) -> None:
    with open(run_dir / "metrics.jsonl", "a", encoding="utf-8") as f:
        for ev in evs:
            f.write(json.dumps(event_to_dict(ev)) + "\n")


async def test_live_charts_follow_new_reports(tmp_path, monkeypatch):
    app = live_app(tmp_path, monkeypatch, finished=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await _shown(pilot, finished=False)
        before = max(p.epoch for s in app.state.series.values() for p in s.points)
        rest = [e for e in events()[90:] if isinstance(e, LaneProgress)]
        _append_reports(tmp_path / "run", rest[:8])
        await wait_for(pilot, lambda: max(p.epoch for s in app.state.series.values() for p in s.points) > before,
                       timeout=5)
        await pilot.pause(0.8)
        drawn = app.screen.query_one(LiveCharts)._drawn
        assert drawn is not None and drawn[0] == app.state.revision
