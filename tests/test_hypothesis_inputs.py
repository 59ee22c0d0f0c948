"""Random and hostile input to the preset loader and the batch-size parser.

Whatever comes in, the only exception allowed out is UserError (with a one-line
message); anything that loads is a valid Experiment.
"""

from __future__ import annotations

import string
import uuid

import tomli_w
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tuilab.errors import UserError
from tuilab.presets import Experiment, experiment_from_dict, load_preset, parse_batch_sizes

FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

KEYS = ["name", "description", "device", "seed", "batch_sizes", "variants", "dataset", "model", "optimizer",
        "budget", "measure", "n", "noise", "lr", "kind", "amount", "unit", "hidden", "every", "label",
        "datset", "lrr", "batch_size", "__class__", ""]
hostile_scalar = st.one_of(
    st.none(), st.booleans(), st.integers(), st.integers(min_value=-3, max_value=3),
    st.just(2**63), st.just(-(2**63)), st.just(10**30),
    st.floats(allow_nan=True, allow_infinity=True), st.sampled_from([0.0, -0.0, 1e-300, 1e308, 0.5, 1.5]),
    st.text(max_size=12), st.sampled_from(["full", "auto", "cpu", "cuda", "cuda:99", "mps", "sgd", "epochs",
                                            "moons", "csv:", "npz:nope.npz", "8,32", "abc", "0", "-3"]),
)
hostile = st.recursive(
    hostile_scalar,
    lambda inner: st.one_of(st.lists(inner, max_size=5), st.dictionaries(st.sampled_from(KEYS), inner, max_size=5)),
    max_leaves=12,
)
sections = {
    "dataset": st.fixed_dictionaries({}, optional={"name": hostile, "n": hostile, "noise": hostile,
                                                   "test_fraction": hostile, "dim": hostile, "classes": hostile,
                                                   "limit": hostile}),
    "model": st.fixed_dictionaries({}, optional={"kind": hostile, "hidden": hostile, "channels": hostile,
                                                 "activation": hostile}),
    "optimizer": st.fixed_dictionaries({}, optional={"kind": hostile, "lr": hostile, "momentum": hostile,
                                                     "nesterov": hostile, "lr_scaling": hostile,
                                                     "base_batch_size": hostile, "warmup_epochs": hostile}),
    "budget": st.fixed_dictionaries({}, optional={"unit": hostile, "amount": hostile}),
    "measure": st.fixed_dictionaries({}, optional={"every": hostile, "probe_examples": hostile,
                                                   "target_loss": hostile, "slope_draws": hostile}),
}
batch_lists = st.lists(st.one_of(st.integers(-5, 10**8), st.just("full"), st.just(2**70), st.floats(), st.text(max_size=4),
                                 st.booleans(), st.none()), max_size=20)
preset_dicts = st.fixed_dictionaries({}, optional={
    "name": hostile, "description": hostile, "device": hostile, "seed": hostile,
    "batch_sizes": st.one_of(batch_lists, hostile), "variants": st.one_of(st.lists(hostile, max_size=3), hostile),
    **{k: st.one_of(v, hostile) for k, v in sections.items()},
    "datset": hostile, "unknown_key": hostile,
})


def _check_loaded(exp: Experiment) -> None:
    assert isinstance(exp, Experiment)
    assert exp.batch_sizes and len(set(exp.batch_sizes)) == len(exp.batch_sizes)
    assert all(b == "full" or (type(b) is int and b >= 1) for b in exp.batch_sizes)
    assert exp.budget.amount > 0 and exp.optimizer.lr > 0


def _one_line(e: UserError) -> None:
    msg = str(e)
    assert msg and "\n" not in msg.strip(), msg


@FAST
@given(preset_dicts)
def test_hostile_dicts_validate_or_raise_user_error(data):
    try:
        exp = experiment_from_dict(data, "p.toml")
    except UserError as e:
        _one_line(e)
        assert str(e).startswith("p.toml: ")
    else:
        _check_loaded(exp)


@FAST
@given(preset_dicts)
def test_hostile_dicts_written_as_toml_load_or_raise_user_error(tmp_path, data):
    try:
        text = tomli_w.dumps(data)
    except (TypeError, ValueError):  # None, NaN keys and the like cannot be TOML at all
        return
    path = tmp_path / f"{uuid.uuid4().hex}.toml"
    path.write_text(text, encoding="utf-8")
    try:
        exp = load_preset(path)
    except UserError as e:
        _one_line(e)
        assert path.name in str(e)
    else:
        _check_loaded(exp)


toml_ish = st.text(alphabet=string.printable + "[]=\"'{},.#\u00e9\u2603\x00", max_size=200)


@FAST
@given(st.one_of(toml_ish, st.binary(max_size=200).map(lambda b: b.decode("latin-1"))))
def test_random_text_loads_or_raises_user_error(tmp_path, text):
    path = tmp_path / f"{uuid.uuid4().hex}.toml"
    path.write_bytes(text.encode("utf-8", errors="surrogatepass"))
    try:
        _check_loaded(load_preset(path))
    except UserError as e:
        _one_line(e)


@FAST
@given(st.binary(min_size=1, max_size=200))
def test_random_bytes_load_or_raise_user_error(tmp_path, raw):
    path = tmp_path / f"{uuid.uuid4().hex}.toml"
    path.write_bytes(raw)
    try:
        _check_loaded(load_preset(path))
    except UserError as e:
        _one_line(e)


def test_paths_that_are_not_files(tmp_path):
    for path, needle in [(tmp_path, "is a directory"), (tmp_path / "nope.toml", "no such preset"),
                         (tmp_path / "nope" / "deeper.toml", "no such preset")]:
        try:
            load_preset(path)
        except UserError as e:
            assert needle in str(e)
        else:
            raise AssertionError(f"{path} loaded")


batch_text = st.one_of(
    st.text(max_size=30),
    st.lists(st.one_of(st.integers(-10, 10**12).map(str), st.sampled_from(["full", "FULL", "abc", "1.5", "1e3",
                                                                            "0x10", "", " ", "nan", "-0", "+8",
                                                                            "٣", "²", "8_000"])),
             max_size=20).map(lambda xs: ",".join(xs)),
)


@settings(max_examples=150, deadline=None)
@given(batch_text)
def test_parse_batch_sizes_returns_valid_sizes_or_raises_user_error(text):
    try:
        sizes = parse_batch_sizes(text)
    except UserError as e:
        _one_line(e)
        return
    assert sizes and len(set(sizes)) == len(sizes)
    assert all(b == "full" or (type(b) is int and b >= 1) for b in sizes)
    # What the parser accepts, the experiment must accept or refuse with a UserError too.
    try:
        experiment_from_dict({"batch_sizes": sizes}, "command line")
    except UserError as e:
        _one_line(e)
