"""Loss and accuracy of a model over a whole tensor set, in chunks, without gradients."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import torch


@contextmanager
def eval_mode(model: torch.nn.Module) -> Iterator[None]:
    """The model in eval mode (BatchNorm's running statistics, no dropout), then every module's
    own previous mode back: training goes on exactly as if nothing had been measured."""
    modes = [(m, m.training) for m in model.modules()]
    model.train(False)  # = model.eval()
    try:
        yield
    finally:
        for m, training in modes:
            m.training = training


@torch.no_grad()
def evaluate(model: torch.nn.Module, loss_fn: Callable, x: torch.Tensor, y: torch.Tensor,
             classification: bool, chunk: int = 8192) -> tuple[float, float | None]:
    """Mean loss over (x, y) in eval mode and, for classification, accuracy. One device read at the end.

    (x, y) may live in host memory while the model is on a GPU: each chunk is copied over.
    """
    device = next(model.parameters()).device
    n = x.shape[0]
    loss_sum = torch.zeros((), dtype=torch.float64, device=device)
    correct = torch.zeros((), dtype=torch.int64, device=device)
    with eval_mode(model):
        for i in range(0, n, chunk):
            xb = x[i:i + chunk].to(device, non_blocking=True)
            yb = y[i:i + chunk].to(device, non_blocking=True)
            out = model(xb)
            loss_sum += loss_fn(out, yb).double() * yb.shape[0]
            if classification:
                correct += (out.argmax(dim=1) == yb).sum()
    loss = float(loss_sum) / n
    return loss, (int(correct) / n if classification else None)
