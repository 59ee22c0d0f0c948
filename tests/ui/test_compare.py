"""Compare two runs (Setup's recent runs, `tuilab compare`) and reopen a finished run as it ended."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from synthetic_run import events, write_run_dir
from uihelp import screen_lines, wait_for

from tuilab.cli import main
from tuilab.compare import preset_differences, summary_rows
from tuilab.engine.events import LaneInfo, LaneProgress, RunFinished, RunStarted
from tuilab.engine.record import RunRecord
from tuilab.engine.store import summary_json
from tuilab.presets import Experiment, dumps_preset, experiment_from_dict
from tuilab.ui.app import TuilabApp
from tuilab.ui.saved_runs import load_run_state
from tuilab.ui.screens.compare import CompareView
from tuilab.ui.screens.plots import PlotsScreen
from tuilab.ui.screens.run import RunScreen
from tuilab.ui.screens.runs import RunsScreen
from tuilab.ui.screens.setup import SetupScreen

FIRST = "runs/20261126-100000-quickstart"
SECOND = "runs/20261126-110000-quickstart"


def preset(lr: float) -> Experiment:
    return experiment_from_dict({"name": "quickstart", "batch_sizes": [8, 32, 128, 512],
                                 "optimizer": {"lr": lr}, "budget": {"unit": "epochs", "amount": 20}})


def faster_events() -> list:
    """The made-up run at lr 0.3: every loss 30 % lower; its summary computed from those reports."""
    out = []
    for ev in events():
        if isinstance(ev, RunStarted):
            ev = replace(ev, lanes=tuple(LaneInfo(li.lane, li.label, li.batch_size, 0.3) for li in ev.lanes))
        elif isinstance(ev, LaneProgress):
            ev = replace(ev, lr=0.3, train_loss=ev.train_loss * 0.7, test_loss=ev.test_loss * 0.7)
        elif isinstance(ev, RunFinished):
            record = RunRecord()
            for e in out:
                record.apply(e)
            ev = replace(ev, wall_seconds=9.0, summary=record.summary())
        out.append(ev)
    return out


def two_runs(tmp_path, monkeypatch) -> None:
    """Two finished run directories as the engine leaves them: metrics, summary and preset."""
    monkeypatch.chdir(tmp_path)
    for path, evs, lr in ((FIRST, events(), 0.1), (SECOND, faster_events(), 0.3)):
        write_run_dir(tmp_path / path, evs)
        (tmp_path / path / "summary.json").write_text(json.dumps(summary_json(evs[-1])))
        (tmp_path / path / "experiment.toml").write_text(dumps_preset(preset(lr)))


def test_what_differs_between_two_presets_and_two_summaries():
    diffs = preset_differences(preset(0.1), preset(0.3))
    assert [(r.what, r.first, r.second) for r in diffs] == [("optimizer.lr", "0.1", "0.3")]
    assert preset_differences(preset(0.1), preset(0.1)) == []
    first, second = events()[-1].summary, faster_events()[-1].summary
    rows = {r.what: r for r in summary_rows(first, second)}
    assert rows["B=8 train loss"].differs and rows["B=8 train loss"].first == "0.05"
    assert rows["B=8 train loss"].second == "0.035"
    assert not rows["B=8 samples/s"].differs  # same made-up throughput in both
    assert (rows["recommended B"].first, rows["recommended B"].second) == ("512 (lr 0.1)", "512 (lr 0.3)")


async def _compare_shown(pilot) -> PlotsScreen:
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, PlotsScreen), timeout=10, what="the Plots screen")
    await pilot.pause(0.3)
    return pilot.app.screen


async def test_tuilab_compare_overlays_the_second_run_and_marks_what_differs(tmp_path, monkeypatch):
    two_runs(tmp_path, monkeypatch)
    app = TuilabApp(Experiment(), compare_dirs=(FIRST, SECOND))
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await _compare_shown(pilot)
        assert screen.query_one("TabbedContent").active == "compare"
        text = "\n".join(screen_lines(app))
        assert f"run 1: quickstart ({FIRST})" in text and f"run 2: quickstart ({SECOND})" in text
        assert "presets differ in: optimizer.lr 0.1 → 0.3" in text
        assert "≠ preset optimizer.lr" in text and "≠ B=8 train loss" in text
        screen.query_one("TabbedContent").active = "loss"
        await wait_for(pilot, lambda: "loss" in screen.drawn, timeout=5)
        await pilot.pause(0.3)
        legend = screen.query_one("#loss-plot").canvas(118, 30).plain.split("\n")[-1]
        assert "B=8" in legend and "B=8 run 2" in legend
        await pilot.press("escape")  # back to Setup, under it
        await pilot.pause(0.2)
        assert isinstance(app.screen, SetupScreen)


async def test_setup_lists_recent_runs_reopens_one_as_it_ended_and_compares_two(tmp_path, monkeypatch):
    two_runs(tmp_path, monkeypatch)
    app = TuilabApp(preset(0.1))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause(0.3)
        await pilot.press("ctrl+l")
        await pilot.pause(0.2)
        assert isinstance(app.screen, RunsScreen)
        text = "\n".join(screen_lines(app))
        assert "20261126-110000-quickstart  finished" in text and "20261126-100000-quickstart" in text
        await pilot.press("enter")  # the newest: the second run
        await wait_for(pilot, lambda: isinstance(app.screen, RunScreen) and app.state.finished, timeout=10)
        await pilot.pause(0.5)
        ended = load_run_state(SECOND)
        assert app.state.record.summary() == ended.record.summary()
        assert "Finished in 0:09" in "\n".join(screen_lines(app))
        await pilot.press("escape")
        await pilot.pause(0.2)
        assert isinstance(app.screen, SetupScreen) and not app.run_active
        await pilot.press("ctrl+l")
        await pilot.pause(0.2)
        await pilot.press("c", "down", "c")
        screen = await _compare_shown(pilot)
        view = screen.query_one(CompareView)
        assert view.first.run_dir == SECOND and view.second.run_dir == FIRST


async def test_a_reopened_run_can_be_left_while_it_is_still_followed(tmp_path, monkeypatch):
    """A run cut off before its end: reopened, it is followed; escape stops following it."""
    monkeypatch.chdir(tmp_path)
    write_run_dir(tmp_path / FIRST, [e for e in events()[:50]])
    app = TuilabApp(preset(0.1))
    async with app.run_test(size=(80, 24)) as pilot:
        app.open_run(FIRST)
        await wait_for(pilot, lambda: isinstance(app.screen, RunScreen), timeout=10)
        stop = app._stop_watch
        await pilot.press("escape")
        await pilot.pause(0.3)
        assert isinstance(app.screen, SetupScreen) and stop.is_set()


def test_compare_refuses_what_is_not_a_run_directory(tmp_path, capsys):
    assert main(["compare", str(tmp_path), str(tmp_path)]) == 2
    assert "not a run directory" in capsys.readouterr().err


def test_version(capsys):
    from tuilab import __version__

    with pytest.raises(SystemExit) as e:
        main(["--version"])
    assert e.value.code == 0 and capsys.readouterr().out.strip() == f"tuilab {__version__}"


def test_compare_view_snapshot(snap_compare, tmp_path, monkeypatch):
    two_runs(tmp_path, monkeypatch)
    assert snap_compare(TuilabApp(Experiment(), compare_dirs=(FIRST, SECOND)), terminal_size=(120, 40),
                        run_before=_compare_shown)


def test_reopened_run_snapshot(snap_compare, tmp_path, monkeypatch):
    two_runs(tmp_path, monkeypatch)

    async def reopen(pilot):
        await pilot.pause(0.3)
        await pilot.press("ctrl+l", "down", "enter")  # the older: the first run
        app = pilot.app
        await wait_for(pilot, lambda: isinstance(app.screen, RunScreen) and app.state.finished, timeout=10)
        await pilot.pause(1.0)

    assert snap_compare(TuilabApp(preset(0.1)), terminal_size=(120, 40), run_before=reopen)
