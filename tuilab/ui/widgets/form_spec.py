"""What the Setup form shows: its fields, their sections, and when each is relevant.

Data only (no widgets), so that the screen, the Experiment mapping and the tests
agree on one list of field keys. A key is the field's dotted path in the
Experiment ("optimizer.lr"), except "dataset.kind", which together with
"dataset.path" makes up the dataset's name (csv:PATH / npz:PATH).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from tuilab.presets import DATASETS, DIM_DATASETS, FILE_DATASETS, IDX_DATASETS, SYNTHETIC_DATASETS

Kind = Literal["input", "select", "switch", "batch", "device"]


@dataclass(frozen=True)
class FieldSpec:
    """One row of the form."""

    key: str
    label: str
    kind: Kind = "input"
    hint: str = ""  # what is valid, shown beside the field
    options: tuple[str, ...] = ()  # for selects


DATASET_KINDS = DATASETS + FILE_DATASETS
SYNTHETIC = SYNTHETIC_DATASETS
_WITH_DIM = DIM_DATASETS
_WITH_CLASSES = ("spiral", "blobs", "teacher")
_IDX = IDX_DATASETS

SECTIONS: tuple[tuple[str, tuple[FieldSpec, ...]], ...] = (
    ("Dataset", (
        FieldSpec("dataset.kind", "dataset", "select", options=DATASET_KINDS),
        FieldSpec("dataset.path", "path", hint="file or IDX directory"),
        FieldSpec("dataset.n", "examples", hint="10 .. 10M, with test"),
        FieldSpec("dataset.noise", "noise", hint=">= 0"),
        FieldSpec("dataset.test_fraction", "test fraction", hint="between 0 and 1"),
        FieldSpec("dataset.dim", "dim", hint=">= 1"),
        FieldSpec("dataset.classes", "classes", hint="2 .. 1000"),
        FieldSpec("dataset.limit", "limit", hint="empty: all examples"),
    )),
    ("Model", (
        FieldSpec("model.kind", "model", "select", options=("linear", "mlp", "cnn", "custom")),
        FieldSpec("model.hidden", "hidden", hint="widths, e.g. 64,64"),
        FieldSpec("model.channels", "channels", hint="e.g. 16,32"),
        FieldSpec("model.activation", "activation", "select", options=("relu", "tanh", "gelu")),
    )),
    ("Device", (
        FieldSpec("device", "device", "device"),
        FieldSpec("resources.backend", "lanes run", "select", hint="ray: an actor a lane",
                  options=("inprocess", "ray")),
    )),
    ("Batch sizes", (
        FieldSpec("batch_sizes", "batch sizes", "batch", hint="e.g. 8,32,128 or full"),
    )),
    ("Optimizer", (
        FieldSpec("optimizer.kind", "optimizer", "select", options=("sgd", "adam")),
        FieldSpec("optimizer.lr", "lr", hint="> 0 (at base batch)"),
        FieldSpec("optimizer.momentum", "momentum", hint="0 <= m < 1"),
        FieldSpec("optimizer.nesterov", "nesterov", "switch", hint="needs momentum > 0"),
        FieldSpec("optimizer.weight_decay", "weight decay", hint="0 .. 10"),
        FieldSpec("optimizer.lr_scaling", "lr scaling", "select", options=("none", "linear", "sqrt")),
        FieldSpec("optimizer.base_batch_size", "base batch", hint="lr is unscaled here"),
        FieldSpec("optimizer.warmup_epochs", "warmup epochs", hint=">= 0"),
    )),
    ("Budget", (
        FieldSpec("budget.unit", "budget", "select", options=("epochs", "steps", "seconds")),
        FieldSpec("budget.amount", "amount", hint="> 0, for every lane"),
        FieldSpec("seed", "seed", hint="0 .. 2^31-1"),
        FieldSpec("pilot", "pilot", "switch", hint="a tenth of the budget: predict the best B"),
    )),
)

FIELDS: dict[str, FieldSpec] = {f.key: f for _, fields in SECTIONS for f in fields}


def relevant_fields(values: dict[str, object]) -> set[str]:
    """Keys worth showing for the form's current choices (the others keep their values, hidden)."""
    dataset = str(values.get("dataset.kind", ""))
    hidden: set[str] = set()
    if dataset not in SYNTHETIC:
        hidden |= {"dataset.n", "dataset.noise", "dataset.dim", "dataset.classes"}
    else:
        hidden.add("dataset.limit")
        if dataset not in _WITH_DIM:
            hidden.add("dataset.dim")
        if dataset not in _WITH_CLASSES:
            hidden.add("dataset.classes")
    if dataset not in _IDX + FILE_DATASETS:
        hidden.add("dataset.path")
    if dataset in _IDX:
        hidden.add("dataset.test_fraction")  # IDX files bring their own test set
    model = values.get("model.kind")
    if model != "mlp":
        hidden.add("model.hidden")
    if model != "cnn":
        hidden.add("model.channels")
    if model in ("linear", "custom"):
        hidden.add("model.activation")
    if values.get("optimizer.kind") != "sgd":
        hidden |= {"optimizer.momentum", "optimizer.nesterov"}
    if values.get("optimizer.lr_scaling") == "none":
        hidden.add("optimizer.base_batch_size")
    return set(FIELDS) - hidden
