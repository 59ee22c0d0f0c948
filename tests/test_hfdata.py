"""Hugging Face data sets from save_to_disk: images to [0, 1] channels first, labels, splits; no download."""

from __future__ import annotations

import builtins

import numpy as np
import pytest

from tuilab.engine.data import load_dataset
from tuilab.errors import UserError
from tuilab.presets import DatasetConfig

datasets = pytest.importorskip("datasets")
Image = pytest.importorskip("PIL.Image")


@pytest.fixture(scope="module")
def image_set(tmp_path_factory):
    """12 train and 4 test RGB images, 6x5 pixels, 3 classes, saved as a DatasetDict."""
    g = np.random.default_rng(0)
    pixels = g.integers(0, 256, (16, 6, 5, 3), dtype=np.uint8)
    features = datasets.Features({"img": datasets.Image(), "label": datasets.ClassLabel(num_classes=3)})
    ds = datasets.Dataset.from_dict({"img": [Image.fromarray(p) for p in pixels], "label": [i % 3 for i in range(16)]},
                                    features=features)
    path = tmp_path_factory.mktemp("hf") / "pics"
    datasets.DatasetDict({"train": ds.select(range(12)), "test": ds.select(range(12, 16))}).save_to_disk(str(path))
    return path, pixels


def test_images_become_floats_in_0_1_channels_first_with_the_test_split(image_set):
    path, pixels = image_set
    data = load_dataset(DatasetConfig(name=f"hf:{path}"), seed=0)
    assert (data.n_train, data.n_test, data.input_shape, data.n_classes) == (12, 4, (3, 6, 5), 3)
    # The train split is used whole, in its order, so row i is image i.
    assert np.allclose(data.x_train.numpy(), pixels[:12].transpose(0, 3, 1, 2) / 255.0)
    assert data.y_train.tolist() == [i % 3 for i in range(12)] and data.task == "classification"


def test_a_tabular_single_split_is_split_by_test_fraction(tmp_path):
    g = np.random.default_rng(1)
    ds = datasets.Dataset.from_dict({"a": g.normal(size=50), "b": g.normal(size=50), "price": g.normal(size=50)})
    ds.save_to_disk(str(tmp_path / "tab"))
    data = load_dataset(DatasetConfig(name=f"hf:{tmp_path / 'tab'}", label="price", test_fraction=0.2), seed=0)
    assert (data.n_train, data.n_test, data.input_shape, data.task) == (40, 10, (2,), "regression")


@pytest.mark.parametrize(("cfg", "message"), [
    ({"split": "validation"}, r"no split 'validation'; it has train, test"),
    ({"label": "colour"}, r"no label column 'colour'; set dataset.label to one of img, label"),
    ({"features": ["pixels"]}, r"no input column pixels; set dataset.features"),
])
def test_wrong_names_say_what_there_is(image_set, cfg, message):
    with pytest.raises(UserError, match=message):
        load_dataset(DatasetConfig(name=f"hf:{image_set[0]}", **cfg), seed=0)


def test_without_the_extra_or_offline_one_line_says_what_to_do(monkeypatch):
    real_import = builtins.__import__

    def no_datasets(name, *args, **kwargs):
        if name == "datasets":
            raise ImportError("No module named 'datasets'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_datasets)
    with pytest.raises(UserError, match=r"dataset hf:mnist: needs the Hugging Face datasets library; "
                                        r"install it with pip install 'tuilab\[hf\]'"):
        load_dataset(DatasetConfig(name="hf:mnist"), seed=0)
    monkeypatch.setattr(builtins, "__import__", real_import)

    def offline(*a, **kw):
        raise ConnectionError("Couldn't reach 'someone/tiny' on the Hub (LocalEntryNotFoundError)")

    monkeypatch.setattr(datasets, "load_dataset", offline)
    with pytest.raises(UserError, match=r"cannot load it \(ConnectionError: Couldn't reach .*\); check the name, "
                                        r"or load it once with network access"):
        load_dataset(DatasetConfig(name="hf:someone/tiny"), seed=0)
