"""The footer tells the truth and fits at 80 columns; a toast keeps a path on one line."""

from __future__ import annotations

from synthetic_run import events
from textual.screen import Screen
from uihelp import screen_lines

from tuilab.presets import Experiment
from tuilab.ui.app import TuilabApp
from tuilab.ui.screens.run import RunScreen
from tuilab.ui.state import RunState


class Host(TuilabApp):
    """The real app's bindings, CSS and palette, showing a Run screen of a made-up run."""

    def on_mount(self, event) -> None:
        event.prevent_default()  # no Setup, no device probe: the test pushes its own screen


async def _footer(evs: list, watching: bool, size=(80, 24)) -> str:
    app = Host(Experiment())
    async with app.run_test(size=size) as pilot:
        app.state = RunState()
        app.state.apply(evs)
        await app.push_screen(RunScreen(app.state, "made up", watching=watching))
        line = ""
        for _ in range(50):  # a loaded machine draws the footer late: wait for it, up to 5 s
            await pilot.pause(0.1)
            line = screen_lines(app)[-1]
            if line.strip():
                break
        return line


async def test_run_footer_shows_every_key_whole_at_80_columns():
    running = await _footer(events()[:-1], watching=False)  # no RunFinished: still training
    for words in ("space Pause", "c Cancel", "x Axis", "p Plots", "e CSV", "? Help", "esc Back", "^q Quit"):
        assert words in running, running
    finished = await _footer(events(), watching=False)
    assert "esc Back" in finished and "c Cancel" not in finished
    watched = await _footer(events(), watching=True)  # `tuilab watch`: escape quits, and says so
    assert "esc Quit" in watched and "esc Back" not in watched
    assert "^p palette" in await _footer(events(), watching=False, size=(120, 40))


async def test_a_toast_keeps_a_run_directory_path_whole(in_tmp):
    path = "runs/20261126-101500-seed-classic/metrics.csv"
    app = Host(Experiment())
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await app.push_screen(Screen())
        app.notify(f"wrote {path}")
        await pilot.pause(0.3)
        assert any(path in line for line in screen_lines(app))
