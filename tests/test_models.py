"""Models: shapes, determinism, per-example gradients by vmap, and that they learn."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.func import functional_call, grad, vmap

from tuilab.engine.data import Data
from tuilab.engine.models import build_model, count_parameters, describe_model, loss_function
from tuilab.errors import UserError
from tuilab.presets import ModelConfig


def make_data(input_shape=(2,), task="classification", out_dim=3, n=64) -> Data:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(n, *input_shape, generator=g)
    if task == "classification":
        y = torch.randint(0, out_dim, (n,), generator=g)
    else:
        y = torch.randn(n, out_dim, generator=g)
    return Data(x, y, x[:8], y[:8], task, out_dim if task == "classification" else 0,
                tuple(input_shape), out_dim, "test data")


CASES = [  # (model config, data) for every kind, classification and regression
    (ModelConfig(kind="linear"), make_data()),
    (ModelConfig(kind="linear"), make_data((5,), "regression", 1)),
    (ModelConfig(kind="mlp", hidden=[16, 8], activation="tanh"), make_data((4,))),
    (ModelConfig(kind="mlp", hidden=[16], activation="gelu"), make_data((3,), "regression", 2)),
    (ModelConfig(kind="cnn", channels=[4, 6]), make_data((1, 8, 8), out_dim=10)),
    (ModelConfig(kind="cnn", channels=[3], activation="tanh"), make_data((2, 6, 5), out_dim=4)),
]
IDS = ["linear-cls", "linear-reg", "mlp-tanh", "mlp-gelu-reg", "cnn-digits", "cnn-odd"]


@pytest.mark.parametrize("cfg, data", CASES, ids=IDS)
def test_output_shape(cfg, data):
    out = build_model(cfg, data)(data.x_train)
    assert out.shape == (data.n_train, data.out_dim)


@pytest.mark.parametrize("cfg, data", CASES, ids=IDS)
def test_build_is_deterministic_under_manual_seed(cfg, data):
    torch.manual_seed(3)
    a = build_model(cfg, data).state_dict()
    torch.manual_seed(3)
    b = build_model(cfg, data).state_dict()
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize("cfg, data", CASES, ids=IDS)
def test_vmap_per_example_gradients_match_a_loop_of_backward_passes(cfg, data):
    torch.manual_seed(0)
    model, loss_fn = build_model(cfg, data), loss_function(data.task)
    x, y = data.x_train[:6], data.y_train[:6]
    params = {k: v.detach() for k, v in model.named_parameters()}

    def loss_one(p, xi, yi):
        return loss_fn(functional_call(model, p, (xi.unsqueeze(0),)), yi.unsqueeze(0))

    per_example = vmap(grad(loss_one), in_dims=(None, 0, 0))(params, x, y)
    for i in range(len(x)):
        model.zero_grad()
        loss_fn(model(x[i:i + 1]), y[i:i + 1]).backward()
        for name, p in model.named_parameters():
            torch.testing.assert_close(per_example[name][i], p.grad, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("cfg, data", CASES, ids=IDS)
def test_a_few_sgd_steps_reduce_the_loss(cfg, data):
    torch.manual_seed(0)
    model, loss_fn = build_model(cfg, data), loss_function(data.task)
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    losses = []
    for _ in range(10):
        loss = loss_fn(model(data.x_train), data.y_train)
        losses.append(loss.item())
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert losses[-1] < losses[0]


def test_cnn_pools_until_a_side_would_drop_below_two():
    digits = make_data((1, 8, 8), out_dim=10)
    model = build_model(ModelConfig(kind="cnn", channels=[4, 4, 4]), digits)
    assert sum(isinstance(m, nn.MaxPool2d) for m in model) == 2  # 8 -> 4 -> 2, then no more
    assert model[-1].in_features == 4 * 2 * 2
    mnist = make_data((1, 28, 28), out_dim=10, n=4)
    model = build_model(ModelConfig(kind="cnn", channels=[4, 8, 8]), mnist)
    assert model[-1].in_features == 8 * 3 * 3  # 28 -> 14 -> 7 -> 3
    assert not any(isinstance(m, (nn.BatchNorm2d, nn.Dropout)) for m in model.modules())


def test_cnn_on_non_image_data_is_a_user_error():
    with pytest.raises(UserError, match=r"model.kind: cnn needs image-shaped examples .*an npz whose x is \(n, c, h, w\); use mlp or linear"):
        build_model(ModelConfig(kind="cnn"), make_data((10,)))


def test_mlp_and_linear_flatten_images():
    data = make_data((1, 8, 8), out_dim=10)
    assert build_model(ModelConfig(kind="linear"), data)(data.x_train).shape == (64, 10)
    mlp = build_model(ModelConfig(kind="mlp", hidden=[32]), data)
    assert count_parameters(mlp) == (64 * 32 + 32) + (32 * 10 + 10)


def test_describe_and_count():
    data = make_data((2,), out_dim=2)
    assert describe_model(ModelConfig(kind="mlp", hidden=[64, 64]), data) == "mlp 64x64 relu"
    assert describe_model(ModelConfig(kind="linear"), data) == "linear"
    assert describe_model(ModelConfig(kind="cnn", channels=[16, 32]), data) == "cnn 16-32 relu"
    assert count_parameters(build_model(ModelConfig(kind="linear"), data)) == 2 * 2 + 2


def test_loss_function_is_a_batch_mean():
    logits, labels = torch.tensor([[2.0, 0.0], [0.0, 2.0]]), torch.tensor([0, 0])
    ce = loss_function("classification")(logits, labels)
    assert ce.item() == pytest.approx((torch.log1p(torch.exp(torch.tensor(-2.0))) + torch.log1p(torch.exp(torch.tensor(2.0)))).item() / 2)
    mse = loss_function("regression")(torch.tensor([[1.0], [3.0]]), torch.tensor([[0.0], [0.0]]))
    assert mse.item() == pytest.approx(5.0)
    with pytest.raises(ValueError):
        loss_function("ranking")
