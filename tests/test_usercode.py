"""The user's own model, loss and data: imported once, checked, and every mistake one clear line."""

from __future__ import annotations

import textwrap

import pytest
import torch

from tuilab.engine.events import LaneFailed, LaneFinished
from tuilab.engine.run import prepare, run_plan
from tuilab.errors import UserError
from tuilab.presets import dumps_preset, experiment_from_dict, load_preset

MODEL = """
import torch
from torch import nn

def build(input_shape, out_dim):
    return nn.Sequential(nn.Flatten(), nn.Linear(int(torch.tensor(input_shape).prod()), out_dim))

def wrong_width(input_shape, out_dim):
    return nn.Linear(input_shape[0], out_dim + 1)

def not_a_module(input_shape, out_dim):
    return "a model"

def broken(input_shape, out_dim):
    raise ValueError("no such layer: conv7")
"""

DATA = """
import numpy as np
import torch

def xy():
    g = np.random.default_rng(0)
    x = g.normal(size=(200, 3)).astype(np.float32)
    return x, (x[:, 0] > 0).astype(np.int64)

def four_tensors():
    x, y = xy()
    return torch.tensor(x[:150]), torch.tensor(y[:150]), torch.tensor(x[150:]), torch.tensor(y[150:])

def regression():
    x, _ = xy()
    return x, x @ np.array([1.0, -2.0, 0.5])

class Pairs(torch.utils.data.Dataset):
    def __init__(self, n):
        self.x, self.y = xy()
        self.n = n
    def __len__(self):
        return self.n
    def __getitem__(self, i):
        return torch.tensor(self.x[i]), int(self.y[i])

def dataset():
    return Pairs(120)

def two_datasets():
    return Pairs(120), Pairs(40)

def with_nan():
    x, y = xy()
    x[3, 1] = np.nan
    return x, y

def short_labels():
    x, y = xy()
    return x, y[:-1]

def a_dict():
    return {"x": 1}

def one_class():
    x, _ = xy()
    return x, np.zeros(len(x), dtype=np.int64)
"""


@pytest.fixture
def code(tmp_path):
    (tmp_path / "model.py").write_text(MODEL)
    (tmp_path / "data.py").write_text(DATA)
    return tmp_path


def _exp(folder, data="xy", model="build", **over):
    base = {"name": "mine", "device": "cpu", "batch_sizes": [8, 32],
            "dataset": {"name": "custom", "factory": f"{folder}/data.py:{data}"},
            "model": {"kind": "custom", "factory": f"{folder}/model.py:{model}"},
            "budget": {"unit": "steps", "amount": 4},
            "measure": {"every": 2, "probe_examples": 16, "reference_examples": 64, "slope_draws": 2}}
    return experiment_from_dict(base | over)


@pytest.mark.parametrize(("data", "n_train", "n_test", "task"), [
    ("xy", 160, 40, "classification"), ("four_tensors", 150, 50, "classification"),
    ("regression", 160, 40, "regression"), ("dataset", 96, 24, "classification"),
    ("two_datasets", 120, 40, "classification")])
def test_every_kind_of_return_value_becomes_data(code, data, n_train, n_test, task):
    plan = prepare(_exp(code, data))
    assert (plan.data.n_train, plan.data.n_test, plan.data.task) == (n_train, n_test, task)
    assert plan.started.user_code == (f"{code}/model.py", f"{code}/data.py")
    assert plan.data.y_train.dtype == (torch.int64 if task == "classification" else torch.float32)


@pytest.mark.parametrize(("over", "message"), [
    ({"data": "with_nan"}, r"dataset.factory .*data.py:with_nan: x has NaN or infinite values"),
    ({"data": "short_labels"}, r"x has 200 rows but y has 199"),
    ({"data": "a_dict"}, r"returned a dict; expected \(x, y\)"),
    ({"data": "one_class"}, r"classification needs at least 2 classes"),
    ({"data": "nope"}, r"data.py has no 'nope'; it defines .*xy"),
    ({"model": "wrong_width"}, r"model.factory .*wrong_width: output of shape \(2, 3\) on 2 examples does not fit "
                               r"the labels \(2 classes\); expected \(2, 2\)"),
    ({"model": "not_a_module"}, r"returned a str; expected a torch.nn.Module"),
    ({"model": "broken"}, r"model.factory .*model.py:broken: raised ValueError: no such layer: conv7$"),
])
def test_each_mistake_is_one_line_naming_the_factory(code, over, message):
    with pytest.raises(UserError, match=message) as err:
        prepare(_exp(code, **over))
    assert "\n" not in str(err.value)


