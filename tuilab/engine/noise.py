"""Gradient-noise measurement: tr_sigma, |G|^2, noise(B) and the noise slope, defined once.

docs/measurements.md states each definition in words; keep the two in step.

Conventions (used everywhere below):

- N is the training-set size; a minibatch of size B is drawn *without replacement*.
- ``tr_sigma`` is the trace of the per-example gradient covariance of the training set in
  the *population* convention: ``tr_sigma = (1/N) sum_i |g_i - G|^2``. With it, the
  expected squared error of a size-B minibatch gradient is exactly
  ``E|g_B - G|^2 = tr_sigma / B * (N - B) / (N - 1)``, which is 0 at B = N.
- ``noise(B) = sqrt(that) / |G|``: the expected (RMS) relative error of g_B.

All tensors stay on the model's device (data in host memory is copied over in chunks);
a host sync happens only where a float is returned. Measurements leave no trace on
training: buffers (BatchNorm's running statistics) and the random state are restored.

Per-example gradients are exact when an example's output depends on it alone; for other
models (BatchNorm in training mode) `tuilab.engine.twobatch` estimates the same
quantities from minibatch gradients at two sizes.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import torch
from torch import Tensor, nn
from torch.func import functional_call, grad, vmap

from tuilab.engine.events import NoiseSlope, SlopePoint

LossFn = Callable[[Tensor, Tensor], Tensor]
GRAM_ROWS = 32  # rows of a probe chunk whose products with the others estimate tr(Sigma^2)


def _params(model: nn.Module) -> list[nn.Parameter]:
    """The trainable parameters, in ``model.parameters()`` order: the flattening order."""
    return [p for p in model.parameters() if p.requires_grad]


@contextmanager
def no_trace(model: nn.Module) -> Iterator[None]:
    """Measure without touching training: buffers and the random state are put back after.

    A forward pass in training mode updates BatchNorm's running statistics, and dropout
    draws from the global generator; neither may depend on how often noise is measured.
    """
    saved = [(b, b.detach().clone()) for b in model.buffers()]
    device = next(model.parameters()).device
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        try:
            yield
        finally:
            with torch.no_grad():
                for b, value in saved:
                    b.copy_(value)


def finite_population_factor(n: int, n_train: int) -> float:
    """(N - n) / (N - 1): shrinks a without-replacement sample's variance; 0 when n >= N."""
    if n >= n_train:
        return 0.0
    return (n_train - n) / (n_train - 1)


def flat_grad(model: nn.Module, loss_fn: LossFn, x: Tensor, y: Tensor) -> Tensor:
    """Gradient of the mean loss on (x, y), flattened in parameter order.

    Uses ``torch.autograd.grad`` so that no ``.grad`` attribute is touched.
    """
    params = _params(model)
    device = params[0].device
    loss = loss_fn(model(x.to(device, non_blocking=True)), y.to(device, non_blocking=True))
    grads = torch.autograd.grad(loss, params, allow_unused=True)
    # An unused parameter has a zero gradient, not a missing one: keep the layout fixed.
    return torch.cat(
        [
            (g if g is not None else torch.zeros_like(p)).reshape(-1)
            for g, p in zip(grads, params, strict=True)
        ]
    )


def mean_gradient(
    model: nn.Module, loss_fn: LossFn, x: Tensor, y: Tensor, chunk: int = 8192
) -> Tensor:
    """Exact gradient of the mean loss over all of (x, y), computed in chunks to bound memory.

    Each chunk's mean-loss gradient is weighted by its share of the examples, so the
    result equals ``flat_grad`` on the whole set (up to rounding).
    """
    n = x.shape[0]
    total = None
    for start in range(0, n, chunk):
        xs, ys = x[start : start + chunk], y[start : start + chunk]
        g = flat_grad(model, loss_fn, xs, ys) * (xs.shape[0] / n)
        total = g if total is None else total + g
    if total is None:
        raise ValueError("mean_gradient needs at least one example")
    return total


def per_example_grads(model: nn.Module, loss_fn: LossFn, x: Tensor, y: Tensor) -> Tensor:
    """Per-example gradients as an (M, P) tensor, by ``vmap`` over ``grad`` of ``functional_call``.

    Buffers and frozen parameters are passed through unchanged. Each example is fed as a
    batch of one, so ``loss_fn`` sees the same shapes as in training.
    """
    trainable = {name: p.detach() for name, p in model.named_parameters() if p.requires_grad}
    fixed = {name: p.detach() for name, p in model.named_parameters() if not p.requires_grad}
    fixed.update({name: b.detach() for name, b in model.named_buffers()})

    def loss_one(params: dict[str, Tensor], xi: Tensor, yi: Tensor) -> Tensor:
        out = functional_call(model, (params, fixed), (xi.unsqueeze(0),))
        return loss_fn(out, yi.unsqueeze(0))

    # randomness="different": a dropout model would draw one mask per example, as in a batch.
    grads = vmap(grad(loss_one), in_dims=(None, 0, 0), randomness="different")(trainable, x, y)
    return torch.cat([grads[name].reshape(x.shape[0], -1) for name in trainable], dim=1)


