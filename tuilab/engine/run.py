"""The run loop: interleave a prepared plan's lanes and yield events.

`prepare` (engine/plan.py, re-exported here) does everything that can fail
because of the user's input before any training starts, raising UserError.
`run_plan` is a generator: it trains lanes in short slices, always the lane that
is furthest behind in its budget, so every lane moves on screen at once. It
checks `control` between steps and stops within a fraction of a second.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace

import torch

from tuilab.engine.adaptive import memory_cap, next_batch_size
from tuilab.engine.branch import measure_branch
from tuilab.engine.cadence import build_cadence
from tuilab.engine.control import Control
from tuilab.engine.evaluate import evaluate
from tuilab.engine.events import (
    BranchMeasured,
    Event,
    LaneFailed,
    LaneFinished,
    LaneLandscape,
    LaneProgress,
    NoiseSlope,
    RunFinished,
)
from tuilab.engine.faults import describe
from tuilab.engine.landscape import loss_slice
from tuilab.engine.lanes import Lane
from tuilab.engine.noise import NoiseStats, measure_noise, measure_noise_slope
from tuilab.engine.plan import Plan, measurement_indices, prepare, resolve_batch_sizes  # noqa: F401  (the engine's API, re-exported)
from tuilab.engine.record import RunRecord
from tuilab.engine.sharpness import top_hessian_eigenvalue
from tuilab.engine.summary import LaneStatus
from tuilab.engine.twobatch import measure_noise_two_batch
from tuilab.format import lane_name
from tuilab.presets import Branch, Experiment

SLICE_SECONDS = 0.1  # wall time a lane trains before the next lane gets a turn


def run(exp: Experiment, control: Control | None = None) -> Iterator[Event]:
    """Prepare and run an experiment: the engine's whole API in one generator."""
    yield from run_plan(prepare(exp), control)


def _finite(x: float | None) -> bool:
    return x is not None and math.isfinite(x)


