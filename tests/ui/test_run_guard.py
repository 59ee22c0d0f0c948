"""A run in progress is never lost by one key: no hidden second run, a question before stopping.

Also what the Run screen says while paused and after a cancel.
"""

from __future__ import annotations

import re

from uihelp import tiny_experiment, wait_for

from tuilab.ui.app import TuilabApp
from tuilab.ui.screens.presets import ConfirmScreen
from tuilab.ui.screens.run import RunScreen
from tuilab.ui.screens.setup import SetupScreen


def _trained(app) -> bool:
    return app.state is not None and any(r.history and r.history[-1].step for r in app.state.record.lanes.values())


async def _running(pilot, app) -> RunScreen:
    await wait_for(pilot, lambda: isinstance(app.screen, RunScreen) and _trained(app), what="training")
    return app.screen


async def test_a_running_run_is_never_replaced_nor_stopped_by_one_key(in_tmp):
    exp = tiny_experiment(unit="seconds", amount=60)
    app = TuilabApp(exp)
    async with app.run_test(size=(120, 40)) as pilot:
        app.start_run(exp)
        screen = await _running(pilot, app)
        control, run_id = app.control, app._run_id

        # The palette offers no "Run" while one trains; ctrl+p, "Run", enter starts nothing.
        titles = [c.title for c in app.get_system_commands(screen)]
        assert "Run" not in titles and "Help" in titles and "Keys" not in titles
        await pilot.press("ctrl+p", *"Run", "enter")
        await pilot.pause(0.3)
        app.start_run(exp)  # and asking directly is refused, with a word why
        await pilot.pause()
        assert app.control is control and app._run_id == run_id and not control.stop.is_set()
        assert any("in progress" in n.message for n in app._notifications)
        while not isinstance(app.screen, RunScreen):  # whatever the palette left open
            await pilot.press("escape")

        # Paused: the header and every lane say so.
        await pilot.press("space")
        await pilot.pause(0.5)
        assert str(screen.time_left.content) == "paused"
        assert {str(row.status.content) for row in screen.rows.values()} == {"paused"}
        await pilot.press("space")

        # q and escape ask first; n and escape keep it training.
        for key, answer in (("q", "n"), ("escape", "escape"), ("escape", "n")):
            await pilot.press(key)
            assert isinstance(app.screen, ConfirmScreen), key
            await pilot.press(answer)
            assert app.screen is screen and not control.stop.is_set() and app.is_running

        await pilot.press("c")
        await wait_for(pilot, lambda: app.state.finished is not None, timeout=10, what="the cancel")
        await pilot.pause(0.3)
        result = str(screen.result.render())
        assert re.search(r"Cancelled after \d+:\d\d: what was measured is kept", result), result
        await pilot.press("escape")  # finished: back to Setup without a question
        assert isinstance(app.screen, SetupScreen)
    assert app._exception is None


async def test_yes_stops_the_run_and_goes_back_or_quits(in_tmp):
    exp = tiny_experiment(unit="seconds", amount=60)
    app = TuilabApp(exp)
    async with app.run_test(size=(80, 24)) as pilot:
        app.start_run(exp)
        await _running(pilot, app)
        first = app.control
        await pilot.press("escape", "y")
        assert isinstance(app.screen, SetupScreen) and first.stop.is_set()
        await wait_for(pilot, lambda: app.engine_idle.is_set(), timeout=10, what="the engine to stop")

        app.start_run(exp)  # Setup can run again once the first is stopped
        await _running(pilot, app)
        second = app.control
        await pilot.press("q", "y")
        await pilot.pause()
    assert second.stop.is_set() and app._exception is None and app.return_code == 0
