"""Setup form: filling it, reading it back exactly, inline errors that block Run, devices."""

from __future__ import annotations

from test_setup_support import SHIPPED, SetupTestApp, quickstart
from textual.widgets import Input, RadioButton, Select, Static

from tuilab.presets import experiment_from_dict, load_preset
from tuilab.ui.screens.setup import SetupScreen
from tuilab.ui.widgets.form_batch import toggle_batch_size
from tuilab.ui.widgets.form_mapping import experiment_to_values, values_to_experiment


async def started(pilot) -> SetupScreen:
    """Wait for the devices worker, and return the Setup screen."""
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()
    assert isinstance(pilot.app.screen, SetupScreen)
    return pilot.app.screen


async def type_into(pilot, selector: str, text: str) -> None:
    """Focus an input, clear it and type `text` key by key, as a person would."""
    box = pilot.app.screen.query_one(selector, Input)
    box.focus()
    box.value = ""
    await pilot.press(*text)
    await pilot.pause()


def error_of(screen: SetupScreen, key: str) -> str:
    row = screen.query_one("#row-" + key.replace(".", "-").replace("_", "-"))
    return str(row.query_one(".form-error", Static).render())


# An experiment that uses what the form does not show: variants, measure, limit, channels.
UNUSUAL = experiment_from_dict({
    "name": "unusual", "description": "everything off the defaults", "device": "cpu", "seed": 7,
    "batch_sizes": ["full", 100, 3],
    "variants": [{"label": "decay", "decay_epochs": [2.5], "decay_factor": 0.5}],
    "dataset": {"name": "csv:data/x.csv", "test_fraction": 0.125, "limit": 500, "path": "/idx"},
    "model": {"kind": "cnn", "channels": [8, 16], "activation": "gelu"},
    "optimizer": {"kind": "sgd", "lr": 1e-05, "momentum": 0.95, "nesterov": True,
                  "weight_decay": 0.0005, "lr_scaling": "sqrt", "base_batch_size": 64,
                  "warmup_epochs": 1.5},
    "budget": {"unit": "seconds", "amount": 12.5},
    "measure": {"every": 0.3, "probe_examples": 64, "slope_draws": 8, "target_loss": 0.2},
})


async def test_form_reads_back_every_experiment_it_is_loaded_with():
    app = SetupTestApp()
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await started(pilot)
        assert screen.check_form() == quickstart()  # as composed
        for exp in [load_preset(p) for p in sorted(SHIPPED.glob("*.toml"))] + [UNUSUAL]:
            screen.load_experiment(exp)
            await pilot.pause()
            # Read back exactly (UNUSUAL names a CSV that is not there: the form says so, and blocks Run).
            assert values_to_experiment(screen.form_values(), exp) == (exp, {}), exp.name


def test_mapping_round_trips_without_a_screen():
    values = experiment_to_values(UNUSUAL)
    assert values["dataset.kind"] == "csv:" and values["dataset.path"] == "data/x.csv"
    assert values_to_experiment(values, UNUSUAL) == (UNUSUAL, {})


async def test_filling_the_form_builds_the_experiment_and_runs_it():
    app = SetupTestApp()
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await started(pilot)
        await type_into(pilot, "#f-optimizer-lr", "0.05")
        await type_into(pilot, "#f-dataset-n", "2000")
        await type_into(pilot, "#f-model-hidden", "32,16")
        await type_into(pilot, "#f-seed", "3")
        # Toggle batch sizes: 64 on, 512 off. The toggles are one tab stop (on the first that is
        # on: 8); arrows move within them, 4 a row (8 -> 64 is right 3, 64 -> 512 is down, left).
        toggles = [b for b in screen.query(".batch-toggles Checkbox") if b.can_focus]
        assert [b.id for b in toggles] == ["bs-8"]
        toggles[0].focus()
        await pilot.press("right", "right", "right", "space", "down", "left", "space")
        await pilot.press("tab")  # one tab leaves the group for the free-entry box
        assert screen.focused is screen.query_one("#batch-text", Input)
        # A select by keyboard: open it, move down one (sgd -> adam), choose.
        screen.query_one("#f-optimizer-kind", Select).focus()
        await pilot.press("enter", "down", "enter")
        screen.query_one("#f-budget-unit", Select).value = "steps"
        await pilot.pause()
        await pilot.press("ctrl+r")
        await pilot.pause()

    assert len(app.runs) == 1
    exp = app.runs[0]
    assert app.experiment == exp
    assert exp.optimizer.lr == 0.05 and exp.optimizer.kind == "adam"
    assert exp.dataset.n == 2000 and exp.model.hidden == [32, 16] and exp.seed == 3
    assert exp.batch_sizes == [8, 32, 64, 128]
    assert exp.budget.unit == "steps"
    expected = quickstart().model_copy(deep=True)
    assert exp.measure == expected.measure  # not on the form: carried through


