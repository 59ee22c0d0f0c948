"""The run's answer as typed data: what summary.json, RunFinished and `--json` carry.

Every reader (the Run and Plots screens, the headless printer, `tuilab runs`,
`tuilab watch`) gets these frozen dataclasses, never a dict read by key. The JSON
form is `to_json()`; `from_json()` reads it back, tolerating keys older run
directories lack (they take the field's default) and ignoring keys it does not know.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from enum import Enum
from typing import Any

from tuilab.format import lane_name


class LaneStatus(str, Enum):
    """Where a lane stands. A str, so it compares equal to (and serialises as) its value."""

    RUNNING = "running"
    FINISHED = "finished"
    CANCELLED = "cancelled"
    DIVERGED = "diverged"
    OUT_OF_MEMORY = "out_of_memory"
    ERROR = "error"

    def __str__(self) -> str:
        return self.value

    @property
    def failed(self) -> bool:
        """Diverged, out of memory or an error: the lane stopped before its budget, with nothing to compare."""
        return self in (LaneStatus.DIVERGED, LaneStatus.OUT_OF_MEMORY, LaneStatus.ERROR)

    @property
    def text(self) -> str:
        """For people: 'out of memory', not 'out_of_memory'."""
        return self.value.replace("_", " ")


@dataclass(frozen=True)
class SlopePoint:
    batch_size: int
    measured: float  # RMS |g_B - G| / |G| over K draws
    predicted: float | None  # the formula's noise(B) at the same parameters


@dataclass(frozen=True)
class SlopeFit:
    """One measured noise-against-B slope of the run (its points are in RunSummary only for init)."""

    at: str
    slope: float | None
    stderr: float | None


@dataclass(frozen=True)
class ToTarget:
    """Where a lane's train loss first reached the target (interpolated between reports)."""

    steps: float
    examples: float
    seconds: float


@dataclass(frozen=True)
class LaneSummary:
    """One lane at the end (or so far): its identity, final figures and what its curve shows."""

    lane: int
    label: str
    batch_size: int
    lr: float
    status: LaneStatus
    reason: str | None = None
    lr_index: int | None = None  # position in the optimizer's lr_grid; None without a grid
    micro_batch: int | None = None
    final_train_loss: float | None = None
    final_test_loss: float | None = None
    final_test_accuracy: float | None = None
    start_train_loss: float | None = None  # at step 0 (every lane starts from the same weights)
    best_train_loss: float | None = None
    samples_per_s: float | None = None
    steps: int = 0
    examples: int = 0
    train_seconds: float = 0.0
    measure_seconds: float = 0.0  # host seconds of its measurements: reports and its final loss surface
    compile: str = "none"  # how its step ran: none (eager), compile or cuda-graphs
    noise: float | None = None
    b_simple: float | None = None
    tr_sigma_stderr: float | None = None
    g_norm2_stderr: float | None = None
    b_simple_stderr: float | None = None
    memory_bytes: int | None = None
    to_target: ToTarget | None = None
    progressed: bool = False  # clearly below where it started (train and, if measured, test loss)
    unstable: str | None = None  # the measured reason, when the loss rose and stayed up or oscillated
    undertrained: str | None = None  # the measured reason, when it was still falling and short of the target
    best_of_batch_size: bool = False  # the lane that stands for its batch size (its best lr)
    adaptive: bool = False  # batch size grown with the noise scale; the JSON's batch_size says "adaptive"
    batch_sizes_used: tuple[int, ...] = ()  # every batch size the lane trained at, in order
    sharpness: float | None = None  # top Hessian eigenvalue of the train loss at the final weights
    sharpness_converged: bool | None = None
    generalization_gap: float | None = None  # final test loss minus final train loss

    @property
    def eligible(self) -> bool:
        """Can be recommended: a fixed batch size that trained without failing, learned, stayed stable
        and was not cut short."""
        return (not self.status.failed and self.progressed and self.unstable is None and not self.adaptive
                and self.undertrained is None and self.status is not LaneStatus.RUNNING)

    @property
    def name(self) -> str:
        """'B=32' or 'B=32 linear', as everywhere a lane is named (format.lane_name)."""
        return lane_name(self)


@dataclass(frozen=True)
class BatchSizeSummary:
    """A batch size over all its lanes (its lrs): the best one stands for it."""

    batch_size: int
    best_lr: float | None  # None when none of its lanes trained well enough to judge
    best_lane: int | None
    lrs: tuple[float, ...] = ()


@dataclass(frozen=True)
class GoodputPoint:
    """Pollux's prediction at one batch size: T(B) measured, E(B) from the noise scale."""

    batch_size: int
    samples_per_s: float
    efficiency: float  # E(B) = (phi + B0) / (phi + B)
    relative_time: float  # 1 / (T E), divided by the smallest: 1.0 is the predicted fastest


