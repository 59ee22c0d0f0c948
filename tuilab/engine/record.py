"""A run's state rebuilt from its events, and the summary that answers the question.

The run loop, the run directory reader, `tuilab watch` and the TUI all fold the
same events into a RunRecord, so they can never disagree about a number.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field, replace
from typing import Any

from tuilab.engine import curves, goodput
from tuilab.engine.analysis import (
    best_per_batch_size,
    first_crossing,
    fit_steps_examples,
    to_target_per_batch_size,
)
from tuilab.engine.answer import recommend
from tuilab.engine.events import (
    BranchMeasured,
    Event,
    LaneFailed,
    LaneFinished,
    LaneInfo,
    LaneLandscape,
    LaneProgress,
    NoiseSlope,
    RunFinished,
    RunStarted,
)
from tuilab.engine.summary import (
    BatchSizeSummary,
    BranchSummary,
    LaneStatus,
    LaneSummary,
    RunSummary,
    SlopeFit,
    ToTarget,
)


@dataclass
class LaneRecord:
    info: LaneInfo
    history: list[LaneProgress] = field(default_factory=list)
    status: LaneStatus = LaneStatus.RUNNING
    reason: str = ""
    steps: int = 0
    examples: int = 0
    seconds: float = 0.0
    landscape: LaneLandscape | None = None

    def final(self, name: str) -> Any:
        """The last reported value of a LaneProgress field (None if never reported)."""
        for p in reversed(self.history):
            v = getattr(p, name)
            if v is not None:
                return v
        return None

    def samples_per_s(self) -> float | None:
        """Throughput over the lane's whole training clock."""
        return self.examples / self.seconds if self.seconds > 0 else None

    def to_target(self, target: float | None) -> ToTarget | None:
        """Steps, examples and seconds at which the train loss first reached `target`."""
        if target is None or not self.history or self.status.failed:
            return None
        losses = [p.train_loss for p in self.history]
        hit = {axis: first_crossing([getattr(p, axis) for p in self.history], losses, target)
               for axis in ("step", "examples", "seconds")}
        if hit["step"] is None:
            return None
        return ToTarget(hit["step"], hit["examples"], hit["seconds"])

    def summary(self, target: float | None) -> LaneSummary:
        """The lane's figures and what its curve shows, judged against `target`."""
        info, losses = self.info, [p.train_loss for p in self.history]
        finite = [v for v in losses if math.isfinite(v)]
        tt = self.to_target(target)
        done = self.status in (LaneStatus.FINISHED, LaneStatus.CANCELLED)
        unstable = None if self.status.failed else curves.instability(losses)
        return LaneSummary(
            lane=info.lane, label=info.label, batch_size=info.batch_size, lr=info.lr, status=self.status,
            reason=self.reason or None, lr_index=info.lr_index, micro_batch=info.micro_batch,
            final_train_loss=self.final("train_loss"), final_test_loss=self.final("test_loss"),
            final_test_accuracy=self.final("test_accuracy"),
            start_train_loss=finite[0] if finite else None, best_train_loss=min(finite) if finite else None,
            samples_per_s=self.samples_per_s(), steps=self.steps, examples=self.examples,
            train_seconds=self.seconds, measure_seconds=self.measure_seconds(), compile=info.compile,
            noise=self.final("noise"), b_simple=self.final("b_simple"),
            tr_sigma_stderr=self.final("tr_sigma_stderr"), g_norm2_stderr=self.final("g_norm2_stderr"),
            b_simple_stderr=self.final("b_simple_stderr"), memory_bytes=self.final("memory_bytes"),
            to_target=tt,
            progressed=curves.progressed(losses, [p.test_loss for p in self.history]),
            unstable=unstable,
            undertrained=curves.still_falling(losses) if done and tt is None and not unstable else None,
            adaptive=info.adaptive, batch_sizes_used=tuple(dict.fromkeys(p.batch_size for p in self.history)),
            sharpness=self.landscape.sharpness if self.landscape else None,
            sharpness_converged=self.landscape.sharpness_converged if self.landscape else None,
            generalization_gap=self.generalization_gap())

    def measure_seconds(self) -> float:
        """Host seconds of this lane's measurements: its reports' and its final loss surface's."""
        return (self.history[-1].measure_seconds if self.history else 0.0) + (
            self.landscape.seconds if self.landscape else 0.0)

    def generalization_gap(self) -> float | None:
        """Final test loss minus final train loss (both at the last report that measured them)."""
        test, train = self.final("test_loss"), self.final("train_loss")
        return test - train if test is not None and train is not None else None


