"""Checks of the data set the Setup form names, where it is typed, as the numeric fields are.

A path is checked at once, from a stat and a few bytes. Reading the data (the
engine's own loader: numpy, no torch) runs in a thread worker of the screen and
gives the training-set size and the shape of an example, against which the batch
sizes and the model are then checked. Data sets of user code (custom, hf:) are
left to the run, which checks them before it trains.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from tuilab.errors import UserError
from tuilab.preset_sections import test_size
from tuilab.presets import (
    CNN_INPUT,
    FILE_DATASETS,
    IDX_DATASETS,
    SYNTHETIC_DATASETS,
    DatasetConfig,
    parse_batch_sizes,
)

PATH_HINTS = {
    "csv:": "header row, numbers, target last",
    "npz:": "arrays x, y (x_test, y_test)",
    "mnist": "directory of the IDX files",
    "fashion-mnist": "directory of the IDX files",
}
READ_BY_THE_ENGINE = ("digits",) + IDX_DATASETS  # besides csv: and npz: files


@dataclass(frozen=True)
class DataFacts:
    """What the checks need to know of a data set."""

    n_train: int  # training examples, after the test split and the limit
    example_ndim: int  # 1: a vector; 3: an image (channels, height, width)


def train_size(n: int, test_fraction: float, limit: int | None) -> int:
    """Training examples of n once test_fraction are held out, as engine/data.py splits, then limited."""
    n_train = n - test_size(n, test_fraction)
    return n_train if limit is None else min(n_train, limit)


def path_problem(cfg: DatasetConfig) -> str | None:
    """Why the file or IDX directory the data set names cannot be right, or None (or not a file set)."""
    kind = next((k for k in FILE_DATASETS if cfg.name.startswith(k)), None)
    if kind is not None:
        return _file_problem(cfg.name[len(kind):], kind[:-1])
    if cfg.name in IDX_DATASETS:
        if not cfg.path:
            return f"give the directory holding the {cfg.name} IDX files (train-images-idx3-ubyte[.gz], ...)"
        if not Path(cfg.path).expanduser().is_dir():
            return f"{cfg.path}: no such directory; give the one holding the {cfg.name} IDX files"
    return None


def _file_problem(path: str, kind: str) -> str | None:
    p = Path(path).expanduser()
    if not p.exists():
        return f"{path}: no such file; give the path of a {kind} file"
    if not p.is_file():
        return f"{path} is not a file; give the path of a {kind} file"
    try:
        with p.open("rb") as f:
            head = f.read(512)
    except OSError as e:
        return f"{path}: cannot read it ({e.strerror})"
    is_zip = head.startswith(b"PK")  # an .npz is a zip archive
    if kind == "npz" and not is_zip:
        return f"{path} is not an .npz archive; numpy.savez(path, x=..., y=...) writes one"
    if kind == "csv" and (is_zip or b"\0" in head):
        return f"{path} is not a text file; a CSV has a header row, then numbers, the target last"
    return None


def probe_key(cfg: DatasetConfig) -> tuple | None:
    """What a reading of the data depends on (the file's size and time included); None: nothing to read."""
    if cfg.name.startswith(FILE_DATASETS):
        try:
            st = os.stat(Path(cfg.name[4:]).expanduser())
        except OSError:  # gone since path_problem looked: the next check says so
            return None
        return cfg.name, cfg.test_fraction, cfg.limit, st.st_size, st.st_mtime_ns
    if cfg.name in READ_BY_THE_ENGINE:
        return cfg.name, cfg.path, cfg.test_fraction, cfg.limit
    return None


def synthetic_facts(cfg: DatasetConfig) -> DataFacts | None:
    """The facts of a generated data set, without generating it; None for any other."""
    if cfg.name not in SYNTHETIC_DATASETS:
        return None
    return DataFacts(train_size(cfg.n, cfg.test_fraction, None), 1)


def read_facts(cfg: DatasetConfig) -> DataFacts:
    """Read the data set as the engine will (in a thread: it can take seconds); UserError if it cannot."""
    from tuilab.engine.datafiles import load_arrays  # numpy: only ever in the worker

    arr = load_arrays(cfg)
    n_train = len(arr.x) if arr.x_test is not None else train_size(len(arr.x), cfg.test_fraction, None)
    if cfg.limit is not None:
        n_train = min(n_train, cfg.limit)
    return DataFacts(n_train, max(1, arr.x.ndim - 1))


def fit_problems(facts: DataFacts, batch_text: str, model_kind: str) -> dict[str, str]:
    """The batch sizes and the model, against the data: {field key: message}."""
    problems = {}
    try:
        sizes = parse_batch_sizes(batch_text)
    except UserError:
        sizes = []  # the batch field shows its own message
    too_big = [b for b in sizes if isinstance(b, int) and b > facts.n_train]
    if too_big:
        problems["batch_sizes"] = (f"batch size {too_big[0]} is larger than the training set "
                                   f"({facts.n_train} examples); valid: 1..{facts.n_train} or 'full'")
    if model_kind == "cnn" and facts.example_ndim != 3:
        problems["model.kind"] = CNN_INPUT
    return problems


def field_of(cfg: DatasetConfig) -> str:
    """The form field a problem reading this data set belongs to."""
    return "dataset.path" if cfg.name.startswith(FILE_DATASETS) or cfg.name in IDX_DATASETS else "dataset.kind"


class DataChecks:
    """The form's data checks, keeping what each reading of the data found (by probe_key).

    `read(key, cfg)` reads the data in a thread and hands back `found[key]`: the
    DataFacts, or the message of why the data cannot be used. It is asked once a key.
    """

    def __init__(self) -> None:
        self.found: dict[tuple, DataFacts | str] = {}
        self._asked: set[tuple] = set()

    def problems(self, cfg: DatasetConfig, batch_text: str, model_kind: str, read) -> dict[str, str]:
        """{field key: message} for the data set and what depends on it, as far as known now."""
        problem = path_problem(cfg)
        if problem:
            return {field_of(cfg): problem}
        facts: DataFacts | str | None = synthetic_facts(cfg)
        if facts is None:
            key = probe_key(cfg)
            if key is None:
                return {}
            facts = self.found.get(key)
            if facts is None:
                if key not in self._asked:
                    self._asked.add(key)
                    read(key, cfg)
                return {}
        if isinstance(facts, str):
            return {field_of(cfg): facts}
        return fit_problems(facts, batch_text, model_kind)
