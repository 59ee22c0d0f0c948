"""What the run loop yields: small frozen dataclasses, serialisable to JSON lines.

The same events feed the run directory, the TUI and the headless printer, and
`tuilab watch` rebuilds them from the metrics file with `event_from_dict`.
Their schema and order are described in docs/events.md.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from tuilab.engine.summary import LaneStatus, RunSummary, SlopePoint


@dataclass(frozen=True)
class LaneInfo:
    """A lane's fixed identity: index, label, batch size and learning rate at start."""

    lane: int
    label: str
    batch_size: int
    lr: float
    micro_batch: int | None = None  # rows per forward/backward when the step accumulates; None: whole batch
    lr_index: int | None = None  # position of the lane's lr in the optimizer's lr_grid; None: no grid
    adaptive: bool = False  # its batch size grows with the measured noise scale (batch_size: where it starts)
    compile: str = "none"  # how its step runs: none (eager), compile (torch.compile) or cuda-graphs


@dataclass(frozen=True)
class RunStarted:
    name: str
    device: str
    device_name: str
    dataset: str
    model: str
    n_train: int
    n_test: int
    n_params: int
    budget_unit: str
    budget_amount: float
    lanes: tuple[LaneInfo, ...]
    run_dir: str | None = None
    notices: tuple[str, ...] = ()
    noise_method: str = "per-example"  # per-example | two-batch: how tr_sigma and |G|^2 are measured
    user_code: tuple[str, ...] = ()  # files or modules of the user's that this run imports
    pilot: bool = False  # a pilot: a tenth of the budget, to predict the best batch size


@dataclass(frozen=True)
class LaneProgress:
    """One report of one lane. Clock figures are the lane's own training time only."""

    lane: int
    step: int
    examples: int
    epoch: float
    seconds: float
    progress: float  # 0..1 of the lane's budget
    batch_size: int
    lr: float
    train_loss: float  # loss over the reference set R at this report
    running_loss: float  # mean minibatch loss since the previous report
    test_loss: float | None
    test_accuracy: float | None
    samples_per_s: float  # over the steps since the previous report
    noise: float | None = None  # noise(B) (docs/measurements.md), None if not measured or |G| unresolved
    b_simple: float | None = None
    tr_sigma: float | None = None
    g_norm2: float | None = None  # |G|^2 corrected for R's sampling noise
    tr_sigma_stderr: float | None = None  # standard errors of the noise estimates (None: not estimated)
    g_norm2_stderr: float | None = None
    b_simple_stderr: float | None = None
    memory_bytes: int | None = None  # device memory of this lane (CUDA only)
    measure_seconds: float = 0.0  # host seconds this lane's report measurements took so far (not on its clock)


@dataclass(frozen=True)
class NoiseSlope:
    """The measured noise-against-B law at one common set of parameters."""

    at: str  # "init", or a checkpoint's label
    slope: float | None
    stderr: float | None
    points: tuple[SlopePoint, ...]
    b_simple: float | None = None
    note: str = ""
    seconds: float = 0.0  # host seconds measuring it took


@dataclass(frozen=True)
class LaneFinished:
    lane: int
    status: LaneStatus  # finished | cancelled
    steps: int
    examples: int
    seconds: float


@dataclass(frozen=True)
class LaneFailed:
    lane: int
    status: LaneStatus  # diverged | out_of_memory | error
    reason: str
    steps: int
    examples: int
    seconds: float
    traceback: str = ""  # status error: the exception's traceback (the store copies it to errors.log)


@dataclass(frozen=True)
class BranchArm:
    """One continuation of a branch point (engine/branch.py); factor 1 is the parent's own."""

    factor: int
    batch_size: int
    lr: float
    examples: tuple[int, ...]  # examples seen since the branch point, at each reading
    losses: tuple[float, ...]  # train loss on the reference set at those points
    keeps_pace: bool | None  # None for the parent itself

    @property
    def window_loss(self) -> float:
        """Mean loss over the second half of the readings: what the arms are compared on."""
        tail = self.losses[len(self.losses) // 2:]
        return sum(tail) / len(tail)


@dataclass(frozen=True)
class BranchMeasured:
    """A lane forked at bigger batch sizes, and the critical batch size its branches bound."""

    lane: int
    at: float  # where it was taken, in the budget's unit
    batch_size: int  # the parent's batch size there
    loss0: float  # train loss at the branch point
    tolerance: float
    arms: tuple[BranchArm, ...]
    critical_batch_size: int | None  # the largest batch size that kept pace
    first_behind: int | None  # the smallest batch size that fell behind (None: none did)
    b_simple: float | None  # the noise scale measured at the branch point
    note: str = ""
    seconds: float = 0.0  # host seconds the branches took (training the arms and reading them)


@dataclass(frozen=True)
class LaneLandscape:
    """A lane's loss surface at its final weights: sharpness and a 1-D filter-normalised slice."""

    lane: int
    sharpness: float | None  # top Hessian eigenvalue of the train loss on the reference set
    sharpness_converged: bool
    note: str
    slice_alphas: tuple[float, ...] = ()
    slice_losses: tuple[float, ...] = ()
    seconds: float = 0.0  # host seconds measuring it took


@dataclass(frozen=True)
class RunFinished:
    interrupted: bool
    wall_seconds: float
    summary: RunSummary | None = None
    cancelled: bool = False  # stopped by the user's cancel, not by a quit, a signal or a fault
    error: str | None = None  # a fault outside any lane failed the run: the exception's last line
    traceback: str = ""  # with error: its traceback (the store copies it to errors.log)


Event = (RunStarted | LaneProgress | NoiseSlope | LaneFinished | LaneFailed | BranchMeasured | LaneLandscape
         | RunFinished)
EVENT_TYPES = {cls.__name__: cls for cls in (RunStarted, LaneProgress, NoiseSlope, LaneFinished, LaneFailed,
                                             BranchMeasured, LaneLandscape, RunFinished)}


def event_to_dict(ev: Event) -> dict[str, Any]:
    """A JSON-ready dict with the event's type under "type"."""
    return {"type": type(ev).__name__, **dataclasses.asdict(ev)}


def event_from_dict(d: dict[str, Any]) -> Event:
    """Inverse of event_to_dict; raises KeyError/TypeError on a damaged record."""
    d = dict(d)
    cls = EVENT_TYPES[d.pop("type")]
    if cls is RunStarted:
        d["lanes"] = tuple(LaneInfo(**x) for x in d["lanes"])
        d["notices"] = tuple(d.get("notices", ()))
        d["user_code"] = tuple(d.get("user_code", ()))
    if cls is NoiseSlope:
        d["points"] = tuple(SlopePoint(**x) for x in d["points"])
    if cls in (LaneFinished, LaneFailed):
        d["status"] = LaneStatus(d["status"])
    if cls is BranchMeasured:
        d["arms"] = tuple(BranchArm(**(x | {"examples": tuple(x["examples"]), "losses": tuple(x["losses"])}))
                          for x in d["arms"])
    if cls is LaneLandscape:
        d["slice_alphas"], d["slice_losses"] = tuple(d.get("slice_alphas", ())), tuple(d.get("slice_losses", ()))
    if cls is RunFinished:
        d["summary"] = RunSummary.from_json(d.get("summary"))
    return cls(**d)
