"""Faults in the app: shown, never a crash; the worker bookkeeping stays right when runs overlap."""

from __future__ import annotations

import errno
import threading
import time

from synthetic_run import events, write_run_dir
from textual.widgets import DataTable
from uihelp import tiny_experiment, wait_for

from tuilab.engine import run as run_module
from tuilab.engine.events import LaneFinished, LaneProgress
from tuilab.engine.store import RunStore
from tuilab.format import SUMMARY_COLUMNS, summary_rows
from tuilab.presets import Experiment, dumps_preset
from tuilab.ui.app import TuilabApp
from tuilab.ui.screens.run import RunScreen
from tuilab.ui.worker import Batcher


def _errors(app) -> list[str]:
    return [n.message for n in app._notifications if n.severity == "error"]


async def test_disk_full_mid_run_is_a_visible_error_not_a_crash(in_tmp, monkeypatch):
    real_write = RunStore.write

    def write(self, ev):
        if isinstance(ev, LaneProgress) and ev.step > 0:
            self._metrics.flush = lambda: (_ for _ in ()).throw(OSError(errno.ENOSPC, "No space left on device"))
        return real_write(self, ev)

    monkeypatch.setattr(RunStore, "write", write)
    exp = tiny_experiment(unit="seconds", amount=60)
    app = TuilabApp(exp)
    async with app.run_test(size=(120, 40)) as pilot:
        app.start_run(exp)
        await wait_for(pilot, lambda: _errors(app), what="the error")
        assert "cannot be written (No space left on device)" in _errors(app)[0]
        await wait_for(pilot, lambda: app.state is not None and app.state.finished, what="the run to end")
        assert isinstance(app.screen, RunScreen) and app.is_running
    assert app._exception is None


async def test_a_fault_outside_any_lane_fails_the_run_and_the_app_stays_up(in_tmp, monkeypatch):
    def broken(*a, **kw):
        raise ZeroDivisionError("float division by zero")

    monkeypatch.setattr(run_module, "measure_noise_slope", broken)
    exp = tiny_experiment()
    app = TuilabApp(exp)
    async with app.run_test(size=(120, 40)) as pilot:
        app.start_run(exp)
        await wait_for(pilot, lambda: _errors(app), what="the error")
        assert "the run failed: ZeroDivisionError: float division by zero" in _errors(app)[0]
        assert app.state.finished.error and app.is_running
    assert app._exception is None


async def test_a_replaced_run_does_not_mark_the_engine_idle_while_the_new_one_trains(in_tmp, monkeypatch):
    real_close = RunStore.close
    closed = []

    def slow_first_close(self):  # run 1's thread lingers a moment after its stop, as on a loaded machine
        real_close(self)
        if not closed:
            closed.append(self.path)
            time.sleep(1.0)

    monkeypatch.setattr(RunStore, "close", slow_first_close)
    exp = tiny_experiment(unit="seconds", amount=60)
    app = TuilabApp(exp)
    async with app.run_test(size=(120, 40)) as pilot:
        app.start_run(exp)
        await wait_for(pilot, lambda: app.state is not None and app.state.started is not None, what="run 1")
        await wait_for(pilot, lambda: isinstance(app.screen, RunScreen), what="the Run screen")
        app._back_to_setup()  # esc, confirmed: run 1 stops and Setup shows
        app.start_run(exp)  # at once: run 1's thread ends a moment later, while run 2 trains
        await wait_for(pilot, lambda: app.state is not None and any(
            r.history and r.history[-1].step for r in app.state.record.lanes.values()), what="run 2 training")
        await wait_for(pilot, lambda: closed, what="run 1 to close")
        await pilot.pause(1.5)  # run 1's worker has returned by now
        assert not app.engine_idle.is_set(), "run 1's worker marked the engine idle while run 2 trains"
        app.stop_all()
        assert app.engine_idle.wait(10)


def test_the_batcher_posts_in_order_when_its_timer_and_the_worker_flush_at_once():
    posted, slow, in_post = [], threading.Event(), threading.Event()

    def post(msg):
        if slow.is_set() and isinstance(msg.events[0], LaneProgress):
            slow.clear()
            in_post.set()
            time.sleep(0.3)  # the timer's thread is descheduled while it posts
        posted.extend(msg.events)

    b = Batcher(post, interval=0.05)
    b.add(LaneFinished(0, "finished", 1, 1, 0.1))  # flushes at once and starts the interval
    slow.set()
    b.add(LaneProgress(1, 1, 8, 0.1, 0.1, 0.5, 8, 0.1, 1.0, 1.0, None, None, 1.0))  # held: the timer posts it
    assert in_post.wait(2)
    b.add(LaneFinished(1, "finished", 2, 16, 0.2))  # the worker flushes while the timer posts
    time.sleep(0.5)
    assert [type(e).__name__ for e in posted] == ["LaneFinished", "LaneProgress", "LaneFinished"]


async def test_the_plots_table_uses_the_presets_target_while_the_run_is_live(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    live = [e for e in events() if type(e).__name__ != "RunFinished"]
    run_dir = write_run_dir(tmp_path / "run", live)
    exp = Experiment(name="quickstart", measure={"target_loss": 0.3})
    (run_dir / "experiment.toml").write_text(dumps_preset(exp))
    app = TuilabApp(Experiment(), watch_dir="run")
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: app.state is not None and len(app.state.record.lanes) == 4, what="replay")
        await pilot.pause(0.3)
        await pilot.press("p")
        await pilot.pause(0.1)
        app.screen.query_one("TabbedContent").active = "summary"
        await wait_for(pilot, lambda: "summary" in app.screen.drawn, timeout=10, what="the table")
        table = app.screen.query_one(DataTable)
        col = SUMMARY_COLUMNS.index("target: steps")
        shown = [str(table.get_row_at(i)[col]) for i in range(table.row_count)]
        expected = [row[col] for row in summary_rows(app.state.record.summary(exp))]
        assert shown == expected
        default = [row[col] for row in summary_rows(app.state.record.summary())]
        assert shown != default  # the preset's 0.3 is not the default target
