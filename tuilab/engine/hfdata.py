"""Hugging Face data sets: `hf:NAME` (the hub, through its cache) or `hf:PATH` (save_to_disk).

Needs the optional extra (`pip install 'tuilab[hf]'`: datasets and Pillow). Image
columns become float arrays in [0, 1], channels first; class labels stay class
indices. The arrays then go through the same checks as a custom factory's.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tuilab.engine.customdata import check_arrays
from tuilab.engine.datafiles import Arrays
from tuilab.engine.usercode import last_line
from tuilab.errors import UserError
from tuilab.presets import DatasetConfig

IMAGE_COLUMNS = ("image", "img", "pixel_values")
LABEL_COLUMNS = ("label", "labels", "target", "y")


def load_hf(cfg: DatasetConfig) -> Arrays:
    """The split(s) `cfg` names as checked arrays; every problem is one UserError."""
    ref = cfg.name[3:]
    what = f"dataset {cfg.name}"
    try:
        import datasets
    except ImportError:
        raise UserError(f"{what}: needs the Hugging Face datasets library; install it with "
                        "pip install 'tuilab[hf]'") from None
    try:
        if Path(ref).expanduser().exists():
            ds = datasets.load_from_disk(str(Path(ref).expanduser()))
        else:
            ds = datasets.load_dataset(ref)
    except Exception as e:
        raise UserError(f"{what}: cannot load it ({last_line(e)}); check the name, or load it once with "
                        "network access (it is then cached), or give a folder written by save_to_disk") from None
    if isinstance(ds, datasets.DatasetDict):
        splits = list(ds)
        for s in filter(None, (cfg.split, cfg.test_split)):
            if s not in ds:
                raise UserError(f"{what}: no split {s!r}; it has {', '.join(splits)}")
        test_name = cfg.test_split or ("test" if "test" in ds and cfg.split != "test" else None)
        train, test = ds[cfg.split], (ds[test_name] if test_name else None)
    else:
        if cfg.test_split:
            raise UserError(f"{what}: it is a single split, so test_split does not apply; leave it out "
                            "(test_fraction holds out examples)")
        train, test = ds, None
    features, label, n_classes = _columns(cfg, train, what)
    x, y = _arrays(train, features, label, what, datasets)
    x_test, y_test = _arrays(test, features, label, what, datasets) if test is not None else (None, None)
    return check_arrays(ref, what, x, y, x_test, y_test, n_classes)


def _columns(cfg: DatasetConfig, ds, what: str) -> tuple[list[str], str, int | None]:
    import datasets

    cols = ds.column_names
    label = cfg.label or next((c for c in LABEL_COLUMNS if c in cols), None)
    if label is None or label not in cols:
        raise UserError(f"{what}: no label column {label or ''!r}; set dataset.label to one of {', '.join(cols)}")
    features = cfg.features or [next((c for c in IMAGE_COLUMNS if c in cols), None)]
    if features == [None]:
        features = [c for c, f in ds.features.items() if c != label and isinstance(f, datasets.Value)
                    and f.dtype.startswith(("int", "uint", "float", "bool"))]
    missing = [c for c in features if c not in cols]
    if missing or not features:
        raise UserError(f"{what}: no input column {', '.join(missing) or ''}; set dataset.features to "
                        f"column names from {', '.join(cols)}")
    kind = ds.features[label]
    return features, label, kind.num_classes if isinstance(kind, datasets.ClassLabel) else None


def _arrays(ds, features: list[str], label: str, what: str, datasets) -> tuple[np.ndarray, np.ndarray]:
    try:
        table = ds.with_format("numpy")[:]
    except Exception as e:  # images of different sizes, Pillow missing, a damaged file ...
        raise UserError(f"{what}: cannot read its columns as arrays ({last_line(e)})") from None
    parts = []
    for c in features:
        a = np.asarray(table[c])
        if a.dtype == object:
            raise UserError(f"{what}: column {c!r} holds items of different shapes; every example's "
                            "input must have one shape")
        if isinstance(ds.features[c], datasets.Image):
            a = a.astype(np.float32) / 255.0  # pixels 0..255 -> [0, 1]
            a = a[:, None] if a.ndim == 3 else a.transpose(0, 3, 1, 2)  # channels first
        parts.append(a if len(features) == 1 else a.reshape(len(a), -1))
    x = parts[0] if len(parts) == 1 else np.concatenate(parts, axis=1)
    return x, np.asarray(table[label])
