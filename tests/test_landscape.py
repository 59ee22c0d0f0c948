"""The loss slice: its centre, its filter normalisation, and an exact parabola on linear regression."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from tuilab.engine.evaluate import evaluate
from tuilab.engine.landscape import filter_normalized_direction, loss_slice
from tuilab.engine.noise import mean_gradient
from tuilab.engine.sharpness import hessian_vector_product


def small_cnn_and_data():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 6 * 6, 3))
    gen = torch.Generator().manual_seed(1)
    return model, torch.randn(40, 1, 6, 6, generator=gen), torch.randint(0, 3, (40,), generator=gen)


def test_alpha_zero_is_the_loss_at_the_weights_and_the_model_is_untouched():
    model, x, y = small_cnn_and_data()
    before = [p.detach().clone() for p in model.parameters()]
    s = loss_slice(model, F.cross_entropy, x, y)
    assert len(s.alphas) == len(s.losses) == 21
    assert s.losses[s.alphas.index(0.0)] == evaluate(model, F.cross_entropy, x, y, classification=True)[0]
    assert all(torch.equal(p, q) for p, q in zip(model.parameters(), before, strict=True))
    # Moving away from the weights changes the loss: the slice is not flat by construction.
    assert max(s.losses) > s.losses[10] * 1.01


def test_each_filter_of_the_direction_has_the_weights_filter_norm():
    model, _, _ = small_cnn_and_data()
    direction = filter_normalized_direction(model, seed=4)
    for p, d in zip(model.parameters(), direction, strict=True):
        assert d.shape == p.shape
        if p.dim() == 1:
            assert torch.count_nonzero(d) == 0  # biases stay put
            continue
        w_norms = p.detach().reshape(p.shape[0], -1).norm(dim=1)
        d_norms = d.reshape(p.shape[0], -1).norm(dim=1)
        torch.testing.assert_close(d_norms, w_norms)
    again = filter_normalized_direction(model, seed=4)
    assert all(torch.equal(a, b) for a, b in zip(direction, again, strict=True))


def test_linear_regression_slice_is_the_taylor_parabola():
    # MSE of a linear model is quadratic in the weights: L(a) = L0 + a g.d + a^2/2 d.H.d exactly.
    gen = torch.Generator().manual_seed(2)
    x = torch.randn(100, 4, generator=gen, dtype=torch.float64)
    y = torch.randn(100, 2, generator=gen, dtype=torch.float64)
    torch.manual_seed(2)
    model = nn.Linear(4, 2).to(torch.float64)
    d = torch.cat([t.reshape(-1) for t in filter_normalized_direction(model, seed=7)])
    l0 = evaluate(model, F.mse_loss, x, y, classification=False)[0]
    gd = float(mean_gradient(model, F.mse_loss, x, y) @ d)
    dhd = float(d @ hessian_vector_product(model, F.mse_loss, x, y, d))
    s = loss_slice(model, F.mse_loss, x, y, alphas=(-2.0, -0.5, 0.25, 1.5), seed=7)
    for a, got in zip(s.alphas, s.losses, strict=True):
        assert abs(got - (l0 + a * gd + 0.5 * a * a * dhd)) < 1e-10
