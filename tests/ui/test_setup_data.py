"""Data set and model mistakes are marked where they are typed, as the numeric fields are, not after ctrl+r."""

from __future__ import annotations

import numpy as np
from test_setup_support import SetupTestApp
from textual.widgets import Input, Select, Static
from uihelp import wait_for

from tuilab.engine.data import load_dataset
from tuilab.presets import DatasetConfig
from tuilab.ui.widgets.form_data import read_facts, synthetic_facts


def row(screen, key: str):
    return screen.query_one("#row-" + key.replace(".", "-").replace("_", "-"))


def error_of(screen, key: str) -> str:
    return str(row(screen, key).query_one(".form-error", Static).render())


def hint_of(screen, key: str) -> str:
    return str(row(screen, key).query_one(".form-hint", Static).render())


async def _set(pilot, **fields) -> None:
    """Set text fields by id, e.g. dataset_path= for #f-dataset-path, batch_text= for #batch-text."""
    for key, value in fields.items():
        selector = "#batch-text" if key == "batch_text" else "#f-" + key.replace("_", "-")
        pilot.app.screen.query_one(selector, Input).value = value
    await pilot.pause()


def _csv(path, rows: int, bad_cell: bool = False):
    lines = ["a,b,y"] + [f"{i},{2 * i},{i % 2}" for i in range(rows)]
    if bad_cell:
        lines[2] = "1,abc,0"
    path.write_text("\n".join(lines) + "\n")
    return path


async def test_each_data_mistake_is_marked_in_its_field_before_run(tmp_path):
    good = _csv(tmp_path / "small.csv", 320)
    text_cell = _csv(tmp_path / "text.csv", 40, bad_cell=True)
    images = tmp_path / "images.npz"
    np.savez(images, x=np.zeros((120, 1, 6, 6), np.float32), y=np.arange(120) % 3)
    app = SetupTestApp()
    async with app.run_test(size=(120, 40)) as pilot:
        await app.workers.wait_for_complete()
        screen = app.screen
        run = screen.query_one("#setup-run")

        async def read(what: str) -> None:  # the data are read in a thread worker
            await wait_for(pilot, lambda: not any(w.group == "data" and w.is_running for w in app.workers),
                           timeout=20, what=what)
            await pilot.pause()

        await _set(pilot, batch_text="8, 1000000")  # moons 4000 has 3200 training examples
        assert "batch size 1000000 is larger than the training set (3200 examples)" in error_of(screen, "batch_sizes")
        assert run.disabled
        await _set(pilot, batch_text="8, 64")
        assert not run.disabled

        screen.query_one("#f-dataset-kind", Select).value = "mnist"
        await _set(pilot, dataset_path="")
        assert "give the directory holding the mnist IDX files" in error_of(screen, "dataset.path")
        assert row(screen, "dataset.path").has_class("-invalid") and run.disabled
        assert hint_of(screen, "dataset.path") == "directory of the IDX files"

        screen.query_one("#f-dataset-kind", Select).value = "csv:"
        await _set(pilot, dataset_path=str(tmp_path / "missing.csv"))
        assert "missing.csv: no such file" in error_of(screen, "dataset.path")
        assert hint_of(screen, "dataset.path") == "header row, numbers, target last"  # not "IDX directory"

        await _set(pilot, dataset_path=str(text_cell))
        await read("the CSV with a text cell")
        assert "line 3, column 'b': 'abc' is not a number" in error_of(screen, "dataset.path")

        await _set(pilot, dataset_path=str(good), batch_text="8, 1000")
        await read("the good CSV")
        assert error_of(screen, "dataset.path") == ""
        # 320 rows, 64 held out: 256 to train on, said once and plainly.
        assert error_of(screen, "batch_sizes") == ("batch size 1000 is larger than the training set "
                                                   "(256 examples); valid: 1..256 or 'full'")
        await _set(pilot, batch_text="8, 64")
        screen.query_one("#f-model-kind", Select).value = "cnn"
        await pilot.pause()
        assert "npz whose x is (n, c, h, w)" in error_of(screen, "model.kind") and run.disabled

        screen.query_one("#f-dataset-kind", Select).value = "npz:"
        await _set(pilot, dataset_path=str(good))
        assert "is not an .npz archive" in error_of(screen, "dataset.path")
        await _set(pilot, dataset_path=str(images))
        await read("the npz of images")
        assert error_of(screen, "model.kind") == "" and error_of(screen, "dataset.path") == ""  # cnn on 4-D npz
        assert not run.disabled and screen.query_one("#f-dataset-path", Input).placeholder.startswith("arrays x, y")


def test_training_set_sizes_match_the_engine(tmp_path):
    csv = _csv(tmp_path / "rows.csv", 97)
    for cfg in (DatasetConfig(name="moons", n=401, test_fraction=0.3), DatasetConfig(name="digits"),
                DatasetConfig(name=f"csv:{csv}", test_fraction=0.25), DatasetConfig(name=f"csv:{csv}", limit=50)):
        facts = synthetic_facts(cfg) or read_facts(cfg)
        data = load_dataset(cfg, seed=0)
        assert facts.n_train == data.n_train, cfg.name
        assert facts.example_ndim == len(data.input_shape), cfg.name