@dataclass(frozen=True)
class BranchSummary:
    """One branch point: the critical batch size its branches bound, beside the noise scale there."""

    lane: int
    at: float  # in the budget's unit
    batch_size: int  # the parent's
    factors: tuple[int, ...]
    critical_batch_size: int | None  # the largest batch size that kept the parent's loss per example
    first_behind: int | None  # the smallest that fell behind; None: none did
    b_simple: float | None
    tolerance: float
    note: str = ""


@dataclass(frozen=True)
class Recommendation:
    batch_size: int | None  # the one batch size the lab recommends; None when nothing can be
    lr: float | None
    lane: int | None
    reasons: tuple[str, ...]
    fastest_batch_size: int | None
    fewest_examples_batch_size: int | None
    critical_batch_size: float | None
    confidence: str  # high | medium | low
    text: str  # headline and reasons, as one paragraph
    headline: str = ""  # "Use B=32 with lr 0.05.", or why nothing is recommended


@dataclass(frozen=True)
class RunSummary:
    """The whole answer of one run."""

    name: str | None = None
    device: str | None = None
    device_name: str | None = None
    run_dir: str | None = None
    dataset: str | None = None
    model: str | None = None
    interrupted: bool = False
    wall_seconds: float | None = None
    train_seconds: float = 0.0  # the lanes' own training clocks, summed
    measure_seconds: float = 0.0  # host seconds of every measurement: the lanes', the noise slopes', the branches'
    pilot: bool = False
    noise_method: str | None = None
    noise_slope: float | None = None
    noise_slope_stderr: float | None = None
    noise_slope_points: tuple[SlopePoint, ...] = ()
    noise_slopes: tuple[SlopeFit, ...] = ()
    b_simple: float | None = None
    b_simple_end_median: float | None = None
    b_crit: float | None = None
    target_loss: float | None = None
    target_rule: str = ""
    lr_tuned: bool = False  # some batch size ran at more than one lr
    noise_scale: float | None = None  # phi of the goodput prediction
    goodput: tuple[GoodputPoint, ...] = ()
    predicted_batch_size: int | None = None
    prediction_held: bool | None = None
    recommendation: Recommendation | None = None
    per_batch_size: tuple[BatchSizeSummary, ...] = ()
    lanes: tuple[LaneSummary, ...] = ()
    branches: tuple[BranchSummary, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """JSON-ready data (enums as their values, tuples as lists once dumped); an adaptive lane's
        batch_size is "adaptive" (batch_sizes_used lists its sizes)."""
        d = dataclasses.asdict(self)
        for lane in d["lanes"]:
            if lane["adaptive"]:
                lane["batch_size"] = "adaptive"
        return d

    @classmethod
    def from_json(cls, d: dict[str, Any] | None) -> RunSummary | None:
        """Read `to_json()` output back, or an older run's summary; None for no data."""
        if not d:
            return None
        return _build(cls, d,
                      noise_slope_points=lambda v: tuple(_build(SlopePoint, x) for x in v),
                      noise_slopes=lambda v: tuple(_build(SlopeFit, x) for x in v),
                      goodput=lambda v: tuple(_build(GoodputPoint, x) for x in v),
                      recommendation=lambda v: _build(Recommendation, _with_defaults(v)),
                      per_batch_size=lambda v: tuple(_build(BatchSizeSummary, x, lrs=tuple) for x in v),
                      lanes=lambda v: tuple(_lane(x) for x in v),
                      branches=lambda v: tuple(_build(BranchSummary, x, factors=tuple) for x in v))

    def lane(self, index: int) -> LaneSummary | None:
        return next((ln for ln in self.lanes if ln.lane == index), None)


def _with_defaults(rec: dict[str, Any]) -> dict[str, Any]:
    """A recommendation from before it named one batch size: the new fields start empty."""
    return {"batch_size": None, "lr": None, "lane": None, "reasons": (), "fastest_batch_size": None,
            "fewest_examples_batch_size": None, "critical_batch_size": None, "confidence": "low",
            "text": ""} | rec


def _lane(d: dict[str, Any]) -> LaneSummary:
    if d.get("batch_size") == "adaptive":  # typed: the size it started at
        d = d | {"batch_size": (d.get("batch_sizes_used") or [0])[0], "adaptive": True}
    return _build(LaneSummary, d, status=LaneStatus, to_target=lambda v: _build(ToTarget, v),
                  batch_sizes_used=tuple)


def _build(cls, d: dict[str, Any], **convert):
    """cls from the keys of d it knows, each through its converter (None stays None)."""
    kwargs = {}
    for f in dataclasses.fields(cls):
        if f.name in d:
            v = d[f.name]
            conv = convert.get(f.name)
            kwargs[f.name] = conv(v) if conv is not None and v is not None else v
    if "reasons" in kwargs:
        kwargs["reasons"] = tuple(kwargs["reasons"] or ())
    return cls(**kwargs)
