"""Noise for any model: the two-batch estimator against a closed form and against per-example
gradients, the choice of method, and evaluation in eval mode."""

from __future__ import annotations

import math
import statistics

import pytest
import torch
from test_science import linreg_noise_closed_form
from torch import nn

from tuilab.engine.data import load_dataset
from tuilab.engine.evaluate import evaluate
from tuilab.engine.models import loss_function
from tuilab.engine.noise import measure_noise
from tuilab.engine.run import prepare, run_plan
from tuilab.engine.twobatch import measure_noise_two_batch, two_batch_sizes
from tuilab.presets import DatasetConfig, experiment_from_dict


def _linreg(n=2000, dim=5):
    data = load_dataset(DatasetConfig(name="linreg", n=n, dim=dim, noise=0.5), seed=3)
    torch.manual_seed(1)
    model = nn.Sequential(nn.Flatten(), nn.Linear(dim, 1))
    return data, model


def test_two_batch_is_unbiased_and_its_stated_error_is_honest_on_linear_regression():
    data, model = _linreg()
    lin = model[1]
    exact = linreg_noise_closed_form(data.x_train, data.y_train, lin.weight.detach(), float(lin.bias.detach()))
    gen = torch.Generator().manual_seed(0)
    runs = [measure_noise_two_batch(model, loss_function("regression"), data.batch, data.n_train, 4, 256,
                                    24, gen) for _ in range(30)]
    for key in ("tr_sigma", "g_norm2"):
        values = [getattr(s, key) for s in runs]
        stated = statistics.mean(getattr(s, f"{key}_stderr") for s in runs)
        spread = statistics.stdev(values)
        # Unbiased: the mean of 30 independent estimates is within 3 standard errors of the truth.
        assert abs(statistics.mean(values) - exact[key]) < 3 * spread / math.sqrt(len(runs)), key
        # Honest error bars: the bootstrap's stderr matches the estimates' actual spread.
        assert 0.6 < stated / spread < 1.6, (key, stated, spread)


def _agreement(exp_over: dict, b: int, big: int, draws: int):
    exp = experiment_from_dict({"device": "cpu", "seed": 0, "batch_sizes": [8],
                                "measure": {"probe_examples": 1024, "reference_examples": 8192}} | exp_over)
    plan = prepare(exp)
    model = plan.lanes[0].model
    pe = measure_noise(model, plan.loss_fn, plan.x_ref, plan.y_ref, plan.x_probe, plan.y_probe, plan.data.n_train)
    tb = measure_noise_two_batch(model, plan.loss_fn, plan.data.batch, plan.data.n_train, b, big, draws,
                                 torch.Generator().manual_seed(5))
    return pe, tb


@pytest.mark.parametrize("exp_over", [
    {"dataset": {"name": "linreg", "n": 4000, "dim": 8}, "model": {"kind": "linear"}},
    {"dataset": {"name": "moons", "n": 4000}, "model": {"kind": "mlp", "hidden": [32]}},
])
def test_per_example_and_two_batch_agree_within_their_stated_errors(exp_over):
    pe, tb = _agreement(exp_over, 8, 512, 64)
    assert (pe.method, tb.method) == ("per-example", "two-batch")
    for key in ("tr_sigma", "g_norm2"):
        a, b = getattr(pe, key), getattr(tb, key)
        err = math.hypot(getattr(pe, f"{key}_stderr"), getattr(tb, f"{key}_stderr"))
        assert err > 0 and abs(a - b) < 3 * err, (key, a, b, err)
    err = math.hypot(pe.b_simple_stderr, tb.b_simple_stderr)
    assert abs(pe.b_simple() - tb.b_simple()) < 3 * err, (pe.b_simple(), tb.b_simple(), err)


BN_MODEL = """
from torch import nn
def build(input_shape, out_dim):
    return nn.Sequential(nn.Linear(input_shape[0], 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Linear(16, out_dim))
"""


def _bn_exp(tmp_path, **measure):
    (tmp_path / "bn.py").write_text(BN_MODEL)
    return experiment_from_dict({
        "device": "cpu", "batch_sizes": [16, 64], "dataset": {"name": "moons", "n": 600},
        "model": {"kind": "custom", "factory": f"{tmp_path}/bn.py:build"},
        "budget": {"unit": "steps", "amount": 6},
        "measure": {"every": 3, "noise_every": 1, "slope_draws": 4, "noise_draws": 8} | measure})


def test_auto_picks_two_batch_for_batchnorm_and_per_example_for_an_mlp(tmp_path):
    plan = prepare(_bn_exp(tmp_path))
    assert plan.started.noise_method == "two-batch"
    assert any("BatchNorm1d" in n for n in plan.started.notices)
    mlp = prepare(experiment_from_dict({"device": "cpu", "batch_sizes": [8], "dataset": {"name": "moons", "n": 300}}))
    assert mlp.started.noise_method == "per-example"
    with pytest.raises(Exception, match="per-example is not exact here: .*BatchNorm1d"):
        prepare(_bn_exp(tmp_path, noise_method="per-example"))


def test_a_batchnorm_run_reports_two_batch_noise_with_errors_and_measuring_leaves_no_trace(tmp_path):
    events = list(run_plan(prepare(_bn_exp(tmp_path))))
    reports = [e for e in events if type(e).__name__ == "LaneProgress" and e.b_simple is not None]
    assert reports and all(e.b_simple_stderr > 0 and e.tr_sigma_stderr > 0 for e in reports)
    # Measuring noise at every report must not change training (BatchNorm buffers, random state).
    exp = _bn_exp(tmp_path)
    exp.measure.noise_every = 1000
    quiet = [e for e in run_plan(prepare(exp)) if type(e).__name__ == "LaneProgress"]
    loud = [e for e in events if type(e).__name__ == "LaneProgress"]
    assert [e.train_loss for e in quiet] == [e.train_loss for e in loud]


def test_evaluation_runs_in_eval_mode_and_restores_the_mode(tmp_path):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 8), nn.BatchNorm1d(8), nn.Dropout(0.5), nn.Linear(8, 2))
    model[1].running_mean.fill_(0.3)
    x, y = torch.randn(50, 3), torch.randint(0, 2, (50,))
    stats = model[1].running_mean.clone()
    first = evaluate(model, loss_function("classification"), x, y, True)
    assert evaluate(model, loss_function("classification"), x, y, True) == first  # no dropout draw
    assert model.training and all(m.training for m in model.modules())
    assert torch.equal(model[1].running_mean, stats)  # running statistics used, not updated
    model.train(False)
    with torch.no_grad():
        expected = float(loss_function("classification")(model(x), y))
    assert first[0] == pytest.approx(expected, rel=1e-6)


def test_default_two_batch_sizes():
    assert two_batch_sizes(10_000, 8, None, 16) == (8, 512)
    assert two_batch_sizes(100_000, 64, None, 16) == (64, 1024)
    assert two_batch_sizes(10_000, 64, None, 16) == (64, 10_000)  # one full pass costs less than 16 x 1024
    assert two_batch_sizes(300, 1, None, 16) == (2, 300)
    assert two_batch_sizes(100, 8, (60, 400), 16) == (50, 100)