@dataclass(frozen=True)
class _ProbeSums:
    """What one pass over the probe's per-example gradients gives (0-d or (M,) tensors)."""

    m2: Tensor  # sum_i |g_i - mean|^2, exact
    dev2: Tensor  # (M,) |g_i - mean of its chunk|^2: their spread gives tr_sigma's error
    proj: Tensor  # (M,) g_i . v: their spread estimates v^T Sigma v
    sigma2: Tensor  # an estimate of tr(Sigma^2) (from the chunks' off-diagonal Gram entries)


def _probe_sums(model: nn.Module, loss_fn: LossFn, x: Tensor, y: Tensor, v: Tensor, chunk: int) -> _ProbeSums:
    """One pass over the probe set's per-example gradients, with (chunk, P) memory.

    Chunks are merged with Chan et al.'s pairwise update, which stays accurate where the
    one-pass ``sum |g|^2 - M |mean|^2`` would cancel catastrophically.
    """
    count, mean, m2 = 0, None, None
    dev2, proj, sigma2 = [], [], []
    for start in range(0, x.shape[0], chunk):
        g = per_example_grads(model, loss_fn, x[start : start + chunk], y[start : start + chunk])
        proj.append(g @ v)
        n_b, mean_b = g.shape[0], g.mean(dim=0)
        dev = g.sub_(mean_b)  # in place: g is ours, and (chunk, P) is the big tensor
        dev2.append(dev.square().sum(dim=1))
        if n_b > 1:  # E (d_i . d_j)^2 = tr(Sigma^2) for i != j (up to the chunk mean's small bias)
            # Pairs of the first GRAM_ROWS rows with all rows: unbiased still, at k M P instead of M^2 P
            # (the full Gram matrix cost more than the per-example gradients; this only feeds a stderr).
            k = min(n_b, GRAM_ROWS)
            gram = dev[:k] @ dev.T
            sigma2.append((gram.square().sum() - dev2[-1][:k].square().sum()) / (k * (n_b - 1)))
        m2_b = dev2[-1].sum()
        if mean is None:
            count, mean, m2 = n_b, mean_b, m2_b
            continue
        delta = mean_b - mean
        total = count + n_b
        m2 = m2 + m2_b + (delta @ delta) * (count * n_b / total)
        mean = mean + delta * (n_b / total)
        count = total
    if m2 is None:
        raise ValueError("the probe set is empty")
    return _ProbeSums(m2, torch.cat(dev2), torch.cat(proj), torch.stack(sigma2).mean() if sigma2 else m2 * 0)


@dataclass(frozen=True)
class NoiseStats:
    """Gradient-noise statistics at one set of parameters (population conventions, see module doc).

    ``tr_sigma``: (1/N) sum_i |g_i - G|^2 over the training set (population convention).
    ``g_norm2``: |G_R|^2 - tr_sigma/|R| * (N-|R|)/(N-1), an unbiased estimate of |G|^2.
    ``g_norm2_raw``: |G_R|^2 as measured on the reference set R.
    ``resolved``: whether |G|^2 stands clear of zero; when it does not, ``noise`` and
    ``b_simple`` are None because the relative noise is not measurable.
    The ``*_stderr`` fields are standard errors of the estimates (None: not estimated);
    ``method`` says how they were measured: per-example or two-batch.
    """

    tr_sigma: float
    g_norm2: float
    g_norm2_raw: float
    n_train: int
    resolved: bool
    tr_sigma_stderr: float | None = None
    g_norm2_stderr: float | None = None
    b_simple_stderr: float | None = None
    method: str = "per-example"

    def noise(self, batch_size: int) -> float | None:
        """Expected relative error of a size-B minibatch gradient; 0 at B = N, None if unresolved."""
        if not self.resolved:
            return None
        return noise_formula(self.tr_sigma, self.g_norm2, batch_size, self.n_train)

    def b_simple(self) -> float | None:
        """The gradient noise scale tr_sigma / |G|^2 (McCandlish et al. 2018), None if unresolved."""
        if not self.resolved:
            return None
        return self.tr_sigma / self.g_norm2


