"""Datasets: shapes, determinism, the truths behind synthetic sets, and file formats."""

from __future__ import annotations

import gzip
import struct
import time

import numpy as np
import pytest
import torch

from tuilab.engine.data import load_dataset
from tuilab.errors import UserError
from tuilab.presets import SYNTHETIC_DATASETS, DatasetConfig

SYNTHETIC = list(SYNTHETIC_DATASETS)


def load(name: str, seed: int = 0, **kw):
    return load_dataset(DatasetConfig(name=name, **kw), seed)


@pytest.mark.parametrize("name", SYNTHETIC)
def test_synthetic_shapes_and_types(name):
    d = load(name, n=500, test_fraction=0.2, dim=5, classes=4)
    assert (d.n_train, d.n_test) == (400, 100)
    assert d.x_train.dtype == d.x_test.dtype == torch.float32
    assert d.x_train.shape[1:] == d.input_shape
    assert torch.isfinite(d.x_train).all()
    if name == "linreg":
        assert d.task == "regression" and d.n_classes == 0 and d.out_dim == 1
        assert d.y_train.dtype == torch.float32 and d.y_train.shape == (400, 1)
    else:
        assert d.task == "classification" and d.out_dim == d.n_classes
        assert d.y_train.dtype == torch.int64 and d.y_train.shape == (400,)
        assert set(d.y_train.tolist()) == set(range(d.n_classes))
    assert d.description.startswith(f"{name} 500")


@pytest.mark.parametrize("name", SYNTHETIC + ["digits"])
def test_same_seed_same_tensors_other_seed_other_split(name):
    a, b, c = load(name, n=300), load(name, n=300), load(name, seed=1, n=300)
    for field in ("x_train", "y_train", "x_test", "y_test"):
        assert torch.equal(getattr(a, field), getattr(b, field))
    assert not torch.equal(a.x_train, c.x_train)


def test_linreg_least_squares_recovers_w_true():
    d = load("linreg", n=5000, dim=8, noise=0.1)
    w_hat = torch.linalg.lstsq(d.x_train, d.y_train).solution
    assert d.extra["w_true"].shape == (8, 1)
    assert torch.allclose(w_hat, d.extra["w_true"], atol=0.01)
    residual = d.y_test - d.x_test @ d.extra["w_true"]
    assert residual.std().item() == pytest.approx(0.1, rel=0.1)


def test_teacher_label_noise_replaces_the_expected_share():
    clean, noisy = load("teacher", n=20000, noise=0.0), load("teacher", n=20000, noise=0.5)
    assert torch.equal(clean.x_train, noisy.x_train)  # noise changes labels only
    # A replaced label is uniform over k classes, so it still agrees 1/k of the time.
    agree = (clean.y_train == noisy.y_train).float().mean().item()
    assert agree == pytest.approx(1 - 0.5 * (1 - 1 / 3), abs=0.02)
    w1, w2 = clean.extra["teacher_w1"], clean.extra["teacher_w2"]
    assert torch.equal((torch.tanh(clean.x_train @ w1) @ w2).argmax(1), clean.y_train)


def test_teacher_a_million_examples_is_quick():
    start = time.perf_counter()
    d = load("teacher", n=1_000_000, dim=32, classes=10, test_fraction=0.1)
    assert d.n_train == 900_000 and time.perf_counter() - start < 5.0


def test_synthetic_too_large_is_a_user_error():
    with pytest.raises(UserError, match="too many"):
        load("teacher", n=10_000_000, dim=1000)


def test_digits_are_small_images_in_unit_range():
    d = load("digits", test_fraction=0.25, limit=500)
    assert d.input_shape == (1, 8, 8) and d.n_classes == 10 and d.n_train == 500
    assert d.n_test == round(1797 * 0.25)
    assert 0.0 <= d.x_train.min() and d.x_train.max() <= 1.0
    assert d.description == "digits 500"


# --- MNIST-style IDX files ---------------------------------------------------

def idx_bytes(a: np.ndarray) -> bytes:
    return struct.pack(">BBBB", 0, 0, 0x08, a.ndim) + struct.pack(f">{a.ndim}I", *a.shape) + a.tobytes()


