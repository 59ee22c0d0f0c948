"""Sharpness: the largest eigenvalue of the Hessian of the mean training loss.

Measured over the reference set R (the set that gives G and the train loss), by
power iteration on Hessian-vector products (double backward, in chunks, so memory
stays bounded on a large R). The iteration count and the start vector's seed are
fixed, so the same weights always give the same number; the result says how far the
estimate still moved in its last iteration.

Power iteration finds the eigenvalue of largest *magnitude*. Away from a minimum that
can be a negative one; then a second, shifted iteration on H - lambda_neg I (whose
dominant eigenvalue is lambda_max - lambda_neg >= 0) finds the largest.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor, nn

LossFn = Callable[[Tensor, Tensor], Tensor]

ITERATIONS = 20
CONVERGED_BELOW = 1e-3  # relative change of the estimate in the last iteration


@dataclass(frozen=True)
class Sharpness:
    """The top Hessian eigenvalue and how well the power iteration settled on it."""

    value: float
    iterations: int
    rel_change: float  # |lambda_k - lambda_{k-1}| / |lambda_k| at the last iteration
    converged: bool
    note: str = ""


def hessian_vector_product(model: nn.Module, loss_fn: LossFn, x: Tensor, y: Tensor, v: Tensor,
                           chunk: int = 8192) -> Tensor:
    """H v for the Hessian of the mean loss over (x, y), flattened in parameter order.

    Each chunk's mean-loss Hessian is weighted by its share of the examples, so the
    result is the whole set's H v. Double backward: grad of (grad L . v).
    """
    params = [p for p in model.parameters() if p.requires_grad]
    n = x.shape[0]
    out = torch.zeros_like(v)
    for start in range(0, n, chunk):
        xs, ys = x[start:start + chunk], y[start:start + chunk]
        loss = loss_fn(model(xs), ys)
        grads = torch.autograd.grad(loss, params, create_graph=True, allow_unused=True)
        flat = torch.cat([(g if g is not None else torch.zeros_like(p)).reshape(-1)
                          for g, p in zip(grads, params, strict=True)])
        hv = torch.autograd.grad(flat @ v, params, allow_unused=True)
        out += torch.cat([(h if h is not None else torch.zeros_like(p)).reshape(-1)
                          for h, p in zip(hv, params, strict=True)]) * (xs.shape[0] / n)
    return out


def _power(hvp: Callable[[Tensor], Tensor], v: Tensor, iterations: int, shift: float) -> tuple[float, float]:
    """Power iteration on (H - shift I): its dominant eigenvalue (plus shift) and the last relative change."""
    lam, prev = 0.0, math.nan
    for _ in range(iterations):
        v = v / v.norm()
        w = hvp(v) - shift * v
        prev, lam = lam, float(v @ w)  # Rayleigh quotient: one device read per iteration
        v = w
        if not math.isfinite(lam) or float(v.norm()) == 0.0:
            break
    change = abs(lam - prev) / abs(lam) if lam != 0 and math.isfinite(prev) else math.inf
    return lam + shift, change


def top_hessian_eigenvalue(model: nn.Module, loss_fn: LossFn, x: Tensor, y: Tensor,
                           iterations: int = ITERATIONS, seed: int = 0) -> Sharpness:
    """The largest eigenvalue of the Hessian of the mean loss over (x, y) at the model's weights.

    The start vector is drawn from a CPU generator seeded with `seed`; nothing in the
    model changes (no .grad is written).
    """
    n_params = sum(p.numel() for p in model.parameters() if p.requires_grad)
    dtype = next(model.parameters()).dtype
    g = torch.Generator().manual_seed(seed)
    v0 = torch.randn(n_params, generator=g, dtype=dtype).to(x.device)

    def hvp(v: Tensor) -> Tensor:
        return hessian_vector_product(model, loss_fn, x, y, v)

    lam, change = _power(hvp, v0, iterations, 0.0)
    note = ""
    if math.isfinite(lam) and lam < 0:
        # The dominant eigenvalue was negative: look above it for the largest one.
        lam, change = _power(hvp, v0, iterations, lam)
        note = "dominant eigenvalue negative; largest found by a shifted iteration"
    converged = change < CONVERGED_BELOW
    if not converged:
        note = "; ".join(filter(None, [note, f"not converged after {iterations} iterations "
                                             f"(last change {change:.1%})"]))
    return Sharpness(lam, iterations, change, converged, note)
