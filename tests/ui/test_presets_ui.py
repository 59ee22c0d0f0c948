"""Preset modals: save then load round-trips the form; shipped names refused; overwrite asks."""

from __future__ import annotations

import pytest
from test_setup_support import SetupTestApp, quickstart
from textual.widgets import Input, OptionList, Static

from tuilab.presets import dumps_preset, load_preset, save_preset, user_preset_dir
from tuilab.ui.screens.presets import ConfirmScreen, LoadPresetScreen, SavePresetScreen
from tuilab.ui.screens.setup import SetupScreen


@pytest.fixture(autouse=True)
def config_dir(tmp_path, monkeypatch):
    """User presets go to a fresh directory (presets.user_preset_dir honours it)."""
    monkeypatch.setenv("TUILAB_CONFIG_DIR", str(tmp_path))
    return tmp_path


async def setup_screen(pilot) -> SetupScreen:
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()
    return pilot.app.screen


async def save_as(pilot, name: str) -> None:
    """ctrl+s, type the name, enter."""
    await pilot.press("ctrl+s")
    await pilot.pause()
    assert isinstance(pilot.app.screen, SavePresetScreen)
    box = pilot.app.screen.query_one("#preset-name", Input)
    box.value = ""
    await pilot.press(*name, "enter")
    await pilot.pause()


async def set_input(pilot, selector: str, text: str) -> None:
    pilot.app.screen.query_one(selector, Input).value = text
    await pilot.pause()


async def test_save_then_load_round_trips_the_form():
    app = SetupTestApp()
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await setup_screen(pilot)
        await set_input(pilot, "#f-optimizer-lr", "0.025")
        await set_input(pilot, "#batch-text", "16, 64, full")
        await set_input(pilot, "#f-dataset-noise", "0.35")
        edited = screen.check_form()

        await save_as(pilot, "mine")
        path = user_preset_dir() / "mine.toml"
        assert pilot.app.screen is screen and path.exists()
        assert load_preset(path) == edited.model_copy(update={"name": "mine"})

        await set_input(pilot, "#f-optimizer-lr", "0.3")  # wander off, then load it back
        await pilot.press("ctrl+o")
        await pilot.pause()
        assert isinstance(pilot.app.screen, LoadPresetScreen)
        options = pilot.app.screen.query_one(OptionList)
        ids = [options.get_option_at_index(i).id for i in range(options.option_count)]
        options.highlighted = ids.index(str(path))
        await pilot.press("enter")
        await pilot.pause()
        assert pilot.app.screen is screen
        assert screen.check_form() == load_preset(path)
        assert "mine" in str(screen.query_one("#setup-title", Static).render())


async def test_saving_over_a_shipped_preset_is_refused():
    app = SetupTestApp()
    async with app.run_test(size=(120, 40)) as pilot:
        await setup_screen(pilot)
        await save_as(pilot, "quickstart")
        assert isinstance(pilot.app.screen, SavePresetScreen)  # still asking
        message = str(pilot.app.screen.query_one("#preset-error", Static).render())
        assert "shipped preset" in message and "another name" in message
        assert not (user_preset_dir() / "quickstart.toml").exists()
        await pilot.press("escape")
        assert isinstance(pilot.app.screen, SetupScreen)


async def test_saving_over_a_user_preset_asks_first():
    path = user_preset_dir() / "mine.toml"
    save_preset(quickstart().model_copy(update={"name": "mine", "seed": 99}), path)
    before = path.read_text()
    app = SetupTestApp()
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await setup_screen(pilot)
        await save_as(pilot, "mine")
        assert isinstance(pilot.app.screen, ConfirmScreen)
        await pilot.press("n")
        await pilot.pause()
        assert isinstance(pilot.app.screen, SavePresetScreen) and path.read_text() == before

        await pilot.press("enter")  # ask again, and this time say yes
        await pilot.pause()
        assert isinstance(pilot.app.screen, ConfirmScreen)
        await pilot.press("y")
        await pilot.pause()
        assert pilot.app.screen is screen
        assert path.read_text() == dumps_preset(quickstart().model_copy(update={"name": "mine"}))


async def test_load_lists_shipped_and_user_presets_and_marks_broken_ones():
    (user_preset_dir()).mkdir(parents=True)
    (user_preset_dir() / "broken.toml").write_text("seed = [\n")
    save_preset(quickstart().model_copy(update={"name": "fine", "description": "my own"}),
                user_preset_dir() / "fine.toml")
    app = SetupTestApp()
    async with app.run_test(size=(120, 40)) as pilot:
        await setup_screen(pilot)
        await pilot.press("ctrl+o")
        await pilot.pause()
        options = pilot.app.screen.query_one(OptionList)
        shown = {str(options.get_option_at_index(i).prompt): options.get_option_at_index(i).disabled
                 for i in range(options.option_count)}
        assert any(p.startswith("quickstart\u00a0· shipped\n") for p in shown)
        assert shown["fine\u00a0· user\nmy own"] is False
        assert [d for p, d in shown.items() if p.startswith("broken")] == [True]
