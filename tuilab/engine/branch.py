"""Branch a lane: measure the critical batch size where the lane stands now.

Merrill et al. 2025 ("Critical batch size revisited") measure the critical batch size
directly: copy a run at some point, continue copies at bigger batch sizes, and see
which keep the original's loss per example seen. Here:

- `fork` copies a lane exactly (weights, optimizer state, sampler generator,
  permutation and position, schedule counters) into a lane at k times its batch
  size, with the lr its scaling rule (the lane's settings) gives k*B.
- `measure_branch` runs a factor-1 copy (the parent's own continuation) and one
  copy per factor for the same number of examples E, from the same sampler state,
  and reads the train loss on the reference set at equal example counts.
- Each arm's loss is read at POINTS equal example counts; its *window loss* is the
  mean of the second half of those readings (one reading of a constant-lr SGD run
  jumps by tens of percent from one point to the next; the mean settles).
- A branch *keeps pace* when its window loss is at most (1 + tolerance) times the
  parent's: L_k <= (1 + tolerance) L_1, as in Merrill et al.'s relative threshold.
  Factors are taken in increasing order; the first that falls behind bounds the
  critical batch size from above, the last that kept pace from below
  (`critical_batch_size`).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Sequence
from dataclasses import replace

import torch

from tuilab.engine.evaluate import evaluate
from tuilab.engine.events import BranchArm, BranchMeasured
from tuilab.engine.lanes import Lane, scaled_lr

TOLERANCE = 0.1  # a branch keeps pace within 10 % of the parent's window loss
POINTS = 8  # loss readings per arm, at equal example counts


def fork(parent: Lane, factor: int, index: int) -> Lane:
    """An exact copy of `parent` at `factor` times its batch size (lr by the lane's scaling rule).

    deepcopy rather than a state_dict round trip: `Optimizer.load_state_dict` keeps
    the given state's tensors, so a child loaded from the parent's state_dict would
    share its momentum buffers. One deepcopy (the data, preset and loss function
    shared, not copied) maps the optimizer onto the copied parameters and copies
    the sampler's generator, permutation and position with them.
    """
    memo = {id(parent.data): parent.data, id(parent.exp): parent.exp, id(parent.loss_fn): parent.loss_fn}
    child = copy.deepcopy(parent, memo)
    child.index = index
    child.label = f"{parent.label + ' ' if parent.label else ''}x{factor} branch"
    child.batch_size0 = parent.batch_size0 * factor
    child.lr0 = scaled_lr(parent.lr0, parent.settings.lr_rule, child.batch_size0, parent.batch_size0)
    child.settings = replace(parent.settings, index=index, label=child.label, batch_size=child.batch_size0,
                             lr0=child.lr0)
    child._lr = None  # the optimizer's lr is set from the new lr0 at the first step
    child._recheck = 0.0
    child.losses.clear()  # the running loss starts afresh
    child.loss_sum.zero_()
    child.loss_count = 0
    return child


def bound_critical(batch_size: int, factors: Sequence[int], parent_loss: float, losses: Sequence[float],
                   tolerance: float = TOLERANCE) -> tuple[list[bool], int | None, int | None, str]:
    """Which factors kept pace, the critical batch size between them, and a note.

    Returns (keeps_pace per factor, largest batch size that kept pace, first that fell
    behind, note). A non-finite parent loss leaves nothing to keep pace with: no bound.
    """
    if not math.isfinite(parent_loss):
        return [False] * len(factors), None, None, "the parent's loss is not finite: no bound"
    keeps = [math.isfinite(lk) and lk <= (1 + tolerance) * parent_loss for lk in losses]
    critical, behind = batch_size, None
    for k, ok in sorted(zip(factors, keeps, strict=True)):
        if not ok:
            behind = k * batch_size
            break
        critical = k * batch_size
    note = "" if behind else f"every branch kept pace: critical batch size at least {critical}"
    return keeps, critical, behind, note


def measure_branch(parent: Lane, factors: Sequence[int], examples: int, x_ref: torch.Tensor,
                   y_ref: torch.Tensor, at: float, b_simple: float | None = None, tolerance: float = TOLERANCE, should_stop: Callable[[], bool] | None = None) -> BranchMeasured:
    """Fork `parent` at each factor and at 1, train each for `examples`, and compare their losses.

    E is rounded up to a whole number of every arm's steps, and to POINTS steps of the
    biggest at least, so every arm is read at exactly the same example counts. Factors
    whose batch would exceed N are left out (noted). The parent itself is not advanced.
    """
    b = parent.batch_size()
    usable = sorted({k for k in factors if k > 1 and k * b <= parent.n})
    dropped = sorted({k for k in factors if k * b > parent.n})
    unit = math.lcm(*usable) * b if usable else b  # a whole number of steps of every arm
    total = max(POINTS, math.ceil(examples / unit)) * unit  # the biggest arm takes POINTS steps at least
    marks = sorted({unit * math.ceil(total / unit * j / POINTS) for j in range(1, POINTS + 1)})
    loss0 = evaluate(parent.model, parent.loss_fn, x_ref, y_ref, classification=False)[0]
    arms = []
    for k in [1, *usable]:
        if should_stop is not None and should_stop():
            break
        arms.append(_run_arm(fork(parent, k, -1), k, parent.examples, marks, x_ref, y_ref))
    notes = [f"factor {k} left out: {k * b} > N = {parent.n}" for k in dropped]
    if len(arms) < len(usable) + 1:
        notes.append("stopped before every branch ran")
        usable = usable[:max(0, len(arms) - 1)]
    keeps, critical, behind, note = bound_critical(
        b, usable, arms[0].window_loss if arms else math.nan, [a.window_loss for a in arms[1:]], tolerance)
    arms = arms[:1] + [replace(a, keeps_pace=ok) for a, ok in zip(arms[1:], keeps, strict=True)]
    return BranchMeasured(parent.index, at, b, loss0, tolerance, tuple(arms), critical, behind, b_simple,
                          "; ".join(filter(None, [note, *notes])))


def _run_arm(lane: Lane, factor: int, start: int, marks: list[int], x_ref: torch.Tensor,
             y_ref: torch.Tensor) -> BranchArm:
    """Train a forked lane through `marks` examples past `start`, reading the reference loss at each."""
    seen, losses = [], []
    for mark in marks:
        while lane.examples - start < mark:
            lane.train_step()  # a diverged arm trains on to the end: its loss reads non-finite
        seen.append(lane.examples - start)
        losses.append(evaluate(lane.model, lane.loss_fn, x_ref, y_ref, classification=False)[0])
    lane.release()
    return BranchArm(factor, lane.batch_size(), lane.lr(), tuple(seen), tuple(losses), None)
