"""Model registry: linear, mlp and cnn sized to a dataset, or the user's own (custom).

The built-in models have no BatchNorm or dropout: an example's output depends on
that example alone, so per-example gradients (torch.func vmap over grad) are exact.
A custom model may have anything; the noise measurement then picks its method
(`tuilab.engine.noise.choose_noise_method`).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from tuilab.engine.data import Data
from tuilab.engine.twobatch import choose_noise_method
from tuilab.engine.usercode import UserCode, call
from tuilab.errors import UserError
from tuilab.presets import CNN_INPUT, ModelConfig

_ACTIVATIONS: dict[str, type[nn.Module]] = {"relu": nn.ReLU, "tanh": nn.Tanh, "gelu": nn.GELU}


def build_model(cfg: ModelConfig, data: Data, code: UserCode | None = None) -> nn.Module:
    """A fresh model for `data`, on the CPU (the caller seeds torch and moves it).

    `code` imports a custom factory (one UserCode per run, so its file is imported once)."""
    if cfg.kind == "custom":
        return _custom(cfg, data, code or UserCode())
    n_in = math.prod(data.input_shape)
    if cfg.kind == "linear":
        return nn.Sequential(nn.Flatten(), nn.Linear(n_in, data.out_dim))
    if cfg.kind == "mlp":
        layers: list[nn.Module] = [nn.Flatten()]
        for width in cfg.hidden:
            layers += [nn.Linear(n_in, width), _ACTIVATIONS[cfg.activation]()]
            n_in = width
        return nn.Sequential(*layers, nn.Linear(n_in, data.out_dim))
    if cfg.kind == "cnn":
        return _cnn(cfg, data)
    raise UserError(f"model.kind: unknown model {cfg.kind!r}; valid: linear, mlp, cnn, custom")


def _custom(cfg: ModelConfig, data: Data, code: UserCode) -> nn.Module:
    what = f"model.factory {cfg.factory}"
    model = call(code.load(cfg.factory, "model.factory"), cfg.factory, "model.factory",
                 data.input_shape, data.out_dim)
    if not isinstance(model, nn.Module):
        raise UserError(f"{what}: returned a {type(model).__name__}; expected a torch.nn.Module "
                        f"(it is called as NAME(input_shape={data.input_shape}, out_dim={data.out_dim}))")
    if not any(p.requires_grad for p in model.parameters()):
        raise UserError(f"{what}: the model has no trainable parameters")
    return model


def make_loss(cfg: ModelConfig, task: str, code: UserCode | None = None) -> Callable:
    """model.loss if given (a function, or a loss class such as torch.nn:SmoothL1Loss), else the task's."""
    if cfg.loss is None:
        return loss_function(task)
    fn = (code or UserCode()).load(cfg.loss, "model.loss")
    if isinstance(fn, type):
        fn = call(fn, cfg.loss, "model.loss")
    return fn


def check_fit(cfg: ModelConfig, model: nn.Module, loss_fn: Callable, x: torch.Tensor, y: torch.Tensor,
              data: Data) -> None:
    """One forward and loss on a few examples (x, y): the model's output must fit the labels.

    Runs on a model of its own (BatchNorm updates its running statistics here)."""
    spec = cfg.factory if cfg.kind == "custom" else cfg.kind
    out = call(model, spec, "model.factory" if cfg.kind == "custom" else "model", x)
    if not isinstance(out, torch.Tensor):
        raise UserError(f"model.factory {spec}: its forward returned a {type(out).__name__}; expected a tensor")
    expected = (len(x), data.out_dim)
    if cfg.loss is None and tuple(out.shape) != expected:
        labels = f"{data.n_classes} classes" if data.n_classes else f"{data.out_dim} target column(s)"
        raise UserError(f"model.factory {spec}: output of shape {tuple(out.shape)} on {len(x)} examples does not "
                        f"fit the labels ({labels}); expected {expected}")
    where = f"model.loss {cfg.loss}" if cfg.loss else f"model.factory {spec}"
    loss = call(loss_fn, cfg.loss or spec, "model.loss" if cfg.loss else "model.factory (its loss)", out, y)
    if not isinstance(loss, torch.Tensor) or loss.numel() != 1:
        shape = tuple(loss.shape) if isinstance(loss, torch.Tensor) else type(loss).__name__
        raise UserError(f"{where}: the loss is {shape}; expected one number, the mean over the batch")
    if not torch.isfinite(loss).all():
        raise UserError(f"{where}: the loss on the first examples is {float(loss)}; expected a finite number")


def _cnn(cfg: ModelConfig, data: Data) -> nn.Module:
    if len(data.input_shape) != 3:
        raise UserError(f"model.kind: {CNN_INPUT}")
    c, h, w = data.input_shape
    layers: list[nn.Module] = []
    for out in cfg.channels:
        layers += [nn.Conv2d(c, out, 3, padding=1), _ACTIVATIONS[cfg.activation]()]
        # Pool while both sides stay >= 2: an 8x8 digit takes two pools, not three.
        if min(h, w) // 2 >= 2:
            layers.append(nn.MaxPool2d(2))
            h, w = h // 2, w // 2
        c = out
    return nn.Sequential(*layers, nn.Flatten(), nn.Linear(c * h * w, data.out_dim))


def check_model(cfg: ModelConfig, noise_method: str, seed: int, data: Data, loss_fn: Callable,
                code: UserCode) -> tuple[str, str]:
    """On a throwaway model: does its output fit the labels, and how is its noise measured?

    Returns (noise method, why); a model that does not fit raises UserError naming it.
    """
    torch.manual_seed(seed)
    model = build_model(cfg, data, code).to(data.device)
    x2, y2 = data.batch(torch.arange(2))
    check_fit(cfg, model, loss_fn, x2, y2, data)
    try:
        return choose_noise_method(noise_method, model, loss_fn, x2, y2)
    except ValueError as e:
        raise UserError(f"measure.noise_method: {e}") from None


def loss_function(task: str) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """The mean loss over a batch: cross-entropy for classification, MSE for regression."""
    if task == "classification":
        return F.cross_entropy
    if task == "regression":
        return F.mse_loss
    raise ValueError(f"unknown task {task!r}")


def describe_model(cfg: ModelConfig, data: Data) -> str:
    """A short label, e.g. 'mlp 64x64 relu', 'linear', 'cnn 16-32 relu'."""
    if cfg.kind == "linear":
        return "linear"
    if cfg.kind == "custom":
        return f"custom {cfg.factory.rpartition(':')[2]}"
    if cfg.kind == "mlp":
        widths = "x".join(map(str, cfg.hidden)) or "(no hidden layers)"
        return f"mlp {widths} {cfg.activation}"
    channels = "-".join(map(str, cfg.channels)) or "(no conv layers)"
    return f"cnn {channels} {cfg.activation}"


def count_parameters(model: nn.Module) -> int:
    """Trainable parameters (weights and biases)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