def noise_formula(tr_sigma: float, g_norm2: float, batch_size: int, n_train: int) -> float:
    """sqrt(tr_sigma / B * (N - B) / (N - 1)) / |G|, with tr_sigma in the population convention."""
    if batch_size < 1:
        raise ValueError(f"batch size must be >= 1, got {batch_size}")
    if g_norm2 <= 0:
        raise ValueError(f"|G|^2 must be positive, got {g_norm2}")
    fpc = finite_population_factor(batch_size, n_train)
    return math.sqrt(tr_sigma / batch_size * fpc / g_norm2)


def measure_noise(
    model: nn.Module,
    loss_fn: LossFn,
    x_ref: Tensor,
    y_ref: Tensor,
    x_probe: Tensor,
    y_probe: Tensor,
    n_train: int,
    probe_chunk: int = 256,
) -> NoiseStats:
    """Measure tr_sigma and |G|^2 at the model's current parameters.

    (x_ref, y_ref) is the reference set R for G (the training set or a random subset of it);
    (x_probe, y_probe) is a probe set of M >= 2 examples drawn without replacement from the
    training set, for the per-example gradients.
    """
    m = x_probe.shape[0]
    if m < 2:
        raise ValueError(f"the probe set needs at least 2 examples, got {m}")
    with no_trace(model):
        g_ref = mean_gradient(model, loss_fn, x_ref, y_ref)
        probe = _probe_sums(model, loss_fn, x_probe, y_probe, g_ref, probe_chunk)
    # The 1/(M-1) sample variance of a without-replacement sample is unbiased for
    # S^2 = 1/(N-1) sum |g_i - G|^2; times (N-1)/N it estimates the population tr_sigma
    # (and equals it exactly when the probe is the whole training set).
    pop = (n_train - 1) / n_train if n_train > 1 else 0.0
    tr_sigma_t = probe.m2 / (m - 1) * pop
    raw_t = g_ref @ g_ref
    # One host sync for all the floats.
    tr_sigma, g_norm2_raw, d_sd, proj_var, sigma2 = torch.stack(
        [tr_sigma_t, raw_t, probe.dev2.std(), probe.proj.var(), probe.sigma2]).tolist()
    # E|G_R|^2 = |G|^2 + tr_sigma/|R| * (N-|R|)/(N-1): remove R's own sampling noise.
    r = x_ref.shape[0]
    fpc_r = finite_population_factor(r, n_train)
    g_norm2 = g_norm2_raw - tr_sigma / r * fpc_r
    # Standard errors: tr_sigma is a mean of M squared deviations; |G_R|^2 varies as
    # 4 G^T Sigma G / |R| + 2 tr(Sigma^2) / |R|^2 (times the finite-population factors).
    tr_se = d_sd / math.sqrt(m) * math.sqrt(finite_population_factor(m, n_train)) * pop * m / (m - 1)
    g_se = math.sqrt(max(0.0, 4 * proj_var / r * fpc_r + 2 * sigma2 / r**2 * fpc_r**2 + (tr_se * fpc_r / r) ** 2))
    # Below eps * tr_sigma, |G|^2 is indistinguishable from rounding error in the gradients
    # (and would give b_simple > 1/eps, larger than any dataset): call it unresolved.
    floor = torch.finfo(g_ref.dtype).eps * tr_sigma
    resolved = g_norm2 > floor
    b_se = (tr_sigma / g_norm2 * math.hypot(tr_se / tr_sigma if tr_sigma > 0 else 0.0, g_se / g_norm2)
            if resolved else None)
    return NoiseStats(tr_sigma, g_norm2, g_norm2_raw, n_train, resolved, tr_se, g_se, b_se)


def empirical_sq_error(
    model: nn.Module,
    loss_fn: LossFn,
    x: Tensor,
    y: Tensor,
    batch_size: int,
    draws: int,
    G: Tensor,
    generator: torch.Generator,
) -> Tensor:
    """K = ``draws`` values of |g_B - G|^2, each from a minibatch drawn without replacement.

    Indices come from ``torch.randperm`` with the given CPU generator and are moved to the
    data's device in one copy (a copy per draw would synchronise the GPU every draw).
    Returns a tensor on the device; nothing here syncs.
    """
    n = x.shape[0]
    if not 1 <= batch_size <= n:
        raise ValueError(f"batch size must be in 1..{n}, got {batch_size}")
    idx = torch.stack([torch.randperm(n, generator=generator)[:batch_size] for _ in range(draws)])
    idx = idx.to(x.device)  # data in host memory: its rows are copied to the model in mean_gradient
    errs = []
    for k in range(draws):
        g = mean_gradient(model, loss_fn, x[idx[k]], y[idx[k]])
        errs.append(((g - G) ** 2).sum())
    return torch.stack(errs)


