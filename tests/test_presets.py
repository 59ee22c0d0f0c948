from pathlib import Path

import pytest

from tuilab.errors import UserError
from tuilab.presets import (
    SHIPPED_DIR,
    Experiment,
    dumps_preset,
    experiment_from_dict,
    list_presets,
    load_preset,
    parse_batch_sizes,
    resolve_preset,
    save_preset,
)


def test_every_shipped_preset_loads_and_round_trips(tmp_path):
    shipped = sorted(SHIPPED_DIR.glob("*.toml"))
    assert {p.stem for p in shipped} >= {"quickstart", "seed-classic"}
    for p in shipped:
        exp = load_preset(p)
        assert exp.description, f"{p.name} needs a description"
        out = save_preset(exp, tmp_path / p.name)
        assert load_preset(out) == exp


def test_round_trip_keeps_every_field(tmp_path):
    exp = experiment_from_dict({
        "name": "x", "batch_sizes": [1, 7, "full"], "device": "cpu", "seed": 5,
        "dataset": {"name": "linreg", "dim": 4, "n": 500, "noise": 0.5},
        "optimizer": {"kind": "sgd", "lr": 0.01, "momentum": 0.9, "nesterov": True, "lr_scaling": "sqrt"},
        "variants": [{"label": "decay", "decay_epochs": [2.0], "decay_factor": 0.5}],
        "measure": {"target_loss": 0.3, "every": 0.25},
    })
    p = save_preset(exp, tmp_path / "x.toml")
    assert load_preset(p) == exp
    assert "target_loss = 0.3" in p.read_text()


@pytest.mark.parametrize("data, needle", [
    ({"batch_sizes": [0]}, "batch_sizes"),
    ({"batch_sizes": [-3]}, "batch size -3"),
    ({"batch_sizes": []}, "at least one"),
    ({"batch_sizes": [8, 8]}, "repeat"),
    ({"datset": {}}, "datset: unknown key"),
    ({"dataset": {"name": "imagenet"}}, "unknown dataset 'imagenet'"),
    ({"optimizer": {"lr": "fast"}}, "optimizer.lr"),
    ({"device": "tpu"}, "unknown device 'tpu'"),
    ({"optimizer": {"nesterov": True}}, "nesterov needs momentum"),
])
def test_bad_fields_name_the_field(data, needle):
    with pytest.raises(UserError) as e:
        experiment_from_dict(data, "p.toml")
    assert needle in str(e.value) and str(e.value).startswith("p.toml")


def test_broken_files_give_one_clear_message(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "x"\nbatch_sizes = [8, 32\n')
    with pytest.raises(UserError, match=r"bad.toml: broken TOML.*line"):
        load_preset(bad)
    binary = tmp_path / "bin.toml"
    binary.write_bytes(b"\xff\xfe\x00name")
    with pytest.raises(UserError, match="not UTF-8"):
        load_preset(binary)
    with pytest.raises(UserError, match="no such preset"):
        load_preset(tmp_path / "missing.toml")
    with pytest.raises(UserError, match="is a directory"):
        load_preset(tmp_path)


def test_parse_batch_sizes():
    assert parse_batch_sizes("8, 32 128,full") == [8, 32, 128, "full"]
    for text, needle in [("abc", "'abc' is not a whole number"), ("0", "batch size 0"), ("-3", "batch size -3"),
                         ("", "at least one"), ("8,8", "repeat"), ("1.5", "'1.5'")]:
        with pytest.raises(UserError, match=needle):
            parse_batch_sizes(text)


def test_save_refuses_shipped_and_user_dir_is_listed(tmp_path, monkeypatch):
    monkeypatch.setenv("TUILAB_CONFIG_DIR", str(tmp_path))
    with pytest.raises(UserError, match="read-only"):
        save_preset(Experiment(), SHIPPED_DIR / "quickstart.toml")
    save_preset(Experiment(name="mine"), tmp_path / "presets" / "mine.toml")
    names = {(n, shipped) for n, _, shipped in list_presets()}
    assert ("mine", False) in names and ("quickstart", True) in names
    assert resolve_preset("mine") == tmp_path / "presets" / "mine.toml"
    with pytest.raises(UserError, match="no such preset"):
        resolve_preset("nosuch")


def test_atomic_save_leaves_no_temp_files(tmp_path):
    for i in range(3):
        save_preset(Experiment(seed=i), tmp_path / "a.toml")
    assert [p.name for p in Path(tmp_path).iterdir()] == ["a.toml"]
    assert "seed = 2" in dumps_preset(load_preset(tmp_path / "a.toml"))