class _Runner:
    """State of one pass of run_plan; split out so each step reads as a short method."""

    def __init__(self, plan: Plan, control: Control, fault_hook):
        self.plan = plan
        self.exp = plan.exp
        self.control = control
        self.fault_hook = fault_hook
        self.unit = self.exp.budget.unit
        self.amount = self.exp.budget.amount
        self.every = self.exp.report_every()
        self.classification = plan.data.task == "classification"
        self.cadence = build_cadence(plan)  # which reports measure: from counts, never from timers
        self.measure_seconds = {ln.index: 0.0 for ln in plan.lanes}  # host clock of each lane's measurements
        self.last = {ln.index: (0, 0.0) for ln in plan.lanes}  # examples, seconds at last report
        self.next_mark = {ln.index: self.every for ln in plan.lanes}
        self._init_stats: dict[int, NoiseStats] = {}  # initial weights' seed -> stats
        self._init_eval: dict[int, tuple] = {}  # initial weights' seed -> (train loss, test loss, accuracy)
        self.pending = {ln.index: sorted((br for br in self.exp.branches if br.lane == ln.index), key=lambda br: br.at)
                        for ln in plan.lanes}
        self._last_stats: dict[int, tuple[int, NoiseStats]] = {}  # lane -> (step, stats at that step)

    def noise_stats(self, lane: Lane) -> NoiseStats:
        """measure_noise at the lane's current parameters, never twice for the same parameters.

        Lanes of one seed start from the same weights, so step 0 is measured once for all
        of them (and for the initial noise slope); the final slope reuses the last report's.
        """
        if lane.step == 0:
            seed = lane.settings.init_seed
            if seed not in self._init_stats:
                self._init_stats[seed] = self._measure_noise(lane)
            return self._init_stats[seed]
        step, stats = self._last_stats.get(lane.index, (-1, None))
        if step != lane.step or stats is None:
            stats = self._measure_noise(lane)
            self._last_stats[lane.index] = (lane.step, stats)
        return stats

    def _measure_noise(self, lane: Lane) -> NoiseStats:
        """tr_sigma and |G|^2 by the plan's method: per-example gradients, or two batch sizes."""
        p = self.plan
        if p.noise_method == "two-batch":
            b, big = p.noise_batches
            return measure_noise_two_batch(lane.model, p.loss_fn, p.data.batch, p.data.n_train, b, big,
                                           self.exp.measure.noise_draws,
                                           torch.Generator().manual_seed(self.exp.seed + 104_729 + lane.step))
        return measure_noise(lane.model, p.loss_fn, p.x_ref, p.y_ref, p.x_probe, p.y_probe, p.data.n_train)

    def report(self, lane: Lane) -> LaneProgress | LaneFailed | None:
        """Measure a lane at its current parameters (not on its clock); None: the cadence skips
        this report (engine/cadence.py)."""
        try:
            return self._measure(lane)
        except torch.OutOfMemoryError:  # evaluation and per-example gradients need memory too
            return self.fail(lane, LaneStatus.OUT_OF_MEMORY, f"out of device memory measuring batch size "
                                                    f"{lane.batch_size()}; the other lanes go on")
        except Exception as e:  # the user's model, or a bug: this lane fails, the others go on
            return self.fail(lane, LaneStatus.ERROR, *describe(e))

    def _evaluate(self, lane: Lane) -> tuple[float, float, float | None]:
        """Train loss on R, test loss and accuracy; at step 0 once per initial weights' seed."""
        p, seed = self.plan, lane.settings.init_seed
        if lane.step == 0 and seed in self._init_eval:
            return self._init_eval[seed]
        train_loss, _ = evaluate(lane.model, p.loss_fn, p.x_ref, p.y_ref, self.classification)
        out = (train_loss, *evaluate(lane.model, p.loss_fn, p.data.x_test, p.data.y_test, self.classification))
        if lane.step == 0:
            self._init_eval[seed] = out
        return out

    def _measure(self, lane: Lane) -> LaneProgress | LaneFailed | None:
        last = lane.units(self.unit) >= self.amount - 1e-9  # the final report always measures
        todo = self.cadence.plan(lane.index, lane.units(self.unit) / self.amount,
                                 self.cadence.model.train(lane.step, lane.examples), last)
        if not todo.evaluate:
            return None
        t0 = time.perf_counter()
        trained = lane.loss_count > 0  # no steps since the last report: no running loss, not a NaN one
        running = lane.take_running_loss()
        train_loss, test_loss, test_acc = self._evaluate(lane)
        if not _finite(train_loss) or (trained and not _finite(running)):
            return self.fail(lane, LaneStatus.DIVERGED, f"loss became {train_loss if not _finite(train_loss) else running} "
                                               f"at step {lane.step} (lr {lane.lr():.3g} too high?)")
        stats = self.noise_stats(lane) if todo.noise else None
        self.measure_seconds[lane.index] += time.perf_counter() - t0
        b, lr = lane.batch_size(), lane.lr()  # what it trained at: an adaptive lane may grow below
        if lane.settings.adaptive and stats is not None:  # the size it grows to counts from the next step
            lane.resize(next_batch_size(lane.batch_size0, stats.b_simple(), self.plan.data.n_train, self._memory_cap(lane)))
        ex0, s0 = self.last[lane.index]
        self.last[lane.index] = (lane.examples, lane.seconds)
        dt = lane.seconds - s0
        return LaneProgress(
            lane=lane.index, step=lane.step, examples=lane.examples, epoch=lane.epoch,
            seconds=lane.seconds, progress=min(1.0, lane.units(self.unit) / self.amount),
            batch_size=b, lr=lr, train_loss=train_loss,
            running_loss=running if trained else train_loss,
            test_loss=test_loss if _finite(test_loss) else None, test_accuracy=test_acc,
            samples_per_s=(lane.examples - ex0) / dt if dt > 0 else 0.0,
            noise=stats.noise(b) if stats else None,
            b_simple=stats.b_simple() if stats else None,
            tr_sigma=stats.tr_sigma if stats else None,
            g_norm2=stats.g_norm2 if stats else None,
            tr_sigma_stderr=stats.tr_sigma_stderr if stats else None,
            g_norm2_stderr=stats.g_norm2_stderr if stats else None,
            b_simple_stderr=stats.b_simple_stderr if stats and stats.resolved else None,
            memory_bytes=lane.memory_bytes, measure_seconds=self.measure_seconds[lane.index])

    def _memory_cap(self, lane: Lane) -> int | None:
        """The adaptive lane's memory cap on a CUDA device (None elsewhere: nothing measured)."""
        if self.plan.device.type != "cuda" or not lane.memory_bytes:
            return None
        total = torch.cuda.get_device_properties(self.plan.device).total_memory
        return memory_cap(lane.persistent_bytes(), lane.memory_bytes, lane.batch_size(), total)

    def take_branches(self, lane: Lane) -> Iterator[BranchMeasured]:
        """Fork `lane` at each branch point it has reached (at the first report there or after), and
        wherever the run's Control asked for one since its last report (taken here, now)."""
        pending = self.pending[lane.index]
        for factors in reversed(self.control.take_branch_requests(lane.index)):  # due now: first in line
            pending.insert(0, Branch(lane=lane.index, at=lane.units(self.unit), factors=list(factors)))
        while pending and lane.units(self.unit) >= pending[0].at - 1e-9 and not self.control.stop.is_set():
            br = pending.pop(0)
            at, b = lane.units(self.unit), lane.batch_size()
            span = br.span or self.amount / 10
            examples = {"epochs": span * lane.n, "steps": span * b,
                        "seconds": span * lane.examples / max(lane.seconds, 1e-9)}[self.unit]
            try:
                t0 = time.perf_counter()
                ev = measure_branch(lane, br.factors, math.ceil(examples), self.plan.x_ref, self.plan.y_ref, at,
                                    self.noise_stats(lane).b_simple(), should_stop=self.control.interrupted)
                yield replace(ev, seconds=time.perf_counter() - t0)
            except torch.OutOfMemoryError:
                if self.plan.device.type == "cuda":
                    torch.cuda.empty_cache()
                yield BranchMeasured(lane.index, at, b, math.nan, 0.0, (), None, None, None,
                                     "not measured: out of device memory")

    def landscape(self, lane: Lane) -> LaneLandscape:
        """Sharpness and a loss slice at the lane's final weights, on the reference set."""
        p, t0 = self.plan, time.perf_counter()
        if not self.cadence.surface(lane.index, self.cadence.model.train(lane.step, lane.examples)):
            return LaneLandscape(lane.index, None, False, "not measured: beyond the measurement budget (measure.share)")
        try:
            rows = self.cadence.surface_rows  # R is a random subset already; the cadence sizes it
            x, y = p.x_ref[:rows], p.y_ref[:rows]
            sharp = top_hessian_eigenvalue(lane.model, p.loss_fn, x, y, seed=self.exp.seed)
            cut = loss_slice(lane.model, p.loss_fn, x, y, seed=self.exp.seed)
        except torch.OutOfMemoryError:
            if p.device.type == "cuda":
                torch.cuda.empty_cache()
            return LaneLandscape(lane.index, None, False, "not measured: out of device memory")
        return LaneLandscape(lane.index, sharp.value, sharp.converged, sharp.note, cut.alphas, cut.losses,
                             seconds=time.perf_counter() - t0)

    def fail(self, lane: Lane, status: str, reason: str, traceback: str = "") -> LaneFailed:
        lane.status = status
        lane.reason = reason
        lane.release()
        if self.plan.device.type == "cuda":
            torch.cuda.empty_cache()
        return LaneFailed(lane.index, status, reason, lane.step, lane.examples, lane.seconds, traceback)

    def advance(self, lane: Lane) -> Iterator[Event]:
        """Train one slice of `lane`; yield its report and end when it reaches a mark."""
        target = min(self.next_mark[lane.index], self.amount)
        try:
            if self.fault_hook:
                self.fault_hook(lane)
            lane.train_slice(self.unit, target, SLICE_SECONDS, self.control.interrupted)
        except torch.OutOfMemoryError:
            yield self.fail(lane, LaneStatus.OUT_OF_MEMORY,
                            f"out of device memory at batch size {lane.batch_size()}; the other lanes go on")
            return
        except Exception as e:  # e.g. the user's model raising mid-training: this lane fails
            yield self.fail(lane, LaneStatus.ERROR, *describe(e))
            return
        if self.control.stop.is_set() or lane.units(self.unit) < target - 1e-9:
            return
        ev = self.report(lane)
        if ev is not None:  # None: the cadence skipped this report
            yield ev
            if isinstance(ev, LaneFailed):
                return
        yield from self.take_branches(lane)
        # One step can pass several marks (a full batch with reports every 0.25 epochs, or a lane
        # whose thread was descheduled on a seconds budget): the next mark lies ahead of the lane.
        done = lane.units(self.unit)
        self.next_mark[lane.index] = max(self.next_mark[lane.index] + self.every,
                                         (math.floor(done / self.every + 1e-9) + 1) * self.every)
        if done >= self.amount - 1e-9:
            lane.status = LaneStatus.FINISHED
            yield LaneFinished(lane.index, LaneStatus.FINISHED, lane.step, lane.examples, lane.seconds)


