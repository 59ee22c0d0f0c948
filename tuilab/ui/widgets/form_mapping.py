"""Experiment <-> Setup form values, exact in both directions.

The form holds raw values (the text of inputs, the value of selects and
switches) keyed as in form_spec. `experiment_to_values` fills a form from an
Experiment; `values_to_experiment` reads one back. Fields the form does not
show (variants, measure, ...) are carried through from the Experiment the form
was loaded from. Numbers are handed to pydantic as text, so the rules and their
messages live in one place: tuilab.presets.
"""

from __future__ import annotations

from pydantic import ValidationError

from tuilab.errors import UserError
from tuilab.presets import FILE_DATASETS, DatasetConfig, Experiment, parse_batch_sizes
from tuilab.ui.widgets.form_spec import FIELDS

FormValues = dict[str, object]  # key -> str (inputs, selects) or bool (switches)
FormErrors = dict[str, str]  # key -> message; "form" for a problem of no one field


def format_number(x: int | float) -> str:
    """Shortest text that reads back as the same number ("20" for 20.0, repr otherwise)."""
    if isinstance(x, float):
        text = repr(x)
        return text[:-2] if text.endswith(".0") else text
    return str(x)


def format_batch_sizes(sizes: list) -> str:
    return ", ".join(str(b) for b in sizes)


def format_widths(widths: list[int]) -> str:
    return ",".join(str(w) for w in widths)


def experiment_to_values(exp: Experiment) -> FormValues:
    """The form's values for an experiment."""
    d, m, o, b = exp.dataset, exp.model, exp.optimizer, exp.budget
    is_file = d.name.startswith(FILE_DATASETS)
    return {
        "dataset.kind": d.name[:4] if is_file else d.name,
        # One path box: the file of csv:/npz:, else the IDX directory of mnist.
        "dataset.path": d.name[4:] if is_file else (d.path or ""),
        "dataset.n": format_number(d.n),
        "dataset.noise": format_number(d.noise),
        "dataset.test_fraction": format_number(d.test_fraction),
        "dataset.dim": format_number(d.dim),
        "dataset.classes": format_number(d.classes),
        "dataset.limit": "" if d.limit is None else format_number(d.limit),
        "model.kind": m.kind,
        "model.hidden": format_widths(m.hidden),
        "model.channels": format_widths(m.channels),
        "model.activation": m.activation,
        "device": exp.device,
        "resources.backend": exp.resources.backend,
        "batch_sizes": format_batch_sizes(exp.batch_sizes),
        "optimizer.kind": o.kind,
        "optimizer.lr": format_number(o.lr),
        "optimizer.momentum": format_number(o.momentum),
        "optimizer.nesterov": o.nesterov,
        "optimizer.weight_decay": format_number(o.weight_decay),
        "optimizer.lr_scaling": o.lr_scaling,
        "optimizer.base_batch_size": format_number(o.base_batch_size),
        "optimizer.warmup_epochs": format_number(o.warmup_epochs),
        "budget.unit": b.unit,
        "budget.amount": format_number(b.amount),
        "seed": format_number(exp.seed),
        "pilot": exp.pilot,
    }


def _parse_widths(text: str, what: str, errors: FormErrors, key: str) -> list | str:
    items = text.replace(",", " ").replace("x", " ").split()
    if items and all(t.isdigit() for t in items):
        return [int(t) for t in items]
    bad = next((t for t in items if not t.isdigit()), "")
    errors[key] = (f"{what}: {bad!r} is not a whole number; use e.g. 64,64" if bad
                   else f"{what}: give at least one width, e.g. 64,64")
    return []


def _message(err: dict, label: str) -> str:
    """pydantic's reason, worded for a form: "lr must be greater than 0"."""
    if err["type"] == "value_error":  # our own validators write whole sentences
        msg = err["msg"].removeprefix("Value error, ")
        return msg if label in msg else f"{label}: {msg}"
    msg = err["msg"].replace("Input should be", "must be").split(", unable to parse")[0]
    return f"{label} {msg}"


def _error_key(loc: tuple, values: FormValues) -> str:
    key = ".".join(str(p) for p in loc[:2])
    if key == "optimizer":  # the model-level rule: nesterov needs momentum
        return "optimizer.nesterov"
    if key == "dataset.name":
        return "dataset.path" if values.get("dataset.kind") in FILE_DATASETS else "dataset.kind"
    return key if key in FIELDS else "form"


def _stripped(values: FormValues) -> FormValues:
    return {k: (x.strip() if isinstance(x, str) else x) for k, x in values.items()}


def _fill_dataset(v: FormValues, ds: dict, errors: FormErrors) -> None:
    """The form's dataset fields into `ds` (a DatasetConfig's dump; fields not on the form stay)."""
    kind, path = str(v["dataset.kind"]), str(v["dataset.path"])
    if kind in FILE_DATASETS:
        ds["name"] = kind + path
        if not path:
            errors["dataset.path"] = f"give the path of a {kind[:-1]} file"
    else:
        ds["name"], ds["path"] = kind, path or None
    for f in ("n", "noise", "test_fraction", "dim", "classes"):
        ds[f] = v[f"dataset.{f}"]
    ds["limit"] = v["dataset.limit"] or None


def form_dataset(values: FormValues, base: Experiment) -> DatasetConfig | None:
    """The data set the form names, or None while its own fields are wrong (whatever the others are)."""
    ds, errors = base.dataset.model_dump(), {}
    _fill_dataset(_stripped(values), ds, errors)
    try:
        return None if errors else DatasetConfig.model_validate(ds)
    except ValidationError:
        return None


def values_to_experiment(values: FormValues, base: Experiment) -> tuple[Experiment | None, FormErrors]:
    """The Experiment the form describes, or None and a message per bad field."""
    v = _stripped(values)
    errors: FormErrors = {}
    data = base.model_dump()
    model, opt = data["model"], data["optimizer"]
    _fill_dataset(v, data["dataset"], errors)

    model["kind"], model["activation"] = v["model.kind"], v["model.activation"]
    model["hidden"] = _parse_widths(str(v["model.hidden"]), "hidden", errors, "model.hidden")
    model["channels"] = _parse_widths(str(v["model.channels"]), "channels", errors, "model.channels")

    for f in ("kind", "lr", "momentum", "nesterov", "weight_decay", "lr_scaling",
              "base_batch_size", "warmup_epochs"):
        opt[f] = v[f"optimizer.{f}"]
    data["budget"].update(unit=v["budget.unit"], amount=v["budget.amount"])  # keeps micro_batch
    data["device"], data["seed"], data["pilot"] = v["device"], v["seed"], v["pilot"]
    data["resources"]["backend"] = v["resources.backend"]
    try:
        data["batch_sizes"] = parse_batch_sizes(str(v["batch_sizes"]))
    except UserError as e:
        errors["batch_sizes"] = str(e)

    try:
        exp = Experiment.model_validate(data)
    except ValidationError as err:
        for e in err.errors():
            key = _error_key(e["loc"], values)
            label = FIELDS[key].label if key in FIELDS else ".".join(map(str, e["loc"]))
            errors.setdefault(key, _message(e, label))
        return None, errors
    return (None, errors) if errors else (exp, {})
