"""Gradient-noise measurements against closed forms on linear regression with MSE.

For a bias-free nn.Linear(d, 1) and mse_loss on (n, 1) targets, the loss of example i is
(x_i.w - y_i)^2 (the mean over one output is itself), so g_i = 2 x_i (x_i.w - y_i) exactly.
"""

from __future__ import annotations

import itertools
import math

import pytest
import torch
from torch import nn
from torch.nn import functional as F

from tuilab.engine.noise import (
    NoiseStats,
    empirical_sq_error,
    fit_noise_slope,
    flat_grad,
    mean_gradient,
    measure_noise,
    measure_noise_slope,
    noise_formula,
    per_example_grads,
)


def linreg(n: int, d: int = 5, seed: int = 0):
    """A linear-regression problem and a model whose weights are not at the optimum."""
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(n, d, generator=gen, dtype=torch.float64)
    w_true = torch.randn(d, generator=gen, dtype=torch.float64)
    y = (x @ w_true + 0.5 * torch.randn(n, generator=gen, dtype=torch.float64)).unsqueeze(1)
    model = nn.Linear(d, 1, bias=False).to(torch.float64)
    with torch.no_grad():
        model.weight.copy_(0.3 * torch.randn(1, d, generator=gen, dtype=torch.float64))
    return model, x, y


def closed_form_grads(model: nn.Linear, x, y):
    w = model.weight.detach()[0]
    return 2 * x * (x @ w - y[:, 0]).unsqueeze(1)


def population_tr_sigma(g):
    """(1/N) sum |g_i - G|^2: the population convention noise.py documents."""
    return ((g - g.mean(0)) ** 2).sum(1).mean().item()


def test_per_example_grads_match_closed_form():
    model, x, y = linreg(50)
    got = per_example_grads(model, F.mse_loss, x, y)
    assert got.shape == (50, 5)
    torch.testing.assert_close(got, closed_form_grads(model, x, y))


def test_per_example_grads_with_bias_and_buffer():
    # Bias adds a column 2 (x.w + b - y); a registered buffer must pass through untouched.
    model, x, y = linreg(20)
    lin = nn.Linear(5, 1).to(torch.float64)
    lin.register_buffer("unused", torch.ones(3))
    got = per_example_grads(lin, F.mse_loss, x, y)
    resid = (lin(x) - y).detach()[:, 0]
    want = torch.cat([2 * x * resid.unsqueeze(1), 2 * resid.unsqueeze(1)], dim=1)
    torch.testing.assert_close(got, want)


def test_mean_gradient_matches_closed_form_and_flat_grad():
    model, x, y = linreg(103)
    want = closed_form_grads(model, x, y).mean(0)
    # chunk=10 leaves an uneven last chunk, so the weighting by chunk size matters.
    torch.testing.assert_close(mean_gradient(model, F.mse_loss, x, y, chunk=10), want)
    torch.testing.assert_close(flat_grad(model, F.mse_loss, x, y), want)
    assert model.weight.grad is None  # no side effects on .grad


def test_tr_sigma_exact_when_probe_is_the_training_set():
    model, x, y = linreg(200)
    g = closed_form_grads(model, x, y)
    stats = measure_noise(model, F.mse_loss, x, y, x, y, n_train=200, probe_chunk=64)
    assert stats.tr_sigma == pytest.approx(population_tr_sigma(g), rel=1e-10)
    # R is the whole set: no correction, |G|^2 exact.
    assert stats.g_norm2 == pytest.approx((g.mean(0) ** 2).sum().item(), rel=1e-10)
    assert stats.g_norm2 == stats.g_norm2_raw
    assert stats.resolved


def test_tr_sigma_unbiased_over_every_probe_subset():
    # Averaged over all C(8, 4) probes, the estimate must equal the population trace
    # exactly: this pins the (N-1)/N conversion (off by 12.5% here if it were missing).
    model, x, y = linreg(8)
    want = population_tr_sigma(closed_form_grads(model, x, y))
    ests = [
        measure_noise(model, F.mse_loss, x, y, x[list(s)], y[list(s)], n_train=8).tr_sigma
        for s in itertools.combinations(range(8), 4)
    ]
    assert sum(ests) / len(ests) == pytest.approx(want, rel=1e-10)


def test_g_norm2_correction_unbiased_over_every_reference_subset():
    # With the exact tr_sigma (probe = whole set), the corrected |G_R|^2 averaged over
    # all reference sets R of size 3 equals |G|^2 exactly; the raw one is biased upwards.
    model, x, y = linreg(8)
    g = closed_form_grads(model, x, y)
    want = (g.mean(0) ** 2).sum().item()
    stats = [
        measure_noise(model, F.mse_loss, x[list(s)], y[list(s)], x, y, n_train=8)
        for s in itertools.combinations(range(8), 3)
    ]
    assert sum(s.g_norm2 for s in stats) / len(stats) == pytest.approx(want, rel=1e-10)
    assert sum(s.g_norm2_raw for s in stats) / len(stats) > want * 1.01


def test_tr_sigma_close_for_a_subsample():
    n, m = 4096, 512
    model, x, y = linreg(n)
    g = closed_form_grads(model, x, y)
    want = population_tr_sigma(g)
    # Standard error of the mean of d_i = |g_i - G|^2 over a without-replacement sample.
    d = ((g - g.mean(0)) ** 2).sum(1)
    se = d.std().item() / math.sqrt(m) * math.sqrt((n - m) / (n - 1))
    idx = torch.randperm(n, generator=torch.Generator().manual_seed(1))[:m]
    got = measure_noise(model, F.mse_loss, x, y, x[idx], y[idx], n_train=n).tr_sigma
    assert abs(got - want) < 4 * se