def run_plan(plan: Plan, control: Control | None = None,
             fault_hook: Callable[[Lane], None] | None = None, lanes: Sequence[int] | None = None,
             slopes: bool = True) -> Iterator[Event]:
    """Train every lane of a prepared plan to its budget, yielding events as they happen.

    `fault_hook(lane)` runs before each slice; tests use it to inject faults
    such as out-of-memory on the CPU. `lanes` trains only those lane indices and
    `slopes=False` skips the run-level noise slopes: a Ray actor runs one lane so
    (engine/raylanes.py), while its driver measures the slopes.
    """
    control = control or Control()
    t0 = time.perf_counter()
    record = RunRecord()
    runner = _Runner(plan, control, fault_hook)

    def emit(ev: Event) -> Event:
        record.apply(ev)
        return ev

    trained = [ln for ln in plan.lanes if lanes is None or ln.index in lanes]
    yield emit(plan.started)
    # A stop that came while the data loaded skips the initial measurements (seconds on a CPU).
    if slopes and not control.stop.is_set():
        yield emit(initial_slope(plan, control, runner.noise_stats))
    for lane in trained:
        if control.stop.is_set():
            break
        yield emit(runner.report(lane))
    while not control.stop.is_set():
        active = [ln for ln in trained if ln.status == LaneStatus.RUNNING]
        if not active:
            break
        if control.paused:
            time.sleep(0.05)
            continue
        lane = min(active, key=lambda ln: (ln.units(runner.unit) / runner.amount, ln.index))
        for ev in runner.advance(lane):
            yield emit(ev)
    interrupted = control.stop.is_set()
    for lane in trained:
        if lane.status == LaneStatus.RUNNING:
            lane.status = LaneStatus.CANCELLED
            yield emit(LaneFinished(lane.index, LaneStatus.CANCELLED, lane.step, lane.examples, lane.seconds))
    for lane in trained:  # measured once per lane, at its final weights
        if lane.status == LaneStatus.FINISHED and not control.stop.is_set():
            yield emit(runner.landscape(lane))
    if slopes and not interrupted:
        end = _final_slope(plan, record, runner.noise_stats, control.stop.is_set)
        if end is not None:
            yield emit(end)
        interrupted = control.stop.is_set()  # a quit during the final slope: interrupted, not cut off
    yield emit(RunFinished(interrupted, time.perf_counter() - t0, record.summary(plan.exp, interrupted),
                           cancelled=control.cancelled))


