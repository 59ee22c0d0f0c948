"""From measurements to the answer: time to target, the critical batch size, a recommendation.

Pure functions on plain numbers (no torch), so the headless printer, the TUI and
`tuilab watch` replaying a run directory all reach the same words.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from tuilab.format import fmt_count

TARGET_MARGIN = 0.05  # the default target sits 5% above the worst lane's best loss
FAILED = ("diverged", "out_of_memory", "error")


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


def default_target_loss(curves: list[Sequence[float]]) -> float | None:
    """A loss level every lane reaches: the largest of the lanes' best (minimum) losses,
    raised by 5% of its size so the slowest lane crosses it before its very last report.

    Non-finite values are ignored and a curve with no finite value is skipped (pass only
    the lanes that should count). None when no curve has a finite value.
    """
    best = [
        min(v for v in c if math.isfinite(v)) for c in curves if any(math.isfinite(v) for v in c)
    ]
    if not best:
        return None
    worst = max(best)
    return worst + TARGET_MARGIN * abs(worst)


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


@dataclass(frozen=True)
class Recommendation:
    fastest_batch_size: int | None
    fewest_examples_batch_size: int | None
    critical_batch_size: float | None
    confidence: str  # high | medium | low
    text: str


def _seconds(t: float) -> str:
    if t < 0.1:  # tiny CPU runs: "1.9 ms", not "0.00 s"
        return f"{t * 1000:.2g} ms"
    return f"{t:.2f} s" if t < 1 else f"{t:.1f} s"


def recommend(
    lanes: list[dict],
    b_simple: float | None,
    fit: ScalingFit | None,
    *,
    target: float | None = None,
    device: str | None = None,
) -> Recommendation:
    """Say which batch size to use and why, in 2-4 plain sentences with the numbers in them.

    ``lanes``: dicts with batch_size, status, to_target ({steps, examples, seconds} or None)
    and samples_per_s. ``target`` and ``device``, when given, are named in the text.
    Fastest = least seconds to target; fewest examples = least examples to target;
    critical batch size = the fitted B_crit, else b_simple. Confidence starts high and
    drops to medium for one reason (fewer than 3 lanes reached the target, or B_crit and
    b_simple differ by more than 3x) and to low for two, for at most one lane reaching
    the target, or for any failed lane (unless another lane of its batch size reached the
    target); the text says why.
    """
    reached = [ln for ln in lanes if ln.get("to_target")]
    # A failed lane lowers confidence unless another lane of its batch size (another lr
    # of a grid, say) reached the target: then that batch size still has its answer.
    covered = {ln["batch_size"] for ln in reached}
    failed = [ln for ln in lanes if ln.get("status") in FAILED and ln["batch_size"] not in covered]
    spared = [ln for ln in lanes if ln.get("status") in FAILED and ln["batch_size"] in covered]
    loss_words = f"loss {target:.3g}" if target is not None else "the target loss"
    on_device = f" on {device}" if device else ""

    sentences = []
    fastest = fewest = None
    if reached:
        fastest = min(reached, key=lambda ln: (ln["to_target"]["seconds"], ln["batch_size"]))
        fewest = min(reached, key=lambda ln: (ln["to_target"]["examples"], ln["batch_size"]))
        ft, ex = fastest["to_target"], fewest["to_target"]
        if fastest is fewest:
            sentences.append(
                f"B={fastest['batch_size']} reached {loss_words} fastest ({_seconds(ft['seconds'])}"
                f"{on_device}) and with the fewest examples ({fmt_count(ex['examples'])})."
            )
        else:
            sentences.append(
                f"B={fastest['batch_size']} reached {loss_words} fastest ({_seconds(ft['seconds'])}{on_device})."
            )
            sentences.append(
                f"B={fewest['batch_size']} needed the fewest examples ({fmt_count(ex['examples'])} in "
                f"{fmt_count(ex['steps'])} steps) but took {_seconds(ex['seconds'])}."
            )
    else:
        sentences.append(f"No lane reached {loss_words}: train longer or aim for a higher loss.")

    critical = fit.b_crit if fit is not None else b_simple
    # A fit whose B_crit lies far outside the batch sizes that reached the target is an
    # extrapolation of the curve, not a measurement: say so instead of quoting it bare.
    tested = [ln["batch_size"] for ln in reached]
    outside = None
    if fit is not None and tested:
        if fit.b_crit > 2 * max(tested):
            outside = f"above the tested range: steps still fall almost as 1/B up to B={max(tested)}"
        elif fit.b_crit < min(tested) / 2:
            outside = f"below the tested range: even B={min(tested)} is past it"
    if fit is not None and outside:
        sentences.append(f"The critical batch size is {outside} (the fit extrapolates to ≈{fit.b_crit:.3g}).")
    elif fit is not None:
        why = "critical batch size, measured from steps to target"
        if b_simple is not None:
            why += f"; gradient noise scale says {b_simple:.0f}"
        sentences.append(
            f"Past B≈{fit.b_crit:.0f} ({why}) bigger batches mostly buy parallelism, not fewer steps."
        )
    elif b_simple is not None:
        sentences.append(
            f"Past B≈{b_simple:.0f} (gradient noise scale, an estimate of the critical batch size) "
            "bigger batches mostly buy parallelism, not fewer steps."
        )

    # Confidence: each weak spot is named, so a person knows what to rerun.
    medium, low = [], []
    if len(reached) <= 1:
        low.append(f"only {len(reached)} of {len(lanes)} lanes reached the target")
    elif len(reached) < 3:
        medium.append(f"only {len(reached)} of {len(lanes)} lanes reached the target")
    if failed:
        names = ", ".join(f"B={ln['batch_size']} {ln['status'].replace('_', ' ')}" for ln in failed)
        low.append(f"{len(failed)} lane{'s' if len(failed) > 1 else ''} failed ({names})")
    if outside:
        medium.append("the critical batch size lies outside the batch sizes tried")
    elif fit is not None and b_simple is not None and b_simple > 0:
        ratio = max(fit.b_crit / b_simple, b_simple / fit.b_crit)
        if ratio > 3:
            medium.append(f"the two critical batch size estimates differ {ratio:.0f}x")
    if spared:
        names = ", ".join(f"B={ln['batch_size']}{' ' + ln['label'] if ln.get('label') else ''} "
                          f"{ln['status'].replace('_', ' ')}" for ln in spared)
        sentences.append(f"{names}; other lanes at the same batch size reached the target.")
    confidence = "low" if low or len(medium) >= 2 else "medium" if medium else "high"
    if confidence != "high":
        sentences.append(f"Confidence {confidence}: {'; '.join(low + medium)}.")

    return Recommendation(
        fastest_batch_size=fastest["batch_size"] if fastest else None,
        fewest_examples_batch_size=fewest["batch_size"] if fewest else None,
        critical_batch_size=critical,
        confidence=confidence,
        text=" ".join(sentences),
    )