def write_mnist(directory, n_train=30, n_test=10, gz=False, side=28):
    rng = np.random.default_rng(0)
    files = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (n_train, side, side), dtype=np.uint8),
        "train-labels-idx1-ubyte": (np.arange(n_train) % 10).astype(np.uint8),
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (n_test, side, side), dtype=np.uint8),
        "t10k-labels-idx1-ubyte": (np.arange(n_test) % 10).astype(np.uint8),
    }
    for name, a in files.items():
        if gz:
            (directory / f"{name}.gz").write_bytes(gzip.compress(idx_bytes(a)))
        else:
            (directory / name).write_bytes(idx_bytes(a))
    return files


@pytest.mark.parametrize("gz", [False, True])
def test_mnist_reads_idx_files_with_the_official_split(tmp_path, gz):
    files = write_mnist(tmp_path, gz=gz)
    d = load("fashion-mnist", path=str(tmp_path))
    assert (d.n_train, d.n_test, d.input_shape, d.n_classes) == (30, 10, (1, 28, 28), 10)
    assert torch.equal(d.x_test[:, 0], torch.from_numpy(files["t10k-images-idx3-ubyte"] / 255.0).float())
    assert d.y_test.tolist() == files["t10k-labels-idx1-ubyte"].tolist()
    assert d.description == "fashion-mnist 30"


def test_mnist_limit_caps_training_rows(tmp_path):
    write_mnist(tmp_path, n_train=50)
    d = load("mnist", path=str(tmp_path), limit=20)
    assert d.n_train == 20 and d.n_test == 10 and d.description == "mnist 20"


def test_mnist_without_path_says_what_to_give():
    with pytest.raises(UserError, match=r"dataset.path: give the directory holding the MNIST IDX files \(train-images-idx3-ubyte\[.gz\]"):
        load("mnist")


def test_mnist_path_not_a_directory(tmp_path):
    with pytest.raises(UserError, match="is not a directory"):
        load("mnist", path=str(tmp_path / "nowhere"))


def test_mnist_missing_file_names_it(tmp_path):
    write_mnist(tmp_path)
    (tmp_path / "t10k-labels-idx1-ubyte").unlink()
    with pytest.raises(UserError, match=r"has no t10k-labels-idx1-ubyte\[.gz\]"):
        load("mnist", path=str(tmp_path))


@pytest.mark.parametrize("damage, message", [
    (lambda b: b"\x08\x03" + b[2:], "bad magic number"),
    (lambda b: b[:6], "truncated inside the header"),
    (lambda b: b[:-5], "damaged IDX file: the header says 30x28x28"),
])
def test_damaged_idx_file_is_a_user_error(tmp_path, damage, message):
    write_mnist(tmp_path)
    path = tmp_path / "train-images-idx3-ubyte"
    path.write_bytes(damage(path.read_bytes()))
    with pytest.raises(UserError, match=message):
        load("mnist", path=str(tmp_path))


def test_cut_off_gzip_is_a_user_error(tmp_path):
    write_mnist(tmp_path, gz=True)
    path = tmp_path / "t10k-images-idx3-ubyte.gz"
    path.write_bytes(path.read_bytes()[:40])
    with pytest.raises(UserError, match="t10k-images-idx3-ubyte.gz: cannot read this IDX file"):
        load("mnist", path=str(tmp_path))


def test_mnist_label_count_must_match_images(tmp_path):
    write_mnist(tmp_path)
    (tmp_path / "train-labels-idx1-ubyte").write_bytes(idx_bytes(np.zeros(29, np.uint8)))
    with pytest.raises(UserError, match="expected 30 labels"):
        load("mnist", path=str(tmp_path))


# --- CSV and npz ---------------------------------------------------------------

def test_csv_integer_target_is_classification_remapped(tmp_path):
    rows = "\n".join(f"{i * 0.1},{-i},{3 if i % 2 else 7}" for i in range(20))
    (tmp_path / "d.csv").write_text(f"a,b,label\n{rows}\n")
    d = load(f"csv:{tmp_path / 'd.csv'}", test_fraction=0.25)
    assert d.task == "classification" and d.n_classes == 2 and d.input_shape == (2,)
    assert (d.n_train, d.n_test) == (15, 5)
    assert set(d.y_train.tolist()) | set(d.y_test.tolist()) == {0, 1}
    assert d.description == "d.csv 15"