def initial_slope(plan: Plan, control: Control, noise_stats: Callable[[Lane], NoiseStats] | None = None):
    """The noise law at the common initial weights (every lane starts from them)."""
    return measure_slope(plan, plan.lanes[0], "init", plan.exp.seed + 17, noise_stats, control.stop.is_set)


def best_finished_lane(plan: Plan, record: RunRecord) -> Lane | None:
    """The finished lane with the lowest final train loss (a loss of exactly 0 counts as lowest)."""
    def final_loss(ln: Lane) -> float:
        v = record.lanes[ln.index].final("train_loss")
        return math.inf if v is None else v

    # The record's status, not the Lane's: a Ray driver's lanes train elsewhere.
    done = [ln for ln in plan.lanes if record.lanes[ln.index].status == LaneStatus.FINISHED]
    return min(done, key=final_loss) if done else None


def _final_slope(plan: Plan, record: RunRecord, noise_stats: Callable[[Lane], NoiseStats], should_stop=None):
    """The noise law again at the end, at the parameters of the best finished lane."""
    best = best_finished_lane(plan, record)
    if best is None:
        return None
    return measure_slope(plan, best, final_slope_at(record, best), plan.exp.seed + 18, noise_stats, should_stop)


def final_slope_at(record: RunRecord, best: Lane) -> str:
    """The final noise slope's label: 'end of B=32 linear' (its variant label too)."""
    return f"end of {lane_name(record.lanes[best.index].info)}"


def measure_slope(plan: Plan, lane: Lane, at: str, seed: int,
                  noise_stats: Callable[[Lane], NoiseStats] | None = None, should_stop=None) -> NoiseSlope:
    """The measured noise law at `lane`'s parameters; out of device memory leaves it unmeasured."""
    sizes = sorted({ln.batch_size0 for ln in plan.lanes})
    t0 = time.perf_counter()
    try:
        stats = (noise_stats or _Runner(plan, Control(), None).noise_stats)(lane)
        slope = measure_noise_slope(lane.model, plan.loss_fn, plan.data.x_train, plan.data.y_train, sizes,
                                    plan.exp.measure.slope_draws, torch.Generator().manual_seed(seed),
                                    stats=stats, at=at, should_stop=should_stop)
        return replace(slope, seconds=time.perf_counter() - t0)
    except torch.OutOfMemoryError:
        if plan.device.type == "cuda":
            torch.cuda.empty_cache()
        return NoiseSlope(at, None, None, (), note="not measured: out of device memory")
