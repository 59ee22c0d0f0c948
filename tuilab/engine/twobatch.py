"""Gradient noise for any model: the two-batch-size estimator, and the choice of method.

McCandlish et al. 2018 (appendix A.1): at fixed parameters, the expected squared norm
of a size-b minibatch gradient drawn without replacement from N examples is

    E|g_b|^2 = |G|^2 + tr_sigma / b * (N - b) / (N - 1)

(tr_sigma in the population convention of `tuilab.engine.noise`). Averaging |g_b|^2
over K draws at a small b and |g_B|^2 over K draws at a big B gives two linear
equations in |G|^2 and tr_sigma; their solution is unbiased. It needs only minibatch
gradients, in training mode, so it holds where per-example gradients do not
(BatchNorm in training mode couples the examples of a batch). Standard errors come
from a bootstrap over the draws.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch import Tensor, nn

from tuilab.engine.noise import (
    LossFn,
    NoiseStats,
    finite_population_factor,
    flat_grad,
    no_trace,
    per_example_grads,
)

BOOTSTRAP = 1000  # resamples of the draws for the standard errors (scalars only: cheap)
UNRESOLVED_SHARE = 0.025  # |G|^2 <= 0 in more resamples than this: too close to 0 to divide by


def two_batch_sizes(n_train: int, smallest_batch: int, given: tuple[int, int] | None,
                    draws: int) -> tuple[int, int]:
    """(b, B): as given, else the smallest lane's batch size (at least 2, so BatchNorm has
    a batch) and 16 times that (at least 512), both within the training set. Where K draws
    at B would cost more than one pass over the training set, B is the training set: then
    |G|^2 is exact (one draw, no sampling noise) and cheaper."""
    if given is not None:
        b, big = given
    else:
        b = max(2, smallest_batch)
        big = max(16 * b, 512)
        if n_train <= draws * big:
            big = n_train
    big = min(big, n_train)
    b = min(b, max(1, big // 2))
    return b, big


def two_batch_solve(small: np.ndarray, big: np.ndarray, b: int, big_b: int, n_train: int):
    """(tr_sigma, |G|^2) from mean squared norms at b and B; works on arrays of resamples too."""
    cb = finite_population_factor(b, n_train) / b
    cB = finite_population_factor(big_b, n_train) / big_b
    tr_sigma = (small - big) / (cb - cB)
    g_norm2 = (cb * big - cB * small) / (cb - cB)
    return tr_sigma, g_norm2


def measure_noise_two_batch(
    model: nn.Module,
    loss_fn: LossFn,
    rows: Callable[[Tensor], tuple[Tensor, Tensor]],
    n_train: int,
    b: int,
    big_b: int,
    draws: int,
    generator: torch.Generator,
) -> NoiseStats:
    """tr_sigma and |G|^2 (with standard errors) from K = `draws` minibatch gradients at b and at B.

    `rows(idx)` gives the training examples idx on the model's device. Norms are averaged
    over the draws before the two sizes are combined; at B = N every draw is the full
    gradient, so one is enough.
    """
    if not 1 <= b < big_b <= n_train:
        raise ValueError(f"need 1 <= b < B <= N, got b={b}, B={big_b}, N={n_train}")
    norms: dict[int, list[Tensor]] = {b: [], big_b: []}
    with no_trace(model):
        for size in (b, big_b):
            for _ in range(draws if size < n_train else 1):
                idx = torch.randperm(n_train, generator=generator)[:size]
                g = flat_grad(model, loss_fn, *rows(idx))
                norms[size].append(g @ g)
    small, big = (torch.stack(norms[s]).double().cpu().numpy() for s in (b, big_b))  # one sync each
    tr_sigma, g_norm2 = two_batch_solve(small.mean(), big.mean(), b, big_b, n_train)
    rng = np.random.default_rng(int(torch.randint(0, 2**31 - 1, (1,), generator=generator)))
    boot_small = small[rng.integers(0, len(small), (BOOTSTRAP, len(small)))].mean(1)
    boot_big = big[rng.integers(0, len(big), (BOOTSTRAP, len(big)))].mean(1)
    boot_tr, boot_g = two_batch_solve(boot_small, boot_big, b, big_b, n_train)
    positive = boot_g > 0
    resolved = bool(g_norm2 > 0 and 1 - positive.mean() <= UNRESOLVED_SHARE)
    b_se = float(np.std(boot_tr[positive] / boot_g[positive], ddof=1)) if resolved else None
    return NoiseStats(float(tr_sigma), float(g_norm2), float(big.mean()), n_train, resolved,
                      float(np.std(boot_tr, ddof=1)), float(np.std(boot_g, ddof=1)), b_se, "two-batch")


def batch_coupled(model: nn.Module) -> str | None:
    """The first module in training mode whose output mixes the examples of a batch, if any."""
    for name, m in model.named_modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.training:
            return f"{name or 'model'} ({type(m).__name__})"
    return None


def choose_noise_method(setting: str, model: nn.Module, loss_fn: LossFn, x2: Tensor, y2: Tensor) -> tuple[str, str]:
    """(method, why): per-example where it is exact (no batch-coupled module in training mode
    and vmap works on a 2-example probe `x2, y2`), else two-batch. "per-example" asked for
    where it is not exact raises ValueError with the reason."""
    if setting == "two-batch":
        return "two-batch", "asked for"
    coupled = batch_coupled(model)
    reason = f"{coupled} couples the examples of a batch" if coupled else None
    if reason is None:
        try:
            with no_trace(model):
                per_example_grads(model, loss_fn, x2, y2)
        except Exception as e:  # vmap cannot run some models (data-dependent control flow, in-place ops ...)
            reason = f"per-example gradients (vmap) fail on this model: {type(e).__name__}"
    if reason is None:
        return "per-example", "exact for this model"
    if setting == "per-example":
        raise ValueError(f"measure.noise_method = per-example is not exact here: {reason}; use auto or two-batch")
    return "two-batch", reason
