"""Setup inside the real TuilabApp: the contract (devices, start_run, app.experiment) end to end."""

from __future__ import annotations

from test_setup_support import quickstart
from textual.widgets import Input, RadioButton

from tuilab.ui.app import TuilabApp
from tuilab.ui.screens.run import RunScreen
from tuilab.ui.screens.setup import SetupScreen


async def test_real_app_lists_real_devices_and_runs_the_form(tmp_path):
    tiny = quickstart().model_copy(update={"batch_sizes": [64]}, deep=True)
    tiny.dataset.n, tiny.budget.amount = 200, 1
    app = TuilabApp(tiny, out_dir=str(tmp_path))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, SetupScreen)
        await app.workers.wait_for_complete()  # torch imported, devices listed
        await pilot.pause()
        names = [b.name for b in screen.query(RadioButton)]
        assert names[:2] == ["auto", "cpu"] and any(n.startswith("cuda") for n in names)

        # Bigger than the training set (160 of moons 200): marked in the field, Run refused, Setup stays.
        screen.query_one("#batch-text", Input).value = "32, 5000"
        await pilot.pause()
        await pilot.press("ctrl+r")
        assert "batch size 5000 is larger than the training set (160 examples)" in str(
            screen.query_one("#row-batch-sizes .form-error").render())
        assert await until(pilot, lambda: any("Fix the fields" in n.message for n in app._notifications))
        assert app.screen is screen

        screen.query_one("#batch-text", Input).value = "32, 64"
        await pilot.pause()
        await pilot.press("ctrl+r")
        assert app.experiment.batch_sizes == [32, 64]
        assert await until(pilot, lambda: isinstance(app.screen, RunScreen))
        # Let the tiny run finish: quitting mid-run is the Run screen's business, not Setup's.
        assert await until(pilot, lambda: app.state is not None and app.state.finished is not None)


async def until(pilot, condition, seconds: float = 20) -> bool:
    """Pause the pilot until `condition()` holds (the engine answers from its thread)."""
    for _ in range(int(seconds / 0.05)):
        if condition():
            return True
        await pilot.pause(0.05)
    return condition()


async def test_load_and_save_preset_are_in_the_command_palette(tmp_path, monkeypatch):
    from tuilab.ui.screens.presets import LoadPresetScreen, SavePresetScreen

    monkeypatch.setenv("TUILAB_CONFIG_DIR", str(tmp_path))
    app = TuilabApp(quickstart(), out_dir=str(tmp_path))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        commands = {c.title: c.callback for c in app.get_system_commands(app.screen)}
        assert {"Load preset", "Save preset", "Run", "Help"} <= set(commands)
        commands["Load preset"]()
        await pilot.pause()
        assert isinstance(app.screen, LoadPresetScreen)
        await pilot.press("escape")
        commands["Save preset"]()
        await pilot.pause()
        assert isinstance(app.screen, SavePresetScreen)
        await pilot.press("escape")
        assert isinstance(app.screen, SetupScreen)
