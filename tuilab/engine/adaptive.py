"""The adaptive lane's rule: grow the batch size as the measured noise scale grows.

The rule, at each report where the gradient noise scale b_simple was measured:

    B_next = max(B, min(2 ** floor(log2(b_simple)), 2 B, N, memory_cap))

- b_simple = tr_sigma / |G|^2 (McCandlish et al. 2018) is the batch size beyond which
  a bigger batch buys little more progress per step; rounded *down* to a power of two,
  the lane stays at or below it, where examples are still spent efficiently.
- It never shrinks: b_simple grows as training goes on, and a dip in one noisy
  estimate should not undo the growth.
- It at most doubles per measurement: one high estimate (b_simple swings by 10x
  between reports near a minimum) would otherwise jump B, and with a linear rule the
  lr, 32-fold at once; measured on moons, such a jump left the lane oscillating.
- It is capped by N (the full batch) and, on a device that reports memory, by the
  largest batch whose activations fit (`memory_cap`).
- An unmeasured b_simple (None: not this report, or |G| unresolved) keeps B.

The learning rate follows the preset's scaling rule at the new B (lanes.scaled_lr),
as for any fixed lane of that batch size. The lane starts at the smallest fixed
batch size of the preset (or the optimizer's base batch size when there is none).
"""

from __future__ import annotations

import math

MEMORY_SHARE = 0.8  # of the device's memory an adaptive lane may plan to use; the rest is headroom


def next_batch_size(current: int, b_simple: float | None, n_train: int, memory_cap: int | None = None) -> int:
    """The adaptive lane's batch size after a report that measured `b_simple` (see the module's rule)."""
    if b_simple is None or not math.isfinite(b_simple) or b_simple < 1:
        return current
    target = min(2 ** math.floor(math.log2(b_simple)), 2 * current, n_train)
    if memory_cap is not None:
        target = min(target, memory_cap)
    return max(current, target)


def memory_cap(persistent_bytes: int, peak_bytes: int, batch_size: int, device_bytes: int) -> int | None:
    """The largest batch size whose memory fits MEMORY_SHARE of the device.

    A lane holds `persistent_bytes` (weights, gradients, optimizer state) whatever B
    is, and its activations grow in proportion to B: at `batch_size` it peaked at
    `peak_bytes` in all. None when the activations were not measured (CPU).
    """
    activations = peak_bytes - persistent_bytes
    if activations <= 0 or batch_size < 1:
        return None
    room = MEMORY_SHARE * device_bytes - persistent_bytes
    return max(1, math.floor(batch_size * room / activations))
