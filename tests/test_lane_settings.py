"""Lane settings resolved once (engine/settings.py): the engine's lanes and `tuilab export` read the same."""

from __future__ import annotations

import math

import pytest
from test_export import assert_same_curve, run_preset

from tuilab.engine.settings import lane_settings, lr_grid, pilot_experiment
from tuilab.presets import experiment_from_dict


def test_grid_lanes_in_order_with_their_scaled_lrs():
    exp = experiment_from_dict({"batch_sizes": [8, 128], "variants": [{"label": "decay", "decay_epochs": [2]}],
                                "optimizer": {"lr": 0.1, "lr_scaling": "sqrt", "base_batch_size": 32,
                                              "lr_grid": [0.3, 0.1], "warmup_epochs": 0.5}})
    lanes = lane_settings(exp, [8, 128])
    assert [(s.index, s.batch_size, s.lr_index, s.label) for s in lanes] == [
        (0, 8, 0, "decay lr 0.1"), (1, 8, 1, "decay lr 0.3"), (2, 128, 0, "decay lr 0.1"), (3, 128, 1, "decay lr 0.3")]
    # sqrt rule from B=32: x0.5 at B=8, x2 at B=128.
    assert [s.lr0 for s in lanes] == pytest.approx([0.05, 0.15, 0.2, 0.6])
    assert all(s.decay_epochs == (2.0,) and s.warmup_epochs == 0.5 and s.variant == "decay" for s in lanes)


def test_without_a_grid_one_lane_per_batch_size_and_variant():
    exp = experiment_from_dict({"batch_sizes": [8, 32], "optimizer": {"lr": 0.2}})
    lanes = lane_settings(exp, [8, 32])
    assert [(s.label, s.lr0, s.lr_index) for s in lanes] == [("", 0.2, None), ("", 0.2, None)]


def test_auto_grid_is_log_spaced_around_the_lr():
    assert lr_grid(0.2, "auto") == (0.0666667, 0.2, 0.6)
    assert lr_grid(0.2, None) is None
    assert lr_grid(0.2, [0.3, 0.01]) == (0.01, 0.3)


def test_pilot_is_a_tenth_of_the_budget_reported_twenty_times():
    exp = experiment_from_dict({"pilot": True, "budget": {"unit": "steps", "amount": 205}})
    pilot = pilot_experiment(exp)
    assert pilot.budget.amount == 21 and math.isclose(pilot.report_every(), 21 / 20)
    assert pilot.measure.noise_every == 2 and pilot.measure.share == 1.0
    assert pilot_experiment(experiment_from_dict({})) == experiment_from_dict({})


GRID = """
name = "tiny-grid"
seed = 4
batch_sizes = [64]
[dataset]
name = "moons"
n = 600
[model]
kind = "mlp"
hidden = [16]
[optimizer]
lr = 0.1
lr_grid = [0.05, 0.4]
lr_scaling = "sqrt"
base_batch_size = 16
[budget]
unit = "epochs"
amount = 1
[measure]
every = 0.25
probe_examples = 32
slope_draws = 4
"""


def test_exported_grid_lane_reproduces_it(tmp_path):
    run_dir = run_preset(tmp_path, GRID)
    assert_same_curve(run_dir, 64, "lr 0.4")  # writes run_dir/export/train.py
    script = (run_dir / "export" / "train.py").read_text()
    assert "LR = 0.8  # 0.4 at B=16, one value of the run's lr grid, scaled by sqrt" in script
