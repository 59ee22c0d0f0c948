"""Real and file-based datasets: digits, MNIST-style IDX files, CSV and npz.

Each loader returns numpy `Arrays`; `tuilab.engine.data` splits them and makes
tensors. Everything a user can get wrong here (a path, a damaged file, a text
cell in a CSV) becomes a `UserError` that names the file and what is valid.
"""

from __future__ import annotations

import csv
import gzip
import struct
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tuilab.errors import UserError
from tuilab.presets import IDX_DATASETS, DatasetConfig

MAX_CLASSES = 100  # an all-integer target with more distinct values than this is a regression
IDX_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte",
             "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
# IDX type codes (the third byte of the magic number) and their big-endian dtypes.
_IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


@dataclass
class Arrays:
    """x float32 (n, *shape); y int64 (n,) labels 0..k-1, or float32 (n, width) targets."""

    name: str
    x: np.ndarray
    y: np.ndarray
    n_classes: int  # 0 for regression
    x_test: np.ndarray | None = None  # None: the caller splits by test_fraction
    y_test: np.ndarray | None = None


def load_arrays(cfg: DatasetConfig) -> Arrays:
    """Read the real or file-based dataset that `cfg.name` names."""
    if cfg.name == "digits":
        return _digits()
    if cfg.name in IDX_DATASETS:
        return _mnist(cfg)
    if cfg.name.startswith("csv:"):
        return _csv(_existing(cfg.name[4:], "csv"))
    if cfg.name.startswith("npz:"):
        return _npz(_existing(cfg.name[4:], "npz"))
    raise UserError(f"unknown dataset {cfg.name!r}")


def _existing(path: str, kind: str) -> Path:
    p = Path(path).expanduser()
    if not p.is_file():
        raise UserError(f"dataset {kind}:{path}: no such file; give the path of a {kind} file")
    return p


def _digits() -> Arrays:
    from sklearn.datasets import load_digits  # bundled with scikit-learn: no download

    d = load_digits()
    x = (d.images / 16.0).astype(np.float32)[:, None]  # pixels are 0..16; (n, 1, 8, 8)
    return Arrays("digits", x, d.target.astype(np.int64), 10)


def read_idx(path: Path) -> np.ndarray:
    """Parse one IDX file (optionally gzipped) into an array of the shape its header gives."""
    try:
        raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    except (OSError, EOFError, gzip.BadGzipFile) as e:
        raise UserError(f"{path}: cannot read this IDX file ({e})") from None
    if len(raw) < 4 or raw[:2] != b"\0\0" or raw[2] not in _IDX_DTYPES:
        raise UserError(f"{path}: not an IDX file (bad magic number {raw[:4].hex() or 'none'}); "
                        "expected 0000 then a type byte and the number of dimensions")
    ndim, header = raw[3], 4 + 4 * raw[3]
    if len(raw) < header:
        raise UserError(f"{path}: damaged IDX file: truncated inside the header")
    dims = struct.unpack(f">{ndim}I", raw[4:header])
    dtype = np.dtype(_IDX_DTYPES[raw[2]])
    count = int(np.prod(dims))
    if len(raw) - header != count * dtype.itemsize:
        raise UserError(f"{path}: damaged IDX file: the header says {'x'.join(map(str, dims))} "
                        f"values ({count * dtype.itemsize} bytes) but it holds {len(raw) - header}")
    return np.frombuffer(raw, dtype, count=count, offset=header).reshape(dims)


def _idx_path(directory: Path, stem: str, name: str) -> Path:
    for candidate in (directory / stem, directory / f"{stem}.gz"):
        if candidate.is_file():
            return candidate
    raise UserError(f"dataset.path: {directory} has no {stem}[.gz]; {name} needs "
                    f"{', '.join(IDX_FILES)} (each optionally .gz)")


def _mnist(cfg: DatasetConfig) -> Arrays:
    if not cfg.path:
        raise UserError("dataset.path: give the directory holding the MNIST IDX files "
                        "(train-images-idx3-ubyte[.gz], train-labels-idx1-ubyte[.gz], "
                        "t10k-images-idx3-ubyte[.gz], t10k-labels-idx1-ubyte[.gz])")
    directory = Path(cfg.path).expanduser()
    if not directory.is_dir():
        raise UserError(f"dataset.path: {directory} is not a directory; give the directory "
                        f"holding the {cfg.name} IDX files ({IDX_FILES[0]}[.gz], ...)")
    parts = [_idx_path(directory, stem, cfg.name) for stem in IDX_FILES]
    x, y, x_test, y_test = (read_idx(p) for p in parts)
    for images, labels, img_path, lab_path in ((x, y, parts[0], parts[1]),
                                               (x_test, y_test, parts[2], parts[3])):
        if images.ndim != 3 or images.dtype != np.uint8:
            raise UserError(f"{img_path}: expected unsigned-byte images (n x height x width), "
                            f"found {images.dtype} of shape {images.shape}")
        if labels.ndim != 1 or len(labels) != len(images):
            raise UserError(f"{lab_path}: expected {len(images)} labels (one per image in "
                            f"{img_path.name}), found shape {labels.shape}")
        if labels.size and labels.max() > 9:
            raise UserError(f"{lab_path}: labels must be 0..9, found {labels.max()}")

    def scale(images: np.ndarray) -> np.ndarray:
        return (images.astype(np.float32) / 255.0)[:, None]  # (n, 1, H, W) in [0, 1]

    return Arrays(cfg.name, scale(x), y.astype(np.int64), 10,
                  scale(x_test), y_test.astype(np.int64))


