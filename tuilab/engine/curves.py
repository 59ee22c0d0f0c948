"""What a lane's loss curve says about it: did it learn, was it stable, was it cut short.

Pure functions on the losses at a lane's reports (evenly spaced in its budget),
so each verdict can be checked against curves whose answer is known by
construction. Each verdict that marks a lane returns the measured reason in words.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence

from tuilab.format import fmt_float

PROGRESS_TRAIN = 0.2  # learned: the best train loss at least 20% under the starting one ...
PROGRESS_TEST = 0.1  # ... and the best test loss at least 10% under its start (random labels fail this)
RISE = 0.1  # unstable: ended above its best by >= 10% of its descent ...
RISE_FACTOR = 1.5  # ... and >= 1.5x its best (a wiggle at a loss near 0 is no instability)
JUMP = 0.05  # oscillating: rises bigger than 5% of its descent ...
JUMPS = 3  # ... at least this many of them ...
JUMP_TOTAL = 0.3  # ... adding up to 30% of its descent
LATE = 0.2  # undertrained: over the last fifth of its reports ...
LATE_FALL = 0.1  # ... the loss still fell by >= 10% of its descent
TARGET_MARGIN = 0.05  # the target sits 5% above the level it is set from, so lanes cross it before their end


def _finite(xs: Sequence[float | None]) -> list[float]:
    return [x for x in xs if x is not None and math.isfinite(x)]


def progressed(train: Sequence[float], test: Sequence[float | None] = ()) -> bool:
    """Clearly below where it started: the train loss (and the test loss, where measured)."""
    tr, te = _finite(train), _finite(test)
    if len(tr) < 2 or min(tr) > tr[0] * (1 - PROGRESS_TRAIN):
        return False
    return len(te) < 2 or min(te) <= te[0] * (1 - PROGRESS_TEST)


def instability(losses: Sequence[float]) -> str | None:
    """Why a curve is unstable (its loss rose and stayed above its best, or oscillated), else None."""
    ls = _finite(losses)
    if len(ls) < 3:
        return None
    start, best, final = ls[0], min(ls), ls[-1]
    descent = start - best
    if descent <= 0:
        return None
    if final - best >= RISE * descent and final >= RISE_FACTOR * best:
        return f"loss rose from its best {fmt_float(best)} to {fmt_float(final)} and stayed there"
    jumps = [b - a for a, b in zip(ls, ls[1:], strict=False) if b - a > JUMP * descent]
    if len(jumps) >= JUMPS and sum(jumps) >= JUMP_TOTAL * descent:
        return (f"loss oscillated: {len(jumps)} jumps up, {fmt_float(sum(jumps))} in all, "
                f"{sum(jumps) / descent:.0%} of its descent from {fmt_float(start)}")
    return None


def still_falling(losses: Sequence[float]) -> str | None:
    """Why a curve looks cut short (its loss still fell steeply over its last fifth), else None."""
    ls = _finite(losses)
    if len(ls) < 5:
        return None
    descent = ls[0] - min(ls)
    late = ls[min(len(ls) - 2, math.floor((1 - LATE) * (len(ls) - 1)))]
    if descent <= 0 or late - ls[-1] < LATE_FALL * descent:
        return None
    return f"still falling: {fmt_float(late)} to {fmt_float(ls[-1])} over its last fifth"


def default_target(start: float, best_per_batch_size: Sequence[float]) -> tuple[float, str] | None:
    """The default target train loss and the rule that set it, in words.

    The better half of the batch sizes (by their best loss) all reach it, 5% of
    margin included; but it lies at least half way, on a log scale, from the
    starting loss down to the best loss any lane reached, so it is far below the
    start even when the better half learned little. None without a finite best.
    """
    bests = sorted(_finite(best_per_batch_size))
    if not bests:
        return None
    half = bests[math.ceil(len(bests) / 2) - 1]
    level = half + TARGET_MARGIN * abs(half)
    lowest = bests[0]
    halfway = math.sqrt(start * lowest) if start > 0 and lowest > 0 else (start + lowest) / 2
    if level <= halfway:
        return level, (f"the level the better half of the batch sizes reached, {fmt_float(half)}, "
                       f"plus {TARGET_MARGIN:.0%}")
    return halfway, (f"half way (log scale) from the starting loss {fmt_float(start)} to the best "
                     f"{fmt_float(lowest)}")


def median_positive(values: Sequence[float | None]) -> float | None:
    """Median of the finite positive values (a noise scale), None if there are none."""
    vs = [v for v in _finite(values) if v > 0]
    return statistics.median(vs) if vs else None
