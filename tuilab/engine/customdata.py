"""The user's data: a factory's return value (or a Hugging Face set) checked into `Arrays`.

A data factory returns (x, y), (x, y, x_test, y_test) as numpy arrays or tensors,
a map-style Dataset of (x, y) items, or a (train, test) pair of Datasets. Integer
(or bool) labels mean classification, with classes 0..max; float targets mean
regression. Anything else is one UserError naming the factory and what was expected.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from tuilab.engine.datafiles import Arrays
from tuilab.engine.usercode import UserCode, call
from tuilab.errors import UserError
from tuilab.presets import DatasetConfig

EXPECTED = ("(x, y), (x, y, x_test, y_test) of numpy arrays or tensors, a map-style Dataset "
            "of (x, y) items, or a (train, test) pair of Datasets")


def load_custom(cfg: DatasetConfig, code: UserCode) -> Arrays:
    """Call the dataset factory of `cfg` (no arguments) and check what it returns."""
    what = f"dataset.factory {cfg.factory}"
    out = call(code.load(cfg.factory, "dataset.factory"), cfg.factory, "dataset.factory")
    if _is_dataset(out):
        return check_arrays("custom", what, *_materialise(out, cfg.factory))
    if isinstance(out, (tuple, list)) and len(out) == 2 and all(_is_dataset(d) for d in out):
        return check_arrays("custom", what, *_materialise(out[0], cfg.factory), *_materialise(out[1], cfg.factory))
    if isinstance(out, (tuple, list)) and len(out) in (2, 4):
        names = ("x", "y", "x_test", "y_test")
        return check_arrays("custom", what, *(_array(v, n, what) for v, n in zip(out, names, strict=False)))
    raise UserError(f"{what}: returned {_kind(out)}; expected {EXPECTED}")


def _kind(v: Any) -> str:
    if isinstance(v, (tuple, list)):
        return f"a {type(v).__name__} of {len(v)}"
    return f"a {type(v).__name__}"


def _is_dataset(v: Any) -> bool:
    return isinstance(v, torch.utils.data.Dataset) and hasattr(v, "__len__")


def _array(v: Any, name: str, what: str) -> np.ndarray:
    if isinstance(v, torch.Tensor):
        return v.detach().cpu().numpy()
    if isinstance(v, np.ndarray):
        return v
    raise UserError(f"{what}: {name} is {_kind(v)}; expected a numpy array or a torch tensor")


def _materialise(ds: Any, spec: str) -> tuple[np.ndarray, np.ndarray]:
    """Every (x, y) item of a map-style Dataset, stacked (the lab trains from tensors in memory)."""
    what = f"dataset.factory {spec}"
    n = call(len, spec, "dataset.factory (its Dataset's len)", ds)
    if n < 1:
        raise UserError(f"{what}: the Dataset is empty")
    items = call(lambda: [ds[i] for i in range(n)], spec, "dataset.factory (its Dataset's items)")
    xs, ys = [], []
    for i, item in enumerate(items):
        if not (isinstance(item, (tuple, list)) and len(item) == 2):
            raise UserError(f"{what}: Dataset item {i} is {_kind(item)}; expected an (x, y) pair")
        xs.append(np.asarray(item[0].detach().cpu() if isinstance(item[0], torch.Tensor) else item[0]))
        ys.append(np.asarray(item[1].detach().cpu() if isinstance(item[1], torch.Tensor) else item[1]))
    shapes = {a.shape for a in xs}
    if len(shapes) > 1:
        raise UserError(f"{what}: Dataset items have inputs of different shapes ({', '.join(map(str, sorted(shapes)[:3]))}); "
                        "they must all have one shape")
    return np.stack(xs), np.stack(ys)


def check_arrays(name: str, what: str, x: np.ndarray, y: np.ndarray,
                 x_test: np.ndarray | None = None, y_test: np.ndarray | None = None,
                 n_classes: int | None = None) -> Arrays:
    """Shapes, types and finiteness of a user's arrays, and the task their labels mean."""
    pairs = [("x", "y", x, y)] + ([("x_test", "y_test", x_test, y_test)] if x_test is not None else [])
    for kx, ky, a, b in pairs:
        for k, v in ((kx, a), (ky, b)):
            if not (np.issubdtype(v.dtype, np.number) or v.dtype == bool) or v.ndim == 0:
                raise UserError(f"{what}: {k} is {v.dtype} of shape {v.shape}; expected numbers, one row per example")
        if len(a) != len(b):
            raise UserError(f"{what}: {kx} has {len(a)} rows but {ky} has {len(b)}; give one label per example")
        if not np.isfinite(a).all():
            raise UserError(f"{what}: {kx} has NaN or infinite values")
    if x.ndim == 1:
        x, x_test = x[:, None], (None if x_test is None else x_test.reshape(-1, 1))
    if x_test is not None and x_test.shape[1:] != x.shape[1:]:
        raise UserError(f"{what}: x_test rows have shape {x_test.shape[1:]} but x rows have {x.shape[1:]}")
    labels = [y] + ([y_test] if y_test is not None else [])
    if all(np.issubdtype(v.dtype, np.integer) or v.dtype == bool for v in labels):
        if any(v.ndim != 1 for v in labels):
            raise UserError(f"{what}: integer labels must have shape (n,), found {y.shape}")
        low, high = min(int(v.min()) for v in labels), max(int(v.max()) for v in labels)
        if low < 0:
            raise UserError(f"{what}: labels must be 0, 1, ... (class indices), found {low}")
        k = n_classes or high + 1
        if k < 2:
            raise UserError(f"{what}: every label is {high}; classification needs at least 2 classes "
                            "(float targets mean regression)")
        labels = [v.astype(np.int64) for v in labels]
    else:
        fixed = []
        for v in labels:
            if v.ndim not in (1, 2) or not np.isfinite(v).all():
                raise UserError(f"{what}: float targets (regression) must be finite, of shape (n,) or (n, k); "
                                f"found shape {v.shape}" + ("" if np.isfinite(v).all() else " with NaN or inf"))
            fixed.append((v[:, None] if v.ndim == 1 else v).astype(np.float32))
        if len(fixed) == 2 and fixed[0].shape[1] != fixed[1].shape[1]:
            raise UserError(f"{what}: y_test has {fixed[1].shape[1]} target columns, y has {fixed[0].shape[1]}")
        labels, k = fixed, 0
    return Arrays(name, x.astype(np.float32), labels[0], k,
                  None if x_test is None else x_test.astype(np.float32),
                  labels[1] if len(labels) > 1 else None)
