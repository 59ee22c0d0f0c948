"""A one-dimensional slice of the training loss around given weights (Li et al. 2018).

The direction is random but filter-normalised: each filter of the direction (a row of
a linear layer's weight, an output channel of a convolution) is rescaled to the norm
of the same filter in the weights. A network with ReLUs computes the same function
when a filter is scaled up and the next layer down, so an unnormalised direction
would make a net with large weights look flat; filter normalisation makes slices of
different nets comparable. As in Li et al.'s code, one-dimensional parameters
(biases) get a zero direction.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from tuilab.engine.evaluate import evaluate

DEFAULT_ALPHAS = tuple(round(-1.0 + 0.1 * i, 10) for i in range(21))  # -1.0, -0.9, ..., 1.0


@dataclass(frozen=True)
class LossSlice:
    """Loss at weights + alpha * direction, for each alpha."""

    alphas: tuple[float, ...]
    losses: tuple[float, ...]


def filter_normalized_direction(model: nn.Module, seed: int = 0) -> list[Tensor]:
    """A Gaussian direction, one tensor per trainable parameter, each filter scaled to the weights' filter."""
    g = torch.Generator().manual_seed(seed)
    out = []
    for p in model.parameters():
        if not p.requires_grad:
            continue
        d = torch.randn(p.shape, generator=g, dtype=p.dtype)  # drawn on the CPU: same on every device
        if p.dim() <= 1:
            d.zero_()
        else:
            w = p.detach().cpu().reshape(p.shape[0], -1)
            flat = d.reshape(p.shape[0], -1)
            # A zero filter of the direction cannot be rescaled; randn makes one vanishingly unlikely.
            flat.mul_(w.norm(dim=1, keepdim=True) / flat.norm(dim=1, keepdim=True))
        out.append(d.to(p.device))
    return out


def loss_slice(model: nn.Module, loss_fn: Callable, x: Tensor, y: Tensor,
               alphas: Sequence[float] = DEFAULT_ALPHAS, seed: int = 0) -> LossSlice:
    """Mean loss over (x, y) at weights + alpha * d for a filter-normalised direction d.

    Works on a copy of the model: the given model's weights are never touched.
    """
    direction = filter_normalized_direction(model, seed)
    probe = copy.deepcopy(model)
    params = [p for p in probe.parameters() if p.requires_grad]
    base = [p.detach().clone() for p in params]
    losses = []
    for a in alphas:
        with torch.no_grad():
            for p, w, d in zip(params, base, direction, strict=True):
                p.copy_(w + a * d)
        losses.append(evaluate(probe, loss_fn, x, y, classification=False)[0])
    return LossSlice(tuple(float(a) for a in alphas), tuple(losses))
