"""The Plots screen's loss slice (with sharpness and gap), adaptive batch size and branch arms on a made-up run."""

from __future__ import annotations

import math
from dataclasses import replace

from synthetic_run import events, write_run_dir
from uihelp import wait_for

from tuilab.engine.branch import bound_critical
from tuilab.engine.events import (
    BranchArm,
    BranchMeasured,
    LaneLandscape,
    LaneProgress,
    RunFinished,
    RunStarted,
)
from tuilab.engine.record import RunRecord
from tuilab.format import fmt_float
from tuilab.presets import Experiment
from tuilab.ui.app import TuilabApp
from tuilab.ui.screens.plots import Chart, PlotsScreen
from tuilab.ui.widgets.lab_charts import batch_size_chart

ALPHAS = tuple(a / 10 for a in range(-10, 11))
BRANCH_FACTORS = (2, 4, 8)
BRANCH_LOSS = {1: 0.30, 2: 0.30, 4: 0.31, 8: 0.40}  # window losses: x8 falls behind by 33 %


def adaptive_size(epoch: float) -> int:
    """The made-up adaptive lane's batch size: 8, doubled every 5 epochs."""
    return 8 * 2 ** int(epoch // 5)


def branch_event() -> BranchMeasured:
    """Lane 1 (B=32) branched at 10 epochs; its verdicts come from the engine's own rule."""
    arms = [BranchArm(k, 32 * k, 0.1 * k, tuple(256 * j for j in range(1, 9)),
                      tuple(BRANCH_LOSS[k] * (1.2 - j / 40) for j in range(1, 9)), None)
            for k in (1, *BRANCH_FACTORS)]
    keeps, critical, behind, note = bound_critical(32, BRANCH_FACTORS, arms[0].window_loss,
                                                   [a.window_loss for a in arms[1:]])
    arms = arms[:1] + [replace(a, keeps_pace=ok) for a, ok in zip(arms[1:], keeps, strict=True)]
    return BranchMeasured(1, 10.0, 32, 0.35, 0.1, tuple(arms), critical, behind, 70.0, note)


def lab_events() -> list:
    """The synthetic run with lane 0 adaptive, lane 1 branched half way and every lane's loss slice."""
    out = []
    for ev in events():
        if isinstance(ev, RunStarted):
            ev = replace(ev, lanes=(replace(ev.lanes[0], label="adaptive", adaptive=True), *ev.lanes[1:]))
        elif isinstance(ev, LaneProgress) and ev.lane == 0:
            ev = replace(ev, batch_size=adaptive_size(ev.epoch))
        elif isinstance(ev, RunFinished):
            continue
        out.append(ev)
        if isinstance(ev, LaneProgress) and ev.lane == 1 and ev.epoch == 10.0:
            out.append(branch_event())
    record = RunRecord()
    for ev in out:
        record.apply(ev)
    for i, rec in record.lanes.items():  # a parabola of curvature 100/B around the final train loss
        sharp, base = 100 / rec.info.batch_size, rec.final("train_loss")
        land = LaneLandscape(i, sharp, True, "", ALPHAS, tuple(base + 0.5 * sharp * a * a for a in ALPHAS))
        out.append(land)
        record.apply(land)
    return [*out, RunFinished(False, 12.5, record.summary())]


async def open_plots(pilot, tab: str) -> Chart:
    """Wait for the watched run to finish, open Plots on `tab` and wait until it is drawn."""
    app = pilot.app
    await wait_for(pilot, lambda: app.state is not None and app.state.finished, timeout=10)
    await pilot.press("p")
    await wait_for(pilot, lambda: isinstance(app.screen, PlotsScreen), timeout=10)
    app.screen.query_one("TabbedContent").active = tab
    await wait_for(pilot, lambda: tab in app.screen.drawn, timeout=10)
    await pilot.pause(0.2)
    return app.screen.query_one(f"#{tab}-plot", Chart)


def lab_app(tmp_path, monkeypatch) -> TuilabApp:
    monkeypatch.chdir(tmp_path)
    write_run_dir(tmp_path / "run", lab_events())
    return TuilabApp(Experiment(), watch_dir="run")


async def test_loss_slice_says_each_lanes_sharpness_and_gap(tmp_path, monkeypatch):
    app = lab_app(tmp_path, monkeypatch)
    async with app.run_test(size=(160, 50)) as pilot:
        chart = await open_plots(pilot, "slice")
        text = chart.canvas(158, 44).plain
        summary = app.state.finished.summary
        for ln in summary.lanes:
            gap = ln.final_test_loss - ln.final_train_loss  # synthetic: test loss is 1.1 x train loss
            assert math.isclose(ln.generalization_gap, gap)
            words = f"B={ln.batch_size}{' adaptive' if ln.adaptive else ''}: λmax {fmt_float(100 / ln.batch_size)}"
            assert f"{words} · gap {fmt_float(gap)}" in text, text
        assert "filter-normalised" in text


async def test_adaptive_batch_size_and_branch_arms_are_drawn(tmp_path, monkeypatch):
    app = lab_app(tmp_path, monkeypatch)
    async with app.run_test(size=(160, 50)) as pilot:
        chart = await open_plots(pilot, "batch")
        text = chart.canvas(158, 44).plain
        assert "B=8 adaptive batch size" in text and "noise scale b_simple" in text
        sizes, _ = batch_size_chart(app.state, "epochs")(chart.plt, chart.style_now(), (158, 44))
        reports = app.state.series[0].points
        assert list(sizes.ys) == [adaptive_size(p.epoch) for p in reports] and max(sizes.ys) == 128
        text = (await open_plots(pilot, "branch")).canvas(158, 44).plain
        # x2 and x4 keep pace (within 10 % of the parent's window loss), x8 falls behind: B_crit = 4 x 32
        assert "branch of B=32 at 10 epochs: critical batch size 128 (B=256 fell behind)" in text, text
        for words in ("B=32 parent", "B=64 kept pace", "B=128 kept pace", "B=256 fell behind"):
            assert words in text


async def test_a_finished_run_without_them_has_no_slice_batch_or_branch_tab(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_run_dir(tmp_path / "run", events())
    app = TuilabApp(Experiment(), watch_dir="run")
    async with app.run_test(size=(120, 40)) as pilot:
        await open_plots(pilot, "loss")
        panes = {p.id for p in app.screen.query("TabPane")}
        assert {"loss", "summary"} <= panes and not panes & {"slice", "batch", "branch"}


def test_loss_slice_snapshot(snap_compare, tmp_path, monkeypatch):
    async def slice_tab(pilot):
        await open_plots(pilot, "slice")
        pilot.app.clear_notifications()  # the branch's toast would cover the legend, and comes and goes
        await pilot.pause(0.2)

    assert snap_compare(lab_app(tmp_path, monkeypatch), terminal_size=(120, 40), run_before=slice_tab)
