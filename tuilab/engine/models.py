"""Model registry: linear, mlp and cnn, sized to a dataset.

No BatchNorm or dropout anywhere: a model's output for one example must depend
on that example alone, so that per-example gradients (torch.func vmap over grad)
are exact and the gradient-noise measurements mean what they say.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from tuilab.engine.data import Data
from tuilab.errors import UserError
from tuilab.presets import ModelConfig

_ACTIVATIONS: dict[str, type[nn.Module]] = {"relu": nn.ReLU, "tanh": nn.Tanh, "gelu": nn.GELU}


def build_model(cfg: ModelConfig, data: Data) -> nn.Module:
    """A fresh model for `data`, on the CPU (the caller seeds torch and moves it)."""
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
    raise UserError(f"model.kind: unknown model {cfg.kind!r}; valid: linear, mlp, cnn")


def _cnn(cfg: ModelConfig, data: Data) -> nn.Module:
    if len(data.input_shape) != 3:
        raise UserError("model.kind: cnn needs image data (digits, mnist, fashion-mnist); "
                        "use mlp or linear")
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
    if cfg.kind == "mlp":
        widths = "x".join(map(str, cfg.hidden)) or "(no hidden layers)"
        return f"mlp {widths} {cfg.activation}"
    channels = "-".join(map(str, cfg.channels)) or "(no conv layers)"
    return f"cnn {channels} {cfg.activation}"


def count_parameters(model: nn.Module) -> int:
    """Trainable parameters (weights and biases)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
