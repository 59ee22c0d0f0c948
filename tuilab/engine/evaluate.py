"""Loss and accuracy of a model over a whole tensor set, in chunks, without gradients."""

from __future__ import annotations

from collections.abc import Callable

import torch


@torch.no_grad()
def evaluate(model: torch.nn.Module, loss_fn: Callable, x: torch.Tensor, y: torch.Tensor,
             classification: bool, chunk: int = 8192) -> tuple[float, float | None]:
    """Mean loss over (x, y) and, for classification, accuracy. One device read at the end."""
    n = x.shape[0]
    loss_sum = torch.zeros((), dtype=torch.float64, device=x.device)
    correct = torch.zeros((), dtype=torch.int64, device=x.device)
    for i in range(0, n, chunk):
        out = model(x[i:i + chunk])
        yb = y[i:i + chunk]
        loss_sum += loss_fn(out, yb).double() * yb.shape[0]
        if classification:
            correct += (out.argmax(dim=1) == yb).sum()
    loss = float(loss_sum) / n
    return loss, (int(correct) / n if classification else None)