def _csv(path: Path) -> Arrays:
    try:
        with path.open(newline="", encoding="utf-8-sig") as f:
            table = list(csv.reader(f))
    except UnicodeDecodeError:
        raise UserError(f"{path}: not UTF-8 text; expected a numeric CSV with a header row") from None
    if not table or len(table[0]) < 2:
        raise UserError(f"{path}: expected a header row with at least two columns "
                        "(features, then the target last)")
    header, rows = table[0], []
    for line, row in enumerate(table[1:], start=2):
        if not row:
            continue  # blank line
        if len(row) != len(header):
            raise UserError(f"{path}: line {line} has {len(row)} cells; the header has {len(header)}")
        try:
            rows.append([float(cell) for cell in row])
        except ValueError:
            col = next(j for j, c in enumerate(row) if not _is_number(c))
            raise UserError(f"{path}: line {line}, column {header[col]!r}: {row[col]!r} is not "
                            "a number; every cell below the header must be numeric") from None
    a = np.array(rows, dtype=np.float64).reshape(-1, len(header))
    if not np.isfinite(a).all():
        line, col = np.argwhere(~np.isfinite(a))[0]
        raise UserError(f"{path}: line {line + 2}, column {header[col]!r}: values must be finite")
    y, n_classes = encode_targets(a[:, -1], str(path))
    return Arrays(path.name, a[:, :-1].astype(np.float32), y, n_classes)


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def _npz(path: Path) -> Arrays:
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in ("x", "y", "x_test", "y_test") if k in z.files}
            found = z.files
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, AttributeError):
        # AttributeError: np.load of a plain .npy returns an array, not an archive.
        # numpy's own messages (about pickles, say) would mislead, so say what is wanted.
        raise UserError(f"{path}: cannot read as an .npz archive; write one with "
                        "numpy.savez(path, x=..., y=...)") from None
    valid = "an npz dataset needs arrays 'x' and 'y' (optionally 'x_test' and 'y_test')"
    if "x" not in arrays or "y" not in arrays:
        raise UserError(f"{path}: {valid}; found {', '.join(found) or 'no arrays'}")
    if ("x_test" in arrays) != ("y_test" in arrays):
        raise UserError(f"{path}: give both 'x_test' and 'y_test' or neither")
    for k, v in arrays.items():
        if not (np.issubdtype(v.dtype, np.number) or v.dtype == bool):
            raise UserError(f"{path}: array {k!r} is {v.dtype}; it must be numeric")
        if k.startswith("x") and not np.isfinite(v).all():
            raise UserError(f"{path}: array {k!r} has NaN or infinite values")
    x, y = arrays["x"], arrays["y"]
    x_test, y_test = arrays.get("x_test"), arrays.get("y_test")
    pairs = [("x", "y")] + ([("x_test", "y_test")] if x_test is not None else [])
    for kx, ky in pairs:
        if 0 in (arrays[kx].ndim, arrays[ky].ndim) or len(arrays[kx]) != len(arrays[ky]):
            raise UserError(f"{path}: {kx} and {ky} must have the same number of rows, "
                            f"found shapes {arrays[kx].shape} and {arrays[ky].shape}")
    if x.ndim == 1:
        x, x_test = x[:, None], (None if x_test is None else x_test.reshape(-1, 1))
    if x_test is not None and x_test.shape[1:] != x.shape[1:]:
        raise UserError(f"{path}: x_test rows are {x_test.shape[1:]}, x rows are {x.shape[1:]}")
    y_all = y if y_test is None else np.concatenate([y, y_test])
    y_all, n_classes = encode_targets(y_all, str(path))
    y, y_test = y_all[: len(y)], (None if y_test is None else y_all[len(y):])
    return Arrays(path.name, x.astype(np.float32), y, n_classes,
                  None if x_test is None else x_test.astype(np.float32), y_test)


def encode_targets(y: np.ndarray, source: str) -> tuple[np.ndarray, int]:
    """(targets, n_classes): labels remapped to 0..k-1 for classification, else float32 (n, w).

    A 1-D target is a class label when it is of an integer (or bool) type, or when
    every value is a whole number and there are at most MAX_CLASSES of them.
    """
    if y.ndim == 1:
        integral = np.issubdtype(y.dtype, np.integer) or y.dtype == bool
        if not integral and np.isfinite(y).all() and (y == np.round(y)).all():
            integral = len(np.unique(y)) <= MAX_CLASSES
        if integral:
            values, labels = np.unique(y, return_inverse=True)
            if len(values) < 2:
                raise UserError(f"{source}: the target has a single value ({values[0]}); "
                                "classification needs at least 2 classes")
            return labels.astype(np.int64), len(values)
        y = y[:, None]
    if y.ndim != 2 or not np.isfinite(y).all():
        raise UserError(f"{source}: targets must be finite numbers of shape (n,) or (n, k), "
                        f"found shape {y.shape}")
    return y.astype(np.float32), 0
