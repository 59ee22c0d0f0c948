"""A run's state rebuilt from its events, and the summary that answers the question.

The run loop, the run directory reader, `tuilab watch` and the TUI all fold the
same events into a RunRecord, so they can never disagree about a number.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from typing import Any

from tuilab.engine.analysis import (
    default_target_loss,
    first_crossing,
    fit_steps_examples,
    recommend,
)
from tuilab.engine.events import (
    Event,
    LaneFailed,
    LaneFinished,
    LaneInfo,
    LaneProgress,
    NoiseSlope,
    RunFinished,
    RunStarted,
)


@dataclass
class LaneRecord:
    info: LaneInfo
    history: list[LaneProgress] = field(default_factory=list)
    status: str = "running"
    reason: str = ""
    steps: int = 0
    examples: int = 0
    seconds: float = 0.0

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

    def to_target(self, target: float | None) -> dict[str, float] | None:
        """Steps, examples and seconds at which the train loss first reached `target`."""
        if target is None or not self.history:
            return None
        losses = [p.train_loss for p in self.history]
        hit = {axis: first_crossing([getattr(p, axis) for p in self.history], losses, target)
               for axis in ("step", "examples", "seconds")}
        if hit["step"] is None:
            return None
        return {"steps": hit["step"], "examples": hit["examples"], "seconds": hit["seconds"]}


def best_per_batch_size(lanes: list[dict]) -> dict[int, float]:
    """Fewest steps to target at each starting batch size, over its lanes (its variants).

    With variants that differ only in lr this is Shallue et al.'s protocol: tune the
    learning rate per batch size, then compare the best. Lanes that never reached the
    target (or diverged) do not count.
    """
    best: dict[int, float] = {}
    for ln in lanes:
        tt = ln["to_target"]
        if tt and tt["steps"] < best.get(ln["batch_size"], float("inf")):
            best[ln["batch_size"]] = tt["steps"]
    return best


class RunRecord:
    """Folds events into per-lane histories, statuses and noise-slope measurements."""

    def __init__(self) -> None:
        self.started: RunStarted | None = None
        self.lanes: dict[int, LaneRecord] = {}
        self.slopes: list[NoiseSlope] = []
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
            rec.status = ev.status
            rec.reason = getattr(ev, "reason", "")
            rec.steps, rec.examples, rec.seconds = ev.steps, ev.examples, ev.seconds
        elif isinstance(ev, NoiseSlope):
            self.slopes.append(ev)
        elif isinstance(ev, RunFinished):
            self.finished = ev

    def target_loss(self, preset_target: float | None = None) -> float | None:
        """The preset's target, else a level every lane that trained reached."""
        if preset_target is not None:
            return preset_target
        curves = [[p.train_loss for p in r.history] for r in self.lanes.values()
                  if r.status in ("finished", "running") and len(r.history) > 1]
        return default_target_loss(curves)

    def summary(self, exp=None, interrupted: bool = False) -> dict[str, Any]:
        """The run's answer as plain JSON-ready data (the `--json` output and summary.json)."""
        s = self.started
        target = self.target_loss(exp.measure.target_loss if exp else None)
        lanes = []
        for r in self.lanes.values():
            lanes.append({
                "lane": r.info.lane, "label": r.info.label, "batch_size": r.info.batch_size, "lr": r.info.lr,
                "status": r.status, "reason": r.reason or None,
                "final_train_loss": r.final("train_loss"), "final_test_loss": r.final("test_loss"),
                "final_test_accuracy": r.final("test_accuracy"),
                "samples_per_s": r.samples_per_s(), "steps": r.steps, "examples": r.examples,
                "train_seconds": r.seconds, "noise": r.final("noise"), "b_simple": r.final("b_simple"),
                "memory_bytes": r.final("memory_bytes"),
                "to_target": r.to_target(target) if r.status != "diverged" else None,
            })
        init = next((sl for sl in self.slopes if sl.at == "init"), None)
        best = best_per_batch_size(lanes)
        fit = fit_steps_examples(list(best), list(best.values()))
        b_end = [ln["b_simple"] for ln in lanes if ln["b_simple"] is not None and ln["status"] == "finished"]
        rec = recommend(lanes, init.b_simple if init else None, fit, target=target, device=s.device if s else None)
        return {
            "name": s.name if s else None, "device": s.device if s else None,
            "device_name": s.device_name if s else None, "run_dir": s.run_dir if s else None,
            "dataset": s.dataset if s else None, "model": s.model if s else None,
            "interrupted": interrupted,
            "noise_slope": init.slope if init else None,
            "noise_slope_stderr": init.stderr if init else None,
            "noise_slope_points": [vars(p) for p in init.points] if init else [],
            "noise_slopes": [{"at": sl.at, "slope": sl.slope, "stderr": sl.stderr} for sl in self.slopes],
            "b_simple": init.b_simple if init else None,
            "b_simple_end_median": statistics.median(b_end) if b_end else None,
            "b_crit": fit.b_crit if fit else None,
            "target_loss": target,
            "recommendation": {
                "fastest_batch_size": rec.fastest_batch_size,
                "fewest_examples_batch_size": rec.fewest_examples_batch_size,
                "critical_batch_size": rec.critical_batch_size,
                "confidence": rec.confidence,
                "text": rec.text,
            },
            "lanes": lanes,
        }
