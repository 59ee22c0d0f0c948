"""`tuilab watch`: replay a finished run directory, follow one that is still being written."""

from __future__ import annotations

import json
import threading
import time

from synthetic_run import events, write_run_dir
from uihelp import wait_for

from tuilab.engine.events import event_to_dict
from tuilab.presets import Experiment
from tuilab.ui.app import TuilabApp
from tuilab.ui.screens.run import RunScreen


async def test_watch_a_finished_run_shows_the_result(tmp_path):
    run_dir = write_run_dir(tmp_path / "run")
    app = TuilabApp(Experiment(), watch_dir=str(run_dir))
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: app.state is not None and app.state.finished, timeout=10)
        await pilot.pause(0.1)
        screen = app.screen
        assert isinstance(screen, RunScreen) and screen.watching
        assert [str(r.status.content) for r in screen.rows.values()] == ["finished"] * 4
        result = str(screen.query_one("#result").content)
        assert str(run_dir) in result and "fastest" in result
        await pilot.press("c")  # a watcher cannot cancel another process's run
        assert not app.state.finished.interrupted
        await pilot.press("q")
    assert app.return_code in (None, 0)


async def test_watch_follows_a_run_being_appended(tmp_path):
    evs = events()
    run_dir = write_run_dir(tmp_path / "run", evs[:10])
    stop = threading.Event()

    def writer() -> None:  # another process appending, a few events at a time
        with open(run_dir / "metrics.jsonl", "a", encoding="utf-8") as f:
            for k, ev in enumerate(evs[10:]):
                if stop.is_set():
                    return
                f.write(json.dumps(event_to_dict(ev)) + "\n")
                f.flush()
                if k % 40 == 0:
                    time.sleep(0.3)

    app = TuilabApp(Experiment(), watch_dir=str(run_dir))
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, RunScreen) and str(app.screen.rows[0].status.content),
                       timeout=10, what="the replayed part on screen")
        assert not app.state.finished
        seen_running = str(app.screen.rows[0].status.content)
        thread = threading.Thread(target=writer)
        thread.start()
        try:
            await wait_for(pilot, lambda: app.state.finished is not None, timeout=20, what="RunFinished")
        finally:
            stop.set()
            thread.join()
        await pilot.pause(0.1)
        assert seen_running == "running"
        assert str(app.screen.rows[3].status.content) == "finished"
        assert len(app.state.record.lanes[0].history) == 41


async def test_watch_a_damaged_file_shows_the_warning(tmp_path):
    run_dir = write_run_dir(tmp_path / "run", events()[:6])
    with open(run_dir / "metrics.jsonl", "a", encoding="utf-8") as f:
        f.write('{"type": "LaneProgress", "lane": 0}\n')
    app = TuilabApp(Experiment(), watch_dir=str(run_dir))
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: app.state is not None and app.state.warnings, timeout=10)
        # The screen redraws at most every MIN_REDRAW: wait for the note, do not sleep.
        await wait_for(pilot, lambda: "damaged" in str(app.screen.query_one("#notes").content), timeout=5)


async def test_e_writes_the_metrics_csv_and_the_plots_show_the_noise_scale(tmp_path):
    run_dir = write_run_dir(tmp_path / "run")
    app = TuilabApp(Experiment(), watch_dir=str(run_dir))
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: app.state is not None and app.state.finished, timeout=10)
        await pilot.press("e")
        await wait_for(pilot, lambda: (run_dir / "metrics.csv").exists(), timeout=5, what="metrics.csv")
        rows = (run_dir / "metrics.csv").read_text().splitlines()
        reports = sum(1 for ln in (run_dir / "metrics.jsonl").read_text().splitlines() if "LaneProgress" in ln)
        assert rows[0].startswith("lane,") and len(rows) == 1 + reports
        await pilot.press("p")
        app.screen.query_one("TabbedContent").active = "bsimple"
        await wait_for(pilot, lambda: "bsimple" in app.screen.drawn, timeout=5, what="noise scale tab")
