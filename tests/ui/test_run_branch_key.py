"""On the Run screen ↑/↓ select a lane and b asks the run to branch it; a measured branch is announced."""

from __future__ import annotations

from synthetic_run import events
from test_plots_lab import branch_event
from uihelp import screen_lines, wait_for

from tuilab.engine.control import BRANCH_FACTORS, Control
from tuilab.engine.events import LaneFinished, RunFinished
from tuilab.presets import Experiment
from tuilab.ui.app import TuilabApp
from tuilab.ui.messages import EngineEvents
from tuilab.ui.screens.run import RunScreen
from tuilab.ui.state import RunState


class Host(TuilabApp):
    """The real app's bindings and handlers, training nothing: the test gives it a Control and a state."""

    def on_mount(self, event) -> None:
        event.prevent_default()


def training(finished_lanes: tuple[int, ...] = ()) -> list:
    """The made-up run's events with every lane still training except `finished_lanes`."""
    return [e for e in events() if not isinstance(e, RunFinished)
            and not (isinstance(e, LaneFinished) and e.lane not in finished_lanes)]


async def _run_screen(pilot, evs: list, watching: bool = False) -> RunScreen:
    app = pilot.app
    app.control, app.state = Control(), RunState()
    app.state.apply(evs)
    screen = RunScreen(app.state, "made up", watching=watching)
    await app.push_screen(screen)
    await pilot.pause(0.3)
    return screen


async def test_b_asks_the_run_to_branch_the_selected_lane():
    app = Host(Experiment())
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        screen = await _run_screen(pilot, training())
        assert screen.rows[0].has_class("-selected")
        await pilot.press("down", "down", "up", "b")  # lane 1: B=32
        await pilot.pause(0.2)
        assert screen.rows[1].has_class("-selected") and not screen.rows[0].has_class("-selected")
        assert app.control.take_branch_requests(1) == [BRANCH_FACTORS]
        assert all(app.control.take_branch_requests(i) == [] for i in (0, 2, 3))
        assert any("branching B=32 at its next report" in line for line in screen_lines(app))
        assert "b Branch" in screen_lines(app)[-1]  # the footer has room for it at 120 columns


async def test_b_on_a_finished_lane_or_when_watching_sends_nothing():
    app = Host(Experiment())
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await _run_screen(pilot, training(finished_lanes=(0,)))
        await pilot.press("b")  # lane 0 is selected and done; b works at 80 columns, off the footer
        await pilot.pause(0.2)
        assert app.control.take_branch_requests(0) == []
        assert any("only a training lane" in line for line in screen_lines(app))
        app.pop_screen()
        screen = await _run_screen(pilot, training(), watching=True)  # `tuilab watch`: the run is another's
        await pilot.press("b")
        await pilot.pause(0.2)
        assert app.control.take_branch_requests(0) == [] and not screen.rows[0].has_class("-selected")


async def test_a_measured_branch_is_announced_with_its_critical_batch_size():
    app = Host(Experiment())
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        await _run_screen(pilot, training())
        app.run_screen = app.screen
        msg = EngineEvents((branch_event(),))
        msg.run_id = app._run_id  # as the app's poster stamps its run's batches
        app.post_message(msg)
        await wait_for(pilot, lambda: len(app.state.record.branches) == 1, timeout=5)
        await pilot.pause(0.3)
        text = " ".join(screen_lines(app))
        assert "B=32 branched: critical batch size 128 (B=256 fell behind)" in text, text
