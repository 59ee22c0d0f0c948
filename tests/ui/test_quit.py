"""Quitting and leaving: prompt, from every screen, and no exception on the way out."""

from __future__ import annotations

import json
import os
import pty
import select
import signal
import sys
import time
from pathlib import Path

from textual.widgets import Input
from uihelp import tiny_experiment, wait_for

from tuilab.presets import save_preset
from tuilab.ui.app import TuilabApp
from tuilab.ui.screens.help import HelpScreen
from tuilab.ui.screens.run import RunScreen
from tuilab.ui.screens.setup import SetupScreen

TUILAB = Path(sys.executable).parent / "tuilab"


def _trained(app) -> bool:
    return app.state is not None and any(r.history and r.history[-1].step for r in app.state.record.lanes.values())


async def test_q_quits_from_setup_but_types_in_a_text_box(in_tmp):
    app = TuilabApp(tiny_experiment())
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, SetupScreen)
        box = app.screen.query_one("#f-seed", Input)
        box.focus()
        await pilot.press("end", "q")
        assert box.value.endswith("q") and app.is_running  # a text box takes q
        await pilot.press("f1")
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        assert isinstance(app.screen, SetupScreen)
        app.screen.query_one("#f-dataset-kind").focus()
        await pilot.press("q")
    assert app.return_code == 0 and app._exception is None


async def test_quit_mid_run_stops_the_engine_and_raises_nothing(in_tmp):
    exp = tiny_experiment(unit="seconds", amount=60)
    app = TuilabApp(exp)
    async with app.run_test(size=(120, 40)) as pilot:
        app.start_run(exp)
        await wait_for(pilot, lambda: isinstance(app.screen, RunScreen) and _trained(app), what="training")
        control = app.control
        await pilot.press("q", "y")  # from the Run screen, q quits (escape goes back), once confirmed
    assert control.stop.is_set() and app._exception is None
    assert app.engine_idle.wait(5), "the engine did not stop"


async def test_leaving_a_run_drops_its_last_events_and_a_run_is_never_replaced(in_tmp):
    exp = tiny_experiment(unit="seconds", amount=60)
    app = TuilabApp(exp)
    async with app.run_test(size=(120, 40)) as pilot:
        app.start_run(exp)
        await wait_for(pilot, lambda: isinstance(app.screen, RunScreen) and _trained(app), what="training")
        left = app.screen
        await pilot.press("escape", "y")
        await wait_for(pilot, lambda: app.engine_idle.is_set(), timeout=10, what="the engine to stop")
        await pilot.pause(0.3)  # its cancelled lanes and RunFinished arrive now: they must not reopen Run
        assert isinstance(app.screen, SetupScreen)
        left.redraw()  # a removed screen draws nothing and raises nothing

        short = exp.model_copy(update={"budget": exp.budget.model_copy(update={"amount": 0.5})})
        app.start_run(short)
        await wait_for(pilot, lambda: app.state is not None and app.state.started is not None, what="run 2")
        second = app.control
        app.start_run(exp)  # refused while run 2 trains: it is neither stopped nor hidden
        assert app.control is second and not second.stop.is_set()
        await wait_for(pilot, lambda: app.state is not None and app.state.finished is not None, what="run 2")
        assert isinstance(app.screen, RunScreen) and not app.state.finished.interrupted
    assert app._exception is None


def test_ctrl_q_mid_run_ends_the_process_within_a_second(tmp_path):
    """The real command in a pty: ctrl+q while training; the process is gone promptly, the run kept."""
    preset = tmp_path / "tiny.toml"
    save_preset(tiny_experiment(unit="seconds", amount=120), preset)
    pid, fd = pty.fork()
    if pid == 0:  # the child: the TUI draws on this pty (stderr is not redirected)
        os.chdir(tmp_path)
        os.environ.update(TERM="xterm-256color", COLUMNS="120", LINES="40")
        os.execv(str(TUILAB), [str(TUILAB), str(preset), "--run"])
    try:
        def drain(seconds: float) -> None:
            end = time.monotonic() + seconds
            while time.monotonic() < end:
                if select.select([fd], [], [], 0.05)[0]:
                    try:
                        os.read(fd, 65536)
                    except OSError:
                        return

        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and not _stepped(tmp_path):
            drain(0.2)
        assert _stepped(tmp_path), "training never started"
        os.write(fd, b"\x11")  # ctrl+q
        t0 = time.monotonic()
        while time.monotonic() - t0 < 10:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                break
            drain(0.02)
        seconds = time.monotonic() - t0
        assert done, "still running 10 s after ctrl+q"
        pid = 0
    finally:
        if pid:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        os.close(fd)
    assert os.waitstatus_to_exitcode(status) == 0
    # ~0.5 s here (it was 3 to 8 s); the bound leaves room for a loaded machine.
    assert seconds < 1.5, f"{seconds:.2f} s from ctrl+q to exit"
    summary = json.loads(next((tmp_path / "runs").iterdir()).joinpath("summary.json").read_text())
    assert summary["interrupted"] is True


def _stepped(root: Path) -> bool:
    for metrics in root.glob("runs/*/metrics.jsonl"):
        for line in metrics.read_text().splitlines():
            ev = json.loads(line)
            if ev.get("type") == "LaneProgress" and ev.get("step"):
                return True
    return False
