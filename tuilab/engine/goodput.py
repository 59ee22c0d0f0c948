"""Goodput (Qiao et al. 2021, Pollux): predict the batch size fastest to a target from T(B) and phi.

Statistical efficiency relative to a base batch size B0 is E(B) = (phi + B0) / (phi + B),
phi the gradient noise scale (b_simple): a step at B does the work of E(B) * B / B0
steps at B0. With T(B) the measured samples/s on this device, examples to a target grow
as 1 / E(B), so the predicted time to a target is proportional to 1 / (T(B) E(B)).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from tuilab.engine.summary import GoodputPoint

HELD = 1.2  # the prediction held if the predicted B reached the target within 20% of the measured fastest


def efficiency(batch_size: float, phi: float, base: float) -> float:
    """E(B) = (phi + B0) / (phi + B): 1 at B0, falling once B passes the noise scale."""
    return (phi + base) / (phi + batch_size)


def predict(throughput: Mapping[int, float], phi: float) -> tuple[GoodputPoint, ...]:
    """Predicted relative time to a target per batch size (1.0: the predicted fastest).

    ``throughput``: measured samples/s per batch size (those without a positive rate are
    left out). B0 is the smallest batch size; the relative times do not depend on it.
    """
    rates = {b: t for b, t in throughput.items() if t and t > 0}
    if not rates or phi is None or phi <= 0:
        return ()
    base = min(rates)
    raw = {b: 1.0 / (t * efficiency(b, phi, base)) for b, t in rates.items()}
    fastest = min(raw.values())
    return tuple(GoodputPoint(b, rates[b], efficiency(b, phi, base), raw[b] / fastest) for b in sorted(raw))


def predicted_batch_size(points: Sequence[GoodputPoint]) -> int | None:
    """The batch size with the least predicted time (the smaller one on a tie)."""
    return min(points, key=lambda p: (p.relative_time, p.batch_size)).batch_size if points else None


def prediction_held(predicted: int | None, seconds_to_target: Mapping[int, float]) -> bool | None:
    """Did the predicted B reach the target within HELD of the measured fastest? None: nothing to check."""
    if predicted is None or not seconds_to_target:
        return None
    if predicted not in seconds_to_target:
        return False
    return seconds_to_target[predicted] <= HELD * min(seconds_to_target.values())
