"""The UI's view of one run: the engine's RunRecord plus what the screens draw from.

The app folds every event batch into a RunState on the UI thread; the Run and
Plots screens only read it. Curves kept here are bounded (halved when long), so
a day-long run costs the same to draw as a minute-long one.
"""

from __future__ import annotations

import math
import time
from bisect import bisect_right

from tuilab.engine.events import LaneProgress, RunFinished, RunStarted
from tuilab.engine.record import RunRecord
from tuilab.engine.summary import LaneStatus
from tuilab.presets import Experiment

AXES = ("epochs", "steps", "seconds")
AXIS_FIELD = {"epochs": "epoch", "steps": "step", "seconds": "seconds"}
MAX_POINTS = 512  # per lane; older points are thinned by half beyond this
GRID = 100  # points on the common x grid the sparklines are resampled onto


class LaneSeries:
    """A lane's reports, thinned by half whenever they exceed MAX_POINTS (the last is kept)."""

    def __init__(self) -> None:
        self.points: list[LaneProgress] = []

    def add(self, p: LaneProgress) -> None:
        self.points.append(p)
        if len(self.points) > MAX_POINTS:
            self.points = self.points[:-1:2] + [self.points[-1]]

    def curve(self, axis: str, name: str) -> tuple[list[float], list[float]]:
        """(x, y) of a LaneProgress field against an axis, dropping missing and non-finite y."""
        xf = AXIS_FIELD[axis]
        xs, ys = [], []
        for p in self.points:
            y = getattr(p, name)
            if y is not None and math.isfinite(y):
                xs.append(float(getattr(p, xf)))
                ys.append(float(y))
        return xs, ys


def interpolate(xs: list[float], ys: list[float], grid: list[float]) -> list[float | None]:
    """ys linearly interpolated at each grid x; None outside the measured range of xs."""
    out: list[float | None] = []
    for g in grid:
        if not xs or g < xs[0] - 1e-12 or g > xs[-1] + 1e-9 * max(1.0, abs(xs[-1])):
            out.append(None)
            continue
        i = bisect_right(xs, g)
        if i >= len(xs):
            out.append(ys[-1])
        elif i == 0 or xs[i] == xs[i - 1]:
            out.append(ys[i - 1] if i else ys[0])
        else:
            t = (g - xs[i - 1]) / (xs[i] - xs[i - 1])
            out.append(ys[i - 1] + t * (ys[i] - ys[i - 1]))
    return out


class RunState:
    """Record, bounded curves, wall clock and a revision number that changes with every batch."""

    def __init__(self, run_dir: str | None = None, experiment: Experiment | None = None) -> None:
        self.record = RunRecord()
        self.experiment = experiment  # the run's preset (its target loss), None if unreadable
        self.series: dict[int, LaneSeries] = {}
        self.run_dir = run_dir
        self.started_wall: float | None = None
        self.paused_total = 0.0
        self.paused_since: float | None = None
        self.revision = 0
        self.warnings: list[str] = []  # from the run directory reader (a damaged file)

    def apply(self, events) -> None:
        for ev in events:
            if isinstance(ev, str):
                self.warnings.append(ev)
                continue
            self.record.apply(ev)
            if isinstance(ev, RunStarted):
                self.series = {li.lane: LaneSeries() for li in ev.lanes}
                if self.started_wall is None:
                    self.started_wall = time.time()
                self.run_dir = self.run_dir or ev.run_dir
            elif isinstance(ev, LaneProgress):
                self.series[ev.lane].add(ev)
        self.revision += 1

    @property
    def started(self) -> RunStarted | None:
        return self.record.started

    @property
    def finished(self) -> RunFinished | None:
        return self.record.finished

    def set_paused(self, paused: bool, now: float | None = None) -> None:
        now = time.time() if now is None else now
        if paused and self.paused_since is None:
            self.paused_since = now
        elif not paused and self.paused_since is not None:
            self.paused_total += now - self.paused_since
            self.paused_since = None

    def lane_progress(self, lane: int) -> float:
        """0..1 of the lane's budget it got through (a cancelled or failed lane stays where it stopped)."""
        if self.record.lanes[lane].status == LaneStatus.FINISHED:
            return 1.0
        s = self.series.get(lane)
        return s.points[-1].progress if s and s.points else 0.0

    def progress(self) -> float:
        """Overall 0..1: a failed lane has no work left, so it counts as done while the others run."""
        lanes = self.record.lanes
        if not lanes:
            return 0.0
        done = [1.0 if r.status.failed else self.lane_progress(i)
                for i, r in lanes.items()]
        return sum(done) / len(done)

    def time_left(self, now: float | None = None) -> float | None:
        """Seconds to go at the rate the lanes have advanced so far (pauses excluded)."""
        p = self.progress()
        if self.finished or self.started_wall is None or p <= 0.005:
            return None if not self.finished else 0.0
        now = time.time() if now is None else now
        paused = self.paused_total + (now - self.paused_since if self.paused_since else 0.0)
        elapsed = max(0.0, now - self.started_wall - paused)
        return elapsed / p * (1 - p)

    def sparklines(self, axis: str, name: str, log: bool) -> dict[int, list[float | None]]:
        """Every lane's `name` on one even grid of `axis`, so rows compare side by side.

        A lane that has not got as far on this axis ends early (blank), e.g. a
        big batch against steps. With log, values are log10 (positive ones only).
        """
        curves = {i: s.curve(axis, name) for i, s in self.series.items()}
        x_max = max((xs[-1] for xs, _ in curves.values() if xs), default=0.0)
        if x_max <= 0:
            return {i: [] for i in curves}
        grid = [x_max * k / (GRID - 1) for k in range(GRID)]
        out = {}
        for i, (xs, ys) in curves.items():
            vals = interpolate(xs, ys, grid)
            if log:
                vals = [math.log10(v) if v is not None and v > 0 else None for v in vals]
            out[i] = vals
        return out