class RunRecord:
    """Folds events into per-lane histories, statuses and noise-slope measurements."""

    def __init__(self) -> None:
        self.started: RunStarted | None = None
        self.lanes: dict[int, LaneRecord] = {}
        self.slopes: list[NoiseSlope] = []
        self.branches: list[BranchMeasured] = []
        self.finished: RunFinished | None = None

    def apply(self, ev: Event) -> None:
        if isinstance(ev, RunStarted):
            self.started = ev
            self.lanes = {li.lane: LaneRecord(li) for li in ev.lanes}
        elif isinstance(ev, LaneProgress):
            rec = self.lanes[ev.lane]
            rec.history.append(ev)
            rec.steps, rec.examples, rec.seconds = ev.step, ev.examples, ev.seconds
        elif isinstance(ev, (LaneFinished, LaneFailed)):
            rec = self.lanes[ev.lane]
            rec.status = LaneStatus(ev.status)
            rec.reason = getattr(ev, "reason", "")
            rec.steps, rec.examples, rec.seconds = ev.steps, ev.examples, ev.seconds
        elif isinstance(ev, NoiseSlope):
            self.slopes.append(ev)
        elif isinstance(ev, BranchMeasured):
            self.branches.append(ev)
        elif isinstance(ev, LaneLandscape):
            self.lanes[ev.lane].landscape = ev
        elif isinstance(ev, RunFinished):
            self.finished = ev

    def measure_seconds(self) -> float:
        """Host seconds of every measurement so far: the lanes', the noise slopes' and the branches'."""
        return (sum(r.measure_seconds() for r in self.lanes.values()) + sum(sl.seconds for sl in self.slopes)
                + sum(b.seconds for b in self.branches))

    def target_loss(self, preset_target: float | None = None) -> tuple[float | None, str]:
        """The target train loss and, in words, how it was set.

        The preset's, else `curves.default_target` over the lanes that did not fail,
        learned and stayed stable: a level the better half of the batch sizes reached,
        at least half way (log scale) from the starting loss to the best one.
        """
        if preset_target is not None:
            return preset_target, "set by the preset"
        starts, bests = [], {}
        for r in self.lanes.values():
            losses = [p.train_loss for p in r.history]
            if (r.status.failed or len(losses) < 2 or not curves.progressed(losses, [p.test_loss for p in r.history])
                    or curves.instability(losses) is not None):
                continue
            finite = [v for v in losses if math.isfinite(v)]
            starts.append(finite[0])
            bests[r.info.batch_size] = min(min(finite), bests.get(r.info.batch_size, math.inf))
        found = curves.default_target(statistics.median(starts), list(bests.values())) if starts else None
        return found if found is not None else (None, "")

    def summary(self, exp=None, interrupted: bool = False) -> RunSummary:
        """The run's answer: every lane judged, each batch size's best lane, goodput and the recommendation."""
        s = self.started
        target, rule = self.target_loss(exp.measure.target_loss if exp else None)
        lanes = [r.summary(target) for r in self.lanes.values()]
        # The per-batch-size answers take fixed lanes only: an adaptive lane has no one batch size.
        best = best_per_batch_size([ln for ln in lanes if not ln.adaptive])
        marked = {ln.lane for ln in best.values()}
        lanes = [replace(ln, best_of_batch_size=ln.lane in marked) for ln in lanes]
        fixed = [ln for ln in lanes if not ln.adaptive]
        sizes = sorted({ln.batch_size for ln in fixed})
        per_b = tuple(BatchSizeSummary(b, best[b].lr if b in best else None, best[b].lane if b in best else None,
                                       tuple(sorted({ln.lr for ln in fixed if ln.batch_size == b}))) for b in sizes)
        steps = to_target_per_batch_size(fixed, "steps")
        fit = fit_steps_examples(list(steps), list(steps.values()))
        init = next((sl for sl in self.slopes if sl.at == "init"), None)
        steady = {ln.lane for ln in lanes if not ln.status.failed and ln.unstable is None}
        # phi for goodput: the noise scale measured on the way to the target (it grows as the loss
        # falls, so what it is past the target says nothing of the time to reach it).
        phi = curves.median_positive([p.b_simple for r in self.lanes.values() if r.info.lane in steady
                                      for p in r.history if p.step > 0 and (target is None or p.train_loss > target)]
                                     ) or (init.b_simple if init else None)
        rates = {b: statistics.fmean(v) for b in sizes
                 if (v := [ln.samples_per_s for ln in fixed if ln.batch_size == b and ln.samples_per_s])}
        points = goodput.predict(rates, phi) if phi else ()
        predicted = goodput.predicted_batch_size(points)
        pilot = bool(s and s.pilot)
        b_end = [ln.b_simple for ln in lanes if ln.b_simple is not None and ln.status is LaneStatus.FINISHED]
        summary = RunSummary(
            name=s.name if s else None, device=s.device if s else None,
            device_name=s.device_name if s else None, run_dir=s.run_dir if s else None,
            dataset=s.dataset if s else None, model=s.model if s else None,
            interrupted=interrupted, pilot=pilot, noise_method=s.noise_method if s else None,
            train_seconds=sum(ln.train_seconds for ln in lanes), measure_seconds=self.measure_seconds(),
            noise_slope=init.slope if init else None, noise_slope_stderr=init.stderr if init else None,
            noise_slope_points=init.points if init else (),
            noise_slopes=tuple(SlopeFit(sl.at, sl.slope, sl.stderr) for sl in self.slopes),
            b_simple=init.b_simple if init else None,
            b_simple_end_median=statistics.median(b_end) if b_end else None,
            b_crit=fit.b_crit if fit else None, target_loss=target, target_rule=rule,
            lr_tuned=any(len(p.lrs) > 1 for p in per_b), noise_scale=phi, goodput=points,
            predicted_batch_size=predicted,
            prediction_held=None if pilot else goodput.prediction_held(
                predicted, to_target_per_batch_size(fixed, "seconds")),
            per_batch_size=per_b, lanes=tuple(lanes),
            branches=tuple(BranchSummary(b.lane, b.at, b.batch_size, tuple(a.factor for a in b.arms[1:]),
                                         b.critical_batch_size, b.first_behind, b.b_simple, b.tolerance, b.note)
                           for b in self.branches))
        return replace(summary, recommendation=recommend(summary))
