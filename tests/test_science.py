"""The shipped science presets, shrunk to seconds, still show what their descriptions claim."""

from __future__ import annotations

import math

import pytest
import torch

from tuilab.engine.record import RunRecord
from tuilab.engine.run import prepare, run_plan
from tuilab.engine.summary import RunSummary
from tuilab.presets import SHIPPED_DIR, experiment_from_dict, load_preset


def shrunk(name: str, **changes) -> object:
    """A shipped preset with some fields replaced (dotted keys: 'budget.amount')."""
    data = load_preset(SHIPPED_DIR / f"{name}.toml").model_dump()
    data["device"] = "cpu"
    for key, value in changes.items():
        node = data
        *path, last = key.split("__")
        for k in path:
            node = node[int(k) if k.isdigit() else k]
        node[last] = value
    return experiment_from_dict(data)


def run_summary(exp) -> tuple[RunSummary, RunRecord]:
    plan = prepare(exp)
    record = RunRecord()
    for ev in run_plan(plan):
        record.apply(ev)
    return record.finished.summary, record


def linreg_noise_closed_form(x: torch.Tensor, y: torch.Tensor, w: torch.Tensor, c: float) -> dict:
    """tr_sigma, |G|^2 and b_simple of MSE linear regression f(x) = w.x + c, exactly, from the data.

    The per-example loss is l_i = r_i^2 with residual r_i = w.x_i + c - y_i, so the
    per-example gradient with respect to (w, c) is g_i = 2 r_i (x_i, 1): no autograd
    needed. Over the N training examples,

        G        = (1/N) sum_i g_i = (2/N) (X^T r, sum_i r_i)
        tr_sigma = (1/N) sum_i |g_i - G|^2 = (4/N) sum_i r_i^2 (|x_i|^2 + 1) - |G|^2
        b_simple = tr_sigma / |G|^2

    (tr_sigma in the population convention of tuilab/engine/noise.py). In float64.
    For x ~ N(0, I_d), y = x.w* + sigma eps and D = w - w*, the expectations give
    b_simple -> (|D|^2 (d + 2) + c^2 d + sigma^2 (d + 1)) / (|D|^2 + c^2) as N grows.
    """
    x, y, w = x.double(), y.double().reshape(-1), w.double().reshape(-1)
    r = x @ w + c - y
    n = len(x)
    G = torch.cat([2 * x.T @ r / n, (2 * r.mean()).reshape(1)])
    g_norm2 = float(G @ G)
    tr_sigma = float(4 * (r**2 * ((x**2).sum(1) + 1)).mean()) - g_norm2
    return {"tr_sigma": tr_sigma, "g_norm2": g_norm2, "b_simple": tr_sigma / g_norm2}


def test_noise_sqrt_slope_and_closed_form_b_simple():
    exp = shrunk("noise-sqrt", budget__unit="steps", budget__amount=2, measure__every=1)
    plan = prepare(exp)
    linear = plan.lanes[0].model[1]  # the initial weights, shared by every lane
    exact = linreg_noise_closed_form(plan.data.x_train, plan.data.y_train, linear.weight.detach(),
                                     float(linear.bias.detach()))
    record = RunRecord()
    for ev in run_plan(plan):
        record.apply(ev)
    s = record.finished.summary
    assert -0.55 <= s.noise_slope <= -0.45
    assert s.b_simple == pytest.approx(exact["b_simple"], rel=0.10)
    # The population formula agrees too (N = 8000 examples: a few percent).
    w_true = plan.data.extra["w_true"].double().reshape(-1)
    d2 = float(((linear.weight.detach().double().reshape(-1) - w_true) ** 2).sum())
    c, d, s2 = float(linear.bias.detach()), exp.dataset.dim, exp.dataset.noise ** 2
    population = (d2 * (d + 2) + c * c * d + s2 * (d + 1)) / (d2 + c * c)
    assert exact["b_simple"] == pytest.approx(population, rel=0.05)


def test_steps_to_target_fall_with_batch_size_until_the_critical_batch_size():
    sizes = [2, 8, 32, 128, 512]
    # every report: steps to target are read between reports (the default cadence reads fewer)
    s, _ = run_summary(shrunk("steps-vs-batch", batch_sizes=sizes, budget__amount=150, measure__share=1.0))
    best = {}
    for ln in s.lanes:
        if ln.to_target:
            best[ln.batch_size] = min(best.get(ln.batch_size, math.inf), ln.to_target.steps)
    steps = [best[b] for b in sizes]  # every batch size reached the target with some lr
    assert all(a > b for a, b in zip(steps, steps[1:3], strict=False))  # small B: more B, fewer steps
    assert steps[0] / steps[1] > 2.5  # near-perfect scaling: 4x the batch, over 2.5x fewer steps
    assert steps[-1] > steps[0] * 2 / 512 * 4  # large B: far from perfect scaling
    assert s.b_crit is not None and sizes[0] < s.b_crit < sizes[-1]


def test_growing_the_batch_matches_decaying_the_lr_in_fewer_steps():
    s, record = run_summary(shrunk("decay-vs-batch", budget__amount=6, variants__0__decay_epochs=[2, 4],
                                   variants__1__grow_epochs=[2, 4]))
    decay, grow = s.lanes
    assert (decay.label, grow.label) == ("decay lr", "grow batch")
    assert grow.steps < 0.6 * decay.steps
    assert grow.final_train_loss == pytest.approx(decay.final_train_loss, rel=0.25)
    # Against epochs, the two curves stay close all the way (not just at the end).
    a, b = (record.lanes[i].history for i in (0, 1))
    for pa, pb in zip(a, b, strict=True):
        assert pa.epoch == pytest.approx(pb.epoch, abs=0.02)
        assert pa.train_loss == pytest.approx(pb.train_loss, rel=0.3)