def test_a_missing_file_and_a_failing_import_name_the_factory(code, tmp_path):
    with pytest.raises(UserError, match=r"model.factory .*gone.py: no such file"):
        prepare(experiment_from_dict({"device": "cpu", "batch_sizes": [8], "dataset": {"name": "moons", "n": 100},
                                      "model": {"kind": "custom", "factory": f"{tmp_path}/gone.py:build"}}))
    (tmp_path / "bad.py").write_text("import torch\n1 / 0\n")
    with pytest.raises(UserError, match=r"bad.py: importing it raised ZeroDivisionError: division by zero"):
        prepare(experiment_from_dict({"device": "cpu", "batch_sizes": [8], "dataset": {"name": "moons", "n": 100},
                                      "model": {"kind": "custom", "factory": f"{tmp_path}/bad.py:build"}}))
    with pytest.raises(UserError, match=r"no module 'no_such_pkg_x'"):
        prepare(experiment_from_dict({"device": "cpu", "batch_sizes": [8], "dataset": {"name": "moons", "n": 100},
                                      "model": {"kind": "custom", "factory": "no_such_pkg_x.models:build"}}))


def test_a_module_path_factory_and_a_loss_class(code, monkeypatch):
    monkeypatch.syspath_prepend(str(code))
    exp = _exp(code, data="regression")
    exp.model.factory = "model:build"
    exp.model.loss = "torch.nn:SmoothL1Loss"
    plan = prepare(exp)
    assert isinstance(plan.loss_fn, torch.nn.SmoothL1Loss)
    assert plan.started.user_code == ("model", "torch.nn", f"{code}/data.py")


def test_each_file_is_imported_once_per_run(tmp_path):
    log = tmp_path / "imports.log"
    (tmp_path / "both.py").write_text(textwrap.dedent(f"""
        import torch.nn.functional as F
        from torch import nn
        open({str(log)!r}, "a").write("imported\\n")
        def build(input_shape, out_dim):
            return nn.Sequential(nn.Flatten(), nn.Linear(2, out_dim))
        def loss(out, y):
            return F.cross_entropy(out, y)
    """))
    exp = experiment_from_dict({"device": "cpu", "batch_sizes": [8, 16], "dataset": {"name": "moons", "n": 100},
                                "model": {"kind": "custom", "factory": f"{tmp_path}/both.py:build",
                                          "loss": f"{tmp_path}/both.py:loss"}})
    prepare(exp)
    assert log.read_text() == "imported\n"  # model, loss, 3 models built: one import


def test_relative_factories_resolve_against_the_preset_and_stay_absolute(code):
    sub = code / "presets"
    sub.mkdir()
    (sub / "p.toml").write_text('[model]\nkind = "custom"\nfactory = "../model.py:build"\n'
                                '[dataset]\nname = "custom"\nfactory = "../data.py:xy"\n')
    exp = load_preset(sub / "p.toml")
    assert exp.model.factory == f"{code / 'model.py'}:build"
    assert exp.user_code() == [str(code / "model.py"), str(code / "data.py")]
    (code / "elsewhere.toml").write_text(dumps_preset(exp))  # the run directory's copy
    assert load_preset(code / "elsewhere.toml").dataset.factory == f"{code / 'data.py'}:xy"


def test_shipped_presets_import_nothing():
    from tuilab.presets import list_presets

    shipped = [load_preset(path) for _, path, is_shipped in list_presets() if is_shipped]
    assert shipped and all(exp.user_code() == [] for exp in shipped)


def test_a_custom_model_raising_mid_training_fails_only_its_lane(tmp_path):
    (tmp_path / "flaky.py").write_text(textwrap.dedent("""
        from torch import nn
        class Flaky(nn.Module):
            def __init__(self, n_in, out_dim):
                super().__init__()
                self.lin = nn.Linear(n_in, out_dim)
                self.calls = 0
            def forward(self, x):
                if self.training and x.shape[0] == 8:  # training steps of the B=8 lane
                    self.calls += 1
                    if self.calls > 10:
                        raise RuntimeError("cuDNN gave up at step 10")
                return self.lin(x)
        def build(input_shape, out_dim):
            return Flaky(input_shape[0], out_dim)
    """))
    exp = experiment_from_dict({"device": "cpu", "batch_sizes": [32, 8],
                                "dataset": {"name": "linreg", "n": 500, "dim": 4},
                                "model": {"kind": "custom", "factory": f"{tmp_path}/flaky.py:build"},
                                "optimizer": {"lr": 0.02}, "budget": {"unit": "epochs", "amount": 1},
                                "measure": {"every": 0.5, "probe_examples": 16, "reference_examples": 64,
                                            "slope_draws": 2}})
    events = list(run_plan(prepare(exp)))
    failed = [e for e in events if isinstance(e, LaneFailed)]
    assert [(e.lane, e.status) for e in failed] == [(1, "error")]
    assert "RuntimeError: cuDNN gave up at step 10" in failed[0].reason
    assert failed[0].steps == 10
    assert [e.lane for e in events if isinstance(e, LaneFinished) and e.status == "finished"] == [0]