@pytest.mark.parametrize("batch_size", [1, 8, 64, 200, 255])
def test_empirical_sq_error_agrees_with_formula(batch_size):
    n, draws = 256, 600
    model, x, y = linreg(n)
    g = closed_form_grads(model, x, y)
    tr_sigma = population_tr_sigma(g)
    G = g.mean(0)
    errs = empirical_sq_error(
        model, F.mse_loss, x, y, batch_size, draws, G, torch.Generator().manual_seed(2)
    )
    assert errs.shape == (draws,)
    predicted = tr_sigma / batch_size * (n - batch_size) / (n - 1)
    se = errs.std().item() / math.sqrt(draws)
    assert abs(errs.mean().item() - predicted) < 4 * se


def test_noise_is_zero_at_full_batch_and_matches_formula():
    stats = NoiseStats(tr_sigma=3.0, g_norm2=0.5, g_norm2_raw=0.6, n_train=100, resolved=True)
    assert stats.noise(100) == 0.0
    assert stats.noise(10) == pytest.approx(math.sqrt(3.0 / 10 * 90 / 99 / 0.5))
    assert stats.noise(10) == noise_formula(3.0, 0.5, 10, 100)
    assert stats.b_simple() == pytest.approx(6.0)


def test_fit_noise_slope_recovers_exact_power_law():
    n = 1000
    bs = [2, 8, 32, 128, 512, 1000]
    noise = [3.0 * b**-0.5 * math.sqrt((n - b) / (n - 1)) for b in bs]
    fit = fit_noise_slope(bs, noise, n)
    assert fit.slope == pytest.approx(-0.5, abs=1e-12)
    assert fit.stderr == pytest.approx(0.0, abs=1e-12)
    assert fit.used == (True, True, True, True, True, False)  # B = N carries no noise


def test_fit_noise_slope_needs_two_points():
    assert fit_noise_slope([8, 100], [0.3, 0.0], 100).slope is None
    two = fit_noise_slope([4, 16], [1.0, 0.5], 10**9)
    assert two.slope == pytest.approx(-0.5, abs=1e-6)
    assert two.stderr is None


def test_measure_noise_slope_is_minus_one_half_on_linreg():
    n = 4096
    model, x, y = linreg(n)
    bs = [4, 8, 16, 32, 64, 128, 256, 512]
    stats = measure_noise(model, F.mse_loss, x, y, x, y, n_train=n)
    result = measure_noise_slope(
        model, F.mse_loss, x, y, bs, 64, torch.Generator().manual_seed(3), stats
    )
    assert result.slope == pytest.approx(-0.5, abs=0.05)
    assert result.stderr is not None and result.stderr < 0.05
    assert [p.batch_size for p in result.points] == bs
    for p in result.points:  # the formula's prediction sits beside each measurement
        assert p.predicted == pytest.approx(p.measured, rel=0.25)
    assert result.b_simple == stats.b_simple()


def test_measure_noise_slope_excludes_full_batch():
    n = 64
    model, x, y = linreg(n)
    result = measure_noise_slope(
        model, F.mse_loss, x, y, [2, 8, 64], 16, torch.Generator().manual_seed(0)
    )
    assert result.points[-1].measured == 0.0
    assert "B=N=64 excluded" in result.note
    assert result.slope is not None
    assert all(p.predicted is None for p in result.points)


def fit_exactly(model, x, y):
    w = torch.linalg.lstsq(x, y).solution
    with torch.no_grad():
        model.weight.copy_(w.T)


def test_unresolved_when_corrected_g_norm2_is_negative():
    # Two copies of the same 4 examples; R = the first copy has the same optimum, so
    # G_R = 0 there and the correction drives |G|^2 below zero.
    model, x, y = linreg(4, d=2)  # d < 4: the optimum does not interpolate, so g_i != 0
    x, y = torch.cat([x, x]), torch.cat([y, y])
    fit_exactly(model, x, y)
    stats = measure_noise(model, F.mse_loss, x[:4], y[:4], x, y, n_train=8)
    assert stats.g_norm2 < 0
    assert not stats.resolved
    assert stats.noise(2) is None and stats.b_simple() is None


def test_unresolved_at_exact_optimum_with_full_reference():
    # |G|^2 is only rounding error here: it must not be reported as a (huge) b_simple.
    model, x, y = linreg(16)
    fit_exactly(model, x, y)
    stats = measure_noise(model, F.mse_loss, x, y, x, y, n_train=16)
    assert stats.tr_sigma > 0
    assert not stats.resolved


def test_per_example_grads_match_one_by_one_on_a_classifier():
    # cross_entropy with int64 labels of shape (n,), through a small MLP with two layers.
    gen = torch.Generator().manual_seed(4)
    model = nn.Sequential(nn.Linear(3, 6), nn.Tanh(), nn.Linear(6, 4)).to(torch.float64)
    x = torch.randn(9, 3, generator=gen, dtype=torch.float64)
    y = torch.randint(4, (9,), generator=gen)
    got = per_example_grads(model, F.cross_entropy, x, y)
    want = torch.stack(
        [flat_grad(model, F.cross_entropy, x[i : i + 1], y[i : i + 1]) for i in range(9)]
    )
    torch.testing.assert_close(got, want)