def test_csv_real_target_is_regression(tmp_path):
    rows = "\n".join(f"{i},{i * 0.5 + 0.25}" for i in range(10))
    (tmp_path / "r.csv").write_text(f"x,y\n{rows}\n")
    d = load(f"csv:{tmp_path / 'r.csv'}")
    assert d.task == "regression" and d.out_dim == 1 and d.y_train.shape == (8, 1)
    assert torch.allclose(d.y_train[:, 0], d.x_train[:, 0] * 0.5 + 0.25)


def test_csv_non_numeric_cell_names_line_and_column(tmp_path):
    (tmp_path / "bad.csv").write_text("a,b,y\n1,2,0\n3,oops,1\n")
    with pytest.raises(UserError, match=r"bad.csv: line 3, column 'b': 'oops' is not a number"):
        load(f"csv:{tmp_path / 'bad.csv'}")


@pytest.mark.parametrize("text, message", [
    ("", "header row with at least two columns"),
    ("a,b\n1,2\n3\n", "line 3 has 1 cells"),
    ("a,b\n1,nan\n2,1\n", "line 2, column 'b': values must be finite"),
    ("a,y\n1,5\n2,5\n3,5\n", "single value"),
    ("a,y\n1,0\n2,1\n", "1 training example"),
])
def test_csv_problems_are_user_errors(tmp_path, text, message):
    (tmp_path / "p.csv").write_text(text)
    with pytest.raises(UserError, match=message):
        load(f"csv:{tmp_path / 'p.csv'}")


def test_missing_file_is_a_user_error(tmp_path):
    for kind in ("csv", "npz"):
        with pytest.raises(UserError, match=f"{kind}:.*no such file"):
            load(f"{kind}:{tmp_path / 'missing'}")


def test_npz_split_by_test_fraction(tmp_path):
    x = np.random.default_rng(0).normal(size=(40, 3, 4))
    np.savez(tmp_path / "d.npz", x=x, y=np.arange(40) % 4)
    d = load(f"npz:{tmp_path / 'd.npz'}", test_fraction=0.25)
    assert d.input_shape == (3, 4) and d.n_classes == 4 and (d.n_train, d.n_test) == (30, 10)
    assert d.x_train.dtype == torch.float32


def test_npz_with_its_own_test_set_and_2d_regression_targets(tmp_path):
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "d.npz", x=rng.normal(size=(20, 5)), y=rng.normal(size=(20, 2)),
             x_test=rng.normal(size=(6, 5)), y_test=rng.normal(size=(6, 2)))
    d = load(f"npz:{tmp_path / 'd.npz'}")
    assert d.task == "regression" and d.out_dim == 2 and (d.n_train, d.n_test) == (20, 6)


@pytest.mark.parametrize("arrays, message", [
    ({"x": np.zeros((5, 2))}, "needs arrays 'x' and 'y'.*found x"),
    ({"x": np.zeros((5, 2)), "y": np.zeros(4)}, "same number of rows"),
    ({"x": np.zeros((5, 2)), "y": np.arange(5), "x_test": np.zeros((2, 2))}, "both"),
    ({"x": np.zeros((5, 2)), "y": np.arange(5), "x_test": np.zeros((2, 3)), "y_test": np.arange(2)}, "x_test rows"),
    ({"x": np.array(["a"] * 5), "y": np.arange(5)}, "must be numeric"),
])
def test_npz_problems_are_user_errors(tmp_path, arrays, message):
    np.savez(tmp_path / "d.npz", **arrays)
    with pytest.raises(UserError, match=message):
        load(f"npz:{tmp_path / 'd.npz'}")


def test_npz_that_is_not_an_archive(tmp_path):
    (tmp_path / "d.npz").write_text("hello")
    with pytest.raises(UserError, match="cannot read as an .npz"):
        load(f"npz:{tmp_path / 'd.npz'}")


def test_data_lands_on_the_requested_device():
    d = load_dataset(DatasetConfig(name="linreg", n=50), 0, device=torch.device("cpu"))
    assert d.x_train.device.type == d.y_test.device.type == d.extra["w_true"].device.type == "cpu"