@dataclass(frozen=True)
class SlopeFit:
    """A least-squares fit of log noise against log B; ``used`` marks the points in the fit."""

    slope: float | None
    stderr: float | None
    batch_sizes: tuple[int, ...]
    measured: tuple[float, ...]
    used: tuple[bool, ...]


def fit_noise_slope(
    batch_sizes: Sequence[int], measured_noise: Sequence[float], n_train: int
) -> SlopeFit:
    """Fit log(noise / sqrt((N-B)/(N-1))) = a + slope * log(B) by ordinary least squares.

    Dividing out the finite-population factor leaves a pure power law (slope -0.5 when
    the O(1/sqrt(B)) claim holds). Points with B >= N or a non-positive or non-finite
    noise are not used. The slope is None with fewer than 2 usable batch sizes; the
    standard error comes from the residuals and is None with exactly 2 points.
    """
    bs = tuple(int(b) for b in batch_sizes)
    ms = tuple(float(v) for v in measured_noise)
    used = tuple(b < n_train and math.isfinite(v) and v > 0 for b, v in zip(bs, ms, strict=True))
    pts = [
        (math.log(b), math.log(v / math.sqrt(finite_population_factor(b, n_train))))
        for b, v, u in zip(bs, ms, used, strict=True)
        if u
    ]
    if len(pts) < 2:
        return SlopeFit(None, None, bs, ms, used)
    n = len(pts)
    mx = sum(p[0] for p in pts) / n
    my = sum(p[1] for p in pts) / n
    sxx = sum((p[0] - mx) ** 2 for p in pts)
    if sxx == 0:  # all the same B: no slope to speak of
        return SlopeFit(None, None, bs, ms, used)
    slope = sum((p[0] - mx) * (p[1] - my) for p in pts) / sxx
    stderr = None
    if n > 2:
        ssr = sum((p[1] - my - slope * (p[0] - mx)) ** 2 for p in pts)
        stderr = math.sqrt(ssr / (n - 2) / sxx)
    return SlopeFit(slope, stderr, bs, ms, used)


def measure_noise_slope(
    model: nn.Module,
    loss_fn: LossFn,
    x_train: Tensor,
    y_train: Tensor,
    batch_sizes: Sequence[int],
    draws: int,
    generator: torch.Generator,
    stats: NoiseStats | None = None,
    at: str = "init",
    should_stop: Callable[[], bool] | None = None,
) -> NoiseSlope:
    """Measure noise against B at the model's current parameters and fit its slope.

    G is the exact mean gradient over the whole training set; for each B, K = ``draws``
    minibatches give measured = sqrt(mean |g_B - G|^2) / |G|. The slope is fitted to
    these measurements, never to the formula; ``stats`` (if given) only supplies each
    point's prediction and b_simple, shown beside the measurement. ``should_stop`` is
    checked between batch sizes: a stopped run gets an unmeasured slope, not a wait.
    """
    n = x_train.shape[0]
    bad = [b for b in batch_sizes if not 1 <= b <= n]
    if bad:
        raise ValueError(f"batch sizes must be in 1..{n}, got {bad}")
    sampled = [b for b in batch_sizes if b < n]
    mse = []
    with no_trace(model):
        G = mean_gradient(model, loss_fn, x_train, y_train)
        for b in sampled:
            if should_stop is not None and should_stop():
                return NoiseSlope(at, None, None, (), None, "not measured: the run was stopped")
            mse.append(empirical_sq_error(model, loss_fn, x_train, y_train, b, draws, G, generator).mean())
    # One host sync for |G|^2 and every batch size's mean squared error.
    g_norm2, *mse_values = torch.stack([G @ G, *mse]).tolist()
    b_simple = stats.b_simple() if stats is not None else None
    notes = []
    if n in batch_sizes:
        notes.append(f"B=N={n} excluded: no sampling noise")
    if g_norm2 <= 0:
        notes.append("|G| = 0 at these parameters: relative noise undefined")
        return NoiseSlope(at, None, None, (), b_simple, "; ".join(notes))
    by_b = dict(zip(sampled, mse_values, strict=True))
    measured = [math.sqrt(by_b[b] / g_norm2) if b < n else 0.0 for b in batch_sizes]
    fit = fit_noise_slope(batch_sizes, measured, n)
    if fit.slope is None:
        notes.append("fewer than 2 batch sizes below N: no slope")
    points = tuple(
        SlopePoint(int(b), m, stats.noise(b) if stats is not None else None)
        for b, m in zip(batch_sizes, measured, strict=True)
    )
    return NoiseSlope(at, fit.slope, fit.stderr, points, b_simple, "; ".join(notes))
