"""Sharpness (top Hessian eigenvalue) against closed forms and a full Hessian."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from tuilab.engine.sharpness import hessian_vector_product, top_hessian_eigenvalue


def linreg(n: int = 300, d: int = 5, seed: int = 0):
    """Linear regression with a bias; columns scaled so the top eigenvalue stands clear of the next."""
    gen = torch.Generator().manual_seed(seed)
    scale = torch.tensor([3.0, 1.5, 1.0, 0.7, 0.5], dtype=torch.float64)[:d]
    x = torch.randn(n, d, generator=gen, dtype=torch.float64) * scale + 0.4
    y = (x @ torch.randn(d, 1, generator=gen, dtype=torch.float64)
         + 0.3 * torch.randn(n, 1, generator=gen, dtype=torch.float64))
    torch.manual_seed(seed)
    model = nn.Linear(d, 1).to(torch.float64)
    return model, x, y


def test_top_eigenvalue_of_linear_regression_equals_its_closed_form():
    model, x, y = linreg()
    a = torch.cat([x, torch.ones(x.shape[0], 1, dtype=torch.float64)], dim=1)
    closed = 2 * torch.linalg.eigvalsh(a.T @ a / x.shape[0]).max().item()
    s = top_hessian_eigenvalue(model, F.mse_loss, x, y, iterations=40)
    assert s.converged, s.note
    assert abs(s.value - closed) <= 1e-8 * closed


def test_chunked_hessian_vector_product_equals_the_whole_set():
    model, x, y = linreg(n=257)
    v = torch.randn(6, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    whole = hessian_vector_product(model, F.mse_loss, x, y, v)
    chunked = hessian_vector_product(model, F.mse_loss, x, y, v, chunk=50)
    torch.testing.assert_close(chunked, whole)


def test_mlp_matches_the_largest_eigenvalue_of_the_full_hessian():
    gen = torch.Generator().manual_seed(3)
    x = torch.randn(64, 3, generator=gen, dtype=torch.float64)
    y = torch.randint(0, 3, (64,), generator=gen)
    torch.manual_seed(3)
    model = nn.Sequential(nn.Linear(3, 6), nn.Tanh(), nn.Linear(6, 3)).to(torch.float64)
    params = list(model.parameters())
    shapes = [p.shape for p in params]
    sizes = [p.numel() for p in params]

    def loss_of(flat):
        chunks = [c.reshape(s) for c, s in zip(flat.split(sizes), shapes, strict=True)]
        return F.cross_entropy(torch.func.functional_call(
            model, dict(zip([n for n, _ in model.named_parameters()], chunks, strict=True)), (x,)), y)

    flat = torch.cat([p.detach().reshape(-1) for p in params])
    full = torch.autograd.functional.hessian(loss_of, flat)
    expected = torch.linalg.eigvalsh(full).max().item()
    s = top_hessian_eigenvalue(model, F.cross_entropy, x, y, iterations=200)
    assert abs(s.value - expected) <= 1e-4 * abs(expected)


class Saddle(nn.Module):
    """loss = 0.5 t^T diag(-3, 1) t: the dominant eigenvalue is -3, the largest is 1."""

    def __init__(self):
        super().__init__()
        self.t = nn.Parameter(torch.tensor([0.5, -0.2], dtype=torch.float64))

    def forward(self, x):
        q = 0.5 * (-3 * self.t[0] ** 2 + self.t[1] ** 2)
        return q.expand(x.shape[0])


def test_a_negative_dominant_eigenvalue_still_gives_the_largest():
    x = torch.zeros(4, 1, dtype=torch.float64)
    s = top_hessian_eigenvalue(Saddle(), lambda out, _y: out.mean(), x, x, iterations=60)
    assert abs(s.value - 1.0) < 1e-6
    assert "shifted" in s.note


def test_same_seed_same_value_and_the_model_is_untouched():
    model, x, y = linreg()
    before = [p.detach().clone() for p in model.parameters()]
    a = top_hessian_eigenvalue(model, F.mse_loss, x, y, iterations=3, seed=5)
    b = top_hessian_eigenvalue(model, F.mse_loss, x, y, iterations=3, seed=5)
    assert a == b
    assert all(p.grad is None for p in model.parameters())
    assert all(torch.equal(p, q) for p, q in zip(model.parameters(), before, strict=True))


def test_too_few_iterations_say_so():
    model, x, y = linreg()
    s = top_hessian_eigenvalue(model, F.mse_loss, x, y, iterations=2)
    assert not s.converged and "not converged after 2 iterations" in s.note


def test_each_finished_lane_gets_sharpness_a_loss_slice_and_its_gap():
    from tuilab.engine.events import LaneLandscape
    from tuilab.engine.run import prepare, run_plan
    from tuilab.presets import experiment_from_dict

    exp = experiment_from_dict({
        "name": "shape", "device": "cpu", "seed": 0, "batch_sizes": [8, 64],
        "variants": [{"label": "seed 0"}, {"label": "seed 5", "seed": 5}],
        "dataset": {"name": "moons", "n": 300}, "model": {"kind": "mlp", "hidden": [8]},
        "budget": {"amount": 1.0}, "measure": {"every": 0.5, "probe_examples": 16, "slope_draws": 2,
                                          "share": 1.0},  # unbudgeted: the surface on all of R
    })
    plan = prepare(exp)
    events = list(run_plan(plan))
    shapes = {e.lane: e for e in events if isinstance(e, LaneLandscape)}
    assert sorted(shapes) == [0, 1, 2, 3]
    for lane in plan.lanes:  # measured at the final weights on the reference set
        expected = top_hessian_eigenvalue(lane.model, plan.loss_fn, plan.x_ref, plan.y_ref, seed=0)
        assert shapes[lane.index].sharpness == expected.value
        assert len(shapes[lane.index].slice_losses) == 21
    summary = events[-1].summary
    for ln in summary.lanes:
        assert ln.sharpness == shapes[ln.lane].sharpness
        assert ln.generalization_gap == ln.final_test_loss - ln.final_train_loss
    starts = [ln.start_train_loss for ln in summary.lanes]
    assert starts[0] == starts[1] != starts[2] == starts[3]  # a variant's seed sets its initial weights
