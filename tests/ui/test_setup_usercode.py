"""Setup says which of the user's files a preset will import, before anything runs."""

from __future__ import annotations

from pathlib import Path

from test_setup_support import SetupTestApp
from textual.widgets import Static

from tuilab.presets import load_preset
from tuilab.ui.screens.setup import SetupScreen

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "resnet_bn" / "preset.toml"


async def test_setup_names_the_files_a_custom_preset_imports_and_runs_it_unchanged():
    exp = load_preset(EXAMPLE)
    app = SetupTestApp(exp)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()
        screen = pilot.app.screen
        assert isinstance(screen, SetupScreen)
        line = screen.query_one("#setup-imports", Static)
        assert line.display
        assert str(line.render()) == f"this preset imports: {EXAMPLE.parent / 'model.py'}, {EXAMPLE.parent / 'data.py'}"
        assert screen.check_form() == exp  # factories, noise settings: carried through the form
        screen.action_run()
        assert app.runs == [exp]
        screen.load_experiment(load_preset(Path(__file__).resolve().parents[2] / "presets" / "quickstart.toml"))
        await pilot.pause()
        assert not line.display  # shipped presets import nothing
