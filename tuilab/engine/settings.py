"""Each lane's settings, resolved once from the experiment: batch size, lr rule, lr, schedule.

The engine's Lane and `tuilab export`'s script both read these, so an exported
script can never train a lane at another lr or schedule than the lab did.
Pure Python (no torch): the lanes' order and labels are decided here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from tuilab.presets import Experiment, Variant

AUTO_GRID = (1 / 3, 1.0, 3.0)  # lr_grid = "auto": the preset's lr times these (a log-spaced grid)


def scaled_lr(lr: float, rule: str, batch_size: int, base: int) -> float:
    """Learning rate for batch size B under a scaling rule (Goyal et al. 2017; Hoffer et al. 2017)."""
    if rule == "linear":
        return lr * batch_size / base
    if rule == "sqrt":
        return lr * math.sqrt(batch_size / base)
    return lr


@dataclass(frozen=True)
class LaneSettings:
    """One lane: which batch size at which lr, under which rule and schedule."""

    index: int
    label: str
    batch_size: int
    lr_rule: str  # none | linear | sqrt
    base_lr: float  # the lr at the base batch size, before the rule scales it
    lr0: float  # the lr this lane starts at (warmup aside)
    lr_index: int | None = None  # position in the lr grid; None without a grid
    variant: str = ""  # the variant's label, "" without variants
    decay_epochs: tuple[float, ...] = ()
    decay_factor: float = 1.0
    grow_epochs: tuple[float, ...] = ()
    grow_factor: int = 1
    warmup_epochs: float = 0.0
    init_seed: int = 0  # torch.manual_seed before building the model: the variant's seed, else the run's
    adaptive: bool = False  # the batch size grows with the measured noise scale (engine/adaptive.py)


def lr_grid(lr: float, grid: list[float] | str | None) -> tuple[float, ...] | None:
    """The base lrs every batch size runs at: the preset's list, "auto" around `lr`, or None (no grid)."""
    if grid is None:
        return None
    if grid == "auto":
        return tuple(float(f"{lr * f:.6g}") for f in AUTO_GRID)  # 0.2 * 3 is 0.6, not 0.6000000000000001
    return tuple(sorted(grid))


def lane_settings(exp: Experiment, sizes: list[int], adaptive_at: int | None = None) -> list[LaneSettings]:
    """Every lane of the run, in lane order: variant, then batch size, then lr of the grid.

    `adaptive_at`: the position in `sizes` of the adaptive lane's starting batch size.
    """
    o = exp.optimizer
    out: list[LaneSettings] = []
    variants: list[Variant | None] = list(exp.variants) or [None]
    for v in variants:
        rule = v.lr_scaling if v and v.lr_scaling else o.lr_scaling
        lr = v.lr if v and v.lr else o.lr
        grid = lr_grid(lr, o.lr_grid)
        for j, b in enumerate(sizes):
            for k, base_lr in enumerate(grid or (lr,)):
                words = [v.label] if v else []
                if grid is not None:
                    words.append(f"lr {base_lr:.3g}")
                if j == adaptive_at:
                    words.append("adaptive")
                if o.compile != "none":  # a compiled lane is not the plain eager loop: say so wherever it is named
                    words.append(o.compile)
                out.append(LaneSettings(
                    index=len(out), label=" ".join(words), batch_size=b, lr_rule=rule, base_lr=base_lr,
                    lr0=scaled_lr(base_lr, rule, b, o.base_batch_size), lr_index=None if grid is None else k,
                    variant=v.label if v else "",
                    decay_epochs=tuple(sorted(v.decay_epochs)) if v else (),
                    decay_factor=v.decay_factor if v else 1.0,
                    grow_epochs=tuple(sorted(v.grow_epochs)) if v else (),
                    grow_factor=v.grow_factor if v else 1,
                    warmup_epochs=o.warmup_epochs,
                    init_seed=v.seed if v and v.seed is not None else exp.seed, adaptive=j == adaptive_at))
    return out


PILOT_SHARE = 0.1  # a pilot trains every lane for this share of the budget
PILOT_REPORTS = 20  # reports per lane in a pilot; the noise scale is measured at every other one


def pilot_experiment(exp: Experiment) -> Experiment:
    """What a pilot trains: a tenth of the budget, reported often enough to follow the noise scale.

    Unchanged when `exp.pilot` is off.
    """
    if not exp.pilot:
        return exp
    amount = exp.budget.amount * PILOT_SHARE
    if exp.budget.unit == "steps":
        amount = max(1.0, math.ceil(amount))
    budget = exp.budget.model_copy(update={"amount": amount})
    # share 1: every report measures (the measurement budget would skip them; a pilot is for measuring).
    measure = exp.measure.model_copy(update={"every": amount / PILOT_REPORTS, "noise_every": 2, "share": 1.0})
    return exp.model_copy(update={"budget": budget, "measure": measure})