async def test_invalid_batch_sizes_are_flagged_inline_and_block_run():
    app = SetupTestApp()
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await started(pilot)
        for text, message in [
            ("abc", "batch size 'abc' is not a whole number; use e.g. 8,32,128, 'full' or 'adaptive'"),
            ("0", "batch size 0 is not valid: batch sizes are whole numbers >= 1"),
            ("-3", "batch size -3 is not valid: batch sizes are whole numbers >= 1"),
        ]:
            await type_into(pilot, "#batch-text", text)
            assert error_of(screen, "batch_sizes") == message
            assert screen.query_one("#setup-run").disabled
            await pilot.press("ctrl+r")
            await pilot.pause()
            assert app.runs == []
        assert any("Fix the fields" in n.message for n in app._notifications)


async def test_invalid_lr_blocks_run_until_fixed():
    app = SetupTestApp()
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await started(pilot)
        await type_into(pilot, "#f-optimizer-lr", "0")
        assert error_of(screen, "optimizer.lr") == "lr must be greater than 0"
        await pilot.click("#setup-run")
        await pilot.press("ctrl+r")
        assert app.runs == []
        await type_into(pilot, "#f-optimizer-lr", "0.2")
        assert error_of(screen, "optimizer.lr") == ""
        await pilot.click("#setup-run")
        await pilot.pause()
    assert [e.optimizer.lr for e in app.runs] == [0.2]


async def test_batch_toggles_and_free_entry_stay_in_sync():
    app = SetupTestApp()
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await started(pilot)
        await type_into(pilot, "#batch-text", "16, 100, full")
        on = {c.id for c in screen.query(".batch-toggles Checkbox") if c.value}
        assert on == {"bs-16", "bs-full"}
        await pilot.click("#bs-4")
        await pilot.pause()
        assert screen.query_one("#batch-text", Input).value == "4, 16, 100, full"
        assert screen.check_form().batch_sizes == [4, 16, 100, "full"]


def test_toggling_keeps_a_half_typed_entry():
    assert toggle_batch_size("8, 3x", "64", True) == "8, 3x, 64"
    assert toggle_batch_size("512, 8", "32", True) == "8, 32, 512"
    assert toggle_batch_size("8, 32", "8", False) == "32"


async def test_unavailable_devices_are_shown_disabled_with_the_reason():
    devices = [("cpu", True, "CPU, 8 threads"), ("cuda", False, "torch was built without CUDA")]
    app = SetupTestApp(quickstart().model_copy(update={"device": "cuda"}), devices=devices)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await started(pilot)
        buttons = {b.name: b for b in screen.query(RadioButton)}
        assert list(buttons) == ["auto", "cpu", "cuda"]
        assert buttons["cuda"].disabled and not buttons["cpu"].disabled
        assert "torch was built without CUDA" in str(buttons["cuda"].label)
        # The preset asks for cuda, which this machine lacks: flagged, and Run is refused.
        assert "torch was built without CUDA" in error_of(screen, "device")
        assert screen.check_form() is None
        await pilot.click("#f-device RadioSet")  # focus the set; then pick cpu by keyboard
        await pilot.press("down", "enter")
        await pilot.pause()
        assert screen.check_form().device == "cpu"


async def test_only_relevant_fields_are_shown():
    app = SetupTestApp()
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await started(pilot)

        def shown(key: str) -> bool:
            return screen.query_one("#row-" + key.replace(".", "-").replace("_", "-")).display

        assert shown("dataset.noise") and not shown("dataset.path")
        screen.query_one("#f-dataset-kind", Select).value = "mnist"
        screen.query_one("#f-optimizer-kind", Select).value = "adam"
        await pilot.pause()
        assert shown("dataset.path") and not shown("dataset.noise")
        assert not shown("optimizer.momentum")


def test_setup_snapshot_120x40(snap_compare):
    async def ready(pilot):
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()

    assert snap_compare(SetupTestApp(), terminal_size=(120, 40), run_before=ready)
