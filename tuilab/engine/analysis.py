"""From measurements to comparisons: time to target, lane quality, each batch size's best lane,
the critical batch size.

Pure functions on plain numbers and summaries (no torch), so the headless printer,
the TUI and `tuilab watch` replaying a run directory all reach the same answer
(tuilab/engine/answer.py puts it in words).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from tuilab.engine.summary import LaneSummary

ACCURACY_TOLERANCE = 0.01  # test accuracies within 1 point count as equally good ...
LOSS_TOLERANCE = 0.05  # ... and so do test losses within 5% ...
LOSS_FLOOR = 0.001  # ... or within 0.1% of the starting loss (1e-14 and 1e-21 are both "zero")


def first_crossing(xs: Sequence[float], losses: Sequence[float], target: float) -> float | None:
    """The first x where loss <= target, linearly interpolated between reports; None if never.

    Non-finite losses (a diverging lane) never count as crossing; a crossing right after
    one is placed at the report itself, since there is nothing to interpolate from.
    """
    prev_x, prev_loss = None, None
    for x, loss in zip(xs, losses, strict=True):
        if math.isfinite(loss) and loss <= target:
            if prev_loss is None or not math.isfinite(prev_loss):
                return float(x)
            frac = (prev_loss - target) / (prev_loss - loss)
            return prev_x + frac * (x - prev_x)
        prev_x, prev_loss = x, loss
    return None


@dataclass(frozen=True)
class ScalingFit:
    """S = s_min (1 + b_crit / B) and E = e_min (1 + B / b_crit), e_min = s_min * b_crit.

    ``residual`` is the RMS of the log-space residuals log S - log S_fit.
    """

    s_min: float
    e_min: float
    b_crit: float
    residual: float
    n_points: int


def _log_residuals(bs: list[float], s: list[float], s_min: float, b_crit: float) -> list[float]:
    return [
        math.log(si) - math.log(s_min) - math.log1p(b_crit / b) for b, si in zip(bs, s, strict=True)
    ]


def fit_steps_examples(
    batch_sizes: Sequence[float], steps_to_target: Sequence[float | None]
) -> ScalingFit | None:
    """Fit S = S_min (1 + B_crit / B) (McCandlish et al. 2018) to steps to target per batch size.

    Lanes that never reached the target (None or non-positive steps) are dropped. Needs
    at least 3 distinct batch sizes (2 points fit exactly, with nothing to check the law
    against); None then, or when the data do not give a positive S_min and B_crit.

    S is linear in 1/B (S = S_min + E_min / B), so weighted linear least squares gives a
    start, with weights 1/S^2 so each point counts by its relative error; Gauss-Newton
    on (log S_min, log B_crit) then minimises the squared log residuals.
    """
    pts = [
        (float(b), float(s))
        for b, s in zip(batch_sizes, steps_to_target, strict=True)
        if s is not None and s > 0
    ]
    if len({b for b, _ in pts}) < 3:
        return None
    bs, s = [p[0] for p in pts], [p[1] for p in pts]

    # Weighted linear least squares of S = a + c u, u = 1/B, weights w = 1/S^2.
    w = [1 / si**2 for si in s]
    u = [1 / b for b in bs]
    sw = sum(w)
    mu = sum(wi * ui for wi, ui in zip(w, u, strict=True)) / sw
    ms = sum(wi * si for wi, si in zip(w, s, strict=True)) / sw
    suu = sum(wi * (ui - mu) ** 2 for wi, ui in zip(w, u, strict=True))
    c = sum(wi * (ui - mu) * (si - ms) for wi, ui, si in zip(w, u, s, strict=True)) / suu
    a = ms - c * mu
    if a <= 0 or c <= 0:  # S_min or E_min not positive: no positive B_crit
        return None

    log_s, log_b = math.log(a), math.log(c / a)
    cost = sum(r * r for r in _log_residuals(bs, s, a, c / a))
    for _ in range(50):
        r = _log_residuals(bs, s, math.exp(log_s), math.exp(log_b))
        # d fit / d log S_min = 1; d fit / d log B_crit = B_crit / (B + B_crit).
        jb = [math.exp(log_b) / (b + math.exp(log_b)) for b in bs]
        j11, j12, j22 = len(bs), sum(jb), sum(j * j for j in jb)
        r1, r2 = sum(r), sum(j * ri for j, ri in zip(jb, r, strict=True))
        det = j11 * j22 - j12 * j12
        if det <= 1e-300:
            break
        d1, d2 = (j22 * r1 - j12 * r2) / det, (j11 * r2 - j12 * r1) / det
        # Halve the step until the cost does not grow: plain Gauss-Newton can overshoot.
        for _ in range(30):
            new = sum(
                x * x for x in _log_residuals(bs, s, math.exp(log_s + d1), math.exp(log_b + d2))
            )
            if new <= cost:
                break
            d1, d2 = d1 / 2, d2 / 2
        else:
            break
        log_s, log_b, cost = log_s + d1, log_b + d2, new
        if abs(d1) < 1e-12 and abs(d2) < 1e-12:
            break
    s_min, b_crit = math.exp(log_s), math.exp(log_b)
    return ScalingFit(s_min, s_min * b_crit, b_crit, math.sqrt(cost / len(bs)), len(bs))


def quality(ln: LaneSummary) -> float | None:
    """Final held-out quality, lower is better: -accuracy (classification), else the test loss,
    else the train loss. None when nothing finite was measured."""
    for v, sign in ((ln.final_test_accuracy, -1), (ln.final_test_loss, 1), (ln.final_train_loss, 1)):
        if v is not None and math.isfinite(v):
            return sign * v
    return None


def as_good(q: float, best: float, accuracy: bool, start: float | None = None) -> bool:
    """Is quality q within the tolerance of the best one? Accuracy: 1 point; a loss: 5%, or
    0.1% of the starting loss `start` (losses near zero differ only in rounding)."""
    if accuracy:
        return q - best <= ACCURACY_TOLERANCE
    return q - best <= max(LOSS_TOLERANCE * abs(best), LOSS_FLOOR * abs(start or 0.0))


def pick(lanes: Sequence[LaneSummary]) -> LaneSummary | None:
    """The lane to use: of those as good as the best final quality, the fastest to the target.

    A lane whose quality is clearly the best wins even if it is the slowest; among lanes
    of equal quality (within the tolerance), time to target on this device decides, then
    the smaller batch size.
    """
    rated = [(q, ln) for ln in lanes if (q := quality(ln)) is not None]
    if not rated:
        return None
    best = min(q for q, _ in rated)
    near = [(q, ln) for q, ln in rated
            if as_good(q, best, ln.final_test_accuracy is not None, ln.start_train_loss)]
    return min(near, key=lambda t: (t[1].to_target.seconds if t[1].to_target else math.inf, t[0],
                                    t[1].batch_size))[1]


def best_per_batch_size(lanes: Sequence[LaneSummary]) -> dict[int, LaneSummary]:
    """The lane that stands for each batch size (its best lr), by `pick`.

    Recommendable lanes come first; a batch size with none of them is judged on its
    stable lanes that learned, then on any lane that did not fail; else it is left out.
    """
    out: dict[int, LaneSummary] = {}
    for b in sorted({ln.batch_size for ln in lanes}):
        mine = [ln for ln in lanes if ln.batch_size == b]
        for tier in (lambda ln: ln.eligible,
                     lambda ln: not ln.status.failed and ln.progressed and ln.unstable is None,
                     lambda ln: not ln.status.failed):
            chosen = pick([ln for ln in mine if tier(ln)])
            if chosen is not None:
                out[b] = chosen
                break
    return out


def to_target_per_batch_size(lanes: Sequence[LaneSummary], axis: str) -> dict[int, float]:
    """Least steps, examples or seconds to the target per batch size, over its stable lanes."""
    best: dict[int, float] = {}
    for ln in lanes:
        if ln.to_target is not None and ln.unstable is None and not ln.status.failed:
            v = getattr(ln.to_target, axis)
            if v < best.get(ln.batch_size, math.inf):
                best[ln.batch_size] = v
    return best
